"""Issuing statements: the frozen snapshot, the pay-by-link code, the statement run."""
import calendar
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Date, case, func, literal, or_, select, true
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
    Facility,
    LedgerEntry,
    Patient,
    Payment,
    PaymentPlan,
    Placement,
    Posting,
    Statement,
)
from portal.models.base import UTCDateTime
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


# Accounts issued per round of the run: each round reads its accounts' figures in a fixed number of queries,
# flushes its statements together and then lets go of the rows it loaded, so a run's cost per account stays
# the same however many accounts there are.
RUN_CHUNK = 500


def _statement_day_is(day: date):
    """SQL for `is_statement_day`: the day of the month, or any later day when `day` ends a shorter month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return Account.statement_day >= day.day if day.day == last else Account.statement_day == day.day


def run(as_of: date, *, actor: str, notify: bool = True) -> RunResult:
    """Issue statements for the accounts whose statement day this is (idempotent per account and date).
    Only mail is queued here: a statement's PDF is rendered when it is first asked for."""
    result = RunResult(as_of)
    fac = facility.current()
    callers = set(db.session.identity_map.keys())  # rows the caller holds stay in the session
    due = list(db.session.scalars(select(Account.id).where(_statement_day_is(as_of)).order_by(Account.id)))
    for start in range(0, len(due), RUN_CHUNK):
        accounts = list(db.session.scalars(select(Account).where(Account.id.in_(due[start:start + RUN_CHUNK]))
                                           .order_by(Account.id)))
        for account, (statement, reason) in zip(accounts, _issue_many(accounts, as_of, actor=actor, fac=fac)):
            if statement is None:
                result.skipped.append({"account": account.number, "reason": reason})
                continue
            result.issued.append({"account": account.number, "statement_id": statement.id, "code": statement.code,
                                  "amount_due_cents": statement.amount_due_cents,
                                  "due_date": statement.due_date.isoformat()})
            if notify and statement.notified_at is None:
                send_notice(statement)
        db.session.flush()
        _let_go(callers)
    return result


def _let_go(kept: set) -> None:
    """Detach the (flushed) rows this round loaded, so the session does not grow with the run."""
    for state in list(db.session.identity_map.all_states()):
        row = state.obj()
        if state.key not in kept and row is not None and row in db.session:
            db.session.expunge(row)


def issue(account: Account, as_of: date, *, actor: str) -> tuple[Statement | None, str | None]:
    """Freeze the account's statement for `as_of`, or say why there is none."""
    [outcome] = _issue_many([account], as_of, actor=actor, fac=facility.current())
    return outcome


def _issue_many(accounts: list[Account], as_of: date, *, actor: str,
                fac: Facility) -> list[tuple[Statement | None, str | None]]:
    """`issue` for many accounts at once (flushed): each one's statement, or why it has none, in their order."""
    ids = [a.id for a in accounts]
    existing = set(db.session.scalars(select(Statement.account_id).where(Statement.account_id.in_(ids),
                                                                         Statement.statement_date == as_of)))
    placed = set(db.session.scalars(select(Placement.account_id).where(Placement.account_id.in_(ids),
                                                                       Placement.recalled_on.is_(None))))
    reasons: dict[int, str] = {}
    for account in accounts:
        due = account.patient_due_cents
        if account.id in existing:
            reasons[account.id] = "a statement for this date already exists"
        elif account.id in placed:
            # The agency collects now and writes to the guarantor itself: a statement (and its email) from us
            # too would be a second demand for the same debt. A recall resumes them.
            reasons[account.id] = "placed with a collection agency, which sends the statements"
        elif due <= 0:
            reasons[account.id] = "nothing is due" if due == 0 else "the account has a credit"
        elif due < fac.statement_minimum_cents:
            reasons[account.id] = f"below the {money.format_usd(fac.statement_minimum_cents)} minimum"
    issuing = [a for a in accounts if a.id not in reasons]
    if not issuing:
        return [(None, reasons[a.id]) for a in accounts]
    last = _last_statements([a.id for a in issuing])
    snapshots = build_snapshots(issuing, as_of, {
        i: (row.statement_date, row.created_at) for i, row in last.items()}, fac=fac)
    on_plans = set(db.session.scalars(select(PaymentPlan.account_id).where(
        PaymentPlan.account_id.in_([a.id for a in issuing]), PaymentPlan.status.in_(("active", "pending_approval")))))
    made = {}
    for account, code in zip(issuing, _unique_codes(len(issuing))):
        previous, snapshot = last.get(account.id), snapshots[account.id]
        due, message = account.patient_due_cents, None
        plan = plans.active_plan(account) if account.id in on_plans else None
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
        made[account.id] = Statement(
            account_id=account.id, account=account, statement_date=as_of,
            due_date=as_of + timedelta(days=fac.statement_due_days),
            cycle_number=(previous.cycle_number + 1) if previous else 1, code=code,
            previous_amount_due_cents=previous.amount_due_cents if previous else 0,
            payments_since_cents=sum(p["amount_cents"] for p in snapshot["payments"]),
            adjustments_since_cents=sum(a["amount_cents"] for a in snapshot["adjustments"]),
            insurance_pending_cents=sum(p["amount_cents"] for p in snapshot["pending"]),
            amount_due_cents=due, snapshot=snapshot, created_by=actor, message=message,
        )
    db.session.add_all(made.values())
    db.session.flush()  # one multi-row INSERT for the round
    return [(made[a.id], None) if a.id in made else (None, reasons[a.id]) for a in accounts]


