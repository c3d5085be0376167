"""Claims another system sent: read from its 837 files and recorded here as sent, so the payers'
remittances for them match and post. Patients, coverages, payers and billing codes the file names are found
or created; each claim's lines become insurance charges. Importing the same file again adds nothing."""
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from portal import audit, ledger, patients, payers
from portal.claims import status
from portal.claims.status import ClaimError
from portal.clock import facility_today
from portal.extensions import db
from portal.models import RELATIONSHIPS, BillingCode, Claim, ClaimLine, Coverage, Patient, Payer, Provider
from portal.money import format_usd
from portal.patients.coverages import apply_coverage
from portal.patients.details import clean
from portal.remittances import x12

MAX_CENTS = 10**11  # a billion dollars: anything larger in a claim file is a misreading
MAX_UNITS = 9999  # units on one service line; more is a misreading


@dataclass
class Person:
    first_name: str = ""
    last_name: str = ""
    date_of_birth: date | None = None
    sex: str | None = None
    address_line1: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None


@dataclass
class SentLine:
    procedure_code: str | None
    modifiers: str | None
    revenue_code: str | None
    cents: int
    units: int
    service_date: date | None
    control_number: str | None = None


@dataclass
class SentClaim:
    control_number: str
    total_cents: int
    claim_type: str
    place_of_service: str | None
    frequency: str
    payer_name: str
    payer_x12_id: str
    member_id: str
    subscriber: Person
    patient: Person
    relationship: str  # the patient to the subscriber: 18 self
    billing_npi: str | None
    statement_from: date | None = None
    lines: list[SentLine] = field(default_factory=list)


@dataclass
class ImportResult:
    claims: list[Claim] = field(default_factory=list)
    already_here: list[str] = field(default_factory=list)
    patients_added: int = 0
    payers_added: int = 0
    codes_added: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"claims": [c.control_number for c in self.claims], "already_here": self.already_here,
                "patients_added": self.patients_added, "payers_added": self.payers_added,
                "codes_added": self.codes_added}

    def summary(self) -> str:
        text = f"recorded {len(self.claims)} claim(s) as sent"
        if self.already_here:
            text += f"; {len(self.already_here)} already here"
        return text + f" ({self.patients_added} patient(s), {self.payers_added} payer(s) added)"


