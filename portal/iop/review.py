"""IOP review: open exceptions, charges by day, reconciliation against attendance, authorization forecasts."""
import math
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, select

from portal import notifications
from portal.extensions import db
from portal.iop.authorizations import IopError, group_code_ids, settings, units_used
from portal.models import (
    Authorization,
    Charge,
    ClinicalSession,
    IopException,
    Patient,
    utcnow,
)

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
    db.session.flush()
    return len(due)


