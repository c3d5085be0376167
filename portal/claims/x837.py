"""Writing claims as one X12 837 interchange: 005010X222A1 (professional) or 005010X223A2 (institutional).

One interchange, one functional group and one transaction set per file; the batch's id is the interchange
and group control number. Amounts are dollars; every free-text element is cleaned of the separators."""
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from portal.models import Claim, ClaimLine, Coverage, Episode, Facility, Patient, Payer, Provider

VERSIONS = {"professional": "005010X222A1", "institutional": "005010X223A2"}
FILING_INDICATORS = {"commercial": "CI", "medicaid": "MC", "medicare": "MB", "medicare_advantage": "16",
                     "tricare": "CH", "other": "ZZ"}
PAYER_RANKS = {1: "P", 2: "S", 3: "T"}
_UNSAFE = re.compile(r"[*~:^\x00-\x1f]")


def clean(text: str | None, size: int = 60) -> str:
    """Free text as an element: no separators or control characters, upper case, at most `size` characters."""
    return _UNSAFE.sub(" ", text or "").strip().upper()[:size].strip()


def amount(cents: int) -> str:
    """X12 decimal dollars: 650, 650.5, 0.25 (no trailing zeros)."""
    whole, part = divmod(abs(cents), 100)
    text = f"{whole}" if part == 0 else f"{whole}.{part:02d}".rstrip("0")
    return f"-{text}" if cents < 0 else text


def digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isascii() and ch.isdigit())


@dataclass
class PriorLine:
    """What the earlier payer decided on one line (2430)."""

    procedure_code: str
    units: int
    paid_cents: int
    adjustments: list[dict]  # [{"group", "carc", "amount_cents"}]
    paid_on: date


@dataclass
class PriorPayer:
    """An earlier payer's adjudication of the claim (2320/2330A/2330B); `lines` by the new claim's line number."""

    payer: Payer
    coverage: Coverage
    paid_cents: int
    paid_on: date
    claim_adjustments: list[dict] = field(default_factory=list)
    lines: dict[int, PriorLine] = field(default_factory=dict)


@dataclass
class ClaimParts:
    """One claim and the records its loops name."""

    claim: Claim
    lines: list[ClaimLine]
    patient: Patient
    coverage: Coverage
    billing: Provider
    rendering: Provider | None
    episode: Episode | None
    diagnoses: list[str]
    authorization_number: str | None
    taxonomy: str | None
    frequency: str  # CLM05-3
    bill_type: str | None = None  # institutional CLM05-1: facility type and classification
    patient_status: str = "30"  # institutional CL103: 30 still a patient, 01 discharged home
    code_set: str = "procedure"
    prior: PriorPayer | None = None  # a secondary claim: the earlier payer's adjudication


class Writer:
    def __init__(self):
        self.segments: list[str] = []

    def add(self, *elements) -> None:
        parts = ["" if e is None else str(e) for e in elements]
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        self.segments.append("*".join(parts))

    def text(self) -> str:
        return "~\n".join(self.segments) + "~\n"


def _name(writer: Writer, code: str, who: Provider, *, qualifier: str = "XX") -> None:
    if who.kind == "organization":
        writer.add("NM1", code, "2", clean(who.organization_name), "", "", "", "", qualifier, who.npi)
    else:
        writer.add("NM1", code, "1", clean(who.last_name), clean(who.first_name, 35), "", "", "", qualifier, who.npi)


def _address(writer: Writer, line1, city, state, zip_code) -> None:
    writer.add("N3", clean(line1, 55))
    writer.add("N4", clean(city, 30), clean(state, 2), digits(zip_code)[:9])


