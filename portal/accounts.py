"""Reading accounts: who may see which, and what an account holds."""
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal import money
from portal.clock import facility_today, long_date
from portal.extensions import db
from portal.models import (
    Account,
    AccountAccess,
    CardPayment,
    Charge,
    CollectionCase,
    ContactLog,
    Episode,
    Patient,
    Payment,
    PaymentPlan,
    Refund,
    Statement,
    User,
)
from portal.payments import receipt_number


@dataclass(frozen=True)
class Standing:
    """Where an account stands for its guarantor, in one sentence: what the home and account pages say."""

    kind: str  # due, on_plan, plan_waiting, credit, paid_in_full, nothing_owed
    words: str
    due_now_cents: int  # what "Pay now" would pay (on a plan: only charges billed apart from it)


def standing(account: Account, latest: Statement | None = None) -> Standing:
    """The account as it is now: on a plan (and its next payment), payment due (by the latest statement's
    date), paid in full (or in credit), or nothing owed at all."""
    from portal import plans  # plans read accounts' figures: imported here, not at load

    due = account.patient_due_cents
    plan = plans.active_plan(account)
    if plan is not None and plan.status == "pending_approval":
        return Standing("plan_waiting", _("Your payment plan is waiting for our billing office to approve it."), 0)
    if plan is not None:
        upcoming = next((i for i in plan.installments if i.status == "scheduled"), None)
        apart = plans.billed_apart_cents(plan)
        words = (_("On a plan: next payment %(amount)s on %(day)s.", amount=money.format_usd(upcoming.amount_cents),
                   day=long_date(upcoming.next_attempt_on)) if upcoming else _("On a plan: no payment is scheduled."))
        if apart:
            words += " " + _("New charges of %(amount)s are due apart from the plan.", amount=money.format_usd(apart))
        return Standing("on_plan", words, apart)
    if due > 0:
        if latest is not None and latest.due_date >= facility_today():
            words = _("Payment due by %(day)s: %(amount)s.", day=long_date(latest.due_date),
                      amount=money.format_usd(due))
        else:
            words = _("Payment due: %(amount)s.", amount=money.format_usd(due))
        return Standing("due", words, due)
    if due < 0:
        return Standing("credit", _("Paid in full, with a credit of %(amount)s.", amount=money.format_usd(-due)), 0)
    paid_before = db.session.scalar(select(Payment.id).where(Payment.account_id == account.id,
                                                             Payment.source == "patient").limit(1))
    reviewing = money.format_usd(account.insurance_balance_cents)
    waiting = (" " + _("Insurance is still reviewing %(amount)s.", amount=reviewing)
               if account.insurance_balance_cents else "")
    if paid_before is not None:
        return Standing("paid_in_full", _("Paid in full.") + waiting, 0)
    return Standing("nothing_owed", _("Nothing to pay now.") + waiting, 0)


def accounts_for_patient_user(user: User) -> list[Account]:
    return list(db.session.scalars(
        select(Account).join(AccountAccess, AccountAccess.account_id == Account.id)
        .where(AccountAccess.user_id == user.id).order_by(Account.id)
    ))


def get_for_patient_user(user: User, account_id: int) -> Account | None:
    """The account if this patient login may see it; None otherwise (the view answers 404)."""
    return db.session.scalar(
        select(Account).join(AccountAccess, AccountAccess.account_id == Account.id)
        .where(AccountAccess.user_id == user.id, Account.id == account_id)
    )


@dataclass
class AccountDetail:
    account: Account
    charges: list[Charge]
    payments: list[Payment]
    refunds: dict[int, list["RefundLine"]]  # by payment id

    @property
    def patient_lines(self) -> list[Charge]:
        return [c for c in self.charges if c.patient_balance_cents > 0]

    @property
    def insurance_pending(self) -> list[Charge]:
        return [c for c in self.charges if c.insurance_balance_cents > 0]


