"""IOP per-diem charges from attendance.

Each night, for the service date `as_of - arrears_days` (and, for late-signed notes, the
`catch_up_days` before it), a patient whose signed documentation-group units reach the threshold
(and the optional minutes condition) gets exactly one charge for the billable code of the
authorization valid that day with units left. Days that cannot be billed become exceptions with
a reason, each alerted once. The charge's idempotency key is the natural key
`iop:<patient>:<date>`, so a rerun, or a second worker on the same date, creates nothing new.
"""
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    EXCEPTION_REASONS,
    Authorization,
    BillingCode,
    BillingCodeGroup,
    Charge,
    ClinicalSession,
    Coverage,
    IopException,
    IopSettings,
    Patient,
    Posting,
    utcnow,
)
from portal.services import facility, ledger, notifications

BATCH_SIZE = 500


class IopError(ValueError):
    """A request about IOP records that cannot be done, with a message fit to show."""


# ---------------------------------------------------------------- settings and codes


def settings() -> IopSettings:
    """This facility's engine settings, created with the demo groups' names on first use."""
    fac = facility.current()
    found = db.session.scalar(select(IopSettings).where(IopSettings.facility_id == fac.id))
    if found is None:
        groups = {g.name: g.id for g in db.session.scalars(select(BillingCodeGroup))}
        found = IopSettings(facility_id=fac.id, documentation_group_id=groups.get("IOP documentation"),
                            billable_group_id=groups.get("IOP billable"))
        db.session.add(found)
        db.session.commit()
    return found


def group_code_ids(group_id: int | None) -> set[int]:
    if group_id is None:
        return set()
    group = db.session.get(BillingCodeGroup, group_id)
    return {c.id for c in group.codes} if group else set()


def units_used(authorization_ids) -> dict[int, int]:
    """Units used per authorization: its IOP charges that have not been reversed."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    rows = db.session.execute(
        select(Charge.authorization_id, func.count(Charge.id))
        .where(Charge.authorization_id.in_(list(authorization_ids)), Charge.posting_id.not_in(reversed_postings))
        .group_by(Charge.authorization_id)
    ).all()
    return {auth_id: int(count) for auth_id, count in rows}


# ---------------------------------------------------------------- authorizations


def save_authorization(*, patient: Patient, coverage_id: int, billing_code_id: int, start: date, end: date,
                       units: int, actor: str, number: str | None = None,
                       authorization: Authorization | None = None) -> Authorization:
    """Create or edit an authorization; one overlapping another of the patient's is refused."""
    if end < start:
        raise IopError("The end date is before the start date.")
    if units <= 0:
        raise IopError("Authorized units must be at least 1.")
    billable = group_code_ids(settings().billable_group_id)
    if billing_code_id not in billable:
        raise IopError("The code is not in the IOP billable group.")
    coverage = db.session.get(Coverage, coverage_id)
    if coverage is None or coverage.patient_id != patient.id:
        raise IopError("Choose one of the patient's coverages.")
    overlapping = db.session.scalars(
        select(Authorization).where(
            Authorization.patient_id == patient.id, Authorization.billing_code_id.in_(billable),
            Authorization.start_date <= end, Authorization.end_date >= start,
            Authorization.id != (authorization.id if authorization else -1),
        )
    ).first()
    if overlapping is not None:
        raise IopError(
            f"These dates overlap authorization {overlapping.number or '#' + str(overlapping.id)} "
            f"({overlapping.start_date:%m/%d/%Y}–{overlapping.end_date:%m/%d/%Y}); "
            "end that one first or choose other dates."
        )
    if authorization is not None and units < units_used([authorization.id]).get(authorization.id, 0):
        raise IopError("Fewer units than have already been billed on this authorization.")
    auth = authorization or Authorization(patient_id=patient.id, created_by=actor)
    auth.coverage_id, auth.billing_code_id, auth.number = coverage_id, billing_code_id, number
    auth.start_date, auth.end_date, auth.units_allotted = start, end, units
    db.session.add(auth)
    db.session.flush()
    return auth


# ---------------------------------------------------------------- the nightly engine


@dataclass
class DayOutcome:
    patient_id: int
    mrn: str
    service_date: date
    action: str  # charged | already_charged | exception
    units: int
    minutes: int
    code: str | None = None
    charge_id: int | None = None
    authorization_id: int | None = None
    reason: str | None = None
    message: str | None = None


