"""The nightly IOP engine: one per-diem charge per billable day, exceptions with a reason for the rest."""
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from portal import facility, ledger, mail, notifications
from portal.extensions import db
from portal.iop.authorizations import BATCH_SIZE, IopError, group_code_ids, settings, units_used
from portal.models import (
    Authorization,
    BillingCode,
    Charge,
    ClinicalSession,
    Coverage,
    IopException,
    IopSettings,
    Patient,
    utcnow,
)

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
        self.review_status = facility.new_charge_status()  # held for the charge review queue when it is on
        self.documentation = group_code_ids(config.documentation_group_id)
        self.billable = group_code_ids(config.billable_group_id)
        self.codes = {c.id: (c.code, c.default_price_cents) for c in db.session.scalars(
            select(BillingCode).where(BillingCode.id.in_(self.billable)))}


def _attendance(day: date, documentation: set[int]) -> list[tuple[int, int, int]]:
    signed = ClinicalSession.signed.is_(True)
    return list(db.session.execute(
        select(ClinicalSession.patient_id,
               func.coalesce(func.sum(case((signed, ClinicalSession.units), else_=0)), 0),
               func.coalesce(func.sum(case((signed, ClinicalSession.minutes), else_=0)), 0))
        .where(ClinicalSession.service_date == day, ClinicalSession.billing_code_id.in_(documentation))
        .group_by(ClinicalSession.patient_id).order_by(ClinicalSession.patient_id)
    ).tuples())


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
            minutes=ctx.occurrence_minutes, authorization_id=auth.id, review_status=ctx.review_status,
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
            outcome.reason = "exhausted"
            outcome.message = f"Authorization {auth.label} has used all {auth.allotted} units."
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
        db.session.flush()
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
    db.session.flush()
    if members:

        # Mail carries no names or clinical detail: a count and a link to sign in.
        lines = [f"{len(exceptions)} IOP day(s) could not be billed and need review:"]
        counts = defaultdict(int)
        for exc in exceptions:
            counts[exc.reason_text] += 1
        lines += [f"  {count} x {reason}" for reason, count in sorted(counts.items())]
        lines.append(f"Review them at {current_app.config['BASE_URL']}/staff/iop/")
        mail.queue([u.email for u in members], "Parity: IOP days need review", "\n".join(lines))
