"""Corrections: adjustments, transfers between insurance and the patient, agency payments, reversals."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.ledger.allocation import allocate, open_charges, unallocate
from portal.ledger.engine import UnitOfWork, fingerprint, require_positive, run
from portal.ledger.errors import CHARGE_BUCKETS, LedgerError
from portal.ledger.records import add_adjustment, add_payment, add_reversal, add_transfer
from portal.models import (
    Adjustment,
    BalanceTransfer,
    Charge,
    LedgerEntry,
    Payment,
    Posting,
)
from portal.models.ledger import ADJUSTMENT_KINDS, TRANSFER_REASONS


def _charge(charge_id: int) -> Charge:
    charge = db.session.get(Charge, charge_id)
    if charge is None:
        raise LedgerError(f"charge {charge_id} does not exist")
    return charge


def post_adjustment(charge_id: int, *, amount_cents: int, kind: str, bucket: str, key: str, actor: str,
                    group_code: str | None = None, carc: str | None = None, rarc: str | None = None,
                    reason: str | None = None, also=None) -> Adjustment:
    """Reduce what is owed on one bucket of a charge (contractual, write-off, ...).
    `also(adjustment)` runs in the same transaction when it posts; rows it adds commit with it."""
    require_positive(amount_cents)
    if kind not in ADJUSTMENT_KINDS:
        raise LedgerError(f"unknown adjustment kind {kind!r}")
    if bucket not in CHARGE_BUCKETS:
        raise LedgerError(f"bucket must be one of {CHARGE_BUCKETS}")
    account_id = _charge(charge_id).account_id
    fp = fingerprint(op="adjustment", charge=charge_id, amount=amount_cents, kind=kind, bucket=bucket,
                     group=group_code, carc=carc, rarc=rarc)

    def build(uow: UnitOfWork) -> int:
        return add_adjustment(uow, account_id, charge_id, amount_cents, kind=kind, bucket=bucket, key=key, fp=fp,
                              group_code=group_code, carc=carc, rarc=rarc, reason=reason)

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, also=also,
               result_of=lambda posting_id: db.session.scalar(select(Adjustment).where(
                   Adjustment.posting_id == posting_id)))


@dataclass
class AgencyRemittance:
    payment: Payment
    fees: list[Adjustment]  # the agency's fee, one administrative adjustment per charge


def post_agency_payment(account_id: int, *, gross_cents: int, fee_cents: int, key: str, actor: str,
                        received_on: date, reference: str | None, fee_reason: str, also=None) -> AgencyRemittance:
    """A collection agency collected `gross` from the guarantor, kept `fee` and remitted the rest.

    One operation, idempotent on `key`: the net cash as a payment applied to the patient balance
    oldest service date first (it matches the deposit), and the fee as administrative adjustments
    on what is left, oldest first, so the guarantor is credited the full gross. Either all of it
    is posted or nothing: a fee larger than what the payment leaves owing is refused.
    `also(remittance)` runs in the same transaction when it posts; rows it adds commit with it.
    """
    require_positive(gross_cents)
    if not isinstance(fee_cents, int) or not 0 <= fee_cents < gross_cents:
        raise LedgerError("the agency fee must be at least zero and less than what the agency collected")
    net_cents = gross_cents - fee_cents
    fp = fingerprint(op="agency_payment", account=account_id, gross=gross_cents, fee=fee_cents, reference=reference)

    def build(uow: UnitOfWork) -> int:
        posting_id, payment_id = add_payment(uow, account_id, key=key, fp=fp, amount_cents=net_cents,
                                             source="patient", method="other", received_on=received_on,
                                             reference=reference)
        # Split the current patient balances between the payment and the fee, oldest first (the
        # charge caches are refreshed only at commit, so plan both from one snapshot).
        owed = [(c.id, c.patient_balance_cents) for c in open_charges(account_id, "patient")]
        to_pay, to_fee, net, fee = [], [], net_cents, fee_cents
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
        allocate(uow, payment_id, account_id, "patient", net_cents, to_pay, f"{key}#allocation")
        for charge_id, amount in to_fee:
            add_adjustment(uow, account_id, charge_id, amount, kind="administrative", bucket="patient",
                           key=f"{key}#fee:{charge_id}", reason=fee_reason, gl_source="agency_fee",
                           fp=fingerprint(op="agency_fee", key=key, charge=charge_id, amount=amount))
        return posting_id

    def result_of(posting_id: int) -> AgencyRemittance:
        fees = db.session.scalars(select(Adjustment).join(Posting, Posting.id == Adjustment.posting_id)
                                  .where(Posting.idempotency_key.startswith(f"{key}#fee:", autoescape=True))
                                  .order_by(Adjustment.id)).all()
        return AgencyRemittance(db.session.scalar(select(Payment).where(Payment.posting_id == posting_id)),
                                list(fees))

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, result_of=result_of, also=also)


def transfer(charge_id: int, *, amount_cents: int, to_bucket: str, reason: str, key: str, actor: str,
             carc: str | None = None, effective_date: date | None = None, also=None) -> BalanceTransfer:
    """Move responsibility for part of a charge between insurance and the patient.
    `also(transfer)` runs in the same transaction when it posts; rows it adds commit with it."""
    require_positive(amount_cents)
    if to_bucket not in CHARGE_BUCKETS:
        raise LedgerError(f"bucket must be one of {CHARGE_BUCKETS}")
    if reason not in TRANSFER_REASONS:
        raise LedgerError(f"unknown transfer reason {reason!r}")
    account_id = _charge(charge_id).account_id
    fp = fingerprint(op="transfer", charge=charge_id, amount=amount_cents, to=to_bucket, reason=reason, carc=carc)

    def build(uow: UnitOfWork) -> int:
        return add_transfer(uow, account_id, charge_id, amount_cents, to_bucket=to_bucket, reason=reason, key=key,
                            fp=fp, carc=carc)

    return run({account_id}, key=key, fp=fp, actor=actor, build=build, effective_date=effective_date, also=also,
               result_of=lambda posting_id: db.session.scalar(
                   select(BalanceTransfer).where(BalanceTransfer.posting_id == posting_id)))


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
    account_id = original.account_id
    fp = fingerprint(op="reverse", posting=posting_id)

    def build(uow: UnitOfWork) -> int:
        db.session.refresh(original)
        if original.kind in ("reversal", "unallocation"):
            raise LedgerError(f"posting {original.id} is a {original.kind} and cannot be reversed")
        if original.reversed_by is not None:
            raise LedgerError(f"posting {original.id} was already reversed by posting {original.reversed_by.id}")
        if original.kind == "charge":
            charge = db.session.scalar(select(Charge).where(Charge.posting_id == original.id))
            _reverse_dependents_of_charge(uow, charge, key, reason)
            unallocate(uow, account_id, f"{key}#unallocate", reason, charge_id=charge.id)
        elif original.kind == "payment":
            payment = db.session.scalar(select(Payment).where(Payment.posting_id == original.id))
            unallocate(uow, account_id, f"{key}#unallocate", reason, payment_id=payment.id)
        return add_reversal(uow, original, key=key, fp=fp, reason=reason)

    return run({account_id}, key=key, fp=fp, actor=actor, build=build,
               result_of=lambda reversal_id: db.session.get(Posting, reversal_id))


def _reverse_dependents_of_charge(uow: UnitOfWork, charge: Charge, key: str, reason: str) -> None:
    standing = db.session.scalars(
        select(Posting)
        .where(Posting.id.in_(
            select(LedgerEntry.posting_id).where(LedgerEntry.charge_id == charge.id)
        ), Posting.kind.in_(("adjustment", "transfer")))
        .order_by(Posting.id.desc())
    ).all()
    for posting in standing:
        if posting.reversed_by is None:
            add_reversal(uow, posting, key=f"{key}#{posting.id}", fp=fingerprint(op="reverse", posting=posting.id),
                         reason=reason)