def _cents(text: str, where: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ClaimError(f"{where}: {text[:20]!r} is not an amount") from None
    if not value.is_finite() or abs(value) * 100 >= MAX_CENTS or value != value.quantize(Decimal("0.01")):
        raise ClaimError(f"{where}: {text[:20]!r} is not an amount in dollars and cents")
    return int(value * 100)


def _units(text: str, where: str) -> int:
    """SV104/SV205 as a whole number of units (1.00 is 1); not a number, or out of reason, is refused."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or not 0 < value <= MAX_UNITS:
        raise ClaimError(f"{where}: {text[:20]!r} is not a number of units")
    return max(1, int(value))


def _day(text: str, where: str) -> date:
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        raise ClaimError(f"{where}: {text[:20]!r} is not a date") from None


def _composite(text: str, component: str, where: str, name: str) -> list[str]:
    """A composite element's parts; one written with another separator than the ISA declares is refused,
    since its codes cannot be read safely."""
    parts = text.split(component)
    if text and len(parts) == 1 and any(ch in text for ch in ":>^"):
        raise ClaimError(f"{where}: {name} ({text[:30]}) is not written with the file's component separator "
                         f"{component!r} (ISA16)")
    return parts


def is_claim_file(content: bytes) -> bool:
    """Whether the file's first transaction set is an 837 (an unreadable file is not)."""
    try:
        segments, _ = x12.split_segments(x12.normalise(content))
    except x12.X12Error:
        return False
    st = next((s for s in segments if s[0] == "ST"), None)
    return st is not None and st[1:2] == ["837"]


def read(content: bytes) -> list[SentClaim]:
    """The claims of an 837P or 837I (any 5010 release), checked for what posting needs: each claim's lines
    add up to its total, every line has a date of service. ClaimError names the first problem."""
    try:
        segments, component = x12.split_segments(x12.normalise(content))
    except x12.X12Error as exc:
        raise ClaimError(f"{exc.summary}: {'; '.join(exc.problems)}") from exc
    st = next((s for s in segments if s[0] == "ST"), None)
    if st is None or st[1:2] != ["837"]:
        raise ClaimError("This is not a claim file (837): its transaction set is "
                         f"{st[1] if st and len(st) > 1 else 'missing'}")
    ids = [s[0] for s in segments]
    if ids[-1] != "IEA" or ids.count("ST") != ids.count("SE"):
        raise ClaimError("The file is truncated: it does not end with its SE, GE and IEA segments")
    found: list[SentClaim] = []
    billing_npi = None
    subscriber = patient = Person()
    payer_name = payer_id = member_id = ""
    relationship = "18"
    who: Person | None = None
    claim: SentClaim | None = None
    for n, seg in enumerate(segments, 1):
        where = f"line {n}, {seg[0]}"
        get = lambda i, s=seg: s[i] if len(s) > i else ""  # noqa: E731
        if seg[0] == "HL":
            claim, who = None, None
            if get(3) == "22":
                subscriber, patient, relationship = Person(), Person(), "18"
        elif seg[0] == "NM1" and claim is None:
            entity = get(1)
            if entity == "85":
                billing_npi = get(9) or None
            elif entity == "IL":
                subscriber.first_name, subscriber.last_name, member_id = get(4), get(3), get(9)
                who = subscriber
            elif entity == "PR":
                payer_name, payer_id = get(3), get(9)
                who = None
            elif entity == "QC":
                patient.first_name, patient.last_name = get(4), get(3)
                who = patient
            else:
                who = None
        elif seg[0] == "PAT" and claim is None:
            relationship = get(1) or "G8"
        elif seg[0] == "N3" and who is not None:
            who.address_line1 = get(1)[:200] or None
        elif seg[0] == "N4" and who is not None:
            who.city, who.state, who.zip_code = get(1)[:100] or None, get(2)[:2] or None, get(3)[:10] or None
        elif seg[0] == "DMG" and who is not None and get(1) == "D8":
            who.date_of_birth, who.sex = _day(get(2), where), get(3) if get(3) in ("F", "M", "U") else None
        elif seg[0] == "CLM":
            facility_code = _composite(get(5), component, where, "CLM05")
            claim = SentClaim(
                control_number=get(1)[:38], total_cents=_cents(get(2), where),
                claim_type="institutional" if len(facility_code) > 1 and facility_code[1] == "A" else "professional",
                place_of_service=facility_code[0][:2] if facility_code[1:2] == ["B"] else None,
                frequency=facility_code[2] if len(facility_code) > 2 else "1", payer_name=payer_name,
                payer_x12_id=payer_id, member_id=member_id, subscriber=subscriber,
                patient=patient if relationship != "18" else subscriber, relationship=relationship,
                billing_npi=billing_npi)
            if not claim.control_number:
                raise ClaimError(f"{where}: the claim has no control number (CLM01)")
            found.append(claim)
        elif claim is None:
            continue
        elif seg[0] == "DTP" and get(1) == "434":
            claim.statement_from = _day(get(3), where)
        elif seg[0] in ("SV1", "SV2"):
            position = 1 if seg[0] == "SV1" else 2
            procedure = _composite(get(position), component, where, f"{seg[0]}0{position}")
            amount, units = (get(2), get(4)) if seg[0] == "SV1" else (get(3), get(5))
            count = _units(units or "1", where)
            claim.lines.append(SentLine(
                procedure_code=procedure[1][:10] if len(procedure) > 1 else None,
                modifiers=",".join(m for m in procedure[2:6] if m)[:11] or None,
                revenue_code=get(1)[:4] if seg[0] == "SV2" else None, cents=_cents(amount, where), units=count,
                service_date=None))
        elif seg[0] == "DTP" and get(1) == "472" and claim.lines:
            claim.lines[-1].service_date = _day(get(3), where)
        elif seg[0] == "REF" and get(1) == "6R" and claim.lines:
            claim.lines[-1].control_number = get(2)[:50] or None
    for claim in found:
        for line in claim.lines:
            line.service_date = line.service_date or claim.statement_from
        if not claim.lines:
            raise ClaimError(f"claim {claim.control_number} has no service lines")
        if undated := [n for n, line in enumerate(claim.lines, 1) if line.service_date is None]:
            raise ClaimError(f"claim {claim.control_number}: service line {undated[0]} has no date of service")
        if (lines := sum(line.cents for line in claim.lines)) != claim.total_cents:
            raise ClaimError(f"claim {claim.control_number}: its lines add up to {format_usd(lines)}, "
                             f"but the claim says {format_usd(claim.total_cents)}")
    if not found:
        raise ClaimError("The file holds no claims (no CLM segment)")
    return found


def _payer(claim: SentClaim, actor, result: ImportResult) -> Payer:
    found = db.session.scalar(select(Payer).where(Payer.x12_payer_id == claim.payer_x12_id)) \
        if claim.payer_x12_id else None
    if found is not None:
        return found
    try:
        made = payers.save_payer(None, {"name": claim.payer_name or claim.payer_x12_id or "Unknown payer",
                                        "x12_payer_id": claim.payer_x12_id or None}, actor=actor)
    except payers.PayerError as exc:
        raise ClaimError(f"claim {claim.control_number}: the payer cannot be added ({exc})") from exc
    result.payers_added += 1
    return made


def _person(person: Person) -> patients.PatientDetails:
    return patients.PatientDetails(
        first_name=person.first_name.title(), last_name=person.last_name.title(), date_of_birth=person.date_of_birth,
        sex=person.sex, address_line1=person.address_line1, city=person.city, state=person.state,
        zip_code=person.zip_code)


def _existing_coverage(claim: SentClaim, payer: Payer | None) -> Coverage | None:
    """The payer's member id, held by the patient the file names (first name, last name, date of birth)."""
    if payer is None:
        return None
    wanted = claim.patient
    candidates = db.session.scalars(select(Coverage).join(Patient, Patient.id == Coverage.patient_id).where(
        Coverage.payer_id == payer.id, func.lower(Coverage.member_id) == claim.member_id.lower(),
        func.lower(Patient.last_name) == wanted.last_name.lower(), Patient.merged_into_id.is_(None)))
    for coverage in candidates:
        person = coverage.patient
        if person.first_name.lower() == wanted.first_name.lower() and (
                wanted.date_of_birth is None or person.date_of_birth == wanted.date_of_birth):
            return coverage
    return None


def _coverage(claim: SentClaim, payer: Payer, actor, result: ImportResult) -> Coverage:
    """The coverage the claim was billed to. Where there is none, it is added to the patient of the same name
    and date of birth, or to a patient registered from the file. A dependent's subscriber is recorded as the
    file names them (an 837 gives no subscriber birth date when the patient is someone else: staff add it)."""
    if (found := _existing_coverage(claim, payer)) is not None:
        return found
    wanted = claim.patient
    relationship = claim.relationship if claim.relationship in RELATIONSHIPS else "G8"
    subscriber = claim.subscriber if relationship != "18" else Person()
    details = patients.CoverageDetails(
        payer_id=payer.id, member_id=claim.member_id, start_date=min(ln.service_date for ln in claim.lines),
        subscriber_relationship=relationship, subscriber_first_name=subscriber.first_name.title() or None,
        subscriber_last_name=subscriber.last_name.title() or None,
        subscriber_date_of_birth=subscriber.date_of_birth, subscriber_sex=subscriber.sex)
    patient = db.session.scalar(select(Patient).where(
        func.lower(Patient.first_name) == wanted.first_name.lower(),
        func.lower(Patient.last_name) == wanted.last_name.lower(), Patient.date_of_birth == wanted.date_of_birth,
        Patient.merged_into_id.is_(None)).limit(1))
    if patient is None:
        try:
            patient = patients.register(_person(wanted), actor=actor, relationship="18")
        except patients.PatientError as exc:
            problems = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in exc.problems.items())
            raise ClaimError(f"claim {claim.control_number}: the patient cannot be registered ({problems})") from exc
        result.patients_added += 1
    try:
        coverage = apply_coverage(patient, details, None)
    except patients.PatientError as exc:
        raise ClaimError(f"claim {claim.control_number}: {'; '.join(exc.problems.values())}") from exc
    audit.record("coverage.added", "coverage", actor=actor, object_id=coverage.id, patient_id=patient.id,
                 account_id=patient.account_id, detail={"priority": coverage.priority, "from": "claim file"})
    return coverage