@dataclass
class RunResult:
    as_of: date
    service_dates: list[date]
    outcomes: list[DayOutcome] = field(default_factory=list)
    new_exception_ids: list[int] = field(default_factory=list)

    @property
    def charges(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.action == "charged"]

    @property
    def exceptions(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.action == "exception"]

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "service_dates": [d.isoformat() for d in self.service_dates],
            "charges_created": [_plain(o) for o in self.charges],
            "exceptions": [_plain(o) for o in self.exceptions],
            "already_charged": sum(1 for o in self.outcomes if o.action == "already_charged"),
            "new_exceptions": len(self.new_exception_ids),
        }

    def summary(self) -> str:
        dates = ", ".join(d.isoformat() for d in self.service_dates)
        lines = [f"IOP run as of {self.as_of}: service dates {dates}",
                 f"  {len(self.charges)} charges created, {len(self.exceptions)} days not billable "
                 f"({len(self.new_exception_ids)} new), "
                 f"{sum(1 for o in self.outcomes if o.action == 'already_charged')} already charged"]
        lines += [f"  {o.service_date} {o.mrn}: charged {o.code}" for o in self.charges]
        lines += [f"  {o.service_date} {o.mrn}: {o.reason} - {o.message}" for o in self.exceptions]
        return "\n".join(lines)


def _plain(outcome: DayOutcome) -> dict:
    data = asdict(outcome)
    data["service_date"] = outcome.service_date.isoformat()
    return {k: v for k, v in data.items() if v is not None}


def service_dates(as_of: date, config: IopSettings) -> list[date]:
    target = as_of - timedelta(days=config.arrears_days)
    return [target - timedelta(days=n) for n in range(config.catch_up_days, -1, -1)]


def run(as_of: date, *, actor: str, only_date: date | None = None) -> RunResult:
    """The nightly run; `only_date` re-runs one service date (after an exception is fixed)."""
    config = settings()
    if config.documentation_group_id is None or config.billable_group_id is None:
        raise IopError("Choose the documentation and billable code groups in the IOP settings first.")
    dates = [only_date] if only_date else service_dates(as_of, config)
    result = RunResult(as_of, dates)
    context = _Context(config)
    for day in dates:
        _run_day(day, context, actor, result)
    _alert(result, context.alert_role)
    return result


@dataclass(frozen=True)
class _Auth:
    """What posting needs of an authorization, as plain values (ORM objects expire at each commit)."""

    id: int
    label: str
    allotted: int
    coverage_id: int
    code_id: int


class _Context:
    def __init__(self, config: IopSettings):
        self.threshold, self.minimum_minutes = config.unit_threshold, config.minimum_minutes
        self.occurrence_minutes = config.occurrence_minutes
        self.default_clinician, self.default_location = config.default_clinician, config.default_location
        self.alert_role = config.alert_role
        self.documentation = group_code_ids(config.documentation_group_id)
        self.billable = group_code_ids(config.billable_group_id)
        self.codes = {c.id: (c.code, c.default_price_cents) for c in db.session.scalars(
            select(BillingCode).where(BillingCode.id.in_(self.billable)))}


def _attendance(day: date, documentation: set[int]) -> list:
    signed = ClinicalSession.signed.is_(True)
    return db.session.execute(
        select(ClinicalSession.patient_id,
               func.coalesce(func.sum(case((signed, ClinicalSession.units), else_=0)), 0),
               func.coalesce(func.sum(case((signed, ClinicalSession.minutes), else_=0)), 0))
        .where(ClinicalSession.service_date == day, ClinicalSession.billing_code_id.in_(documentation))
        .group_by(ClinicalSession.patient_id).order_by(ClinicalSession.patient_id)
    ).all()


