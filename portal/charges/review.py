"""The charge review queue: charges held until a biller releases them (release itself is the ledger's)."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import BillingCode, Charge, Patient

QUEUE_LIMIT = 500


@dataclass(frozen=True)
class HeldFilter:
    start: date | None = None
    end: date | None = None
    patient_id: int | None = None
    billing_code_id: int | None = None


def held_charges(where: HeldFilter = HeldFilter()) -> list[Charge]:
    """Held charges, oldest service first (at most QUEUE_LIMIT: release those and the rest follow)."""
    stmt = (select(Charge).where(Charge.review_status == "held").options(selectinload(Charge.patient))
            .order_by(Charge.service_date, Charge.id).limit(QUEUE_LIMIT))
    if where.start:
        stmt = stmt.where(Charge.service_date >= where.start)
    if where.end:
        stmt = stmt.where(Charge.service_date <= where.end)
    if where.patient_id:
        stmt = stmt.where(Charge.patient_id == where.patient_id)
    if where.billing_code_id:
        stmt = stmt.where(Charge.billing_code_id == where.billing_code_id)
    return list(db.session.scalars(stmt))


def held_patients() -> list[Patient]:
    """Patients with a held charge: the queue's patient filter lists only these."""
    held = select(Charge.patient_id).where(Charge.review_status == "held")
    return list(db.session.scalars(select(Patient).where(Patient.id.in_(held))
                                   .order_by(Patient.last_name, Patient.first_name, Patient.id)))


def held_codes() -> list[BillingCode]:
    held = select(Charge.billing_code_id).where(Charge.review_status == "held")
    return list(db.session.scalars(select(BillingCode).where(BillingCode.id.in_(held)).order_by(BillingCode.code)))