def write(claims: list[ClaimParts], *, claim_type: str, control: int, facility: Facility, payer: Payer,
          sender_id: str, now: datetime, production: bool = True) -> str:
    """The 837 text for `claims`, all to `payer`, all of `claim_type`; to the facility's clearinghouse when
    it names one, else to the payer's electronic id."""
    version = VERSIONS[claim_type]
    receiver = clean(facility.x12_receiver_id or payer.x12_payer_id, 15)
    receiver_name = clean(facility.x12_receiver_name or payer.name) if facility.x12_receiver_id else clean(payer.name)
    sender = clean(sender_id, 15)
    w = Writer()
    w.add("ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", receiver.ljust(15),
          f"{now:%y%m%d}", f"{now:%H%M}", "^", "00501", f"{control:09d}", "0", "P" if production else "T", ":")
    w.add("GS", "HC", sender, receiver, f"{now:%Y%m%d}", f"{now:%H%M}", control, "X", version)
    start = len(w.segments)
    w.add("ST", "837", "0001", version)
    w.add("BHT", "0019", "00", f"{control:09d}", f"{now:%Y%m%d}", f"{now:%H%M}", "CH")
    w.add("NM1", "41", "2", clean(facility.name), "", "", "", "", "46", sender)
    w.add("PER", "IC", clean(facility.name), "TE", digits(facility.phone)[:10])
    w.add("NM1", "40", "2", receiver_name, "", "", "", "", "46", receiver)
    hl = 0
    by_billing: dict[int, list[ClaimParts]] = {}
    for parts in claims:
        by_billing.setdefault(parts.billing.id, []).append(parts)
    for group in by_billing.values():
        hl += 1
        parent = hl
        billing = group[0].billing
        w.add("HL", parent, "", "20", "1")
        if group[0].taxonomy:
            w.add("PRV", "BI", "PXC", group[0].taxonomy)
        _name(w, "85", billing)
        _address(w, facility.address_line1, facility.city, facility.state, facility.zip_code)
        w.add("REF", "EI", digits(billing.tin or facility.tin))
        for parts in group:
            hl = _subscriber(w, parts, payer, parent, hl)
            (_professional if claim_type == "professional" else _institutional)(w, parts)
    w.add("SE", len(w.segments) - start + 1, "0001")
    w.add("GE", "1", control)
    w.add("IEA", "1", f"{control:09d}")
    return w.text()


def _subscriber(w: Writer, parts: ClaimParts, payer: Payer, parent: int, hl: int) -> int:
    coverage, patient = parts.coverage, parts.patient
    is_self = coverage.subscriber_relationship == "18"
    hl += 1
    w.add("HL", hl, parent, "22", "0" if is_self else "1")
    w.add("SBR", PAYER_RANKS.get(coverage.priority, "T"), "18" if is_self else "", clean(coverage.group_number, 50),
          "", "", "", "", "", FILING_INDICATORS.get(payer.payer_type, "ZZ"))
    if is_self:
        w.add("NM1", "IL", "1", clean(patient.last_name), clean(patient.first_name, 35), clean(patient.middle_name, 25),
              "", "", "MI", clean(coverage.member_id, 80))
        _address(w, patient.address_line1, patient.city, patient.state, patient.zip_code)
        w.add("DMG", "D8", f"{patient.date_of_birth:%Y%m%d}", patient.sex or "U")
    else:
        w.add("NM1", "IL", "1", clean(coverage.subscriber_last_name), clean(coverage.subscriber_first_name, 35),
              "", "", "", "MI", clean(coverage.member_id, 80))
        if coverage.subscriber_date_of_birth:
            w.add("DMG", "D8", f"{coverage.subscriber_date_of_birth:%Y%m%d}", coverage.subscriber_sex or "U")
    w.add("NM1", "PR", "2", clean(payer.name), "", "", "", "", "PI", clean(payer.x12_payer_id, 80))
    if not is_self:
        hl += 1
        w.add("HL", hl, hl - 1, "23", "0")
        w.add("PAT", coverage.subscriber_relationship)
        w.add("NM1", "QC", "1", clean(patient.last_name), clean(patient.first_name, 35), clean(patient.middle_name, 25))
        _address(w, patient.address_line1, patient.city, patient.state, patient.zip_code)
        w.add("DMG", "D8", f"{patient.date_of_birth:%Y%m%d}", patient.sex or "U")
    return hl


