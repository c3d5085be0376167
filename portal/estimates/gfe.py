"""Good Faith Estimates for uninsured and self-pay patients (No Surprises Act, rules.md §4).

Delivery is due in business days, the days the facility is open: Monday to Friday except federal holidays
(as observed), unless FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS is off. Requested by the
patient -> 3 business days; service scheduled at least 10 business days ahead -> 3; at least 3 ahead
-> 1; closer than that -> the day it is scheduled. A GFE is flagged for staff when the charges for its
patient and period reach its total plus the dispute threshold ($400 by default): the patient may then
start the patient-provider dispute resolution process.
"""
import functools
from dataclasses import dataclass
from datetime import date, timedelta

import holidays
from flask import current_app
from sqlalchemy import func, select

from portal import audit, documents, facility, i18n
from portal.estimates.config import LEVEL_NAMES, EstimateError, settings
from portal.extensions import db
from portal.models import BillingCode, Charge, GoodFaithEstimate, Patient, Posting, utcnow


def is_business_day(day: date) -> bool:
    if day.weekday() >= 5:
        return False
    return not (current_app.config["FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS"] and day in _federal_holidays(day.year))


@functools.cache
def _federal_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("US", years=year)  # observed days included (a Saturday's on Friday)


def add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            n -= 1
    return day


def business_days_between(start: date, end: date) -> int:
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def due_date(scheduled_on: date, service_start: date, requested: bool) -> date:
    ahead = business_days_between(scheduled_on, service_start)
    if requested or ahead >= 10:
        return add_business_days(scheduled_on, 3)
    if ahead >= 3:
        return add_business_days(scheduled_on, 1)
    return scheduled_on


@dataclass
class Item:
    code: str
    description: str
    quantity: int
    unit_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_cents


def default_items(level: str, quantity: int) -> list[Item]:
    """The level of care's billable code at the fee schedule's price (the one set up first, e.g. S9480 for IOP)."""
    code = db.session.scalar(select(BillingCode).where(BillingCode.level_of_care == level,
                                                       BillingCode.kind == "billable",
                                                       BillingCode.default_price_cents > 0)
                             .order_by(BillingCode.id))
    return [Item(code.code, code.description, quantity, code.default_price_cents)] if code else []


def create(patient: Patient, *, primary_service: str, level: str | None, start: date, end: date,
           scheduled_on: date, requested: bool, items: list[Item], actor: str,
           diagnosis_codes: str | None = None, separately_scheduled: str | None = None,
           ip: str | None = None, user_agent: str | None = None) -> GoodFaithEstimate:
    fac = facility.current()
    missing = [label for label, value in (("NPI", fac.npi), ("TIN", fac.tin), ("address", fac.address_line1))
               if not value]
    if missing:
        raise EstimateError(f"Enter the facility's {', '.join(missing)} in Facility settings first.")
    if end < start:
        raise EstimateError("The last date of service is before the first.")
    if not items or any(i.quantity <= 0 or i.unit_cents < 0 for i in items):
        raise EstimateError("List at least one item with a quantity and a price.")
    provider = {"provider": fac.name, "npi": fac.npi, "tin": fac.tin,
                "location": f"{fac.address_line1}, {fac.city or ''}, {fac.state or ''} {fac.zip_code or ''}".strip()}
    gfe = GoodFaithEstimate(
        patient_id=patient.id, account_id=patient.account_id, primary_service=primary_service.strip(),
        level_of_care=level, service_start=start, service_end=end, scheduled_on=scheduled_on, requested=requested,
        due_on=due_date(scheduled_on, start, requested), diagnosis_codes=(diagnosis_codes or "").strip() or None,
        items=[{**provider, "code": i.code, "description": i.description, "quantity": i.quantity,
                "unit_cents": i.unit_cents, "total_cents": i.total_cents} for i in items],
        total_cents=sum(i.total_cents for i in items),
        separately_scheduled=(separately_scheduled or "").strip() or None, created_by=actor)
    db.session.add(gfe)
    db.session.flush()
    audit.record("gfe.created", "good_faith_estimate", actor=actor, object_id=gfe.id, patient_id=patient.id,
                 account_id=patient.account_id, detail={"total_cents": gfe.total_cents},
                 ip=ip, user_agent=user_agent)
    db.session.flush()
    return gfe


