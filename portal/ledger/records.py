"""The rows each kind of posting writes (payment, allocation, adjustment, transfer, reversal), queued on a
unit of work. Every operation, by hand or from an ERA, builds its postings from these."""
from datetime import date

from portal.ledger.engine import UnitOfWork
from portal.models import Adjustment, Allocation, BalanceTransfer, Payment, Posting


def add_payment(uow: UnitOfWork, account_id: int, *, key: str, fp: str, amount_cents: int, source: str,
                method: str, received_on: date, payer_id: int | None = None,
                reference: str | None = None) -> tuple[int, int]:
    """Money received, all of it unapplied credit until allocated; (posting id, payment id)."""
    posting_id = uow.posting(account_id, "payment", key, fp, memo=reference, gl_source=f"cash:{method}",
                             gl_date=received_on)
    payment_id = uow.row(Payment, account_id=account_id, posting_id=posting_id, source=source, method=method,
                         payer_id=payer_id, reference=reference, amount_cents=amount_cents, received_on=received_on,
                         created_by=uow.actor)
    uow.entry(posting_id, "unapplied", -amount_cents, payment_id=payment_id)
    return posting_id, payment_id


def add_allocation(uow: UnitOfWork, posting_id: int, payment_id: int, charge_id: int, bucket: str,
                   amount_cents: int) -> None:
    """Part of a payment's credit applied to one bucket of a charge, under an allocation posting."""
    uow.row(Allocation, posting_id=posting_id, payment_id=payment_id, charge_id=charge_id, bucket=bucket,
            amount_cents=amount_cents)
    uow.entry(posting_id, bucket, -amount_cents, charge_id=charge_id, payment_id=payment_id)
    uow.entry(posting_id, "unapplied", amount_cents, payment_id=payment_id)


def add_adjustment(uow: UnitOfWork, account_id: int, charge_id: int, amount_cents: int, *, kind: str, bucket: str,
                   key: str, fp: str, group_code: str | None = None, carc: str | None = None,
                   rarc: str | None = None, reason: str | None = None, gl_source: str | None = None) -> int:
    """Less owed on one bucket of a charge (contractual, write-off, ...); the posting id. The general
    ledger books it by its kind unless `gl_source` says otherwise (an agency's fee)."""
    posting_id = uow.posting(account_id, "adjustment", key, fp, memo=reason,
                             gl_source=gl_source or f"adjustment:{kind}")
    uow.row(Adjustment, posting_id=posting_id, account_id=account_id, charge_id=charge_id, bucket=bucket, kind=kind,
            amount_cents=amount_cents, group_code=group_code, carc=carc, rarc=rarc, reason=reason,
            created_by=uow.actor)
    uow.entry(posting_id, bucket, -amount_cents, charge_id=charge_id)
    return posting_id


def add_transfer(uow: UnitOfWork, account_id: int, charge_id: int, amount_cents: int, *, to_bucket: str,
                 reason: str, key: str, fp: str, carc: str | None = None) -> int:
    """Responsibility for part of a charge moved between insurance and the patient; the posting id."""
    from_bucket = "insurance" if to_bucket == "patient" else "patient"
    posting_id = uow.posting(account_id, "transfer", key, fp)
    uow.row(BalanceTransfer, posting_id=posting_id, charge_id=charge_id, from_bucket=from_bucket, to_bucket=to_bucket,
            amount_cents=amount_cents, reason=reason, carc=carc, created_by=uow.actor)
    uow.entry(posting_id, from_bucket, -amount_cents, charge_id=charge_id)
    uow.entry(posting_id, to_bucket, amount_cents, charge_id=charge_id)
    return posting_id


def add_reversal(uow: UnitOfWork, original: Posting, *, key: str, fp: str, reason: str) -> int:
    """A posting that negates every entry of `original` and points at it; its id."""
    posting_id = uow.posting(original.account_id, "reversal", key, fp, memo=reason, reverses=original.id)
    for e in original.entries:
        uow.entry(posting_id, e.bucket, -e.amount_cents, charge_id=e.charge_id, payment_id=e.payment_id, mirrors=e)
    return posting_id