def _claim_refs(w: Writer, parts: ClaimParts) -> None:
    if parts.authorization_number:
        w.add("REF", "G1", clean(parts.authorization_number, 50))
    if parts.claim.frequency_code in ("7", "8") and parts.claim.payer_claim_number:
        w.add("REF", "F8", clean(parts.claim.payer_claim_number, 50))


def _diagnoses(w: Writer, parts: ClaimParts, *, institutional: bool = False) -> None:
    """Principal (ABK) then other (ABF) ICD-10-CM codes: in one HI on 837P; on 837I the principal has its own."""
    codes = parts.diagnoses[:12]
    if not codes:
        return
    others = [f"ABF:{code}" for code in codes[1:]]
    if institutional:
        w.add("HI", f"ABK:{codes[0]}")
        if others:
            w.add("HI", *others)
    else:
        w.add("HI", f"ABK:{codes[0]}", *others)


def _professional(w: Writer, parts: ClaimParts) -> None:
    claim = parts.claim
    w.add("CLM", claim.control_number, amount(claim.total_cents), "", "",
          f"{claim.place_of_service}:B:{parts.frequency}", "Y", "A", "Y", "Y")
    _claim_refs(w, parts)
    _diagnoses(w, parts)
    if parts.rendering is not None and parts.rendering.id != parts.billing.id:
        _name(w, "82", parts.rendering)
        if parts.rendering.taxonomy_code:
            w.add("PRV", "PE", "PXC", parts.rendering.taxonomy_code)
    _other_payer(w, parts, institutional=False)
    for n, line in enumerate(parts.lines, 1):
        w.add("LX", n)
        procedure = ":".join(["HC", line.procedure_code, *(m for m in (line.modifiers or "").split(",") if m)])
        w.add("SV1", procedure, amount(line.charge_cents), "UN", line.units, "", "",
              ":".join((line.diagnosis_pointers or "1").split(",")[:4]))
        w.add("DTP", "472", "D8", f"{line.service_date:%Y%m%d}")
        w.add("REF", "6R", line.line_control_number)
        _line_adjudication(w, parts, n, f"HC:{line.procedure_code}", "")


def _institutional(w: Writer, parts: ClaimParts) -> None:
    claim = parts.claim
    w.add("CLM", claim.control_number, amount(claim.total_cents), "", "", f"{parts.bill_type}:A:{parts.frequency}",
          "", "A", "Y", "Y")
    w.add("DTP", "434", "RD8", f"{claim.period_start:%Y%m%d}-{claim.period_end:%Y%m%d}")
    w.add("CL1", "", "", parts.patient_status)
    _claim_refs(w, parts)
    _diagnoses(w, parts, institutional=True)
    if parts.rendering is not None:
        _name(w, "71", parts.rendering)
    _other_payer(w, parts, institutional=True)
    for n, line in enumerate(parts.lines, 1):
        w.add("LX", n)
        procedure = ":".join(["HC", line.procedure_code, *(m for m in (line.modifiers or "").split(",") if m)]) \
            if line.procedure_code and parts.code_set == "procedure" else ""
        w.add("SV2", line.revenue_code, procedure, amount(line.charge_cents), "UN", line.units)
        w.add("DTP", "472", "D8", f"{line.service_date:%Y%m%d}")
        w.add("REF", "6R", line.line_control_number)
        _line_adjudication(w, parts, n, procedure or f"NU:{line.revenue_code}", line.revenue_code if procedure else "")


def _cas(w: Writer, adjustments: list[dict]) -> None:
    """CAS segments: one per group code, up to six reasons each."""
    by_group: dict[str, list[dict]] = {}
    for a in adjustments:
        if a["amount_cents"]:
            by_group.setdefault(a["group"], []).append(a)
    for group, found in by_group.items():
        for start in range(0, len(found), 6):
            triplets = [part for a in found[start:start + 6] for part in (a["carc"], amount(a["amount_cents"]), "")]
            w.add("CAS", group, *triplets)


