"""Plans for billers: filtered listings and the health figures."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    PaymentPlan,
    PlanChargeAttempt,
    PlanInstallment,
)

# ---------------------------------------------------------------- for billers

FILTERS = {
    "all": "All plans",
    "due_today": "Charging today",
    "in_retry": "In retry",
    "failed": "Failed payments",
    "card_refused": "New card needed",
    "pending_approval": "Waiting for approval",
    "defaulted": "Defaulted",
}


def listing(kind: str, today: date) -> list[PaymentPlan]:
    query = select(PaymentPlan).order_by(PaymentPlan.id.desc())
    due = select(PlanInstallment.plan_id).where(PlanInstallment.status == "scheduled")
    if kind == "due_today":
        query = query.where(PaymentPlan.status == "active", PaymentPlan.card_refused_on.is_(None),
                            PaymentPlan.id.in_(due.where(PlanInstallment.next_attempt_on <= today)))
    elif kind == "in_retry":
        query = query.where(PaymentPlan.status == "active", PaymentPlan.id.in_(due.where(PlanInstallment.failures > 0)))
    elif kind == "failed":
        query = query.where(PaymentPlan.id.in_(
            select(PlanInstallment.plan_id)
            .join(PlanChargeAttempt, PlanChargeAttempt.installment_id == PlanInstallment.id)
            .where(PlanChargeAttempt.status == "failed")))
    elif kind == "card_refused":
        query = query.where(PaymentPlan.status == "active", PaymentPlan.card_refused_on.is_not(None))
    elif kind in ("pending_approval", "defaulted"):
        query = query.where(PaymentPlan.status == kind)
    return list(db.session.scalars(query.limit(500)))


@dataclass
class Health:
    active_plans: int
    on_time_rate_bps: int | None  # installments paid at the first attempt, of those attempted
    amount_under_plans_cents: int
    defaulted_plans: int


def health() -> Health:
    from sqlalchemy import func

    active = db.session.scalar(select(func.count(PaymentPlan.id)).where(PaymentPlan.status == "active"))
    defaulted = db.session.scalar(select(func.count(PaymentPlan.id)).where(PaymentPlan.status == "defaulted"))
    remaining = db.session.scalar(
        select(func.coalesce(func.sum(PlanInstallment.amount_cents), 0))
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PaymentPlan.status == "active", PlanInstallment.status == "scheduled"))
    firsts = db.session.execute(select(PlanChargeAttempt.status).where(
        PlanChargeAttempt.attempt_number == 1, PlanChargeAttempt.status != "started")).scalars().all()
    succeeded = sum(1 for s in firsts if s == "succeeded")
    rate = None if not firsts else (succeeded * 10000 + len(firsts) // 2) // len(firsts)
    return Health(active, rate, int(remaining), defaulted)
