"""Insurance."""
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.engine import (
    _check_and_cache_charges,
    _check_payments,
    _fingerprint,
    _require_positive,
    lock_accounts,
)
from portal.ledger.errors import LedgerError
from portal.ledger.payments import unapplied_credit
from portal.models import (
    Adjustment,
    Allocation,
    BalanceTransfer,
    Charge,
    LedgerEntry,
    Payment,
    Posting,
    utcnow,
)
from portal.models.ledger import PAYMENT_METHODS

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
