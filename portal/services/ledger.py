"""The only code that moves money.

Every operation here:
- takes an idempotency key (unique on `postings`): a replay returns what the first call made,
  and the same key with different figures is refused;
- locks the account first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite, which has no row
  locks, whatever the session holds is committed and a BEGIN IMMEDIATE transaction takes the
  database write lock), so two postings to one account never interleave;
- writes its postings and entries, checks the money rules on everything it touched, refreshes
  the cached balances from the entries, and commits once. A broken rule rolls everything back.

Sign convention: an entry is what the account owes. A charge adds to its insurance or patient
bucket; a payment subtracts from its unapplied bucket; allocating moves the credit onto a charge.
"""
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    Account,
    Adjustment,
    Allocation,
    BalanceTransfer,
    Charge,
    DepositBatch,
    DepositItem,
    LedgerEntry,
    Patient,
    Payment,
    Posting,
    Refund,
    utcnow,
)
from portal.models.ledger import ADJUSTMENT_KINDS, PAYMENT_METHODS, TRANSFER_REASONS
from portal.models.statements import REFUND_METHODS
from portal.services.clock import facility_today
from portal.services.locking import lock_rows

CHARGE_BUCKETS = ("insurance", "patient")


class LedgerError(ValueError):
    """The posting would break a money rule; nothing was written."""


class IdempotencyConflict(LedgerError):
    """The key was already used for a different operation."""


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


# ---------------------------------------------------------------- charges


CHARGE_DETAILS = ("clinician", "location", "minutes", "authorization_id")


@dataclass(frozen=True)
class ChargeRequest:
    account_id: int
    patient_id: int
    billing_code_id: int
    service_date: date
    amount_cents: int
    key: str
    units: int = 1
    coverage_id: int | None = None
    responsibility: str = "insurance"
    source: str = "manual"
    clinician: str | None = None
    location: str | None = None
    minutes: int | None = None
    authorization_id: int | None = None

    def fingerprint(self) -> str:
        return _fingerprint(op="charge", account=self.account_id, patient=self.patient_id,
                            code=self.billing_code_id, date=self.service_date, amount=self.amount_cents,
                            units=self.units, coverage=self.coverage_id, resp=self.responsibility)


@dataclass
class ChargeBatch:
    """Charge ids by idempotency key (plain ids: the ORM objects are expired after the commit)."""

    created: dict[str, int] = field(default_factory=dict)
    replayed: dict[str, int] = field(default_factory=dict)  # the key was already posted: nothing new
    refused: list[tuple[ChargeRequest, str]] = field(default_factory=list)


def post_charge(account_id: int, *, patient_id: int, billing_code_id: int, service_date: date,
                amount_cents: int, key: str, actor: str, units: int = 1, coverage_id: int | None = None,
                responsibility: str = "insurance", source: str = "manual") -> Charge:
    """Post a charge, owed by insurance (billed to coverage) or by the patient (self-pay)."""
    request = ChargeRequest(account_id, patient_id, billing_code_id, service_date, amount_cents, key, units,
                            coverage_id, responsibility, source)
    batch = post_charges([request], actor=actor)
    if batch.refused:
        raise IdempotencyConflict(batch.refused[0][1])
    return db.session.get(Charge, batch.created.get(key) or batch.replayed[key])


def post_charges(requests: list[ChargeRequest], *, actor: str, admit=None) -> ChargeBatch:
    """Post many charges in one transaction, the accounts locked in id order.

    `admit(request)` runs under the locks for each charge not posted before and returns None to
    post it or a reason to refuse it (e.g. no authorization units left), so the check and the
    posting cannot be separated by another worker. A key posted before is a replay: nothing new.
    """
    for request in requests:
        _require_positive(request.amount_cents)
        if request.responsibility not in CHARGE_BUCKETS:
            raise LedgerError(f"responsibility must be one of {CHARGE_BUCKETS}")
    if len({r.key for r in requests}) != len(requests):
        raise LedgerError("two charges in one batch share an idempotency key")
    for _attempt in range(2):
        try:
            return _post_charges(requests, actor, admit)
        except _Replay:
            continue
        except Exception:
            db.session.rollback()
            raise
    raise LedgerError("charges could not be written")


