"""Deposit batches: what goes to the bank in one deposit, checked against the biller's count.

Payments join a batch through the ledger (`ledger.post_payment(deposit_batch_id=...)`), which
locks the batch row and refuses a closed batch. Closing locks the same row, so no payment slips
in while the totals are compared. An open batch counts the payments not reversed; a closed
batch keeps the figures it closed with (that is what the bank received) and lists any later
reversal beside them.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit, money
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import Account, DepositBatch, DepositItem, Payment, Posting, User, utcnow
from portal.models.deposits import BATCH_KIND_LABELS, BATCH_KINDS


class BatchError(ValueError):
    """A batch request that cannot be done, with a message fit to show."""


@dataclass
class BatchLine:
    payment: Payment
    account: Account
    reversal: Posting | None  # the reversing posting, if the payment was reversed
    reversed_after_close: bool = False


@dataclass
class BatchSummary:
    batch: DepositBatch
    lines: list[BatchLine]
    posted_count: int
    posted_total_cents: int
    reversed_count: int  # closed batch: reversed after it closed; open batch: reversed and not counted
    reversed_total_cents: int

    @property
    def count_difference(self) -> int:
        return self.batch.control_count - self.posted_count

    @property
    def total_difference_cents(self) -> int:
        return self.batch.control_total_cents - self.posted_total_cents

    @property
    def balanced(self) -> bool:
        return self.count_difference == 0 and self.total_difference_cents == 0

    def as_dict(self) -> dict:
        b = self.batch
        return {"id": b.id, "deposit_date": b.deposit_date.isoformat(), "kind": b.kind, "status": b.status,
                "control_total_cents": b.control_total_cents, "control_count": b.control_count,
                "posted_total_cents": self.posted_total_cents, "posted_count": self.posted_count,
                "reversed_total_cents": self.reversed_total_cents, "reversed_count": self.reversed_count}


def _actor(user: User | str) -> str:
    return f"user:{user.id}" if isinstance(user, User) else str(user)


def open_batch(*, deposit_date: date, kind: str, control_total_cents: int, control_count: int,
               actor: User | str, ip: str | None = None, user_agent: str | None = None) -> DepositBatch:
    if kind not in BATCH_KINDS:
        raise BatchError(f"Choose one of: {', '.join(BATCH_KIND_LABELS.values())}.")
    if control_total_cents < 0 or control_count < 0:
        raise BatchError("Control figures cannot be negative.")
    batch = DepositBatch(deposit_date=deposit_date, kind=kind, control_total_cents=control_total_cents,
                         control_count=control_count, created_by=_actor(actor))
    db.session.add(batch)
    db.session.flush()
    audit.record("deposit_batch.opened", "deposit_batch", actor=actor, object_id=batch.id,
                 detail={"kind": kind, "deposit_date": deposit_date.isoformat(),
                         "control_total_cents": control_total_cents, "control_count": control_count},
                 ip=ip, user_agent=user_agent)
    return batch


def open_batches() -> list[DepositBatch]:
    return list(db.session.scalars(
        select(DepositBatch).where(DepositBatch.status == "open").order_by(DepositBatch.deposit_date, DepositBatch.id)))


def batches(status: str | None = None, limit: int = 200) -> list[BatchSummary]:
    stmt = select(DepositBatch).order_by(DepositBatch.deposit_date.desc(), DepositBatch.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(DepositBatch.status == status)
    return [summary(b) for b in db.session.scalars(stmt)]


def summary(batch: DepositBatch) -> BatchSummary:
    rows = db.session.execute(
        select(Payment, Account).join(DepositItem, DepositItem.payment_id == Payment.id)
        .join(Account, Account.id == Payment.account_id)
        .where(DepositItem.batch_id == batch.id)
        .options(selectinload(Payment.posting).selectinload(Posting.reversed_by))
        .order_by(Payment.id)
    ).all()
    lines = [BatchLine(payment, account, payment.posting.reversed_by,
                       batch.status == "closed" and payment.posting.reversed_by is not None
                       and payment.posting.reversed_by.created_at >= batch.closed_at)
             for payment, account in rows]
    standing = [line for line in lines if line.reversal is None]
    if batch.status == "closed":
        # Frozen at close; reversals since are shown beside the deposit, never taken out of it.
        later = [line for line in lines if line.reversed_after_close]
        posted_count, posted_total = batch.closed_count, batch.closed_total_cents
    else:
        later = [line for line in lines if line.reversal is not None]
        posted_count, posted_total = len(standing), sum(line.payment.amount_cents for line in standing)
    return BatchSummary(batch, lines, posted_count, posted_total, len(later),
                        sum(line.payment.amount_cents for line in later))


def close_batch(batch_id: int, *, actor: User | str,
                ip: str | None = None, user_agent: str | None = None) -> BatchSummary:
    """Close when the payments posted (not reversed) match both control figures; then read-only."""
    batch = lock_rows(DepositBatch, {batch_id}).get(batch_id)
    if batch is None:
        db.session.rollback()
        raise BatchError("That batch does not exist.")
    if batch.status != "open":
        db.session.rollback()
        raise BatchError("This batch is already closed.")
    found = summary(batch)
    if not found.balanced:
        db.session.rollback()
        raise BatchError(
            f"The batch does not balance: posted {found.posted_count} payments for "
            f"{money.format_usd(found.posted_total_cents)}, control is {batch.control_count} for "
            f"{money.format_usd(batch.control_total_cents)}.")
    batch.status = "closed"
    batch.closed_count = found.posted_count
    batch.closed_total_cents = found.posted_total_cents
    batch.closed_by = _actor(actor)
    batch.closed_at = utcnow()
    audit.record("deposit_batch.closed", "deposit_batch", actor=actor, object_id=batch.id,
                 detail={"posted_total_cents": found.posted_total_cents, "posted_count": found.posted_count},
                 ip=ip, user_agent=user_agent)
    return summary(batch)


def batch_of(payment_id: int) -> DepositBatch | None:
    return db.session.scalar(
        select(DepositBatch).join(DepositItem, DepositItem.batch_id == DepositBatch.id)
        .where(DepositItem.payment_id == payment_id))
