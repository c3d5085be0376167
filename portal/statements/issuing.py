"""Issuing statements: the frozen snapshot, the pay-by-link code, the statement run."""
import calendar
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from portal import collections, facility, invoices, money, plans
from portal.clock import long_date
from portal.extensions import db
from portal.i18n import N_
from portal.models import (
    Account,
    Adjustment,
    BalanceTransfer,
    Charge,
    LedgerEntry,
    Patient,
    Payment,
    Posting,
    Statement,
)
from portal.statements.reading import send_notice

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read from paper
CODE_LENGTH = 8
REASON_WORDS = {"deductible": N_("Deductible"), "coinsurance": N_("Coinsurance"), "copay": N_("Copay"),
                "noncovered": N_("Not covered by your plan"), "self_pay": N_("Self-pay"), "other": N_("Your share")}


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def is_statement_day(account: Account, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    return account.statement_day == day.day or (day.day == last and account.statement_day > last)


@dataclass
class RunResult:
    as_of: date
    issued: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "issued": self.issued, "skipped": self.skipped}

    def summary(self) -> str:
        lines = [f"statements as of {self.as_of}: {len(self.issued)} issued, {len(self.skipped)} skipped"]
        lines += [f"  {s['account']}: {money.format_usd(s['amount_due_cents'])} due {s['due_date']} (code {s['code']})"
                  for s in self.issued]
        lines += [f"  {s['account']}: skipped, {s['reason']}" for s in self.skipped]
        return "\n".join(lines)


def run(as_of: date, *, actor: str, notify: bool = True) -> RunResult:
    """Issue statements for the accounts whose statement day this is (idempotent per account and date)."""
    result = RunResult(as_of)
    accounts = db.session.scalars(select(Account).order_by(Account.id)).all()
    for account in accounts:
        if not is_statement_day(account, as_of):
            continue
        statement, reason = issue(account, as_of, actor=actor)
        if statement is None:
            result.skipped.append({"account": account.number, "reason": reason})
            continue
        result.issued.append({"account": account.number, "statement_id": statement.id, "code": statement.code,
                              "amount_due_cents": statement.amount_due_cents,
                              "due_date": statement.due_date.isoformat()})
        if notify and statement.notified_at is None:
            send_notice(statement)
    return result


def issue(account: Account, as_of: date, *, actor: str) -> tuple[Statement | None, str | None]:
    """Freeze the account's statement for `as_of`, or say why there is none."""
    existing = db.session.scalar(select(Statement).where(Statement.account_id == account.id,
                                                         Statement.statement_date == as_of))
    if existing is not None:
        return None, "a statement for this date already exists"
    if collections.open_placement(account) is not None:
        # The agency collects now and writes to the guarantor itself: a statement (and its email) from us
        # too would be a second demand for the same debt. A recall resumes them.
        return None, "placed with a collection agency, which sends the statements"
    fac = facility.current()
    due = account.patient_due_cents
    if due <= 0:
        return None, "nothing is due" if due == 0 else "the account has a credit"
    if due < fac.statement_minimum_cents:
        return None, f"below the {money.format_usd(fac.statement_minimum_cents)} minimum"
    last = db.session.scalar(select(Statement).where(Statement.account_id == account.id)
                             .order_by(Statement.statement_date.desc()).limit(1))
    snapshot = build_snapshot(account, as_of, last.statement_date if last else None,
                              last.created_at if last else None)
    message = None
    plan = plans.active_plan(account)
    if plan is not None and plan.status == "active":
        # Plan-summary mode: what is due is the next automatic payment, nothing more.
        upcoming = next((i for i in plan.installments if i.status == "scheduled"), None)
        if upcoming is not None:
            apart = plans.billed_apart_cents(plan)  # new charges the plan does not cover
            due = upcoming.amount_cents + apart
            snapshot["plan"] = {"next_date": upcoming.next_attempt_on.isoformat(),
                                "next_cents": upcoming.amount_cents, "remaining_cents": plans.remaining_cents(plan),
                                "billed_apart_cents": apart}
            message = (f"You are on a payment plan. Your next automatic payment of "
                       f"{money.format_usd(upcoming.amount_cents)} is on {long_date(upcoming.next_attempt_on)}. "
                       + (f"New charges of {money.format_usd(apart)} are due apart from the plan."
                          if apart else "There is nothing else to pay now."))
    if message is None:  # the dunning stage's message (first statement, ..., final notice)
        message = collections.stage_message(account, as_of)
        snapshot["notice"] = message
    statement = Statement(
        account_id=account.id, statement_date=as_of, due_date=as_of + timedelta(days=fac.statement_due_days),
        cycle_number=(last.cycle_number + 1) if last else 1, code=_unique_code(),
        previous_amount_due_cents=last.amount_due_cents if last else 0,
        payments_since_cents=sum(p["amount_cents"] for p in snapshot["payments"]),
        adjustments_since_cents=sum(a["amount_cents"] for a in snapshot["adjustments"]),
        insurance_pending_cents=sum(p["amount_cents"] for p in snapshot["pending"]),
        amount_due_cents=due, snapshot=snapshot, created_by=actor, message=message,
    )
    db.session.add(statement)
    db.session.flush()
    return statement, None


