"""What an import brings, as plain records, and how they land: patients, guarantors (accounts), payers, plans and
coverages, matched first on the identifiers an earlier import stored (ExternalId), then on MRN, X12 payer id or
name, and member id; created when nothing matches. Both importers (FHIR, CSV) fill these records and hand them to
`save_people`, which looks everything up in batches (a few queries per thousand rows, never one per row), lists
every problem, and writes only when there is none. Nothing here commits: the command does.

ExternalId.resource_type says what an identifier names: patient, guarantor (the account), payer, coverage, episode.
"""
import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from portal import audit, facility, ledger
from portal.extensions import db
from portal.models import (
    Account,
    Coverage,
    ExternalId,
    InsurancePlan,
    Patient,
    Payer,
    utcnow,
)
from portal.patients import numbers

CHUNK = 1000  # values per IN (...) list
Key = tuple[str, str]  # (identifier system, value)


@dataclass
class ImportResult:
    """Counts of what an import created and updated, what it passed over (by resource type), and its problems.
    Any problem means nothing was saved."""

    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unchanged: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    charges_posted: int = 0
    charges_replayed: int = 0
    errors: list[str] = field(default_factory=list)

    def refuse(self) -> "ImportResult":
        """Nothing of it was saved: roll back what was flushed and drop the counts."""
        db.session.rollback()
        for counts in (self.created, self.updated, self.unchanged):
            counts.clear()
        self.charges_posted = self.charges_replayed = 0
        return self

    @property
    def imported(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())

    def as_dict(self) -> dict:
        return {"ok": not self.errors, "created": dict(self.created), "updated": dict(self.updated),
                "unchanged": dict(self.unchanged), "skipped": dict(self.skipped), "charges_posted": self.charges_posted,
                "charges_replayed": self.charges_replayed, "errors": self.errors}

    def summary(self) -> str:
        if self.errors:
            return "nothing imported:\n" + "\n".join(f"  {e}" for e in self.errors)

        def words(counts):
            return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"

        lines = [f"created: {words(self.created)}", f"updated: {words(self.updated)}",
                 f"unchanged: {words(self.unchanged)}"]
        if self.charges_posted or self.charges_replayed:
            lines.append(f"charges: {self.charges_posted} posted, {self.charges_replayed} already posted")
        if self.skipped:
            lines.append(f"passed over: {words(self.skipped)}")
        return "\n".join(lines)


@dataclass(eq=False)
class Person:
    """Contact details shared by a patient and a guarantor."""

    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    zip_code: str | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str | None = None


@dataclass(eq=False)
class GuarantorIn(Person):
    where: str = ""
    keys: list[Key] = field(default_factory=list)
    account: Account | None = None  # resolved


@dataclass(eq=False)
class PatientIn(Person):
    where: str = ""
    keys: list[Key] = field(default_factory=list)
    mrn: str | None = None  # None: a new patient is numbered MRN<5000 + id>
    middle_name: str | None = None
    preferred_name: str | None = None
    guarantor: GuarantorIn | None = None  # None: the patient is their own guarantor
    relationship_to_guarantor: str = "18"
    row: Patient | None = None  # resolved
    account: Account | None = None


@dataclass(eq=False)
class PayerIn:
    where: str
    name: str | None
    keys: list[Key] = field(default_factory=list)
    x12_payer_id: str | None = None
    phone: str | None = None
    row: Payer | None = None
    twin: "PayerIn | None" = None  # an earlier record of the same new payer in this file
    known: dict[Key, int] = field(default_factory=dict)


@dataclass(eq=False)
class CoverageIn:
    where: str
    patient: PatientIn
    payer: PayerIn
    member_id: str
    start_date: date
    keys: list[Key] = field(default_factory=list)
    plan_name: str | None = None
    group_number: str | None = None
    priority: int = 1
    end_date: date | None = None
    subscriber_relationship: str = "18"
    subscriber: Person | None = None  # None: the patient holds the policy
    row: Coverage | None = None
    plan: InsurancePlan | None = None
    known: dict[Key, int] = field(default_factory=dict)


