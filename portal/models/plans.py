"""Payment plans with autopay: the facility's policy, plans, their installments and charge attempts."""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Account
from portal.models.base import Model, UTCDateTime, utcnow
from portal.models.statements import SavedCard

PLAN_STATUSES = ("pending_approval", "active", "completed", "defaulted", "cancelled")


class PlanPolicy(Model):
    __tablename__ = "plan_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), unique=True)
    min_balance_cents: Mapped[int] = mapped_column(BigInteger, default=5000)
    min_installment_cents: Mapped[int] = mapped_column(BigInteger, default=2500)
    max_term_months: Mapped[int] = mapped_column(default=24)
    # Required down payment: the larger of a share of the balance and a fixed amount.
    down_payment_bps: Mapped[int] = mapped_column(default=0)
    down_payment_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    self_service_max_months: Mapped[int] = mapped_column(default=12)
    retry_days: Mapped[str] = mapped_column(String(50), default="3,5,7")  # days between attempts after a failure
    failures_before_default: Mapped[int] = mapped_column(default=4)
    reminder_lead_days: Mapped[int] = mapped_column(default=3)
    # New patient balance while on a plan: joins the plan (spread over the months left) or is billed apart.
    new_charges_join: Mapped[bool] = mapped_column(default=False)

    @property
    def retry_schedule(self) -> list[int]:
        return [int(d) for d in self.retry_days.split(",") if d.strip()]


class PaymentPlan(Model):
    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint(f"status IN {PLAN_STATUSES}", name="status"),
        # One plan that will charge per account, whatever races to enrol.
        Index("uq_payment_plans_one_open_per_account", "account_id", unique=True,
              postgresql_where=text("status IN ('active', 'pending_approval')"),
              sqlite_where=text("status IN ('active', 'pending_approval')")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    down_payment_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    months: Mapped[int] = mapped_column()
    first_due_date: Mapped[date] = mapped_column(Date)
    saved_card_id: Mapped[int | None] = mapped_column(ForeignKey("saved_cards.id"))
    agreement_name: Mapped[str | None] = mapped_column(String(200))
    agreement_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreement_ip: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    end_reason: Mapped[str | None] = mapped_column(Text)
    # The card was refused for good (lost, stolen, expired...): no retries until the plan has another card.
    card_refused_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    card: Mapped[SavedCard | None] = relationship()
    installments: Mapped[list["PlanInstallment"]] = relationship(back_populates="plan",
                                                                 order_by="PlanInstallment.sequence")


class PlanInstallment(Model):
    __tablename__ = "plan_installments"
    __table_args__ = (
        UniqueConstraint("plan_id", "sequence"),
        CheckConstraint("amount_cents > 0", name="positive_amount"),
        CheckConstraint("status IN ('scheduled', 'paid', 'skipped', 'cancelled')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id"), index=True)
    sequence: Mapped[int] = mapped_column()
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="scheduled")
    failures: Mapped[int] = mapped_column(default=0)
    next_attempt_on: Mapped[date] = mapped_column(Date, index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    reminded_on: Mapped[date | None] = mapped_column(Date)

    plan: Mapped[PaymentPlan] = relationship(back_populates="installments")


class PlanChargeAttempt(Model):
    """One try at charging an installment. Committed before the processor is called, so a worker
    that dies mid-charge is followed by one that finds the PaymentIntent it made (by metadata)
    or makes it with the same idempotency key."""

    __tablename__ = "plan_charge_attempts"
    __table_args__ = (
        UniqueConstraint("installment_id", "attempt_number"),
        CheckConstraint("status IN ('started', 'succeeded', 'failed')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    installment_id: Mapped[int] = mapped_column(ForeignKey("plan_installments.id"), index=True)
    attempt_number: Mapped[int] = mapped_column()
    charge_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    payment_intent_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="started")
    # A worker charging this attempt holds it until then; a worker that died leaves it to be resumed.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
