"""Attendance: sessions recorded and signed, and the CSV imports of sessions and authorizations."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.iop.authorizations import IopError, save_authorization
from portal.models import (
    BillingCode,
    ClinicalSession,
    Patient,
    utcnow,
)

# ---------------------------------------------------------------- attendance and CSV imports


def record_session(*, patient: Patient, service_date: date, billing_code_id: int, minutes: int, units: int,
                   clinician: str, signed: bool, actor: str, source: str = "form") -> ClinicalSession:
    if minutes < 0 or units < 0:
        raise IopError("Minutes and units cannot be negative.")
    session = ClinicalSession(patient_id=patient.id, service_date=service_date, billing_code_id=billing_code_id,
                              minutes=minutes, units=units, clinician=clinician.strip(), signed=signed,
                              signed_at=utcnow() if signed else None, source=source, created_by=actor)
    db.session.add(session)
    return session


def sign_session(session: ClinicalSession) -> None:
    if not session.signed:
        session.signed, session.signed_at = True, utcnow()


@dataclass
class ImportResult:
    imported: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"imported": self.imported, "errors": self.errors, "ok": not self.errors}


SESSION_COLUMNS = ("patient_mrn", "service_date", "code", "minutes", "units", "clinician", "signed")
AUTH_COLUMNS = ("patient_mrn", "payer", "code", "start", "end", "units")
_YES, _NO = {"true", "yes", "y", "1", "signed"}, {"false", "no", "n", "0", "draft", ""}


def _rows(text: str, columns: tuple[str, ...], result: ImportResult):
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(columns)}")
        return []
    return [(number, {k: (v or "").strip() for k, v in row.items() if k}) for number, row in
            enumerate(reader, start=2)]


def _parse(result: ImportResult, line: int, label: str, value: str, kind):
    parsed: date | int
    try:
        parsed = date.fromisoformat(value) if kind is date else int(value)
    except ValueError:
        result.errors.append(f"line {line}: {label} {value!r} is not " +
                             ("a date like 2026-10-01" if kind is date else "a whole number"))
        return None
    if isinstance(parsed, int) and parsed < 0:
        result.errors.append(f"line {line}: {label} cannot be negative")
        return None
    return parsed


def import_sessions(text: str, *, actor: str) -> ImportResult:
    """Sessions from CSV; any bad row refuses the whole file (errors by line), and a file is taken once."""
    import hashlib

    result = ImportResult()
    source = "import:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if db.session.scalar(select(ClinicalSession.id).where(ClinicalSession.source == source).limit(1)):
        result.errors.append("this file was already imported; nothing was added")
        return result
    rows = _rows(text, SESSION_COLUMNS, result)
    patients = {p.mrn: p for p in db.session.scalars(select(Patient).where(
        Patient.mrn.in_({row["patient_mrn"] for _, row in rows})))}
    codes = {c.code: c.id for c in db.session.scalars(select(BillingCode))}
    sessions = []
    for line, row in rows:
        errors_before = len(result.errors)
        patient = patients.get(row["patient_mrn"])
        if patient is None:
            result.errors.append(f"line {line}: unknown patient MRN {row['patient_mrn']!r}")
        if row["code"] not in codes:
            result.errors.append(f"line {line}: unknown code {row['code']!r}")
        day = _parse(result, line, "service_date", row["service_date"], date)
        minutes = _parse(result, line, "minutes", row["minutes"] or "0", int)
        units = _parse(result, line, "units", row["units"] or "0", int)
        if not row["clinician"]:
            result.errors.append(f"line {line}: clinician is empty")
        signed = row["signed"].lower()
        if signed not in _YES | _NO:
            result.errors.append(f"line {line}: signed {row['signed']!r} should be true or false")
        if len(result.errors) == errors_before:
            sessions.append(dict(patient=patient, service_date=day, billing_code_id=codes[row["code"]],
                                 minutes=minutes, units=units, clinician=row["clinician"],
                                 signed=signed in _YES))
    if result.errors or not rows:
        if not rows and not result.errors:
            result.errors.append("the file has no rows")
        return result
    for values in sessions:
        record_session(**values, actor=actor, source=source)
    db.session.flush()
    result.imported = len(sessions)
    return result


def import_authorizations(text: str, *, actor: str) -> ImportResult:
    """Authorizations from CSV; overlaps and bad rows are reported by line and nothing is kept."""
    from portal.models import Payer

    result = ImportResult()
    rows = _rows(text, AUTH_COLUMNS, result)
    patients = {p.mrn: p for p in db.session.scalars(select(Patient).where(
        Patient.mrn.in_({row["patient_mrn"] for _, row in rows})))}
    codes = {c.code: c.id for c in db.session.scalars(select(BillingCode))}
    payers = {}
    for payer in db.session.scalars(select(Payer)):
        payers[payer.name.lower()] = payer.id
        if payer.x12_payer_id:
            payers[payer.x12_payer_id.lower()] = payer.id
    count = 0
    for line, row in rows:
        errors_before = len(result.errors)
        patient = patients.get(row["patient_mrn"])
        if patient is None:
            result.errors.append(f"line {line}: unknown patient MRN {row['patient_mrn']!r}")
        payer_id = payers.get(row["payer"].lower())
        if payer_id is None:
            result.errors.append(f"line {line}: unknown payer {row['payer']!r}")
        if row["code"] not in codes:
            result.errors.append(f"line {line}: unknown code {row['code']!r}")
        start = _parse(result, line, "start", row["start"], date)
        end = _parse(result, line, "end", row["end"], date)
        units = _parse(result, line, "units", row["units"], int)
        if len(result.errors) > errors_before:
            continue
        coverage = next((c for c in patient.coverages if c.payer_id == payer_id), None)
        if coverage is None:
            result.errors.append(f"line {line}: patient {patient.mrn} has no coverage with {row['payer']}")
            continue
        try:
            save_authorization(patient=patient, coverage_id=coverage.id, billing_code_id=codes[row["code"]],
                               start=start, end=end, units=units, actor=actor)
            count += 1
        except IopError as exc:
            result.errors.append(f"line {line}: {exc}")
    if not rows and not result.errors:
        result.errors.append("the file has no rows")
    if result.errors:
        db.session.rollback()
        return result
    db.session.flush()
    result.imported = count
    return result