@contextmanager
def bulk_work(result: ImportResult):
    """Run an import: a record someone else saved meanwhile (the same MRN, NPI or identifier) refuses it whole.

    Python's cyclic garbage collector is held off meanwhile. The import keeps tens of thousands of parsed resources
    and records alive; each collection walked all of them again, so the cost per patient grew with the file
    (17 times the time for 10 times the patients). Reference counting still frees what is dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    except (IntegrityError, ledger.LedgerError):
        result.refuse()
        result.errors.append("another import or a user saved one of these records meanwhile; nothing was imported, "
                             "run the import again")
    finally:
        if enabled:
            gc.enable()


# ---------------------------------------------------------------- checking single values

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX",
    "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV",
    "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR", "guam": "GU", "virgin islands": "VI",
}
# Column sizes of what the importers store (the models' String lengths).
LIMITS = {"first_name": 100, "last_name": 100, "middle_name": 100, "preferred_name": 100, "address_line1": 200,
          "address_line2": 200, "city": 100, "zip_code": 10, "phone": 32, "email": 254, "preferred_language": 8,
          "mrn": 32, "member_id": 80, "group_number": 80, "plan_name": 200, "payer_name": 200, "x12_payer_id": 80,
          "key": 255}


class Problems:
    """Problems of one import, each prefixed with where it was found (a resource and path, or a line)."""

    def __init__(self, errors: list[str]):
        self.errors = errors

    def add(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def text(self, where: str, label: str, value, limit_name: str | None = None) -> str | None:
        """A stored text: stripped, None when empty; a NUL byte or one too long is a problem."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.add(where, f"{label}: should be text")
            return None
        value = value.strip()
        if "\x00" in value:
            self.add(where, f"{label}: contains a NUL byte")
            return None
        limit = LIMITS.get(limit_name or label)
        if limit and len(value) > limit:
            self.add(where, f"{label}: longer than {limit} characters")
            return None
        return value or None

    def state(self, where: str, label: str, value: str | None) -> str | None:
        """A US state as its two-letter code; a full name is turned into its code."""
        value = self.text(where, label, value, "city")
        if value is None:
            return None
        code = US_STATES.get(value.lower(), value.upper())
        if len(code) != 2 or not code.isalpha():
            self.add(where, f"{label} {value[:40]!r} is not a US state")
            return None
        return code

    def email(self, where: str, label: str, value: str | None) -> str | None:
        value = self.text(where, label, value, "email")
        if value is None:
            return None
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError:
            self.add(where, f"{label} {value[:80]!r} is not one valid email address")
            return None


# ---------------------------------------------------------------- saving people, payers and coverages


def external_ids(resource_type: str, keys: set[Key]) -> dict[Key, int]:
    """Our record ids behind identifiers an earlier import stored, looked up a thousand values at a time."""
    found: dict[Key, int] = {}
    wanted = sorted(keys)
    for start in range(0, len(wanted), CHUNK):  # (type, system, value) is the unique index: each look-up uses it
        for row in db.session.execute(select(ExternalId.system, ExternalId.value, ExternalId.object_id).where(
                ExternalId.resource_type == resource_type,
                tuple_(ExternalId.system, ExternalId.value).in_(wanted[start:start + CHUNK]))):
            found[(row.system, row.value)] = row.object_id
    return found


def by_ids(model, ids) -> dict[int, Any]:
    ids = sorted(set(ids))
    rows = {}
    for start in range(0, len(ids), CHUNK):
        rows.update({r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids[start:start + CHUNK])))})
    return rows


def _match(problems: Problems, where: str, kind: str, keys: list[Key], known: dict[Key, int]) -> int | None:
    """The one record the keys name; keys that name two records are a problem."""
    ids = {known[k] for k in keys if k in known}
    if len(ids) > 1:
        problems.add(where, f"its identifiers name {len(ids)} different {kind} records")
        return None
    return ids.pop() if ids else None