def _run_day(day: date, ctx: _Context, actor: str, result: RunResult) -> None:
    attended = _attendance(day, ctx.documentation)
    if not attended:
        return
    patient_ids = [row[0] for row in attended]
    charged = dict(db.session.execute(
        select(Charge.patient_id, Charge.id).where(Charge.service_date == day, Charge.source == "iop",
                                                   Charge.patient_id.in_(patient_ids))).all())
    patients = {p.id: p for p in db.session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))}
    coverages = defaultdict(list)
    for coverage in db.session.scalars(select(Coverage).where(
            Coverage.patient_id.in_(patient_ids), Coverage.start_date <= day).order_by(Coverage.priority)):
        if coverage.active_on(day):
            coverages[coverage.patient_id].append(coverage)
    auths = defaultdict(list)
    for auth in db.session.scalars(select(Authorization).where(
            Authorization.patient_id.in_(patient_ids), Authorization.billing_code_id.in_(ctx.billable),
            Authorization.start_date <= day)):
        auths[auth.patient_id].append(auth)

    requests, pending = [], {}
    for patient_id, units, minutes in attended:
        patient, units, minutes = patients[patient_id], int(units), int(minutes)
        outcome = DayOutcome(patient_id, patient.mrn, day, "exception", units, minutes)
        if patient_id in charged:
            outcome.action, outcome.charge_id = "already_charged", charged[patient_id]
            result.outcomes.append(outcome)
            continue
        reason, message, auth = _why_not_billable(units, minutes, coverages[patient_id], auths[patient_id], day,
                                                  ctx)
        if auth is not None and ctx.codes[auth.billing_code_id][1] <= 0:
            reason, message = "no_price", f"{ctx.codes[auth.billing_code_id][0]} has no price in billing codes."
        if reason:
            outcome.reason, outcome.message = reason, message
            result.outcomes.append(outcome)
            continue
        code, price = ctx.codes[auth.billing_code_id]
        request = ledger.ChargeRequest(
            account_id=patient.account_id, patient_id=patient_id, billing_code_id=auth.billing_code_id,
            service_date=day, amount_cents=price, key=f"iop:{patient_id}:{day.isoformat()}",
            coverage_id=auth.coverage_id, responsibility="insurance", source="iop",
            clinician=patient.default_clinician or ctx.default_clinician,
            location=patient.default_location or ctx.default_location,
            minutes=ctx.occurrence_minutes, authorization_id=auth.id,
        )
        requests.append(request)
        outcome.code = code
        pending[request.key] = (outcome, _Auth(auth.id, auth.number or f"#{auth.id}", auth.units_allotted,
                                               auth.coverage_id, auth.billing_code_id))

    # Everything needed now is plain values: let the session forget the records loaded for this
    # day, so each batch commit expires only that batch's objects (cost per patient-day stays flat).
    for record in [*patients.values(), *(c for cs in coverages.values() for c in cs),
                   *(a for a_s in auths.values() for a in a_s)]:
        db.session.expunge(record)
    for start in range(0, len(requests), BATCH_SIZE):
        _post_batch(requests[start:start + BATCH_SIZE], pending, actor, result)
    _record_exceptions(day, result)


def _why_not_billable(units: int, minutes: int, coverages, auths, day: date, ctx: _Context):
    """(reason, message, authorization): a reason when the day cannot be billed."""
    if units < ctx.threshold:
        return ("threshold_not_met",
                f"{units} signed documentation units ({minutes} minutes); the threshold is "
                f"{ctx.threshold} units.", None)
    if ctx.minimum_minutes and minutes < ctx.minimum_minutes:
        return ("threshold_not_met",
                f"{minutes} signed minutes; at least {ctx.minimum_minutes} are required.", None)
    if not coverages:
        return "no_coverage", "The patient has no coverage active on this date.", None
    valid = [a for a in auths if a.covers(day)]
    if len(valid) > 1:
        numbers = ", ".join(a.number or f"#{a.id}" for a in valid)
        return "overlapping", f"Authorizations {numbers} all cover this date; end one of them.", None
    if not valid:
        if auths:
            latest = max(auths, key=lambda a: a.end_date)
            return ("expired", f"Authorization {latest.number or '#' + str(latest.id)} ended "
                               f"{latest.end_date:%m/%d/%Y}.", None)
        return "no_authorization", "No authorization covers this date.", None
    return None, None, valid[0]


