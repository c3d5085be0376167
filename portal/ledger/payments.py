"""Payments received (patient or insurance, by any method), applying their credit, and refunds."""
from datetime import date

from sqlalchemy import func, select

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.allocation import allocate, unallocate
from portal.ledger.engine import UnitOfWork, fingerprint, require_positive, run
from portal.ledger.errors import LedgerError
from portal.ledger.records import add_payment
from portal.ledger.rules import reversed_posting_ids
from portal.models import (
    Allocation,
    CardRefund,
    DepositBatch,
    DepositItem,
    LedgerEntry,
    Payment,
    Refund,
)
from portal.models.ledger import PAYMENT_METHODS
from portal.models.statements import REFUND_METHODS


def post_payment(account_id: int, *, amount_cents: int, method: str, key: str, actor: str,
                 received_on: date | None = None, source: str = "patient", reference: str | None = None,
                 payer_id: int | None = None, allocate_to: list[tuple[int, int]] | None = None,
                 auto_allocate: bool = True, deposit_batch_id: int | None = None) -> Payment:
    """Receive a payment and apply it: to the chosen (charge id, cents) pairs, or oldest
    service date first. Whatever is not applied stays on the payment as unapplied credit.
    With `deposit_batch_id` the payment joins that deposit batch, which must be open."""
    require_positive(amount_cents)
    if method not in PAYMENT_METHODS:
        raise LedgerError(f"unknown payment method {method!r}")
    if source not in ("patient", "insurance"):
        raise LedgerError("source must be 'patient' or 'insurance'")
    fp = fingerprint(op="payment", account=account_id, amount=amount_cents, method=method, source=source,
                     reference=reference, payer=payer_id, to=allocate_to, auto=auto_allocate,
                     **({"batch": deposit_batch_id} if deposit_batch_id is not None else {}))

    def build(uow: UnitOfWork) -> int:
        batch = _open_batch(deposit_batch_id) if deposit_batch_id is not None else None
        posting_id, payment_id = add_payment(
            uow, account_id, key=key, fp=fp, amount_cents=amount_cents, source=source, method=method,
            received_on=received_on or facility_today(), payer_id=payer_id, reference=reference)
        if batch is not None:
            uow.row(DepositItem, batch_id=batch.id, payment_id=payment_id)
        if allocate_to or auto_allocate:
            allocate(uow, payment_id, account_id, _bucket_of(source), amount_cents, allocate_to, f"{key}#allocation")
        return posting_id

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, result_of=_payment_of_posting)


def _payment_of_posting(posting_id: int) -> Payment:
    return db.session.scalar(select(Payment).where(Payment.posting_id == posting_id))


def _bucket_of(source: str) -> str:
    """A patient payment pays the patient side of charges, an insurance payment the insurance side."""
    return "patient" if source == "patient" else "insurance"


def _open_batch(batch_id: int) -> DepositBatch:
    """Lock the batch row (after the account: closing takes only the batch, so no deadlock)."""
    batch = db.session.scalar(select(DepositBatch).where(DepositBatch.id == batch_id).with_for_update()
                              .execution_options(populate_existing=True))
    if batch is None:
        raise LedgerError(f"deposit batch {batch_id} does not exist")
    if batch.status != "open":
        raise LedgerError(f"deposit batch {batch_id} is closed")
    return batch


def unapplied_credit(payment_id: int) -> int:
    total = db.session.scalar(
        select(func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.payment_id == payment_id, LedgerEntry.bucket == "unapplied")
    )
    return -int(total or 0)


def refundable_cents(payment_id: int, *, except_key: str | None = None) -> int:
    """What can still be given back of a payment: nothing once reversed; else the payment less its refunds
    posted and the card refunds reserved and not yet settled (other than the one under `except_key`).
    Read it under the account lock."""
    payment = _payment(payment_id)
    if reversed_posting_ids([payment.posting_id]):
        return 0
    # Every entry naming the payment: -amount when received, +refund when given back (allocations net out).
    left = -int(db.session.scalar(select(func.sum(LedgerEntry.amount_cents))
                                  .where(LedgerEntry.payment_id == payment_id)) or 0)
    return left - reserved_for_card_refunds(payment_id, except_key=except_key)