def _unique_code() -> str:
    while True:
        code = new_code()
        if db.session.scalar(select(Statement.id).where(Statement.code == code)) is None:
            return code


def build_snapshot(account: Account, as_of: date, since: date | None,
                   previous_at: datetime | None = None) -> dict:
    """What a statement shows, frozen: visits you owe for, payments and adjustments since the last
    statement (of `since`, issued at `previous_at`), what insurance still has, and the summary."""
    fac = facility.current()
    charges = db.session.scalars(select(Charge).where(Charge.account_id == account.id)
                                 .order_by(Charge.service_date, Charge.id)).all()
    ids = [c.id for c in charges]
    patients = {p.id: p.full_name for p in db.session.scalars(select(Patient).where(Patient.account_id == account.id))}
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    reductions = _reductions_by_charge(account.id)
    reasons = defaultdict(list)
    if ids:
        for t in db.session.scalars(select(BalanceTransfer).where(
                BalanceTransfer.charge_id.in_(ids), BalanceTransfer.to_bucket == "patient",
                BalanceTransfer.posting_id.not_in(reversed_postings))):
            reasons[t.charge_id].append({"reason": REASON_WORDS.get(t.reason, "Your share"),
                                         "amount_cents": t.amount_cents})
    # A charge on an open invoice is listed once, as a statement line naming the invoice (never counted twice).
    invoice_numbers = invoices.numbers_by_charge(ids)
    groups: dict[tuple, dict] = {}
    pending = []
    for charge in charges:
        who = patients.get(charge.patient_id, "")
        if charge.patient_balance_cents > 0:
            group = groups.setdefault((who, charge.service_date), {
                "patient": who, "service_date": charge.service_date.isoformat(), "lines": [], "total_cents": 0})
            # Charge - what insurance paid and adjusted - what you paid and were forgiven - what insurance
            # still owes = what you owe: every figure of the line, so it adds up on its face.
            taken = reductions[charge.id]
            group["lines"].append({
                "description": N_("Outpatient services"), "charge_cents": charge.amount_cents,
                "insurance_paid_cents": taken["insurance", "paid"],
                "insurance_adjusted_cents": taken["insurance", "adjusted"],
                "reasons": reasons.get(charge.id, []),
                "you_paid_cents": taken["patient", "paid"], "you_adjusted_cents": taken["patient", "adjusted"],
                "with_insurance_cents": charge.insurance_balance_cents, "you_owe_cents": charge.patient_balance_cents,
                "invoice": invoice_numbers.get(charge.id),
            })
            group["total_cents"] += charge.patient_balance_cents
        if charge.insurance_balance_cents > 0:
            pending.append({"patient": who, "service_date": charge.service_date.isoformat(),
                            "amount_cents": charge.insurance_balance_cents})
    payment_query = select(Payment).where(
        Payment.account_id == account.id, Payment.source == "patient", Payment.received_on <= as_of,
        Payment.posting_id.not_in(reversed_postings)).order_by(Payment.received_on, Payment.id)
    if since is not None:
        payment_query = payment_query.where(Payment.received_on > since)
    payments = [{"date": p.received_on.isoformat(), "method": p.method, "amount_cents": p.amount_cents}
                for p in db.session.scalars(payment_query)]
    adjustment_query = select(Adjustment).where(
        Adjustment.account_id == account.id, Adjustment.bucket == "patient",
        Adjustment.posting_id.not_in(reversed_postings))
    if since is not None:
        adjustment_query = adjustment_query.where(func.date(Adjustment.created_at) > since)
    adjustments = [{"date": a.created_at.date().isoformat(), "description": a.kind.replace("_", " ").capitalize(),
                    "amount_cents": a.amount_cents} for a in db.session.scalars(adjustment_query)]
    return {
        "facility": {"name": fac.neutral_name, "phone": fac.phone,
                     "remit_address": fac.remit_address or fac.neutral_name},
        "guarantor": {"name": account.guarantor_name, "number": account.number,
                      "address": [x for x in (account.address_line1,
                                              " ".join(filter(None, (account.city, account.state, account.zip_code))))
                                  if x]},
        "groups": list(groups.values()),
        "payments": payments,
        "adjustments": adjustments,
        "pending": pending,
        "credit_cents": account.credit_cents,
        "summary": period_summary(account.id, previous_at),
    }