def _code(line: SentLine, result: ImportResult) -> BillingCode:
    value = line.procedure_code or line.revenue_code
    found = db.session.scalar(select(BillingCode).where(BillingCode.code == value))
    if found is None:
        found = BillingCode(code=value, description=f"{value} (from a claim file)", revenue_code=line.revenue_code,
                            kind="billable", default_price_cents=line.cents // max(line.units, 1))
        db.session.add(found)
        db.session.flush()
        result.codes_added.append(value)
    return found


def _refuse_unregistrable(sent: list[SentClaim]) -> None:
    """Before anything is written: every patient the file would register has what registration needs."""
    today = facility_today()
    for claim in sent:
        payer = db.session.scalar(select(Payer).where(Payer.x12_payer_id == claim.payer_x12_id)) \
            if claim.payer_x12_id else None
        if _existing_coverage(claim, payer) is None and (problems := clean(_person(claim.patient), today)):
            words = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in problems.items())
            raise ClaimError(f"claim {claim.control_number}: its patient cannot be registered ({words}); "
                             "nothing was imported")


def import_837(content: bytes, filename: str, *, actor: str) -> ImportResult:
    """Record the file's claims as sent by the previous system (each claim once: its CLM01 is its key)."""
    sent = read(content)
    _refuse_unregistrable(sent)
    digest = hashlib.sha256(content).hexdigest()[:16]
    result = ImportResult()
    known = set(db.session.scalars(select(Claim.control_number).where(
        Claim.control_number.in_([c.control_number for c in sent]))))
    for claim in sent:
        if claim.control_number in known:
            result.already_here.append(claim.control_number)
            continue
        known.add(claim.control_number)
        payer = _payer(claim, actor, result)
        coverage = _coverage(claim, payer, actor, result)
        codes = [_code(line, result) for line in claim.lines]
        billing = db.session.scalar(select(Provider.id).where(Provider.npi == claim.billing_npi)) \
            if claim.billing_npi else None
        charges = ledger.post_charges([
            ledger.ChargeRequest(coverage.patient.account_id, coverage.patient_id, code.id, line.service_date,
                                 line.cents, f"import-837:{claim.control_number}:{n}", line.units, coverage.id,
                                 "insurance", "claim_import", modifiers=line.modifiers,
                                 revenue_code=line.revenue_code, place_of_service=claim.place_of_service)
            for n, (line, code) in enumerate(zip(claim.lines, codes, strict=True), 1)], actor=actor)
        charge_ids = [charges.created.get(f"import-837:{claim.control_number}:{n}")
                      or charges.replayed[f"import-837:{claim.control_number}:{n}"]
                      for n in range(1, len(claim.lines) + 1)]
        record = Claim(control_number=claim.control_number, account_id=coverage.patient.account_id,
                       patient_id=coverage.patient_id, coverage_id=coverage.id, payer_id=payer.id,
                       claim_type=claim.claim_type, billing_provider_id=billing,
                       place_of_service=claim.place_of_service, frequency_code=claim.frequency
                       if claim.frequency in ("1", "7", "8") else "1",
                       period_start=min(ln.service_date for ln in claim.lines),
                       period_end=max(ln.service_date for ln in claim.lines), total_cents=claim.total_cents,
                       created_by=actor)
        db.session.add(record)
        db.session.flush()
        for n, (line, charge_id) in enumerate(zip(claim.lines, charge_ids, strict=True), 1):
            db.session.add(ClaimLine(claim_id=record.id, charge_id=charge_id, line_number=n,
                                     procedure_code=line.procedure_code or line.revenue_code,
                                     revenue_code=line.revenue_code, service_date=line.service_date,
                                     units=line.units, charge_cents=line.cents, modifiers=line.modifiers,
                                     line_control_number=line.control_number))
        status.start(record, actor=actor, note=f"imported from {filename[:100]}")
        status.change(record, "sent", actor=actor, note="sent by the previous system")
        result.claims.append(record)
    db.session.flush()
    audit.record("claims.imported", "claim_file", actor=actor, object_id=digest,
                 detail={"filename": filename[:200], **result.as_dict()})
    return result

