"""The unit of work: the one way the ledger writes.

A `UnitOfWork` locks its accounts in id order, queues the rows of one or many postings with ids
reserved up front, and at `commit()` inserts them in bulk, runs the caller's hook, checks the money
rules on everything touched, refreshes the cached balances and commits once; any error rolls all
of it back. `run()` wraps it for an operation idempotent on one key: replay or build, commit.
"""
import hashlib
import json
from collections import defaultdict
from datetime import date
from operator import itemgetter

import psycopg
from sqlalchemy import JSON, func, select
from sqlalchemy.exc import IntegrityError

from portal.clock import facility_today
from portal.extensions import db
from portal.ledger.errors import IdempotencyConflict, LedgerError
from portal.ledger.rules import check_and_cache_charges, check_payments, store_account_balances
from portal.locking import lock_rows
from portal.models import (
    Account,
    Adjustment,
    Allocation,
    BalanceTransfer,
    Charge,
    GlPeriod,
    LedgerEntry,
    Payment,
    Posting,
    Refund,
)

# Insert order of the money rows (each points only at rows before it).
MONEY_ROWS = (Posting, Charge, Payment, Refund, Allocation, Adjustment, BalanceTransfer, LedgerEntry)
BUCKETS = ("insurance", "patient", "unapplied")