def mark_delivered(gfe: GoodFaithEstimate, *, how: str, actor: str,
                   ip: str | None = None, user_agent: str | None = None) -> None:
    if gfe.delivered_at is not None:
        raise EstimateError("This Good Faith Estimate was already delivered.")
    gfe.delivered_at, gfe.delivered_how, gfe.delivered_by = utcnow(), how, actor
    audit.record("gfe.delivered", "good_faith_estimate", actor=actor, object_id=gfe.id, patient_id=gfe.patient_id,
                 account_id=gfe.account_id, detail={"how": how}, ip=ip, user_agent=user_agent)
    db.session.flush()


def delivered_for_account(account_id: int) -> list[GoodFaithEstimate]:
    """The Good Faith Estimates given to the account's patients (delivered, however), newest first: what the
    patient portal shows."""
    return list(db.session.scalars(select(GoodFaithEstimate).where(
        GoodFaithEstimate.account_id == account_id, GoodFaithEstimate.delivered_at.is_not(None))
        .order_by(GoodFaithEstimate.id.desc())))


def delivered_on_account(account_id: int, gfe_id: int) -> GoodFaithEstimate | None:
    """One delivered estimate, only if it is on this account (a patient never reaches another's)."""
    return db.session.scalar(select(GoodFaithEstimate).where(
        GoodFaithEstimate.id == gfe_id, GoodFaithEstimate.account_id == account_id,
        GoodFaithEstimate.delivered_at.is_not(None)))


def billed_cents(gfe: GoodFaithEstimate) -> int:
    """Charges for the patient in the GFE's period, less charges since reversed."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Charge.amount_cents), 0)).where(
            Charge.patient_id == gfe.patient_id, Charge.service_date >= gfe.service_start,
            Charge.service_date <= gfe.service_end, Charge.posting_id.not_in(reversed_postings))))


def check_overages(*, actor: str) -> list[GoodFaithEstimate]:
    """Flag each GFE whose period's charges reached its total plus the threshold (once); nightly and on demand."""
    threshold = settings().gfe_dispute_threshold_cents
    flagged = []
    for gfe in db.session.scalars(select(GoodFaithEstimate).where(GoodFaithEstimate.flagged_at.is_(None))):
        billed = billed_cents(gfe)
        if billed >= gfe.total_cents + threshold:
            gfe.flagged_at, gfe.flagged_billed_cents = utcnow(), billed
            audit.record("gfe.flagged", "good_faith_estimate", actor=actor, object_id=gfe.id,
                         patient_id=gfe.patient_id, account_id=gfe.account_id,
                         detail={"billed_cents": billed, "gfe_total_cents": gfe.total_cents})
            flagged.append(gfe)
    db.session.flush()
    return flagged


def for_account(account_id: int) -> list[GoodFaithEstimate]:
    return list(db.session.scalars(select(GoodFaithEstimate).where(GoodFaithEstimate.account_id == account_id)
                                   .order_by(GoodFaithEstimate.id.desc())))


def flagged() -> list[GoodFaithEstimate]:
    return list(db.session.scalars(select(GoodFaithEstimate).where(GoodFaithEstimate.flagged_at.is_not(None))
                                   .order_by(GoodFaithEstimate.flagged_at.desc())))


def pdf(gfe: GoodFaithEstimate) -> bytes:
    """The estimate in the account's language: it goes to the patient, whoever prints it."""
    with i18n.for_account(gfe.account):
        return documents.render_pdf("pdf/good_faith_estimate.html", gfe=gfe, facility=facility.current(),
                                    level_name=LEVEL_NAMES.get(gfe.level_of_care or "", ""),
                                    threshold_cents=settings().gfe_dispute_threshold_cents)