def _post_batch(requests, pending, actor: str, result: RunResult) -> None:
    left: dict[int, int] = {}

    def admit(request):
        # Runs under the account locks: counts the units used now, not when the run started.
        if not left:
            auths = {auth.id: auth for _, auth in (pending[r.key] for r in requests)}
            used = units_used(auths)
            left.update({auth_id: auth.allotted - used.get(auth_id, 0) for auth_id, auth in auths.items()})
        auth = pending[request.key][1]
        if left[auth.id] <= 0:
            return "exhausted"
        left[auth.id] -= 1
        return None

    batch = ledger.post_charges(requests, actor=actor, admit=admit)
    for request in requests:
        outcome, auth = pending[request.key]
        outcome.authorization_id = auth.id
        if request.key in batch.created:
            outcome.action, outcome.charge_id = "charged", batch.created[request.key]
        elif request.key in batch.replayed:
            outcome.action, outcome.charge_id = "already_charged", batch.replayed[request.key]
        result.outcomes.append(outcome)
    for request, reason in batch.refused:
        outcome, auth = pending[request.key]
        if reason == "exhausted":
            outcome.reason, outcome.message = "exhausted", f"Authorization {auth.label} has used all {auth.allotted} units."
        else:
            outcome.reason, outcome.message = "conflict", reason


def _record_exceptions(day: date, result: RunResult) -> None:
    """Store each new (patient, date, reason) once; a charged day closes its open exceptions."""
    todays = [o for o in result.outcomes if o.service_date == day]
    charged = {o.patient_id for o in todays if o.action == "charged"}
    failing = {(o.patient_id, o.reason): o for o in todays if o.action == "exception"}
    existing = set(db.session.execute(
        select(IopException.patient_id, IopException.reason).where(IopException.service_date == day)).all())
    fresh = [IopException(patient_id=o.patient_id, service_date=day, reason=o.reason, message=o.message,
                          units_found=o.units, minutes_found=o.minutes)
             for key, o in failing.items() if key not in existing]
    if charged:
        for exc in db.session.scalars(select(IopException).where(
                IopException.service_date == day, IopException.patient_id.in_(charged),
                IopException.status == "open")):
            exc.status, exc.resolution, exc.resolved_by, exc.resolved_at = (
                "resolved", "Charged by a later run.", "iop-engine", utcnow())
    db.session.add_all(fresh)
    try:
        db.session.commit()
    except IntegrityError:
        # Another worker recorded the same exceptions first: theirs stand, and they alert.
        db.session.rollback()
        return
    result.new_exception_ids += [e.id for e in fresh]


def _alert(result: RunResult, alert_role: str) -> None:
    """Tell the configured user group about each new exception, in the app and by mail, once."""
    if not result.new_exception_ids:
        return
    exceptions = db.session.scalars(select(IopException).where(
        IopException.id.in_(result.new_exception_ids)).order_by(IopException.service_date, IopException.id)).all()
    members = notifications.role_members(alert_role)
    for exc in exceptions:
        notifications.notify(members, title=f"IOP day not billed: {exc.reason_text}",
                             body=f"{exc.patient.mrn} on {exc.service_date:%m/%d/%Y}: {exc.message}",
                             link=f"/staff/iop/?exception={exc.id}")
    db.session.commit()
    if members:
        from portal.tasks import send_mail

        # Mail carries no names or clinical detail: a count and a link to sign in.
        lines = [f"{len(exceptions)} IOP day(s) could not be billed and need review:"]
        counts = defaultdict(int)
        for exc in exceptions:
            counts[exc.reason_text] += 1
        lines += [f"  {count} x {reason}" for reason, count in sorted(counts.items())]
        lines.append(f"Review them at {current_app.config['BASE_URL']}/staff/iop/")
        send_mail.delay([u.email for u in members], "Parity: IOP days need review", "\n".join(lines))


# ---------------------------------------------------------------- review


def open_exceptions(limit: int = 200) -> list[IopException]:
    return list(db.session.scalars(select(IopException).where(IopException.status == "open")
                                   .order_by(IopException.service_date.desc(), IopException.id).limit(limit)))


def dismiss(exception: IopException, *, reason: str, actor: str) -> None:
    if not reason.strip():
        raise IopError("Say why the day is dismissed.")
    if exception.status != "open":
        raise IopError("This exception is already closed.")
    exception.status, exception.resolution, exception.resolved_by, exception.resolved_at = (
        "dismissed", reason.strip(), actor, utcnow())


def charges_by_day(start: date, end: date) -> list[tuple[date, int, int]]:
    """(date, number of IOP charges, total cents) per service date, newest first."""
    return [(d, int(n), int(total)) for d, n, total in db.session.execute(
        select(Charge.service_date, func.count(Charge.id), func.sum(Charge.amount_cents))
        .where(Charge.source == "iop", Charge.service_date.between(start, end))
        .group_by(Charge.service_date).order_by(Charge.service_date.desc())
    )]