def detail(account: Account) -> AccountDetail:
    charges = db.session.scalars(
        select(Charge).where(Charge.account_id == account.id)
        .options(selectinload(Charge.patient)).order_by(Charge.service_date.desc(), Charge.id.desc())
    ).all()
    payments = db.session.scalars(
        select(Payment).where(Payment.account_id == account.id)
        .options(selectinload(Payment.allocations)).order_by(Payment.received_on.desc(), Payment.id.desc())
    ).all()
    refunds: dict[int, list[RefundLine]] = {}
    for refund in db.session.scalars(select(Refund).join(Payment, Payment.id == Refund.payment_id)
                                     .where(Payment.account_id == account.id).order_by(Refund.id)):
        refunds.setdefault(refund.payment_id, []).append(RefundLine(
            refund.amount_cents, str(REFUND_WORDS[refund.method]), facility_today(refund.created_at)))
    return AccountDetail(account, list(charges), list(payments), refunds)


REFUND_WORDS = {"card": _l("to your card"), "check": _l("by check"), "cash": _l("in cash")}


@dataclass(frozen=True)
class RefundLine:
    """A refund as the payer reads it under the payment it came from."""

    amount_cents: int
    how: str
    on: date


@dataclass(frozen=True)
class PaymentLine:
    """A payment as the account page lists it: by receipt number, with the card it came from."""

    payment: Payment
    receipt: str
    card_brand: str | None
    card_last4: str | None


@dataclass
class Hub:
    """Everything the staff account page shows about an account, beyond its ledger detail."""

    detail: AccountDetail
    patients: list[Patient]  # merged-away duplicates are left out
    merged: list[Patient]
    episodes: list[Episode]
    payments: list[PaymentLine]
    statements: list[Statement]
    plans: list[PaymentPlan]
    case: CollectionCase | None
    notes: list[ContactLog]


def hub(account: Account) -> Hub:
    found = detail(account)
    everyone = list(db.session.scalars(select(Patient).where(Patient.account_id == account.id)
                                       .options(selectinload(Patient.coverages)).order_by(Patient.id)))
    patients = [p for p in everyone if p.merged_into_id is None]
    cards = {c.payment_id: c for c in db.session.scalars(
        select(CardPayment).where(CardPayment.account_id == account.id, CardPayment.payment_id.is_not(None)))}
    payments = [PaymentLine(p, receipt_number(p), getattr(cards.get(p.id), "card_brand", None),
                            getattr(cards.get(p.id), "card_last4", None)) for p in found.payments]
    return Hub(
        detail=found, patients=patients, merged=[p for p in everyone if p.merged_into_id is not None],
        episodes=list(db.session.scalars(
            select(Episode).where(Episode.patient_id.in_([p.id for p in patients]))
            .options(selectinload(Episode.program)).order_by(Episode.admit_date.desc(), Episode.id.desc()))),
        payments=payments,
        statements=list(db.session.scalars(select(Statement).where(Statement.account_id == account.id)
                                           .order_by(Statement.statement_date.desc()).limit(24))),
        plans=list(db.session.scalars(select(PaymentPlan).where(PaymentPlan.account_id == account.id)
                                      .order_by(PaymentPlan.id.desc()))),
        case=db.session.scalar(select(CollectionCase).where(CollectionCase.account_id == account.id)),
        notes=list(db.session.scalars(select(ContactLog).where(ContactLog.account_id == account.id)
                                      .order_by(ContactLog.contacted_at.desc()).limit(20))),
    )


def search(query: str, limit: int = 50) -> list[Account]:
    stmt = select(Account).order_by(Account.number).limit(limit)
    query = (query or "").strip()
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(
            Account.number.ilike(like), Account.guarantor_name.ilike(like),
            Account.id.in_(select(Patient.account_id).where(Patient.merged_into_id.is_(None), or_(
                Patient.mrn.ilike(like), Patient.last_name.ilike(like), Patient.first_name.ilike(like))))
        ))
    return list(db.session.scalars(stmt))