def _last_statements(account_ids: list[int]) -> dict:
    """Each account's latest statement (by statement date): the figures the next one carries forward."""
    latest = aliased(Statement)
    newest_date = (select(func.max(latest.statement_date)).where(latest.account_id == Statement.account_id)
                   .scalar_subquery())
    return {row.account_id: row for row in db.session.execute(
        select(Statement.account_id, Statement.statement_date, Statement.created_at, Statement.cycle_number,
               Statement.amount_due_cents)
        .where(Statement.account_id.in_(account_ids), Statement.statement_date == newest_date))}


def _unique_codes(count: int) -> list[str]:
    """`count` new pay-link codes, none already on a statement (one look-up for all of them)."""
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {new_code() for _ in range(count - len(codes))} - codes
        codes |= fresh - set(db.session.scalars(select(Statement.code).where(Statement.code.in_(fresh))))
    return list(codes)


def _not_reversed(posting_id):
    """No posting reverses this one: one index look-up per row (a NOT IN over every reversal ever made costs more
    as the ledger grows)."""
    reversal = aliased(Posting)
    return ~select(reversal.id).where(reversal.reverses_posting_id == posting_id).exists()


def _per_account(column, values: dict, type_):
    """SQL for "this row's account's value" out of {account id: value} (NULL for an account not in it)."""
    return case({i: literal(v, type_) for i, v in values.items()}, value=column)


def _after_last_statement(column, account_column, since: dict[int, date], *, day=lambda c: c):
    """Rows of `column` (a date, or made one by `day`) after their account's last statement date; every row
    of an account not in `since` (no statement yet)."""
    if not since:
        return true()
    cut = _per_account(account_column, since, Date)
    return or_(cut.is_(None), day(column) > cut)


def build_snapshot(account: Account, as_of: date, since: date | None,
                   previous_at: datetime | None = None) -> dict:
    """What a statement shows, frozen: visits you owe for, payments and adjustments since the last
    statement (of `since`, issued at `previous_at`), what insurance still has, and the summary."""
    return build_snapshots([account], as_of, {account.id: (since, previous_at)})[account.id]