# What each kind of posting is on a statement; a reversal counts as the kind it reverses, negated.
_PAID = ("allocation", "unallocation")


def _reductions_by_charge(account_id: int) -> dict[int, dict[tuple[str, str], int]]:
    """Per charge, what took its balance down: {(bucket, "paid" | "adjusted"): cents}, reversals netted."""
    original = aliased(Posting)
    kind = func.coalesce(original.kind, Posting.kind)
    found: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    for charge_id, bucket, kind_of, total in db.session.execute(
        select(LedgerEntry.charge_id, LedgerEntry.bucket, kind, func.sum(LedgerEntry.amount_cents))
        .join(Posting, Posting.id == LedgerEntry.posting_id)
        .outerjoin(original, original.id == Posting.reverses_posting_id)
        .where(LedgerEntry.account_id == account_id, LedgerEntry.charge_id.is_not(None),
               kind.in_((*_PAID, "adjustment")))
        .group_by(LedgerEntry.charge_id, LedgerEntry.bucket, kind)
    ):
        found[charge_id][bucket, "paid" if kind_of in _PAID else "adjusted"] -= int(total)
    return found


def period_summary(account_id: int, previous_at: datetime | None) -> dict:
    """The account since the last statement (posted after `previous_at`), as a sum that adds up:
    previous balance + new charges - insurance paid - adjustments - your payments + refunds = balance;
    balance - still with insurance = your part. From the ledger entries: a reversal counts against the
    kind it reverses; moves between insurance and you (and applying a payment) change no total."""
    original = aliased(Posting)
    kind = func.coalesce(original.kind, Posting.kind)
    # Whether an entry came before the last statement (no last statement: none did).
    split = [] if previous_at is None else [Posting.created_at <= previous_at]
    figures = dict.fromkeys(("previous_balance", "new_charges", "insurance_paid", "adjustments", "your_payments",
                             "refunds", "other"), 0)
    with_insurance = 0
    for kind_of, bucket, source, total, *before in db.session.execute(
        select(kind, LedgerEntry.bucket, Payment.source, func.sum(LedgerEntry.amount_cents), *split)
        .join(Posting, Posting.id == LedgerEntry.posting_id)
        .outerjoin(original, original.id == Posting.reverses_posting_id)
        .outerjoin(Payment, Payment.id == LedgerEntry.payment_id)
        .where(LedgerEntry.account_id == account_id)
        .group_by(kind, LedgerEntry.bucket, Payment.source, *split)
    ):
        total = int(total)
        with_insurance += total if bucket == "insurance" else 0
        if before and before[0]:
            figures["previous_balance"] += total
        elif kind_of == "charge":
            figures["new_charges"] += total
        elif kind_of == "payment" and source == "insurance":
            figures["insurance_paid"] -= total
        elif kind_of == "payment":
            figures["your_payments"] -= total
        elif kind_of == "adjustment":
            figures["adjustments"] -= total
        elif kind_of == "refund":
            figures["refunds"] += total
        else:  # applying credit, moving responsibility: zero in all, kept so the sum stays exact
            figures["other"] += total
    balance = (figures["previous_balance"] + figures["new_charges"] - figures["insurance_paid"]
               - figures["adjustments"] - figures["your_payments"] + figures["refunds"] + figures["other"])
    return {**{f"{name}_cents": value for name, value in figures.items()}, "balance_cents": balance,
            "with_insurance_cents": with_insurance, "your_part_cents": balance - with_insurance}