def reserved_for_card_refunds(payment_id: int, *, except_key: str | None = None) -> int:
    """Card refunds of this payment asked of Stripe (or about to be) and not yet posted or voided."""
    query = select(func.sum(CardRefund.amount_cents)).where(CardRefund.payment_id == payment_id,
                                                            CardRefund.status == "pending")
    if except_key is not None:
        query = query.where(CardRefund.key != except_key)
    return int(db.session.scalar(query) or 0)


def _payment(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise LedgerError(f"payment {payment_id} does not exist")
    return payment


def _refuse_if_reversed(payment: Payment) -> None:
    """Checked under the account lock: a reversed payment has nothing left to apply or refund."""
    if reversed_posting_ids([payment.posting_id]):
        raise LedgerError(f"payment {payment.id} is reversed")


def apply_credit(payment_id: int, *, key: str, actor: str,
                 allocate_to: list[tuple[int, int]] | None = None) -> list[Allocation]:
    """Apply a payment's unapplied credit: to chosen charges, or oldest service date first."""
    payment = _payment(payment_id)
    account_id, bucket = payment.account_id, _bucket_of(payment.source)
    fp = fingerprint(op="apply", payment=payment_id, to=allocate_to)

    def build(uow: UnitOfWork) -> int:
        _refuse_if_reversed(payment)
        posting_id = allocate(uow, payment_id, account_id, bucket, unapplied_credit(payment_id), allocate_to, key)
        if posting_id is None:
            raise LedgerError("nothing to apply: no credit left or no open balance")
        return posting_id

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, result_of=lambda posting_id: list(
        db.session.scalars(select(Allocation).where(Allocation.posting_id == posting_id).order_by(Allocation.id))))


def refund_payment(payment_id: int, *, amount_cents: int, key: str, actor: str, reason: str, method: str,
                   check_number: str | None = None, processor_reference: str | None = None,
                   credit_only: bool = False, also=None) -> Refund:
    """Give back part or all of a payment (to the card, by check or in cash): what is not unapplied
    credit is first taken back from the charges it paid, newest date of service first. With
    `credit_only`, refuse to take anything back from charges (a refund of unapplied credit only).
    `also(refund)` runs in the same transaction (a card refund's reservation marked posted)."""
    require_positive(amount_cents)
    if method not in REFUND_METHODS:
        raise LedgerError(f"refund method must be one of {REFUND_METHODS}")
    if method == "check" and not check_number:
        raise LedgerError("a refund by check needs the check number")
    payment = _payment(payment_id)
    account_id = payment.account_id
    fp = fingerprint(op="refund", payment=payment_id, amount=amount_cents, method=method, check=check_number)

    def build(uow: UnitOfWork) -> int:
        _refuse_if_reversed(payment)
        # A card refund reserved but not yet posted holds its amount: nothing else may give it back meanwhile.
        if amount_cents > (left := refundable_cents(payment_id, except_key=key)):
            raise LedgerError(f"a refund of {amount_cents} cents would exceed the {max(left, 0)} cents "
                              f"payment {payment_id} has left to refund")
        credit = unapplied_credit(payment_id)
        if credit_only:  # a reserved card refund may take this credit first
            credit -= reserved_for_card_refunds(payment_id, except_key=key)
        shortfall = amount_cents - credit
        if shortfall > 0 and credit_only:
            raise LedgerError(f"payment {payment_id} has only {amount_cents - shortfall} cents of unapplied credit")
        if shortfall > 0:
            unallocate(uow, account_id, f"{key}#unallocate", reason, payment_id=payment_id, up_to=shortfall)
        posting_id = uow.posting(account_id, "refund", key, fp, memo=reason, gl_source=f"refund:{method}")
        uow.row(Refund, payment_id=payment_id, posting_id=posting_id, amount_cents=amount_cents, method=method,
                check_number=check_number, stripe_refund_id=processor_reference, reason=reason, created_by=actor)
        uow.entry(posting_id, "unapplied", amount_cents, payment_id=payment_id)
        return posting_id

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, also=also,
               result_of=lambda posting_id: db.session.scalar(select(Refund).where(Refund.posting_id == posting_id)))
