"""Reading accounts: who may see which, and what an account holds; how a new account is numbered."""
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, AccountAccess, Charge, Patient, Payment, Refund, User


def unnumbered() -> str:
    """A unique stand-in number for an account that has no id yet (`number_by_id` replaces it)."""
    return f"N{uuid.uuid4().hex[:12]}"


def number_by_id(accounts) -> None:
    """Number flushed accounts from their ids, A-<20000 + id>, as every account made in the product is."""
    for account in accounts:
        account.number = f"A-{20000 + account.id}"


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
            refund.amount_cents, REFUND_WORDS[refund.method], facility_today(refund.created_at)))
    return AccountDetail(account, list(charges), list(payments), refunds)


REFUND_WORDS = {"card": "to your card", "check": "by check", "cash": "in cash"}


@dataclass(frozen=True)
class RefundLine:
    """A refund as the payer reads it under the payment it came from."""

    amount_cents: int
    how: str
    on: date


def search(query: str, limit: int = 50) -> list[Account]:
    stmt = select(Account).order_by(Account.number).limit(limit)
    query = (query or "").strip()
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(
            Account.number.ilike(like), Account.guarantor_name.ilike(like),
            Account.id.in_(select(Patient.account_id).where(or_(
                Patient.mrn.ilike(like), Patient.last_name.ilike(like), Patient.first_name.ilike(like))))
        ))
    return list(db.session.scalars(stmt))
