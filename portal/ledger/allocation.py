"""Allocation: a payment's credit applied to open charges (chosen, or oldest date of service first), and undone."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.ledger.engine import UnitOfWork, fingerprint, require_positive
from portal.ledger.errors import LedgerError
from portal.ledger.records import add_allocation
from portal.models.billing import Charge
from portal.models.ledger import LedgerEntry


def open_charges(account_id: int, bucket: str, page_size: int = 50):
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


def allocate(uow: UnitOfWork, payment_id: int, account_id: int, bucket: str, available: int, targets,
             key: str) -> int | None:
    """Apply up to `available` of the payment to `bucket`: the (charge id, cents) `targets`, or else the
    open charges oldest service date first; the allocation posting's id (None if nothing was owed)."""
    if targets:
        total = sum(amount for _, amount in targets)
        if total > available:
            raise LedgerError(f"allocations ({total} cents) exceed what the payment has left ({available} cents)")
        plan = []
        for charge_id, amount in targets:
            require_positive(amount)
            charge = db.session.get(Charge, charge_id)
            if charge is None or charge.account_id != account_id:
                raise LedgerError(f"charge {charge_id} is not on account {account_id}")
            plan.append((charge, amount))
    else:
        plan, left = [], available
        for charge in open_charges(account_id, bucket):
            if left == 0:
                break
            owed = charge.patient_balance_cents if bucket == "patient" else charge.insurance_balance_cents
            take = min(owed, left)
            plan.append((charge, take))
            left -= take
    if not plan:
        return None
    posting_id = uow.posting(account_id, "allocation", key, fingerprint(op="allocation", payment=payment_id, key=key))
    for charge, amount in plan:
        add_allocation(uow, posting_id, payment_id, charge.id, bucket, amount)
    return posting_id


def unallocate(uow: UnitOfWork, account_id: int, key: str, reason: str, *, charge_id: int | None = None,
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
    posting_id = uow.posting(account_id, "unallocation", key, fingerprint(op="unallocation", key=key), memo=reason)
    for pay_id, chg_id, bucket, amount in taking:
        uow.entry(posting_id, bucket, amount, charge_id=chg_id, payment_id=pay_id)
        uow.entry(posting_id, "unapplied", -amount, payment_id=pay_id)
