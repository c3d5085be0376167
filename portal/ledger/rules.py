"""The money rules, checked on everything a unit of work touched, and the cached charge balances refreshed."""
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import ExternallyTraversible, replacement_traverse

from portal.extensions import db
from portal.ledger.errors import CHARGE_BUCKETS, LedgerError
from portal.models import Account, Charge, LedgerEntry, Payment, Posting
from portal.sql import among


def reversed_posting_ids(posting_ids) -> set[int]:
    """Which of these postings a reversal points at."""
    return set(db.session.scalars(
        select(Posting.reverses_posting_id).where(among(Posting.reverses_posting_id, posting_ids))
    ))


def _charge_sums(charge_ids) -> dict[int, dict[str, int]]:
    sums = defaultdict(lambda: dict.fromkeys(CHARGE_BUCKETS, 0))
    rows = db.session.execute(
        select(LedgerEntry.charge_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount_cents))
        .where(among(LedgerEntry.charge_id, charge_ids))
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
    charges = db.session.execute(
        select(Charge.id, Charge.amount_cents, Charge.posting_id, Charge.patient_responsible_since)
        .where(among(Charge.id, charge_ids))
    ).all()
    reversed_ids = reversed_posting_ids([c.posting_id for c in charges])
    cached = []
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
        since = charge.patient_responsible_since
        cached.append({"charge": charge.id, "insurance": balances["insurance"], "patient": balances["patient"],
                       "since": on if balances["patient"] > 0 and since is None else since})
    _store(Charge, cached, {"charge": Integer, "insurance": BigInteger, "patient": BigInteger, "since": Date},
           insurance_balance_cents=bindparam("insurance"), patient_balance_cents=bindparam("patient"),
           patient_responsible_since=bindparam("since"))


def _store(model, rows: list[dict], types: dict, **values: ColumnElement) -> None:
    """One UPDATE statement for many rows (by id, given as "charge"/"account"; `types` names the SQL
    type of each key of the rows), not an ORM flush of each; the session's copies of those rows read
    the new values when next used. On PostgreSQL the rows travel as one array per key (a statement
    per row costs seconds for the thousands of charges of a large remittance)."""
    if not rows:
        return
    table = model.__table__
    id_name = next(iter(rows[0]))
    if db.session.get_bind().dialect.name == "postgresql":
        given = select(*(func.unnest(bindparam(None, [row[key] for row in rows], type_=ARRAY(type_))).label(key)
                         for key, type_ in types.items())).subquery("given")

        def from_given(element: ExternallyTraversible, **_kw: Any) -> ExternallyTraversible | None:
            if isinstance(element, BindParameter) and element.key in types:
                return given.c[element.key]
            return None

        db.session.execute(table.update().where(table.c.id == given.c[id_name]).values(
            **{name: replacement_traverse(value, {}, from_given) for name, value in values.items()}))
    else:
        db.session.execute(table.update().where(table.c.id == bindparam(id_name)).values(**values), rows)
    for row in rows:
        if (obj := db.session.identity_map.get(identity_key(model, row[id_name]))) is not None:
            db.session.expire(obj, list(values))


def store_account_balances(deltas: dict[int, dict[str, int]]) -> None:
    """Add each account's change to its cached balances (the accounts are locked)."""
    table = Account.__table__
    _store(Account, [{"account": account_id, "insurance": delta["insurance"], "patient": delta["patient"],
                      "unapplied": delta["unapplied"]} for account_id, delta in deltas.items()],
           {"account": Integer, "insurance": BigInteger, "patient": BigInteger, "unapplied": BigInteger},
           insurance_balance_cents=table.c.insurance_balance_cents + bindparam("insurance"),
           patient_balance_cents=table.c.patient_balance_cents + bindparam("patient"),
           credit_cents=table.c.credit_cents - bindparam("unapplied"))


def check_payments(payment_ids: set[int]) -> None:
    """A payment never applies more than it has, a reversed one keeps nothing, and nothing is taken back twice."""
    if not payment_ids:
        return
    credit = dict(db.session.execute(
        select(LedgerEntry.payment_id, -func.sum(LedgerEntry.amount_cents))
        .where(among(LedgerEntry.payment_id, payment_ids), LedgerEntry.bucket == "unapplied")
        .group_by(LedgerEntry.payment_id)
    ).all())
    applied = db.session.execute(
        select(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket,
               -func.sum(LedgerEntry.amount_cents))
        .where(among(LedgerEntry.payment_id, payment_ids), LedgerEntry.bucket != "unapplied")
        .group_by(LedgerEntry.payment_id, LedgerEntry.charge_id, LedgerEntry.bucket)
    ).all()
    payments = db.session.execute(select(Payment.id, Payment.posting_id).where(among(Payment.id, payment_ids))).all()
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