def _post_charges(requests: list[ChargeRequest], actor: str, admit) -> ChargeBatch:
    accounts = lock_accounts({r.account_id for r in requests})
    batch = ChargeBatch()
    done = {p.idempotency_key: p for p in db.session.scalars(
        select(Posting).where(Posting.idempotency_key.in_([r.key for r in requests])))}
    patients = dict(db.session.execute(
        select(Patient.id, Patient.account_id).where(Patient.id.in_({r.patient_id for r in requests}))).all())
    fresh, replayed = [], {}
    for request in requests:
        if patients.get(request.patient_id) != request.account_id:
            raise LedgerError(f"patient {request.patient_id} is not on account {request.account_id}")
        if (posting := done.get(request.key)) is not None:
            if posting.fingerprint != request.fingerprint():
                batch.refused.append((request, f"idempotency key {request.key!r} was already used for a different charge"))
            else:
                replayed[posting.id] = request.key
        elif admit is not None and (reason := admit(request)):
            batch.refused.append((request, reason))
        else:
            fresh.append(request)
    if replayed:
        batch.replayed = {replayed[posting_id]: charge_id for charge_id, posting_id in db.session.execute(
            select(Charge.id, Charge.posting_id).where(Charge.posting_id.in_(list(replayed))))}
    postings = [Posting(account_id=r.account_id, kind="charge", idempotency_key=r.key, fingerprint=r.fingerprint(),
                        actor=actor) for r in fresh]
    db.session.add_all(postings)
    db.session.flush()
    today = facility_today()
    charges = []
    for request, posting in zip(fresh, postings, strict=True):
        # A new charge owes its whole amount in one bucket: the money rules hold by construction.
        owed_by_patient = request.responsibility == "patient"
        charges.append(Charge(
            account_id=request.account_id, patient_id=request.patient_id, coverage_id=request.coverage_id,
            billing_code_id=request.billing_code_id, posting_id=posting.id, service_date=request.service_date,
            units=request.units, amount_cents=request.amount_cents, source=request.source, created_by=actor,
            insurance_balance_cents=0 if owed_by_patient else request.amount_cents,
            patient_balance_cents=request.amount_cents if owed_by_patient else 0,
            patient_responsible_since=today if owed_by_patient else None,
            **{name: getattr(request, name) for name in CHARGE_DETAILS},
        ))
    db.session.add_all(charges)
    db.session.flush()
    for request, posting, charge in zip(fresh, postings, charges, strict=True):
        batch.created[request.key] = charge.id
        db.session.add(LedgerEntry(posting_id=posting.id, account_id=request.account_id, charge_id=charge.id,
                                   bucket=request.responsibility, amount_cents=request.amount_cents))
        account = accounts[request.account_id]
        if request.responsibility == "patient":
            account.patient_balance_cents += request.amount_cents
        else:
            account.insurance_balance_cents += request.amount_cents
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise _Replay("batch") from exc
    return batch


# ---------------------------------------------------------------- payments


def post_payment(account_id: int, *, amount_cents: int, method: str, key: str, actor: str,
                 received_on: date | None = None, source: str = "patient", reference: str | None = None,
                 payer_id: int | None = None, allocate_to: list[tuple[int, int]] | None = None,
                 auto_allocate: bool = True, deposit_batch_id: int | None = None) -> Payment:
    """Receive a payment and apply it: to the chosen (charge id, cents) pairs, or oldest
    service date first. Whatever is not applied stays on the payment as unapplied credit.
    With `deposit_batch_id` the payment joins that deposit batch, which must be open."""
    _require_positive(amount_cents)
    if method not in PAYMENT_METHODS:
        raise LedgerError(f"unknown payment method {method!r}")
    if source not in ("patient", "insurance"):
        raise LedgerError("source must be 'patient' or 'insurance'")
    fp = _fingerprint(op="payment", account=account_id, amount=amount_cents, method=method, source=source,
                      reference=reference, payer=payer_id, to=allocate_to, auto=auto_allocate,
                      **({"batch": deposit_batch_id} if deposit_batch_id is not None else {}))

    def build(account: Account) -> Posting:
        batch = _open_batch(deposit_batch_id) if deposit_batch_id is not None else None
        work = _Work(account, actor)
        posting = work.posting("payment", key, fp, memo=reference)
        payment = Payment(
            account_id=account.id, posting_id=posting.id, source=source, method=method, payer_id=payer_id,
            reference=reference, amount_cents=amount_cents, received_on=received_on or facility_today(),
            created_by=actor,
        )
        db.session.add(payment)
        db.session.flush()
        work.entry(posting, "unapplied", -amount_cents, payment_id=payment.id)
        if batch is not None:
            db.session.add(DepositItem(batch_id=batch.id, payment_id=payment.id))
        if allocate_to or auto_allocate:
            _allocate(work, payment, amount_cents, allocate_to, f"{key}#allocation")
        _commit(work, key)
        return posting

    return _run(account_id, key, fp, build, lambda p: db.session.scalar(
        select(Payment).where(Payment.posting_id == p.id)))


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


