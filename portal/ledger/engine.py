"""Engine."""
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.errors import CHARGE_BUCKETS, IdempotencyConflict, LedgerError
from portal.locking import lock_rows
from portal.models import (
    Account,
    Charge,
    LedgerEntry,
    Payment,
    Posting,
)

# ---------------------------------------------------------------- building blocks


def _fingerprint(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def lock_account(account_id: int) -> Account:
    """Lock the account row until commit (SQLite: hold the database write lock)."""
    return lock_accounts({account_id})[account_id]


def lock_accounts(account_ids: set[int]) -> dict[int, Account]:
    """Lock account rows in id order (no deadlock between two batches) until commit."""
    accounts = lock_rows(Account, account_ids)
    if missing := set(account_ids) - set(accounts):
        raise LedgerError(f"account {min(missing)} does not exist")
    return accounts


def _existing(key: str, fingerprint: str) -> Posting | None:
    posting = db.session.scalar(select(Posting).where(Posting.idempotency_key == key))
    if posting is not None and posting.fingerprint != fingerprint:
        raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different posting")
    return posting


@dataclass
class _Work:
    """Postings of one operation and what they touched, checked together before commit."""

    account: Account
    actor: str
    charges: set[int] = field(default_factory=set)
    payments: set[int] = field(default_factory=set)
    deltas: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("insurance", "patient", "unapplied"), 0))

    def posting(self, kind: str, key: str, fingerprint: str, memo: str | None = None,
                reverses: Posting | None = None) -> Posting:
        posting = Posting(
            account_id=self.account.id, kind=kind, idempotency_key=key, fingerprint=fingerprint,
            memo=memo, actor=self.actor, reverses_posting_id=reverses.id if reverses else None,
        )
        db.session.add(posting)
        db.session.flush()
        return posting

    def entry(self, posting: Posting, bucket: str, amount: int, *, charge_id: int | None = None,
              payment_id: int | None = None) -> None:
        if amount == 0:
            return
        db.session.add(LedgerEntry(
            posting_id=posting.id, account_id=self.account.id, charge_id=charge_id,
            payment_id=payment_id, bucket=bucket, amount_cents=amount,
        ))
        self.deltas[bucket] += amount
        if charge_id is not None:
            self.charges.add(charge_id)
        if payment_id is not None:
            self.payments.add(payment_id)


def _commit(work: _Work, key: str, effective_date: date | None = None) -> None:
    """Check the money rules on everything touched, refresh caches, commit once."""
    db.session.flush()
    _check_and_cache_charges(work.charges, effective_date or facility_today())
    _check_payments(work.payments)
    # The account row is locked, so adding this operation's amounts keeps the cache exact.
    work.account.insurance_balance_cents += work.deltas["insurance"]
    work.account.patient_balance_cents += work.deltas["patient"]
    work.account.credit_cents -= work.deltas["unapplied"]
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # Lost a race on the idempotency key (or on reversing one posting twice).
        raise _Replay(key) from exc


class _Replay(Exception):
    def __init__(self, key: str):
        self.key = key


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


def _reversed_posting_ids(posting_ids) -> set[int]:
    return set(db.session.scalars(
        select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.in_(posting_ids))
    ))


def _check_and_cache_charges(charge_ids: set[int], on: date) -> None:
    if not charge_ids:
        return
    sums = _charge_sums(charge_ids)
    charges = db.session.scalars(
        select(Charge).where(Charge.id.in_(charge_ids)).execution_options(populate_existing=True)
    ).all()
    reversed_ids = _reversed_posting_ids([c.posting_id for c in charges])
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


def _check_payments(payment_ids: set[int]) -> None:
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
    reversed_ids = _reversed_posting_ids([posting_id for _, posting_id in payments])
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


def _run(account_id: int, key: str, fingerprint: str, build, result_of):
    """Lock, replay or build, commit; on a lost race return the winner's result."""
    for _attempt in range(2):
        try:
            account = lock_account(account_id)
            if done := _existing(key, fingerprint):
                db.session.commit()  # release the lock
                return result_of(done)
            posting = build(account)
            return result_of(posting)
        except _Replay:
            continue
        except Exception:
            db.session.rollback()
            raise
    posting = _existing(key, fingerprint)
    if posting is None:
        raise LedgerError(f"posting {key!r} could not be written")
    return result_of(posting)


def _require_positive(amount_cents: int) -> None:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise LedgerError("amount must be a positive whole number of cents")