class ExternalIds:
    """New identifiers to remember, written once the records they name have ids."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, Key, Any]] = []
        self.seen: set[tuple[str, Key]] = set()

    def remember(self, resource_type: str, keys: list[Key], known: dict[Key, int], row) -> None:
        for key in keys:
            if key not in known and (resource_type, key) not in self.seen:
                self.seen.add((resource_type, key))
                self.pending.append((resource_type, key, row))

    def write(self) -> None:
        """One bulk insert: tens of thousands of identifiers are plain rows, not objects the session tracks."""
        if self.pending:
            now = utcnow()
            db.session.execute(insert(ExternalId), [
                dict(resource_type=kind, system=system, value=value, object_id=row.id, created_at=now)
                for kind, (system, value), row in self.pending])
        self.pending = []


PERSON_FIELDS = ("first_name", "last_name", "date_of_birth", "sex", "address_line1", "address_line2", "city",
                 "state", "zip_code", "phone", "email", "preferred_language")


def _set(row, values: dict) -> bool:
    """Set the given (not None) values; whether anything changed."""
    changed = False
    for name, value in values.items():
        if value is not None and getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _count(result: "ImportResult", kind: str, changed: bool) -> None:
    (result.updated if changed else result.unchanged)[kind] += 1


def _guarantor_values(person: Person) -> dict:
    values = {name: getattr(person, name) for name in PERSON_FIELDS}
    values["guarantor_first_name"] = values.pop("first_name")
    values["guarantor_last_name"] = values.pop("last_name")
    values["guarantor_date_of_birth"] = values.pop("date_of_birth")
    values["guarantor_sex"] = values.pop("sex")
    name = " ".join(p for p in (person.first_name, person.last_name) if p)
    values["guarantor_name"] = name or None
    return values


def save_people(patients: list[PatientIn], coverages: list[CoverageIn], result: ImportResult, *, actor: str,
                source: str) -> ExternalIds | None:
    """Match and write patients (with their guarantors' accounts) and coverages; None when there were problems,
    in which case nothing was written. The ExternalIds returned still need `write()` after further records."""
    problems = Problems(result.errors)
    ext = ExternalIds()
    _one_guarantor_per_person(patients)
    guarantors = list({id(p.guarantor): p.guarantor for p in patients if p.guarantor}.values())
    known_patients = external_ids("patient", {k for p in patients for k in p.keys})
    known_accounts = external_ids("guarantor", {k for g in guarantors for k in g.keys})
    by_mrn = {}
    mrns = sorted({p.mrn for p in patients if p.mrn})
    for start in range(0, len(mrns), CHUNK):
        by_mrn.update({p.mrn: p for p in db.session.scalars(select(Patient).where(
            Patient.mrn.in_(mrns[start:start + CHUNK])))})
    rows = by_ids(Patient, known_patients.values())
    account_rows = by_ids(Account, [*known_accounts.values(), *(p.account_id for p in rows.values()),
                                     *(p.account_id for p in by_mrn.values())])

    # Patients: an earlier import's identifier first, then the MRN.
    claimed: dict[int, str] = {}
    mrn_seen: dict[str, str] = {}
    key_seen: dict[Key, str] = {}
    for incoming in patients:
        if twin := next((key_seen[k] for k in incoming.keys if k in key_seen), None):
            problems.add(incoming.where, f"has an identifier of {twin} too")
        key_seen.update(dict.fromkeys(incoming.keys, incoming.where))
        patient_id = _match(problems, incoming.where, "patient", incoming.keys, known_patients)
        row = rows.get(patient_id) if patient_id else by_mrn.get(incoming.mrn)
        if row is not None and row.merged_into_id:
            row = db.session.get(Patient, row.merged_into_id)
        if incoming.mrn:
            if incoming.mrn in mrn_seen:
                problems.add(incoming.where, f"MRN {incoming.mrn} is given twice (also {mrn_seen[incoming.mrn]})")
            mrn_seen[incoming.mrn] = incoming.where
            owner = by_mrn.get(incoming.mrn)
            if owner is not None and row is not None and owner.id != row.id:
                problems.add(incoming.where, f"MRN {incoming.mrn} belongs to another patient")
        if row is not None:
            if row.id in claimed:
                problems.add(incoming.where, f"is the same patient as {claimed[row.id]}")
            claimed[row.id] = incoming.where
        incoming.row = row

    # Guarantors: the account an earlier import stored for them, else the account of their patient.
    for guarantor in guarantors:
        account_id = _match(problems, guarantor.where, "guarantor", guarantor.keys, known_accounts)
        guarantor.account = account_rows.get(account_id) if account_id else None
    for incoming in patients:
        guarantor = incoming.guarantor
        if incoming.row is None or guarantor is None:
            continue
        if guarantor.account is None:
            guarantor.account = account_rows.get(incoming.row.account_id)
        elif guarantor.account.id != incoming.row.account_id:
            problems.add(incoming.where, f"its guarantor ({guarantor.where}) has another account than the "
                                         "patient's; move the patient in Parity first")

    payers = _resolve_payers(list({id(c.payer): c.payer for c in coverages}.values()), problems)
    _check_coverages(coverages, problems)
    if result.errors:
        return None

    facility_id = facility.saved().id
    _save_payers(payers, coverages, ext, result)
    new_accounts = []
    for incoming in patients:
        guarantor = incoming.guarantor
        holder: Person = guarantor or incoming
        account = guarantor.account if guarantor else (
            account_rows.get(incoming.row.account_id) if incoming.row else None)
        if account is None:
            account = Account(facility_id=facility_id, number=numbers.placeholder(), guarantor_name="")
            new_accounts.append(account)
            if guarantor:
                guarantor.account = account
        if guarantor or incoming.row is None or incoming.row.relationship_to_guarantor == "18":
            _set(account, _guarantor_values(holder))
        if guarantor:
            ext.remember("guarantor", guarantor.keys, known_accounts, account)
        incoming.account = account
    db.session.add_all(new_accounts)
    db.session.flush()
    numbers.number_accounts(new_accounts)
    if new_accounts:
        result.created["accounts"] += len(new_accounts)

    new_patients, unnumbered = [], []
    for incoming in patients:
        values = {name: getattr(incoming, name) for name in (*PERSON_FIELDS, "middle_name", "preferred_name", "mrn")}
        if incoming.guarantor is not None or incoming.row is None:  # a file naming no guarantor changes none
            values["relationship_to_guarantor"] = incoming.relationship_to_guarantor
        row = incoming.row
        if row is None:
            row = Patient(account=incoming.account, mrn=incoming.mrn or numbers.placeholder(),
                          **{k: v for k, v in values.items() if k != "mrn"})
            new_patients.append(row)
            if not incoming.mrn:
                unnumbered.append(row)
            incoming.row = row
            result.created["patients"] += 1
        else:
            _count(result, "patients", _set(row, values))
        ext.remember("patient", incoming.keys, known_patients, row)
    db.session.add_all(new_patients)
    db.session.flush()
    numbers.number_patients(unnumbered)  # as staff registration numbers a new patient
    _save_coverages(coverages, ext, result)
    for incoming in patients:
        audit.record("patient.imported", "patient", actor=actor, object_id=incoming.row.id,
                     patient_id=incoming.row.id, account_id=incoming.row.account_id, detail={"source": source})
    db.session.flush()
    return ext


def _one_guarantor_per_person(patients: list[PatientIn]) -> None:
    """Guarantor records of one person (an identifier in common) become one guarantor: one account."""
    by_key: dict[Key, GuarantorIn] = {}
    for incoming in patients:
        guarantor = incoming.guarantor
        if guarantor is None:
            continue
        first = next((by_key[k] for k in guarantor.keys if k in by_key), None)
        if first is not None and first is not guarantor:
            incoming.guarantor = first
        else:
            by_key.update(dict.fromkeys(guarantor.keys, guarantor))


def _resolve_payers(payers: list[PayerIn], problems: Problems) -> list[PayerIn]:
    known = external_ids("payer", {k for p in payers for k in p.keys})
    by_id = {p.id: p for p in db.session.scalars(select(Payer))}  # payers are few: all of them, once
    by_x12 = {p.x12_payer_id.lower(): p for p in by_id.values() if p.x12_payer_id}
    by_name = {}
    for payer in sorted(by_id.values(), key=lambda p: p.id):
        by_name.setdefault(payer.name.lower(), payer)
    made: dict[str, PayerIn] = {}
    for incoming in payers:
        payer_id = _match(problems, incoming.where, "payer", incoming.keys, known)
        row = by_id.get(payer_id) if payer_id else None
        if row is None and incoming.x12_payer_id:
            row = by_x12.get(incoming.x12_payer_id.lower())
        if row is None and incoming.name:
            row = by_name.get(incoming.name.lower())
        if row is None and not incoming.name:
            problems.add(incoming.where, "a new payer needs a name")
        # Two records of one new payer in a file become one payer.
        same = (incoming.x12_payer_id or incoming.name or "").lower()
        if row is None and same in made:
            incoming.row = made[same].row
            incoming.keys = [*made[same].keys, *incoming.keys]
            made[same].keys = incoming.keys
            incoming.twin = made[same]  # shares the row once it is made
            continue
        made.setdefault(same, incoming)
        incoming.row, incoming.known = row, known
    return payers


def _save_payers(payers: list[PayerIn], coverages: list[CoverageIn], ext: ExternalIds,
                 result: ImportResult) -> None:
    for incoming in payers:
        if incoming.twin is not None:
            continue
        if incoming.row is None:
            incoming.row = Payer(name=incoming.name, x12_payer_id=incoming.x12_payer_id, phone=incoming.phone)
            db.session.add(incoming.row)
            result.created["payers"] += 1
        else:
            _count(result, "payers", _set(incoming.row, {"phone": incoming.phone,
                                                         "x12_payer_id": incoming.x12_payer_id}))
    for incoming in payers:
        if incoming.twin is not None:
            incoming.row = incoming.twin.row
    db.session.flush()
    for incoming in payers:
        ext.remember("payer", incoming.keys, incoming.known, incoming.row)
    wanted = {(c.payer.row.id, c.plan_name.lower()) for c in coverages if c.plan_name}
    plans = {(p.payer_id, p.name.lower()): p for p in db.session.scalars(select(InsurancePlan).where(
        InsurancePlan.payer_id.in_({payer_id for payer_id, _ in wanted})))} if wanted else {}
    for coverage in coverages:
        if coverage.plan_name and (coverage.payer.row.id, coverage.plan_name.lower()) not in plans:
            plan = InsurancePlan(payer_id=coverage.payer.row.id, name=coverage.plan_name)
            plans[(coverage.payer.row.id, coverage.plan_name.lower())] = plan
            db.session.add(plan)
            result.created["plans"] += 1
        coverage.plan = plans.get((coverage.payer.row.id, (coverage.plan_name or "").lower()))
    db.session.flush()


class _Span(NamedTuple):
    where: str
    priority: int
    start: date
    end: date | None


def _overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return a_start <= (b_end or date.max) and b_start <= (a_end or date.max)


def _check_coverages(coverages: list[CoverageIn], problems: Problems) -> None:
    """Match each coverage to one an earlier import made (or the patient's with the same payer and member id) and
    keep one coverage per priority per patient for any date."""
    known = external_ids("coverage", {k for c in coverages for k in c.keys})
    patient_ids = {c.patient.row.id for c in coverages if c.patient.row is not None}
    existing = defaultdict(list)
    for start in range(0, len(ids := sorted(patient_ids)), CHUNK):
        for row in db.session.scalars(select(Coverage).where(Coverage.patient_id.in_(ids[start:start + CHUNK]))):
            existing[row.patient_id].append(row)
    by_id = {row.id: row for rows in existing.values() for row in rows}
    by_patient: dict[int, list[CoverageIn]] = defaultdict(list)
    for coverage in coverages:
        if coverage.end_date and coverage.end_date < coverage.start_date:
            problems.add(coverage.where, "ends before it starts")
        coverage_id = _match(problems, coverage.where, "coverage", coverage.keys, known)
        row = by_id.get(coverage_id) if coverage_id else None
        if row is None and coverage.patient.row is not None and coverage.payer.row is not None:
            row = next((c for c in existing[coverage.patient.row.id] if c.payer_id == coverage.payer.row.id
                        and c.member_id == coverage.member_id), None)
        coverage.row, coverage.known = row, known
        by_patient[id(coverage.patient)].append(coverage)
    for group in by_patient.values():
        patient_row = group[0].patient.row
        replaced = {c.row.id for c in group if c.row is not None}
        kept = [_Span(f"coverage {c.member_id} already on file", c.priority, c.start_date, c.end_date)
                for c in (existing[patient_row.id] if patient_row else []) if c.id not in replaced]
        incoming = [_Span(c.where, c.priority, c.start_date, c.end_date) for c in group]
        for i, span in enumerate(incoming):
            for other in [*incoming[:i], *kept]:
                if other.priority == span.priority and _overlap(span.start, span.end, other.start, other.end):
                    problems.add(span.where, f"a second priority-{span.priority} coverage for the same dates as "
                                             f"{other.where}")
                    break


def _save_coverages(coverages: list[CoverageIn], ext: ExternalIds, result: ImportResult) -> None:
    new = []
    for coverage in coverages:
        subscriber = coverage.subscriber or Person()
        values = dict(payer_id=coverage.payer.row.id, plan_id=coverage.plan.id if coverage.plan else None,
                      member_id=coverage.member_id, group_number=coverage.group_number,
                      priority=coverage.priority, start_date=coverage.start_date,
                      subscriber_relationship=coverage.subscriber_relationship,
                      subscriber_first_name=subscriber.first_name, subscriber_last_name=subscriber.last_name,
                      subscriber_date_of_birth=subscriber.date_of_birth, subscriber_sex=subscriber.sex)
        if coverage.row is None:
            coverage.row = Coverage(patient=coverage.patient.row, end_date=coverage.end_date, **values)
            new.append(coverage.row)
            result.created["coverages"] += 1
        else:
            changed = _set(coverage.row, values)
            if coverage.row.end_date != coverage.end_date:
                coverage.row.end_date, changed = coverage.end_date, True
            _count(result, "coverages", changed)
        ext.remember("coverage", coverage.keys, coverage.known, coverage.row)
    db.session.add_all(new)
    db.session.flush()

