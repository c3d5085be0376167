"""The month-end report: cash received by source, and the A/R roll-forward per program
(opening + charges - payments - adjustments = closing), all from the ledger's GL-dated entries.

A program is the one the charge's episode of care belongs to; a charge entered outside an episode
shows under its code's level of care ("IOP, no episode"), or "No program" when the code has none.
Payments are what was applied to charges (an allocation; a refund's or reversal's take-back counts
against it); transfers between insurance and the patient move nothing in the total.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func, literal, select

from portal.extensions import db
from portal.finance import payouts
from portal.finance.journal import month_of, next_month
from portal.models import Account, BillingCode, Charge, Episode, LedgerEntry, Payment, Program

NO_PROGRAM = "No program"
LEVEL_WORDS = {"iop": "IOP", "php": "PHP", "outpatient": "Outpatient", "residential": "Residential",
               "detox": "Detox", "other": "Other services"}
METHOD_WORDS = {"card": "Card (online)", "card_present": "Card (desk)", "cash": "Cash", "check": "Check",
                "eft": "EFT", "insurance_check": "Insurance check", "other": "Agency / other"}


@dataclass
class RollForward:
    program: str
    opening_cents: int = 0
    charges_cents: int = 0
    payments_cents: int = 0
    adjustments_cents: int = 0
    closing_cents: int = 0

    @property
    def balances(self) -> bool:
        return self.opening_cents + self.charges_cents - self.payments_cents - self.adjustments_cents \
            == self.closing_cents


@dataclass
class MonthEnd:
    month: date
    cash: list[tuple[str, int]]  # (source in words, cents received less refunds)
    refunds: list[tuple[str, int]]
    card_fees_cents: int
    programs: list[RollForward]
    total: RollForward
    credit_opening_cents: int
    credit_closing_cents: int
    corrections: int = 0  # lines booked this month that belong to a closed month
    notes: list[str] = field(default_factory=list)

    @property
    def cash_total_cents(self) -> int:
        return sum(cents for _, cents in self.cash) - sum(cents for _, cents in self.refunds)


def _category():
    return case((LedgerEntry.gl_source.startswith("revenue:"), literal("charges")),
                (LedgerEntry.gl_source == "internal", literal("payments")),
                else_=literal("adjustments"))


def report(facility_id: int, month: date) -> MonthEnd:
    month = month_of(month)
    last = next_month(month) - timedelta(days=1)
    ours = Account.facility_id == facility_id
    receivable = LedgerEntry.bucket.in_(("insurance", "patient"))
    base = (select(Program.name, BillingCode.level_of_care, func.sum(LedgerEntry.amount_cents))
            .select_from(LedgerEntry).join(Account, Account.id == LedgerEntry.account_id)
            .join(Charge, Charge.id == LedgerEntry.charge_id)
            .join(BillingCode, BillingCode.id == Charge.billing_code_id)
            .outerjoin(Episode, Episode.id == Charge.episode_id).outerjoin(Program, Program.id == Episode.program_id)
            .where(ours, receivable))
    by_program = (Program.name, BillingCode.level_of_care)
    rows: dict[str, RollForward] = {}

    def row(program: str | None, level: str | None) -> RollForward:
        name = program or (f"{LEVEL_WORDS.get(level, level)}, no episode" if level else NO_PROGRAM)
        return rows.setdefault(name, RollForward(name))

    for program, level, cents in db.session.execute(base.where(LedgerEntry.gl_date < month).group_by(*by_program)):
        row(program, level).opening_cents += int(cents)
    for program, level, cents in db.session.execute(base.where(LedgerEntry.gl_date <= last).group_by(*by_program)):
        row(program, level).closing_cents += int(cents)
    category = _category()  # one expression: PostgreSQL matches the GROUP BY to the column by its parameters
    moved = base.add_columns(category.label("category")).where(
        LedgerEntry.gl_date >= month, LedgerEntry.gl_date <= last).group_by(*by_program, category)
    for program, level, cents, kind in db.session.execute(moved):
        target, cents = row(program, level), int(cents)
        if kind == "charges":
            target.charges_cents += cents
        elif kind == "payments":
            target.payments_cents -= cents
        else:
            target.adjustments_cents -= cents
    programs = sorted(rows.values(), key=lambda r: (r.program == NO_PROGRAM, "no episode" in r.program, r.program))
    everything = RollForward("All programs", *(sum(getattr(r, f) for r in programs) for f in (
        "opening_cents", "charges_cents", "payments_cents", "adjustments_cents", "closing_cents")))

    in_month = (LedgerEntry.gl_date >= month, LedgerEntry.gl_date <= last)
    cash: dict[str, int] = defaultdict(int)
    for source, method, amount in db.session.execute(
            select(Payment.source, Payment.method, func.sum(LedgerEntry.amount_cents))
            .join(Account, Account.id == LedgerEntry.account_id).join(Payment, Payment.id == LedgerEntry.payment_id)
            .where(ours, *in_month, LedgerEntry.gl_source.startswith("cash:"))
            .group_by(Payment.source, Payment.method)):
        cash[f"{'Insurance' if source == 'insurance' else 'Patient'} — {METHOD_WORDS.get(method, method)}"] -= \
            int(amount)
    refunds = {f"Refunds — {source.removeprefix('refund:')}": int(amount) for source, amount in db.session.execute(
        select(LedgerEntry.gl_source, func.sum(LedgerEntry.amount_cents))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(ours, *in_month, LedgerEntry.gl_source.startswith("refund:")).group_by(LedgerEntry.gl_source))}
    credit = select(-func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).join(
        Account, Account.id == LedgerEntry.account_id).where(ours, LedgerEntry.bucket == "unapplied")
    corrections = db.session.scalar(select(func.count()).select_from(LedgerEntry).join(
        Account, Account.id == LedgerEntry.account_id).where(ours, *in_month, LedgerEntry.gl_corrects.is_not(None)))
    fees = sum(m.amount_cents for m in payouts.journal_movements(facility_id, month, last) if m.source == "card_fees")
    return MonthEnd(
        month=month, cash=sorted((k, v) for k, v in cash.items() if v), refunds=sorted(refunds.items()),
        card_fees_cents=fees, programs=programs, total=everything,
        credit_opening_cents=int(db.session.scalar(credit.where(LedgerEntry.gl_date < month))),
        credit_closing_cents=int(db.session.scalar(credit.where(LedgerEntry.gl_date <= last))),
        corrections=int(corrections or 0))
