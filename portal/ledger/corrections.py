"""Corrections."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.ledger.allocation import _allocate, _open_charges, _unallocate
from portal.ledger.engine import _commit, _fingerprint, _require_positive, _run, _Work
from portal.ledger.errors import CHARGE_BUCKETS, LedgerError
from portal.models import (
    Account,
    Adjustment,
    BalanceTransfer,
    Charge,
    LedgerEntry,
    Payment,
    Posting,
)
from portal.models.ledger import ADJUSTMENT_KINDS, TRANSFER_REASONS

# ---------------------------------------------------------------- adjustments and transfers


def post_adjustment(charge_id: int, *, amount_cents: int, kind: str, bucket: str, key: str, actor: str,
                    group_code: str | None = None, carc: str | None = None, rarc: str | None = None,
                    reason: str | None = None) -> Adjustment:
    """Reduce what is owed on one bucket of a charge (contractual, write-off, ...)."""
    _require_positive(amount_cents)
    if kind not in ADJUSTMENT_KINDS:
        raise LedgerError(f"unknown adjustment kind {kind!r}")
    if bucket not in CHARGE_BUCKETS:
        raise LedgerError(f"bucket must be one of {CHARGE_BUCKETS}")
    charge = db.session.get(Charge, charge_id)
    if charge is None:
        raise LedgerError(f"charge {charge_id} does not exist")
    fp = _fingerprint(op="adjustment", charge=charge_id, amount=amount_cents, kind=kind, bucket=bucket,
                      group=group_code, carc=carc, rarc=rarc)

    def build(account: Account) -> Posting:
        work = _Work(account, actor)
        posting = _adjust(work, charge_id, amount_cents, kind=kind, bucket=bucket, key=key, fp=fp,
                          group_code=group_code, carc=carc, rarc=rarc, reason=reason)
        _commit(work, key)
        return posting

    return _run(charge.account_id, key, fp, build, lambda p: db.session.scalar(
        select(Adjustment).where(Adjustment.posting_id == p.id)))


def _adjust(work: _Work, charge_id: int, amount_cents: int, *, kind: str, bucket: str, key: str, fp: str,
            group_code: str | None = None, carc: str | None = None, rarc: str | None = None,
            reason: str | None = None) -> Posting:
    posting = work.posting("adjustment", key, fp, memo=reason)
    db.session.add(Adjustment(
        posting_id=posting.id, account_id=work.account.id, charge_id=charge_id, bucket=bucket, kind=kind,
        amount_cents=amount_cents, group_code=group_code, carc=carc, rarc=rarc, reason=reason,
        created_by=work.actor,
    ))
    work.entry(posting, bucket, -amount_cents, charge_id=charge_id)
    return posting


@dataclass
class AgencyRemittance:
    payment: Payment
    fees: list[Adjustment]  # the agency's fee, one administrative adjustment per charge


def post_agency_payment(account_id: int, *, gross_cents: int, fee_cents: int, key: str, actor: str,
                        received_on: date, reference: str | None, fee_reason: str) -> AgencyRemittance:
    """A collection agency collected `gross` from the guarantor, kept `fee` and remitted the rest.

    One operation, idempotent on `key`: the net cash as a payment applied to the patient balance
    oldest service date first (it matches the deposit), and the fee as administrative adjustments
    on what is left, oldest first, so the guarantor is credited the full gross. Either all of it
    is posted or nothing: a fee larger than what the payment leaves owing is refused.
    """
    _require_positive(gross_cents)
    if not isinstance(fee_cents, int) or not 0 <= fee_cents < gross_cents:
        raise LedgerError("the agency fee must be at least zero and less than what the agency collected")
    fp = _fingerprint(op="agency_payment", account=account_id, gross=gross_cents, fee=fee_cents,
                      reference=reference)

    def build(account: Account) -> Posting:
        work = _Work(account, actor)
        posting = work.posting("payment", key, fp, memo=reference)
        payment = Payment(account_id=account.id, posting_id=posting.id, source="patient", method="other",
                          reference=reference, amount_cents=gross_cents - fee_cents, received_on=received_on,
                          created_by=actor)
        db.session.add(payment)
        db.session.flush()
        work.entry(posting, "unapplied", -payment.amount_cents, payment_id=payment.id)
        # Split the current patient balances between the payment and the fee, oldest first (the
        # charge caches are refreshed only at commit, so plan both from one snapshot).
        owed = [(c.id, c.patient_balance_cents) for c in _open_charges(account.id, "patient")]
        to_pay, to_fee, net, fee = [], [], payment.amount_cents, fee_cents
        for charge_id, balance in owed:
            take = min(net, balance)
            if take:
                to_pay.append((charge_id, take))
            net, balance = net - take, balance - take
            if balance and fee:
                to_fee.append((charge_id, min(fee, balance)))
                fee -= min(fee, balance)
        if fee:
            raise LedgerError(f"the agency fee is {fee} cents more than the balance left after the payment")
        _allocate(work, payment, payment.amount_cents, to_pay, f"{key}#allocation")
        for charge_id, amount in to_fee:
            _adjust(work, charge_id, amount, kind="administrative", bucket="patient",
                    key=f"{key}#fee:{charge_id}", reason=fee_reason,
                    fp=_fingerprint(op="agency_fee", key=key, charge=charge_id, amount=amount))
        _commit(work, key)
        return posting

    def result_of(posting: Posting) -> AgencyRemittance:
        fees = db.session.scalars(select(Adjustment).join(Posting, Posting.id == Adjustment.posting_id)
                                  .where(Posting.idempotency_key.startswith(f"{key}#fee:", autoescape=True))
                                  .order_by(Adjustment.id)).all()
        return AgencyRemittance(db.session.scalar(select(Payment).where(Payment.posting_id == posting.id)),
                                list(fees))

    return _run(account_id, key, fp, build, result_of)


def transfer(charge_id: int, *, amount_cents: int, to_bucket: str, reason: str, key: str, actor: str,
             carc: str | None = None, effective_date: date | None = None) -> BalanceTransfer:
    """Move responsibility for part of a charge between insurance and the patient."""
    _require_positive(amount_cents)
    if to_bucket not in CHARGE_BUCKETS:
        raise LedgerError(f"bucket must be one of {CHARGE_BUCKETS}")
    if reason not in TRANSFER_REASONS:
        raise LedgerError(f"unknown transfer reason {reason!r}")
    from_bucket = "insurance" if to_bucket == "patient" else "patient"
    charge = db.session.get(Charge, charge_id)
    if charge is None:
        raise LedgerError(f"charge {charge_id} does not exist")
    fp = _fingerprint(op="transfer", charge=charge_id, amount=amount_cents, to=to_bucket, reason=reason,
                      carc=carc)

    def build(account: Account) -> Posting:
        work = _Work(account, actor)
        posting = work.posting("transfer", key, fp)
        db.session.add(BalanceTransfer(
            posting_id=posting.id, charge_id=charge_id, from_bucket=from_bucket, to_bucket=to_bucket,
            amount_cents=amount_cents, reason=reason, carc=carc, created_by=actor,
        ))
        work.entry(posting, from_bucket, -amount_cents, charge_id=charge_id)
        work.entry(posting, to_bucket, amount_cents, charge_id=charge_id)
        _commit(work, key, effective_date)
        return posting

    return _run(charge.account_id, key, fp, build, lambda p: db.session.scalar(
        select(BalanceTransfer).where(BalanceTransfer.posting_id == p.id)))


# ---------------------------------------------------------------- reversals


def reverse(posting_id: int, *, key: str, actor: str, reason: str) -> Posting:
    """Undo a posting with a new one that negates it.

    Reversing a charge first reverses its adjustments and transfers and returns any payment
    applied to it to that payment's unapplied credit; reversing a payment first takes back
    everything it paid. A reversal is itself never reversed: post the original again instead.
    """
    if not (reason or "").strip():
        raise LedgerError("a reversal needs a reason")
    original = db.session.get(Posting, posting_id)
    if original is None:
        raise LedgerError(f"posting {posting_id} does not exist")
    fp = _fingerprint(op="reverse", posting=posting_id)

    def build(account: Account) -> Posting:
        db.session.refresh(original)
        if original.kind in ("reversal", "unallocation"):
            raise LedgerError(f"posting {original.id} is a {original.kind} and cannot be reversed")
        if original.reversed_by is not None:
            raise LedgerError(f"posting {original.id} was already reversed by posting {original.reversed_by.id}")
        work = _Work(account, actor)
        if original.kind == "charge":
            charge = db.session.scalar(select(Charge).where(Charge.posting_id == original.id))
            _reverse_dependents_of_charge(work, charge, key, reason)
            _unallocate(work, f"{key}#unallocate", reason, charge_id=charge.id)
        elif original.kind == "payment":
            payment = db.session.scalar(select(Payment).where(Payment.posting_id == original.id))
            _unallocate(work, f"{key}#unallocate", reason, payment_id=payment.id)
        posting = _negate(work, original, key, fp, reason)
        _commit(work, key)
        return posting

    return _run(original.account_id, key, fp, build, lambda p: p)


def _negate(work: _Work, original: Posting, key: str, fp: str, reason: str) -> Posting:
    posting = work.posting("reversal", key, fp, memo=reason, reverses=original)
    for e in original.entries:
        work.entry(posting, e.bucket, -e.amount_cents, charge_id=e.charge_id, payment_id=e.payment_id)
    return posting


def _reverse_dependents_of_charge(work: _Work, charge: Charge, key: str, reason: str) -> None:
    standing = db.session.scalars(
        select(Posting)
        .where(Posting.id.in_(
            select(LedgerEntry.posting_id).where(LedgerEntry.charge_id == charge.id)
        ), Posting.kind.in_(("adjustment", "transfer")))
        .order_by(Posting.id.desc())
    ).all()
    for posting in standing:
        if posting.reversed_by is None:
            _negate(work, posting, f"{key}#{posting.id}", _fingerprint(op="reverse", posting=posting.id), reason)