def fingerprint(**fields) -> str:
    """What a posting was asked to do, to tell a replay from a reused key."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def require_positive(amount_cents: int) -> None:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise LedgerError("amount must be a positive whole number of cents")


def lock_account(account_id: int) -> Account:
    """Lock the account row until commit (SQLite: hold the database write lock)."""
    return lock_accounts({account_id})[account_id]


def lock_accounts(account_ids: set[int]) -> dict[int, Account]:
    """Lock account rows in id order (no deadlock between two batches) until commit."""
    accounts = lock_rows(Account, account_ids)
    if missing := set(account_ids) - set(accounts):
        raise LedgerError(f"account {min(missing)} does not exist")
    return accounts


def existing_posting(key: str, fp: str) -> Posting | None:
    """The posting already made under `key`; a different operation under it is refused."""
    posting = db.session.scalar(select(Posting).where(Posting.idempotency_key == key))
    if posting is not None and posting.fingerprint != fp:
        raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different posting")
    return posting


class UnitOfWork:
    """One ledger transaction over locked accounts.

    Rows are plain values queued with `row()` (ids reserved now, so rows can point at each other and
    thousands of lines cost a few statements); `posting()` and `entry()` queue the ledger's own and
    keep the running balances of the accounts and of the charges `load_charges()` fetched.
    """

    def __init__(self, account_ids, *, actor: str, effective_date: date | None = None, before_session=()):
        self.actor = actor
        # Models whose queued rows go in right after the money rows, before the session's own pending
        # rows (which may point at them), in this order.
        self.before_session = tuple(before_session)
        self.effective_date = effective_date  # the day patient responsibility starts (default: today)
        self.accounts = lock_accounts(set(account_ids))
        self.rows: dict[type, list[dict]] = defaultdict(list)
        self.deltas = defaultdict(lambda: dict.fromkeys(BUCKETS, 0))
        self.charges: dict[int, Charge] = {}
        self.balances: dict[int, dict[str, int]] = {}  # running balances of the loaded charges
        self.touched_charges: set[int] = set()
        self.touched_payments: set[int] = set()
        self.new_charges: set[int] = set()  # written whole by this unit: the rules hold by construction
        self._account_of_posting: dict[int, int] = {}
        self._booking: dict[int, tuple[str, date, date | None]] = {}  # posting id -> GL source, date, corrects
        self._closed: dict[int, set[date]] = {}  # facility id -> its closed months
        self.today = facility_today()
        self._defaults: dict[type, dict] = {}
        self._ids: dict[type, list[int]] = {}
        self._fetches: dict[type, int] = defaultdict(int)
        self._last: dict[type, int] = {}

    # -- reading

    def load_charges(self, charge_ids) -> dict[int, Charge]:
        """Fetch (fresh) the charges this unit will post to; they must be on locked accounts."""
        charge_ids = list(charge_ids)
        wanted = sorted(set(charge_ids) - set(self.charges))
        for start in range(0, len(wanted), 1000):
            for charge in db.session.scalars(select(Charge).where(Charge.id.in_(wanted[start:start + 1000]))
                                             .execution_options(populate_existing=True)):
                if charge.account_id not in self.accounts:
                    raise LedgerError(f"charge {charge.id}: its account is not locked by this unit of work")
                self.charges[charge.id] = charge
                self.balances[charge.id] = {"insurance": charge.insurance_balance_cents,
                                            "patient": charge.patient_balance_cents}
        return {i: self.charges[i] for i in charge_ids if i in self.charges}

    def charge(self, charge_id: int) -> Charge:
        if charge_id not in self.charges:
            self.load_charges([charge_id])
        if charge_id not in self.charges:
            raise LedgerError(f"charge {charge_id} does not exist")
        return self.charges[charge_id]

    # -- writing

    def new_id(self, model) -> int:
        """The next id for `model`, reserved now (a sequence on PostgreSQL; SQLite's write lock is held)."""
        pool = self._ids.setdefault(model, [])
        if not pool:
            table = model.__table__.name
            with db.session.no_autoflush:  # the caller's pending rows may point at rows queued here
                if db.session.get_bind().dialect.name == "postgresql":
                    # Few ids for a small operation, twice as many each time it needs more (a large
                    # remittance: a few round trips, not hundreds); numbers taken and not used are lost.
                    size = min(1 << 16, 4 << self._fetches[model])
                    pool.extend(db.session.scalars(db.text(
                        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, {size})")))
                    pool.reverse()
                else:
                    top = max(db.session.scalar(select(func.max(model.id))) or 0, self._last.get(model, 0))
                    pool.extend(range(top + 2000, top, -1))
            self._fetches[model] += 1
        self._last[model] = pool[-1]
        return pool.pop()

    def row(self, model, **values) -> int | None:
        """Queue a row of `model` to insert at commit; its id (reserved now). Unnamed columns take their default."""
        defaults = self._column_defaults(model)
        if not defaults.keys() >= values.keys():
            raise TypeError(f"{model.__name__} has no column {sorted(values.keys() - defaults.keys())[0]!r}")
        row = {**defaults, **values}
        if "id" in row and row["id"] is None:
            row["id"] = self.new_id(model)
        self.rows[model].append(row)
        return row.get("id")

    def _column_defaults(self, model) -> dict:
        """Every column of `model` with its default (taken once: one timestamp for the whole unit)."""
        if (found := self._defaults.get(model)) is not None:
            return found
        defaults = {}
        for column in model.__table__.columns:
            default = column.default
            if default is not None and default.is_scalar:
                defaults[column.name] = default.arg
            elif default is not None and default.is_callable:
                defaults[column.name] = default.arg(None)
            else:
                defaults[column.name] = None
        self._defaults[model] = defaults
        return defaults

    def posting(self, account_id: int, kind: str, key: str, fp: str, *, memo: str | None = None,
                reverses: int | None = None, gl_source: str = "internal", gl_date: date | None = None) -> int:
        """Queue a posting on a locked account; its id (entries name it). `gl_source` is what the general
        ledger books against its buckets (the default: nothing, its entries net to zero); `gl_date` the day
        it belongs to (default: today)."""
        if account_id not in self.accounts:
            raise LedgerError(f"account {account_id} is not locked by this unit of work")
        posting_id = self.row(Posting, account_id=account_id, kind=kind, idempotency_key=key, fingerprint=fp,
                              memo=memo, actor=self.actor, reverses_posting_id=reverses)
        self._account_of_posting[posting_id] = account_id
        self._booking[posting_id] = (gl_source, *self._book(account_id, gl_date or self.today))
        return posting_id

    def closed_months(self, account_id: int) -> set[date]:
        facility_id = self.accounts[account_id].facility_id
        if facility_id not in self._closed:
            self._closed[facility_id] = set(db.session.scalars(
                select(GlPeriod.month).where(GlPeriod.facility_id == facility_id)))
        return self._closed[facility_id]

    def _book(self, account_id: int, day: date) -> tuple[date, date | None]:
        """The GL day for something that belongs to `day`: that day, or today when its month is closed
        (then the line says which month it corrects)."""
        month = day.replace(day=1)
        if month < self.today.replace(day=1) and month in self.closed_months(account_id):
            return self.today, month
        return day, None

    def entry(self, posting_id: int, bucket: str, amount: int, *, charge_id: int | None = None,
              payment_id: int | None = None, mirrors: LedgerEntry | None = None) -> None:
        """Queue what the posting changes in one bucket (nothing for zero); keep the running balances.
        An entry that `mirrors` another (a reversal's) books against the same GL source, today."""
        if amount == 0:
            return
        account_id = self._account_of_posting[posting_id]
        gl_source, gl_date, corrects = self._booking[posting_id]
        if mirrors is not None:  # undoing a line of a closed month corrects that month; of an open one, what it did
            gl_source = mirrors.gl_source
            month = mirrors.gl_date.replace(day=1)
            closed = month < self.today.replace(day=1) and month in self.closed_months(account_id)
            corrects = month if closed else mirrors.gl_corrects
        self.row(LedgerEntry, posting_id=posting_id, account_id=account_id, charge_id=charge_id,
                 payment_id=payment_id, bucket=bucket, amount_cents=amount, gl_date=gl_date, gl_source=gl_source,
                 gl_corrects=corrects)
        self.deltas[account_id][bucket] += amount
        if charge_id is not None:
            self.touched_charges.add(charge_id)
            if charge_id in self.balances:
                self.balances[charge_id][bucket] += amount
        if payment_id is not None:
            self.touched_payments.add(payment_id)

    # -- committing

    def release(self) -> None:
        """Write nothing and let the locks go (the caller found its work already done)."""
        db.session.commit()

    def commit(self, before_commit=None) -> None:
        """Insert the money rows (and those named `before_session`), flush the session's own (which may
        point at them), insert the other queued rows; run `before_commit()` (rows it adds commit too);
        check the money rules on everything touched, refresh the cached balances, commit once. Any
        error rolls everything back."""
        try:
            late = self._months_written_late()
            with db.session.no_autoflush:
                for model in (*MONEY_ROWS, *self.before_session):
                    self._insert(model)
            self._refuse_if_closed_meanwhile(late)
            db.session.flush()
            for other in list(self.rows):  # what is left: rows that may point at the session's
                self._insert(other)
            if before_commit is not None:
                before_commit()
            check_and_cache_charges(self.touched_charges - self.new_charges, self.effective_date or facility_today())
            check_payments(self.touched_payments)
            store_account_balances(self.deltas)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise

    def _months_written_late(self) -> set[tuple[int, date]]:
        """(facility, month) of the entries booked in a month before this one (by the clock now)."""
        this_month = facility_today().replace(day=1)
        return {(self.accounts[row["account_id"]].facility_id, row["gl_date"].replace(day=1))
                for row in self.rows.get(LedgerEntry, ()) if row["gl_date"] < this_month}

    def _refuse_if_closed_meanwhile(self, late: set[tuple[int, date]]) -> None:
        """A month closed while this unit was writing into it (the unit began before midnight ended it):
        closing waits for the rows written, so reading the period row now tells."""
        for facility_id, month in sorted(late):
            closed = db.session.scalar(select(GlPeriod.id).where(
                GlPeriod.facility_id == facility_id, GlPeriod.month == month).with_for_update(read=True))
            if closed is not None and month not in self._closed.get(facility_id, ()):
                raise LedgerError(f"{month:%B %Y} was closed while this was being posted; post it again")

    def _insert(self, model) -> None:
        rows = self.rows.pop(model, None)
        if not rows:
            return
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            db.session.execute(model.__table__.insert(), rows)  # executemany: one statement, many rows
            return
        # COPY: many times faster than row-by-row INSERTs for the thousands of rows of a large remittance.
        columns = list(rows[0])  # every row has every column, in the same order (`row()`)
        values_of = itemgetter(*columns)
        json_at = [i for i, c in enumerate(columns) if isinstance(model.__table__.c[c].type, JSON)]
        copy_sql = f"COPY {model.__table__.name} ({', '.join(columns)}) FROM STDIN"
        try:
            with connection.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    values = values_of(row)
                    if json_at:
                        values = list(values)
                        for i in json_at:
                            if isinstance(values[i], (list, dict)):
                                values[i] = json.dumps(values[i])
                    copy.write_row(values)
        except psycopg.IntegrityError as exc:  # the driver's own: callers catch SQLAlchemy's (a race lost on a key)
            raise IntegrityError(copy_sql, None, exc) from exc


def run(account_ids, *, key: str, fp: str, actor: str, build, result_of, also=None,
        effective_date: date | None = None):
    """One operation idempotent on `key`: lock, then replay (what the key made before) or
    `build(uow)` (queue the rows, return the posting id under `key`) and commit; `result_of(posting_id)`
    is what the caller gets. `also(result)` runs in the same transaction once the rows are written;
    rows it adds commit with them. A race lost on a unique key is retried once (it replays then)."""
    for attempt in range(2):
        try:
            uow = UnitOfWork(account_ids, actor=actor, effective_date=effective_date)
            if (done := existing_posting(key, fp)) is not None:
                db.session.commit()  # release the lock
                return result_of(done.id)
            posting_id = build(uow)
            hook = None if also is None else (lambda made=posting_id: also(result_of(made)))
            uow.commit(before_commit=hook)
            return result_of(posting_id)
        except IntegrityError as exc:
            db.session.rollback()
            if attempt:
                if (done := existing_posting(key, fp)) is not None:
                    return result_of(done.id)
                raise LedgerError(f"posting {key!r} could not be written") from exc
        except Exception:
            db.session.rollback()
            raise
