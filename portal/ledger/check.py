"""Checking the ledger whole: every cached balance recomputed from the entries, and the entries bookable in the
general ledger (`flask ledger check`)."""
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Account,
    Charge,
    LedgerEntry,
    Payment,
)


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
    # The general ledger books each posting on one day, and an entry with nothing on its other side only
    # where its posting's entries net to zero: else the journal could not balance.
    for posting_id, account_id in db.session.execute(
        select(LedgerEntry.posting_id, LedgerEntry.account_id).where(LedgerEntry.gl_source == "internal")
        .group_by(LedgerEntry.posting_id, LedgerEntry.account_id).having(func.sum(LedgerEntry.amount_cents) != 0)
    ):
        problems[account_id].append(f"posting {posting_id}: entries booked as internal do not net to zero")
    for posting_id, account_id in db.session.execute(
        select(LedgerEntry.posting_id, LedgerEntry.account_id).group_by(LedgerEntry.posting_id, LedgerEntry.account_id)
        .having(func.count(func.distinct(LedgerEntry.gl_date)) > 1)
    ):
        problems[account_id].append(f"posting {posting_id}: entries booked on different days")
    numbers = {a.id: a.number for a in accounts}
    found = [Discrepancy(acc_id, numbers.get(acc_id, "?"), msgs) for acc_id, msgs in sorted(problems.items())]
    return len(accounts), found