def _payment(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise LedgerError(f"payment {payment_id} does not exist")
    return payment


def _refuse_if_reversed(payment: Payment) -> None:
    """Checked under the account lock: a reversed payment has nothing left to apply or refund."""
    if _reversed_posting_ids([payment.posting_id]):
        raise LedgerError(f"payment {payment.id} is reversed")


def apply_credit(payment_id: int, *, key: str, actor: str,
                 allocate_to: list[tuple[int, int]] | None = None) -> list[Allocation]:
    """Apply a payment's unapplied credit: to chosen charges, or oldest service date first."""
    payment = _payment(payment_id)
    fp = _fingerprint(op="apply", payment=payment_id, to=allocate_to)

    def build(account: Account) -> Posting:
        _refuse_if_reversed(payment)
        work = _Work(account, actor)
        posting = _allocate(work, payment, unapplied_credit(payment.id), allocate_to, key)
        if posting is None:
            raise LedgerError("nothing to apply: no credit left or no open balance")
        _commit(work, key)
        return posting

    return _run(payment.account_id, key, fp, build, lambda p: list(db.session.scalars(
        select(Allocation).where(Allocation.posting_id == p.id).order_by(Allocation.id))))


def _open_charges(account_id: int, bucket: str, page_size: int = 50):
    """Charges with something owed in `bucket`, oldest service date first, a page at a time."""
    column = Charge.patient_balance_cents if bucket == "patient" else Charge.insurance_balance_cents
    offset = 0
    while True:
        page = db.session.scalars(
            select(Charge).where(Charge.account_id == account_id, column > 0)
            .order_by(Charge.service_date, Charge.id).offset(offset).limit(page_size)
            .execution_options(populate_existing=True)
        ).all()
        yield from page
        if len(page) < page_size:
            return
        offset += page_size


def _allocate(work: _Work, payment: Payment, available: int, targets, key: str) -> Posting | None:
    bucket = "patient" if payment.source == "patient" else "insurance"
    if targets:
        total = sum(amount for _, amount in targets)
        if total > available:
            raise LedgerError(f"allocations ({total} cents) exceed what the payment has left ({available} cents)")
        plan = []
        for charge_id, amount in targets:
            _require_positive(amount)
            charge = db.session.get(Charge, charge_id)
            if charge is None or charge.account_id != payment.account_id:
                raise LedgerError(f"charge {charge_id} is not on account {payment.account_id}")
            plan.append((charge, amount))
    else:
        plan, left = [], available
        for charge in _open_charges(payment.account_id, bucket):
            if left == 0:
                break
            owed = charge.patient_balance_cents if bucket == "patient" else charge.insurance_balance_cents
            take = min(owed, left)
            plan.append((charge, take))
            left -= take
    if not plan:
        return None
    posting = work.posting("allocation", key, _fingerprint(op="allocation", payment=payment.id, key=key))
    for charge, amount in plan:
        db.session.add(Allocation(posting_id=posting.id, payment_id=payment.id, charge_id=charge.id,
                                  bucket=bucket, amount_cents=amount))
        work.entry(posting, bucket, -amount, charge_id=charge.id, payment_id=payment.id)
        work.entry(posting, "unapplied", amount, payment_id=payment.id)
    return posting


def refund_payment(payment_id: int, *, amount_cents: int, key: str, actor: str, reason: str, method: str,
                   check_number: str | None = None, processor_reference: str | None = None,
                   credit_only: bool = False) -> Refund:
    """Give back part or all of a payment (to the card, by check or in cash): what is not unapplied
    credit is first taken back from the charges it paid, newest date of service first. With
    `credit_only`, refuse to take anything back from charges (a refund of unapplied credit only)."""
    _require_positive(amount_cents)
    if method not in REFUND_METHODS:
        raise LedgerError(f"refund method must be one of {REFUND_METHODS}")
    if method == "check" and not check_number:
        raise LedgerError("a refund by check needs the check number")
    payment = _payment(payment_id)
    fp = _fingerprint(op="refund", payment=payment_id, amount=amount_cents, method=method, check=check_number)

    def build(account: Account) -> Posting:
        _refuse_if_reversed(payment)
        work = _Work(account, actor)
        shortfall = amount_cents - unapplied_credit(payment.id)
        if shortfall > 0 and credit_only:
            raise LedgerError(f"payment {payment.id} has only {amount_cents - shortfall} cents of unapplied credit")
        if shortfall > 0:
            _unallocate(work, f"{key}#unallocate", reason, payment_id=payment.id, up_to=shortfall)
        posting = work.posting("refund", key, fp, memo=reason)
        db.session.add(Refund(payment_id=payment.id, posting_id=posting.id, amount_cents=amount_cents,
                              method=method, check_number=check_number, stripe_refund_id=processor_reference,
                              reason=reason, created_by=actor))
        work.entry(posting, "unapplied", amount_cents, payment_id=payment.id)
        _commit(work, key)
        return posting

    return _run(payment.account_id, key, fp, build, lambda p: db.session.scalar(
        select(Refund).where(Refund.posting_id == p.id)))


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


def _unallocate(work: _Work, key: str, reason: str, *, charge_id: int | None = None,
                payment_id: int | None = None, up_to: int | None = None) -> None:
    """Return what payments applied to a charge (or what one payment applied) to unapplied credit;
    with `up_to`, only that much, taken from the newest date of service first."""
    query = (
        select(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket,
               -func.sum(LedgerEntry.amount_cents))
        .join(Charge, Charge.id == LedgerEntry.charge_id)
        .where(LedgerEntry.payment_id.is_not(None), LedgerEntry.bucket != "unapplied")
        .group_by(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket, Charge.service_date)
        .order_by(Charge.service_date.desc(), LedgerEntry.charge_id.desc())
    )
    if charge_id is not None:
        query = query.where(LedgerEntry.charge_id == charge_id)
    if payment_id is not None:
        query = query.where(LedgerEntry.payment_id == payment_id)
    left = up_to
    taking = []
    for pay_id, chg_id, bucket, applied in db.session.execute(query):
        amount = applied if left is None else min(applied, left)
        if amount <= 0:
            continue
        taking.append((pay_id, chg_id, bucket, amount))
        if left is not None:
            left -= amount
    if not taking:
        return
    posting = work.posting("unallocation", key, _fingerprint(op="unallocation", key=key), memo=reason)
    for pay_id, chg_id, bucket, amount in taking:
        work.entry(posting, bucket, amount, charge_id=chg_id, payment_id=pay_id)
        work.entry(posting, "unapplied", -amount, payment_id=pay_id)


# ---------------------------------------------------------------- checking


@dataclass
class Discrepancy:
    account_id: int
    account_number: str
    problems: list[str]

    def as_dict(self) -> dict:
        return {"account_id": self.account_id, "account_number": self.account_number, "problems": self.problems}


def check_all() -> tuple[int, list[Discrepancy]]:
    """Recompute every account and charge from entries; report what disagrees with the caches."""
    by_account = defaultdict(lambda: {"insurance": 0, "patient": 0, "unapplied": 0})
    for account_id, bucket, total in db.session.execute(
        select(LedgerEntry.account_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount_cents))
        .group_by(LedgerEntry.account_id, LedgerEntry.bucket)
    ):
        by_account[account_id][bucket] = int(total)
    by_charge = defaultdict(lambda: {"insurance": 0, "patient": 0})
    for charge_id, bucket, total in db.session.execute(
        select(LedgerEntry.charge_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount_cents))
        .where(LedgerEntry.charge_id.is_not(None))
        .group_by(LedgerEntry.charge_id, LedgerEntry.bucket)
    ):
        by_charge[charge_id][bucket] = int(total)
    problems = defaultdict(list)
    for charge in db.session.execute(
        select(Charge.id, Charge.account_id, Charge.amount_cents, Charge.insurance_balance_cents,
               Charge.patient_balance_cents)
    ):
        truth = by_charge[charge.id]
        if (charge.insurance_balance_cents, charge.patient_balance_cents) != (truth["insurance"], truth["patient"]):
            problems[charge.account_id].append(
                f"charge {charge.id}: stored insurance/patient {charge.insurance_balance_cents}/"
                f"{charge.patient_balance_cents}, entries say {truth['insurance']}/{truth['patient']}"
            )
        if min(truth.values()) < 0 or sum(truth.values()) > charge.amount_cents:
            problems[charge.account_id].append(f"charge {charge.id}: balances outside 0..amount")
    accounts = db.session.execute(
        select(Account.id, Account.number, Account.insurance_balance_cents, Account.patient_balance_cents,
               Account.credit_cents).order_by(Account.id)
    ).all()
    for acc in accounts:
        truth = by_account[acc.id]
        stored = (acc.insurance_balance_cents, acc.patient_balance_cents, acc.credit_cents)
        derived = (truth["insurance"], truth["patient"], -truth["unapplied"])
        if stored != derived:
            problems[acc.id].append(
                f"stored insurance/patient/credit {stored[0]}/{stored[1]}/{stored[2]}, "
                f"entries say {derived[0]}/{derived[1]}/{derived[2]}"
            )
    for posting_id, total in db.session.execute(
        select(Payment.id, func.sum(LedgerEntry.amount_cents))
        .join(LedgerEntry, LedgerEntry.payment_id == Payment.id)
        .where(LedgerEntry.bucket == "unapplied").group_by(Payment.id)
    ):
        if total > 0:
            acc_id = db.session.scalar(select(Payment.account_id).where(Payment.id == posting_id))
            problems[acc_id].append(f"payment {posting_id}: applied more than was paid")
    numbers = {a.id: a.number for a in accounts}
    found = [Discrepancy(acc_id, numbers.get(acc_id, "?"), msgs) for acc_id, msgs in sorted(problems.items())]
    return len(accounts), found