@dataclass
class Reconciliation:
    attended_not_charged: list[tuple[Patient, date, str]]
    charged_without_attendance: list[Charge]


def reconcile(start: date, end: date) -> Reconciliation:
    """Days with signed documentation but no IOP charge, and IOP charges with no signed documentation."""
    documentation = group_code_ids(settings().documentation_group_id)
    attended = select(ClinicalSession.patient_id, ClinicalSession.service_date).where(
        ClinicalSession.signed.is_(True), ClinicalSession.billing_code_id.in_(documentation),
        ClinicalSession.service_date.between(start, end)).distinct().subquery()
    not_charged = db.session.execute(
        select(Patient, attended.c.service_date)
        .join(attended, attended.c.patient_id == Patient.id)
        .outerjoin(Charge, and_(Charge.patient_id == attended.c.patient_id,
                                Charge.service_date == attended.c.service_date, Charge.source == "iop"))
        .where(Charge.id.is_(None)).order_by(attended.c.service_date, Patient.mrn)
    ).all()
    reasons = {(e.patient_id, e.service_date): e.reason_text for e in db.session.scalars(
        select(IopException).where(IopException.service_date.between(start, end),
                                   IopException.status != "resolved"))}
    without = db.session.scalars(
        select(Charge).outerjoin(attended, and_(attended.c.patient_id == Charge.patient_id,
                                                attended.c.service_date == Charge.service_date))
        .where(Charge.source == "iop", Charge.service_date.between(start, end), attended.c.patient_id.is_(None))
        .order_by(Charge.service_date)
    ).all()
    return Reconciliation(
        [(p, d, reasons.get((p.id, d), "No exception recorded")) for p, d in not_charged], list(without))


@dataclass
class Forecast:
    authorization: Authorization
    units_left: int
    days_per_week: float
    runs_out_on: date | None
    alert: bool


def forecast(today: date, lookback_days: int = 28) -> list[Forecast]:
    """At each patient's recent attendance rate, the date their authorization's units run out."""
    config = settings()
    active = db.session.scalars(select(Authorization).where(Authorization.end_date >= today,
                                                             Authorization.start_date <= today)).all()
    used = units_used([a.id for a in active])
    since = today - timedelta(days=lookback_days)
    recent = dict(db.session.execute(
        select(Charge.patient_id, func.count(Charge.id))
        .where(Charge.source == "iop", Charge.service_date > since, Charge.service_date <= today,
               Charge.patient_id.in_([a.patient_id for a in active]))
        .group_by(Charge.patient_id)).all())
    rows = []
    for auth in active:
        left = auth.units_allotted - used.get(auth.id, 0)
        per_day = recent.get(auth.patient_id, 0) / lookback_days
        runs_out = today + timedelta(days=math.ceil(left / per_day)) if per_day and left > 0 else (
            today if left <= 0 else None)
        if runs_out is not None and runs_out > auth.end_date:
            runs_out = None  # the dates end before the units do
        alert = runs_out is not None and runs_out <= today + timedelta(days=config.forecast_alert_days)
        rows.append(Forecast(auth, left, round(per_day * 7, 1), runs_out, alert))
    return sorted(rows, key=lambda f: (f.runs_out_on is None, f.runs_out_on or date.max))


def alert_forecasts(today: date) -> int:
    """Alert the user group once per authorization whose units run out within the alert window."""
    config = settings()
    due = [f for f in forecast(today) if f.alert and f.authorization.forecast_alerted_on is None]
    members = notifications.role_members(config.alert_role)
    for item in due:
        auth = item.authorization
        notifications.notify(members, title="Authorization running out",
                             body=f"{auth.patient.mrn}: {item.units_left} units left on "
                                  f"{auth.number or '#' + str(auth.id)}, expected to run out "
                                  f"{item.runs_out_on:%m/%d/%Y}.",
                             link="/staff/iop/forecast")
        auth.forecast_alerted_on = today
    db.session.commit()
    return len(due)


def reason_choices() -> dict[str, str]:
    return dict(EXCEPTION_REASONS)


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
    try:
        parsed = date.fromisoformat(value) if kind is date else int(value)
    except ValueError:
        result.errors.append(f"line {line}: {label} {value!r} is not " +
                             ("a date like 2026-10-01" if kind is date else "a whole number"))
        return None
    if kind is int and parsed < 0:
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
    db.session.commit()
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
    db.session.commit()
    result.imported = count
    return result