def _other_payer(w: Writer, parts: ClaimParts, *, institutional: bool) -> None:
    """Loops 2320, 2330A and 2330B: who paid before, and what it paid on the claim."""
    prior = parts.prior
    if prior is None:
        return
    coverage, payer = prior.coverage, prior.payer
    w.add("SBR", PAYER_RANKS.get(coverage.priority, "P"), coverage.subscriber_relationship,
          clean(coverage.group_number, 50), "", "", "", "", "", FILING_INDICATORS.get(payer.payer_type, "ZZ"))
    _cas(w, prior.claim_adjustments)
    w.add("AMT", "D", amount(prior.paid_cents))
    w.add("OI", "", "", "Y", "" if institutional else "P", "", "Y")
    is_self = coverage.subscriber_relationship == "18"
    last = parts.patient.last_name if is_self else coverage.subscriber_last_name
    first = parts.patient.first_name if is_self else coverage.subscriber_first_name
    w.add("NM1", "IL", "1", clean(last), clean(first, 35), "", "", "", "MI", clean(coverage.member_id, 80))
    w.add("NM1", "PR", "2", clean(payer.name), "", "", "", "", "PI", clean(payer.x12_payer_id, 80))


def _line_adjudication(w: Writer, parts: ClaimParts, number: int, procedure: str, revenue_code: str) -> None:
    """Loop 2430: the earlier payer's decision on this line."""
    found = parts.prior.lines.get(number) if parts.prior else None
    if found is None:
        return
    w.add("SVD", clean(parts.prior.payer.x12_payer_id, 80), amount(found.paid_cents), procedure, revenue_code,
          found.units)
    _cas(w, found.adjustments)
    w.add("DTP", "573", "D8", f"{found.paid_on:%Y%m%d}")


def structural_problems(text: str) -> list[str]:
    """Our own checks of a written file, for what the validator's map does not check: the segment count,
    the HL tree, each claim's total against its lines, and line control numbers unique in the file."""
    segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
    problems = []
    st = next(i for i, s in enumerate(segments) if s[0] == "ST")
    se = next(i for i, s in enumerate(segments) if s[0] == "SE")
    if int(segments[se][1]) != se - st + 1:
        problems.append(f"SE01 says {segments[se][1]} segments; the transaction set has {se - st + 1}")
    seen_hl: set[str] = set()
    claims: list[tuple[str, int, int]] = []  # control number, CLM02 cents, lines' cents
    controls: set[str] = set()
    for seg in segments[st:se]:
        if seg[0] == "HL":
            if seg[2] and seg[2] not in seen_hl:
                problems.append(f"HL {seg[1]} names parent {seg[2]}, which comes nowhere before it")
            if seg[1] in seen_hl or int(seg[1]) != len(seen_hl) + 1:
                problems.append(f"HL {seg[1]} is out of sequence")
            seen_hl.add(seg[1])
        elif seg[0] == "CLM":
            claims.append((seg[1], cents(seg[2]), 0))
        elif seg[0] in ("SV1", "SV2") and claims:
            number, total, lines = claims[-1]
            claims[-1] = (number, total, lines + cents(seg[2] if seg[0] == "SV1" else seg[3]))
        elif seg[0] == "REF" and seg[1] == "6R":
            if seg[2] in controls:
                problems.append(f"line control number {seg[2]} is used twice")
            controls.add(seg[2])
    problems += [f"claim {number}: CLM02 {amount(total)} is not the sum of its lines ({amount(lines)})"
                 for number, total, lines in claims if total != lines]
    return problems


def cents(text: str) -> int:
    """An X12 decimal amount (650, 650.5, -12.25) in cents."""
    whole, _, part = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((part + "00")[:2]))