# ---------------------------------------------------------------- insurance adjudication (ERA and by hand)


# What each CAS group does to a charge: CO/PI/OA are written off the insurance side, PR moves to the patient.
ADJUSTMENT_KIND_BY_GROUP = {"CO": "contractual", "PI": "payer_reduction", "OA": "other_insurance"}
TRANSFER_REASON_BY_CARC = {"1": "deductible", "2": "coinsurance", "3": "copay", "96": "noncovered",
                           "204": "noncovered", "50": "noncovered"}


@dataclass(frozen=True)
class CasAdjustment:
    group: str  # CO, PR, OA, PI
    carc: str
    amount_cents: int
    rarc: str | None = None


@dataclass(frozen=True)
class LineAdjudication:
    """What a payer decided on one service line, to post against one charge.

    `key` is the line's natural key (e.g. ERA file hash + claim + line); each posting made for
    the line derives its idempotency key from it. With `write_off=False` (a denial being worked)
    CO/PI/OA stay owed by insurance; PR still moves to the patient.
    """

    charge_id: int
    paid_cents: int
    adjustments: tuple[CasAdjustment, ...]
    key: str
    write_off: bool = True


class InsuranceBatch:
    """Insurance payments, adjudicated lines and reversals posted in one transaction.

    The accounts are locked in id order when the batch opens; every operation is checked against
    running balances before it writes anything (so a caller can route a line that does not fit to
    a person instead), and `commit()` writes the rows in bulk, runs the ledger's usual checks on
    everything touched, refreshes the cached balances and commits once. Other rows the caller
    added to the session (remittance records, history) commit with it; any error rolls back all.
    Rows are plain values with ids taken up front, so thousands of lines cost a few statements.
    """

    def __init__(self, account_ids: set[int], *, actor: str):
        self.actor = actor
        self.accounts = lock_accounts(set(account_ids))
        self.deltas = defaultdict(lambda: dict.fromkeys(("insurance", "patient", "unapplied"), 0))
        self.charges: dict[int, Charge] = {}
        self.balances: dict[int, dict[str, int]] = {}
        self.touched_charges: set[int] = set()
        self.touched_payments: set[int] = set()
        self.effective_date: date | None = None
        self.rows: dict[type, list[dict]] = defaultdict(list)
        self._next_id: dict[type, list[int]] = {}
        self._issued: dict[type, list[int]] = defaultdict(list)
        self.now = utcnow()

    # -- reading

    def load_charges(self, charge_ids) -> dict[int, Charge]:
        """Fetch (fresh) the charges this batch will post to; they must be on locked accounts."""
        wanted = sorted(set(charge_ids) - set(self.charges))
        for start in range(0, len(wanted), 1000):
            for charge in db.session.scalars(select(Charge).where(Charge.id.in_(wanted[start:start + 1000]))
                                             .execution_options(populate_existing=True)):
                if charge.account_id not in self.accounts:
                    raise LedgerError(f"charge {charge.id}: its account is not locked by this batch")
                self.charges[charge.id] = charge
                self.balances[charge.id] = {"insurance": charge.insurance_balance_cents,
                                            "patient": charge.patient_balance_cents}
        return {i: self.charges[i] for i in charge_ids if i in self.charges}

    def _charge(self, charge_id: int) -> Charge:
        if charge_id not in self.charges:
            self.load_charges([charge_id])
        if charge_id not in self.charges:
            raise LedgerError(f"charge {charge_id} does not exist")
        return self.charges[charge_id]

    # -- writing

    def new_id(self, model) -> int:
        """The next id for `model`, reserved now (a sequence on PostgreSQL; SQLite's write lock is held).
        Rows written with known ids insert in bulk, without fetching ids back."""
        pool = self._next_id.setdefault(model, [])
        if not pool:
            table = model.__table__.name
            with db.session.no_autoflush:  # the caller's pending rows may point at rows queued here
                if db.session.get_bind().dialect.name == "postgresql":
                    pool.extend(db.session.scalars(db.text(
                        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, 2000)")))
                    pool.reverse()
                else:
                    top = max([db.session.scalar(select(func.max(model.id))) or 0, *self._issued[model]])
                    pool.extend(range(top + 2000, top, -1))
        self._issued[model].append(pool[-1])
        return pool.pop()

    def row(self, model, **values) -> int:
        """Queue a row of `model` to insert at commit (money records here; callers may add their own); its id."""
        values["id"] = self.new_id(model)
        self.rows[model].append(values)
        return values["id"]

    def _posting(self, account_id: int, kind: str, key: str, fp: str, memo: str | None = None,
                 reverses: int | None = None) -> int:
        return self.row(Posting, account_id=account_id, kind=kind, idempotency_key=key, fingerprint=fp, memo=memo,
                         actor=self.actor, reverses_posting_id=reverses, created_at=self.now)

    def _entry(self, posting_id: int, account_id: int, bucket: str, amount: int, *, charge_id: int | None = None,
               payment_id: int | None = None) -> None:
        if amount == 0:
            return
        self.row(LedgerEntry, posting_id=posting_id, account_id=account_id, charge_id=charge_id,
                  payment_id=payment_id, bucket=bucket, amount_cents=amount, created_at=self.now)
        self.deltas[account_id][bucket] += amount
        if charge_id is not None:
            self.touched_charges.add(charge_id)
            self.balances[charge_id][bucket] += amount
        if payment_id is not None:
            self.touched_payments.add(payment_id)

    def payment(self, account_id: int, *, amount_cents: int, method: str, key: str, received_on: date,
                payer_id: int | None = None, reference: str | None = None) -> int:
        """Receive an insurance payment on a locked account, unapplied until lines are adjudicated; its id."""
        _require_positive(amount_cents)
        if method not in PAYMENT_METHODS:
            raise LedgerError(f"unknown payment method {method!r}")
        if account_id not in self.accounts:
            raise LedgerError(f"account {account_id} is not locked by this batch")
        fp = _fingerprint(op="insurance_payment", account=account_id, amount=amount_cents, method=method,
                          reference=reference, payer=payer_id)
        posting_id = self._posting(account_id, "payment", key, fp, memo=reference)
        payment_id = self.row(Payment, account_id=account_id, posting_id=posting_id, source="insurance",
                               method=method, payer_id=payer_id, reference=reference, amount_cents=amount_cents,
                               received_on=received_on, created_by=self.actor, created_at=self.now)
        self._entry(posting_id, account_id, "unapplied", -amount_cents, payment_id=payment_id)
        return payment_id

    def line_problem(self, line: LineAdjudication) -> str | None:
        """Why `line` cannot be posted as it stands (in words), or None."""
        if line.paid_cents < 0:
            return "the payer's paid amount is negative on a line that is not a reversal"
        for adj in line.adjustments:
            if adj.amount_cents < 0:
                return f"adjustment {adj.group}-{adj.carc} is negative on a line that is not a reversal"
            if adj.group not in ADJUSTMENT_KIND_BY_GROUP and adj.group != "PR":
                return f"unknown adjustment group {adj.group!r}"
        self._charge(line.charge_id)
        owed = self.balances[line.charge_id]["insurance"]
        needed = sum(a.amount_cents for a in line.adjustments
                     if a.group == "PR" or (line.write_off and a.group in ("CO", "PI")))
        if needed > owed:
            return (f"the charge has {owed / 100:.2f} owed by insurance, less than the {needed / 100:.2f} "
                    "the payer adjusts or moves to the patient")
        return None

    def adjudicate(self, payment_id: int | None, line: LineAdjudication) -> None:
        """Post one adjudicated line: CO/PI written off (contractual / payer reduction), PR moved to the
        patient with its reason, the paid amount applied to the charge's insurance side (what exceeds
        it stays as unapplied credit on the payment), then OA written off (other_insurance) up to what
        insurance still owes."""
        if problem := self.line_problem(line):
            raise LedgerError(problem)
        if line.paid_cents and payment_id is None:
            raise LedgerError("a paid line needs a payment")
        charge = self._charge(line.charge_id)
        account_id = charge.account_id
        for n, adj in enumerate(line.adjustments, 1):
            if adj.amount_cents == 0 or adj.group == "OA":
                continue
            key = f"{line.key}:{adj.group}{adj.carc}:{n}"
            if adj.group == "PR":
                reason = TRANSFER_REASON_BY_CARC.get(adj.carc, "other")
                posting_id = self._posting(account_id, "transfer", key, _fingerprint(
                    op="transfer", charge=charge.id, amount=adj.amount_cents, to="patient", reason=reason,
                    carc=adj.carc))
                self.row(BalanceTransfer, posting_id=posting_id, charge_id=charge.id, from_bucket="insurance",
                          to_bucket="patient", amount_cents=adj.amount_cents, reason=reason, carc=adj.carc,
                          created_by=self.actor, created_at=self.now)
                self._entry(posting_id, account_id, "insurance", -adj.amount_cents, charge_id=charge.id)
                self._entry(posting_id, account_id, "patient", adj.amount_cents, charge_id=charge.id)
            elif line.write_off:
                self._adjust(charge, adj, adj.amount_cents, key)
        if line.paid_cents:
            applied = min(line.paid_cents, self.balances[charge.id]["insurance"])
            if applied:
                posting_id = self._posting(account_id, "allocation", f"{line.key}:paid", _fingerprint(
                    op="allocation", payment=payment_id, charge=charge.id, amount=applied))
                self.row(Allocation, posting_id=posting_id, payment_id=payment_id, charge_id=charge.id,
                          bucket="insurance", amount_cents=applied)
                self._entry(posting_id, account_id, "insurance", -applied, charge_id=charge.id, payment_id=payment_id)
                self._entry(posting_id, account_id, "unapplied", applied, payment_id=payment_id)
        if line.write_off:
            for n, adj in enumerate(line.adjustments, 1):
                left = self.balances[charge.id]["insurance"]
                if adj.group == "OA" and adj.amount_cents and left:
                    self._adjust(charge, adj, min(adj.amount_cents, left), f"{line.key}:{adj.group}{adj.carc}:{n}")

    def _adjust(self, charge: Charge, adj: CasAdjustment, amount: int, key: str) -> None:
        kind = ADJUSTMENT_KIND_BY_GROUP[adj.group]
        posting_id = self._posting(charge.account_id, "adjustment", key, _fingerprint(
            op="adjustment", charge=charge.id, amount=amount, kind=kind, bucket="insurance", group=adj.group,
            carc=adj.carc, rarc=adj.rarc))
        self.row(Adjustment, posting_id=posting_id, account_id=charge.account_id, charge_id=charge.id,
                  bucket="insurance", kind=kind, amount_cents=amount, group_code=adj.group, carc=adj.carc,
                  rarc=adj.rarc, reason=None, created_by=self.actor, created_at=self.now)
        self._entry(posting_id, charge.account_id, "insurance", -amount, charge_id=charge.id)

    def reversal_problem(self, postings: list[Posting]) -> str | None:
        """Why negating these postings together would break a money rule (in words), or None."""
        after = defaultdict(int)
        negated = defaultdict(int)
        for posting in postings:
            if posting.account_id not in self.accounts:
                return f"posting {posting.id}: its account is not locked by this batch"
            if posting.reversed_by is not None or posting.kind in ("reversal", "unallocation"):
                return f"posting {posting.id} was already reversed"
            for e in posting.entries:
                if e.charge_id is not None:
                    self._charge(e.charge_id)
                    after[(e.charge_id, e.bucket)] -= e.amount_cents
                if e.payment_id is not None:
                    negated[e.payment_id] -= e.amount_cents if e.bucket == "unapplied" else 0
        for (charge_id, bucket), delta in after.items():
            if self.balances[charge_id][bucket] + delta < 0:
                return (f"the {bucket} side of charge {charge_id} was paid or adjusted since; "
                        "undo that first")
        for payment_id, delta in negated.items():
            if unapplied_credit(payment_id) + delta != 0:
                return f"payment {payment_id} was applied or refunded elsewhere since; undo that first"
        return None

    def reverse(self, postings: list[Posting], *, key: str, reason: str) -> None:
        """Negate postings (newest first), each with a reversal posting that points at it."""
        if problem := self.reversal_problem(postings):
            raise LedgerError(problem)
        for original in sorted(postings, key=lambda p: p.id, reverse=True):
            posting_id = self._posting(original.account_id, "reversal", f"{key}:{original.id}",
                                       _fingerprint(op="reverse", posting=original.id), memo=reason,
                                       reverses=original.id)
            for e in original.entries:
                self._entry(posting_id, original.account_id, e.bucket, -e.amount_cents, charge_id=e.charge_id,
                            payment_id=e.payment_id)

    def _insert(self, model) -> None:
        rows = self.rows[model]
        if not rows:
            return
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            db.session.execute(model.__table__.insert(), rows)  # executemany: one statement, many rows
            return
        # COPY: many times faster than row-by-row INSERTs for the thousands of rows of a large remittance.
        columns = list(rows[0])
        copy_sql = f"COPY {model.__table__.name} ({', '.join(columns)}) FROM STDIN"
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if isinstance(v, (list, dict)) else v
                                for v in (row[c] for c in columns)])

    def commit(self, before_commit=None) -> None:
        """Write the money rows, then the session's own (which may point at them) and the other queued
        rows; run `before_commit()`; check the money rules on everything touched, refresh caches, commit once."""
        try:
            money = (Posting, Payment, Allocation, Adjustment, BalanceTransfer, LedgerEntry)
            with db.session.no_autoflush:
                for model in money:
                    self._insert(model)
            db.session.flush()
            for model in [m for m in self.rows if m not in money]:
                self._insert(model)
            if before_commit is not None:
                before_commit()
            _check_and_cache_charges(self.touched_charges, self.effective_date or facility_today())
            _check_payments(self.touched_payments)
            for account_id, delta in self.deltas.items():
                account = self.accounts[account_id]
                account.insurance_balance_cents += delta["insurance"]
                account.patient_balance_cents += delta["patient"]
                account.credit_cents -= delta["unapplied"]
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