def build_snapshots(accounts: list[Account], as_of: date, last: dict[int, tuple[date, datetime | None]],
                    *, fac: Facility | None = None) -> dict[int, dict]:
    """`build_snapshot` for many accounts in a fixed number of queries; `last` holds each account's
    (statement date, issued at) of its last statement (an account not in it has had none)."""
    fac = fac or facility.current()
    ids = [a.id for a in accounts]
    since = {i: day for i, (day, _at) in last.items() if day is not None}
    charges = db.session.execute(
        select(Charge.id, Charge.account_id, Charge.patient_id, Charge.service_date, Charge.amount_cents,
               Charge.patient_balance_cents, Charge.insurance_balance_cents)
        .where(Charge.account_id.in_(ids)).order_by(Charge.service_date, Charge.id)).all()
    charge_ids = [c.id for c in charges]
    patients = {p.id: p.full_name for p in db.session.scalars(select(Patient).where(Patient.account_id.in_(ids)))}
    reductions = _reductions_by_charge(ids)
    reasons = defaultdict(list)
    if charge_ids:
        for t in db.session.scalars(select(BalanceTransfer).where(
                BalanceTransfer.charge_id.in_(charge_ids), BalanceTransfer.to_bucket == "patient",
                _not_reversed(BalanceTransfer.posting_id)).order_by(BalanceTransfer.id)):
            reasons[t.charge_id].append({"reason": REASON_WORDS.get(t.reason, "Your share"),
                                         "amount_cents": t.amount_cents})
    # A charge on an open invoice is listed once, as a statement line naming the invoice (never counted twice).
    invoice_numbers = invoices.numbers_by_charge(charge_ids)
    groups: dict[int, dict[tuple, dict]] = defaultdict(dict)
    pending = defaultdict(list)
    for charge in charges:
        who = patients.get(charge.patient_id, "")
        if charge.patient_balance_cents > 0:
            group = groups[charge.account_id].setdefault((who, charge.service_date), {
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
            pending[charge.account_id].append({"patient": who, "service_date": charge.service_date.isoformat(),
                                               "amount_cents": charge.insurance_balance_cents})
    payments = defaultdict(list)
    for p in db.session.scalars(select(Payment).where(
            Payment.account_id.in_(ids), Payment.source == "patient", Payment.received_on <= as_of,
            _not_reversed(Payment.posting_id), _after_last_statement(Payment.received_on, Payment.account_id, since))
            .order_by(Payment.received_on, Payment.id)):
        payments[p.account_id].append({"date": p.received_on.isoformat(), "method": p.method,
                                       "amount_cents": p.amount_cents})
    adjustments = defaultdict(list)
    for a in db.session.scalars(select(Adjustment).where(
            Adjustment.account_id.in_(ids), Adjustment.bucket == "patient", _not_reversed(Adjustment.posting_id),
            _after_last_statement(Adjustment.created_at, Adjustment.account_id, since, day=func.date))
            .order_by(Adjustment.id)):
        adjustments[a.account_id].append({"date": a.created_at.date().isoformat(),
                                          "description": a.kind.replace("_", " ").capitalize(),
                                          "amount_cents": a.amount_cents})
    summaries = period_summaries(ids, {i: at for i, (_day, at) in last.items() if at is not None})
    return {account.id: {
        "facility": {"name": fac.neutral_name, "phone": fac.phone,
                     "remit_address": fac.remit_address or fac.neutral_name},
        "guarantor": {"name": account.guarantor_name, "number": account.number,
                      "address": [x for x in (account.address_line1,
                                              " ".join(filter(None, (account.city, account.state, account.zip_code))))
                                  if x]},
        "groups": list(groups[account.id].values()),
        "payments": payments[account.id],
        "adjustments": adjustments[account.id],
        "pending": pending[account.id],
        "credit_cents": account.credit_cents,
        "summary": summaries[account.id],
    } for account in accounts}


# What each kind of posting is on a statement; a reversal counts as the kind it reverses, negated.
_PAID = ("allocation", "unallocation")


def _reductions_by_charge(account_ids: list[int]) -> dict[int, dict[tuple[str, str], int]]:
    """Per charge of these accounts, what took its balance down: {(bucket, "paid" | "adjusted"): cents},
    reversals netted."""
    original = aliased(Posting)
    kind = func.coalesce(original.kind, Posting.kind)
    found: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    for charge_id, bucket, kind_of, total in db.session.execute(
        select(LedgerEntry.charge_id, LedgerEntry.bucket, kind, func.sum(LedgerEntry.amount_cents))
        .join(Posting, Posting.id == LedgerEntry.posting_id)
        .outerjoin(original, original.id == Posting.reverses_posting_id)
        .where(LedgerEntry.account_id.in_(account_ids), LedgerEntry.charge_id.is_not(None),
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
    return period_summaries([account_id], {account_id: previous_at} if previous_at else {})[account_id]


def period_summaries(account_ids: list[int], previous_at: dict[int, datetime]) -> dict[int, dict]:
    """`period_summary` for many accounts in one query; `previous_at` holds when each account's last
    statement was issued (an account not in it has had none: no entry came before it)."""
    original = aliased(Posting)
    kind = func.coalesce(original.kind, Posting.kind)
    # Whether an entry came before the account's last statement (NULL, so no, for an account without one;
    # none did when no account had one).
    split = [Posting.created_at <= _per_account(LedgerEntry.account_id, previous_at, UTCDateTime)] \
        if previous_at else []
    sums = defaultdict(list)
    for account_id, *row in db.session.execute(
        select(LedgerEntry.account_id, kind, LedgerEntry.bucket, Payment.source, func.sum(LedgerEntry.amount_cents),
               *split)
        .join(Posting, Posting.id == LedgerEntry.posting_id)
        .outerjoin(original, original.id == Posting.reverses_posting_id)
        .outerjoin(Payment, Payment.id == LedgerEntry.payment_id)
        .where(LedgerEntry.account_id.in_(account_ids))
        .group_by(LedgerEntry.account_id, kind, LedgerEntry.bucket, Payment.source, *split)
    ):
        sums[account_id].append(row if split else (*row, False))
    return {account_id: _summary(sums[account_id]) for account_id in account_ids}


def _summary(rows) -> dict:
    figures = dict.fromkeys(("previous_balance", "new_charges", "insurance_paid", "adjustments", "your_payments",
                             "refunds", "other"), 0)
    with_insurance = 0
    for kind_of, bucket, source, total, before in rows:
        total = int(total)
        with_insurance += total if bucket == "insurance" else 0
        if before:
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
