"""The money rules, checked on everything a unit of work touched, and the cached charge balances refreshed."""
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select

from portal.extensions import db
from portal.ledger.errors import CHARGE_BUCKETS, LedgerError
from portal.models import Charge, LedgerEntry, Payment, Posting


def reversed_posting_ids(posting_ids) -> set[int]:
    """Which of these postings a reversal points at."""
    return set(db.session.scalars(
        select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.in_(posting_ids))
    ))


def _charge_sums(charge_ids) -> dict[int, dict[str, int]]:
    sums = defaultdict(lambda: dict.fromkeys(CHARGE_BUCKETS, 0))
    rows = db.session.execute(
        select(LedgerEntry.charge_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.charge_id.in_(charge_ids))
        .group_by(LedgerEntry.charge_id, LedgerEntry.bucket)
    )
    for charge_id, bucket, total in rows:
        sums[charge_id][bucket] = int(total)
    return sums


def check_and_cache_charges(charge_ids: set[int], on: date) -> None:
    """Each charge's buckets stay within 0..amount (a reversed charge at zero); store them on the charge."""
    if not charge_ids:
        return
    sums = _charge_sums(charge_ids)
    charges = db.session.scalars(
        select(Charge).where(Charge.id.in_(charge_ids)).execution_options(populate_existing=True)
    ).all()
    reversed_ids = reversed_posting_ids([c.posting_id for c in charges])
    for charge in charges:
        balances = sums[charge.id]
        for bucket, amount in balances.items():
            if amount < 0:
                raise LedgerError(
                    f"charge {charge.id}: the {bucket} balance would fall below zero ({amount} cents)"
                )
        if balances["insurance"] + balances["patient"] > charge.amount_cents:
            raise LedgerError(f"charge {charge.id}: balances would exceed the charge amount")
        if charge.posting_id in reversed_ids and any(balances.values()):
            raise LedgerError(f"charge {charge.id} is reversed and must stay at zero")
        if balances["patient"] > 0 and charge.patient_responsible_since is None:
            charge.patient_responsible_since = on
        charge.insurance_balance_cents = balances["insurance"]
        charge.patient_balance_cents = balances["patient"]


def check_payments(payment_ids: set[int]) -> None:
    """A payment never applies more than it has, a reversed one keeps nothing, and nothing is taken back twice."""
    if not payment_ids:
        return
    credit = dict(db.session.execute(
        select(LedgerEntry.payment_id, -func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.payment_id.in_(payment_ids), LedgerEntry.bucket == "unapplied")
        .group_by(LedgerEntry.payment_id)
    ).all())
    applied = db.session.execute(
        select(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket,
               -func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.payment_id.in_(payment_ids), LedgerEntry.bucket != "unapplied")
        .group_by(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket)
    ).all()
    payments = db.session.execute(select(Payment.id, Payment.posting_id).where(Payment.id.in_(payment_ids))).all()
    reversed_ids = reversed_posting_ids([posting_id for _, posting_id in payments])
    for payment_id, posting_id in payments:
        left = int(credit.get(payment_id, 0))
        if left < 0:
            raise LedgerError(f"payment {payment_id}: allocations would exceed the payment")
        if posting_id in reversed_ids and left != 0:
            raise LedgerError(f"payment {payment_id} is reversed and must stay at zero")
    for payment_id, charge_id, _bucket, amount in applied:
        if amount < 0:
            raise LedgerError(
                f"payment {payment_id}: cannot take back more from charge {charge_id} than was applied"
            )


def account_sums(account_id: int) -> dict[str, int]:
    """An account's balances derived from its entries (the truth the caches must equal)."""
    rows = dict(db.session.execute(
        select(LedgerEntry.bucket, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.account_id == account_id)
        .group_by(LedgerEntry.bucket)
    ).all())
    return {
        "insurance": int(rows.get("insurance") or 0),
        "patient": int(rows.get("patient") or 0),
        "credit": -int(rows.get("unapplied") or 0),
    }