def post_insurance_line(line: LineAdjudication, *, actor: str, method: str, received_on: date,
                        payer_id: int | None = None, reference: str | None = None, extra=None) -> Payment | None:
    """Post one insurance-adjudicated line by hand: the payment (if anything was paid), CO/PI
    write-offs, PR moved to the patient, OA. `extra(batch)` may add records that commit with it.
    A replay of the same key returns the first payment and writes nothing."""
    charge = db.session.get(Charge, line.charge_id)
    if charge is None:
        raise LedgerError(f"charge {line.charge_id} does not exist")
    try:
        batch = InsuranceBatch({charge.account_id}, actor=actor)
        done = db.session.scalar(select(Posting).where(Posting.idempotency_key.like(f"{line.key}:%")).limit(1))
        if done is not None:
            db.session.commit()
            return db.session.scalar(select(Payment).where(Payment.posting.has(idempotency_key=f"{line.key}:payment")))
        payment_id = None
        if line.paid_cents:
            payment_id = batch.payment(charge.account_id, amount_cents=line.paid_cents, method=method,
                                       key=f"{line.key}:payment", received_on=received_on, payer_id=payer_id,
                                       reference=reference)
        batch.adjudicate(payment_id, line)
        if extra is not None:
            extra(batch)
    except Exception:
        db.session.rollback()
        raise
    batch.commit()
    return db.session.get(Payment, payment_id) if payment_id else None
