"""The nightly collections run: set-based statements that move every account's stage at once."""
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise

from sqlalchemy import case, exists, func, insert, literal, or_, select, update

from portal import audit, facility
from portal.collections.aging_report import _bucket_of
from portal.collections.holding import _held
from portal.collections.policy import ACTOR_RUN, STAGE_WORDS, _rows, settings, stage_days
from portal.collections.worklist import _rescore
from portal.extensions import db
from portal.models import (
    Account,
    Charge,
    CollectionCase,
    Payment,
    Posting,
    PromiseToPay,
    Statement,
    utcnow,
)
from portal.models.collections import DUNNING_STAGES

# ---------------------------------------------------------------- the nightly run


@dataclass
class RunResult:
    as_of: date
    cases_opened: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    returned_from_plan_default: int = 0
    entered_cycle: int = 0
    advanced: dict = field(default_factory=dict)
    resolved: int = 0
    on_hold: int = 0

    def as_dict(self) -> dict:
        return {**vars(self), "as_of": self.as_of.isoformat()}

    def summary(self) -> str:
        moved = ", ".join(f"{n} to {STAGE_WORDS[s].lower()}" for s, n in self.advanced.items() if n) or "none"
        return (f"collections as of {self.as_of}: {self.cases_opened} cases opened, "
                f"{self.entered_cycle} entered the cycle, advanced: {moved}; {self.resolved} resolved; "
                f"promises {self.promises_kept} kept, {self.promises_broken} broken; "
                f"{self.returned_from_plan_default} back from a defaulted plan; {self.on_hold} on hold")




def _patient_paid_between(start, end):
    """Patient payments received in [start, end], not reversed, on the row's account (SQL)."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    return (select(func.coalesce(func.sum(Payment.amount_cents), 0))
            .where(Payment.account_id == PromiseToPay.account_id, Payment.source == "patient",
                   Payment.received_on >= start, Payment.received_on <= end,
                   Payment.posting_id.not_in(reversed_postings))
            .scalar_subquery())


def run(as_of: date, *, actor: str = ACTOR_RUN) -> RunResult:
    """Age every account, decide promises, advance stages, score the queue; set-based and idempotent."""
    rules = settings()
    result = RunResult(as_of)
    locate = CollectionCase.account_id == Account.id
    case_account = select(Account).where(locate)  # correlated: the case's account

    count_cases = select(func.count(CollectionCase.id))
    before = db.session.scalar(count_cases)
    # EXCEPT reads the existing cases once, before any insert (an anti-join planned on a case table that
    # was empty at the last ANALYZE would rescan the growing table for every account).
    missing = (select(Account.id).where(Account.patient_balance_cents > Account.credit_cents)
               .except_(select(CollectionCase.account_id)).subquery())
    db.session.execute(insert(CollectionCase).from_select(
        ["account_id", "stage", "balance_cents", "updated_at"],
        select(missing.c.id, literal("none"), literal(0), literal(utcnow(), CollectionCase.updated_at.type))))
    result.cases_opened = db.session.scalar(count_cases) - before  # INSERT ... SELECT: no portable row count

    # Promises: kept once payments since the promise reach its amount by its date; broken the day after.
    due_end = case((PromiseToPay.due_on < as_of, PromiseToPay.due_on), else_=as_of)
    result.promises_kept = _rows(update(PromiseToPay).where(
        PromiseToPay.status == "open", PromiseToPay.made_on <= as_of,
        _patient_paid_between(PromiseToPay.made_on, due_end) >= PromiseToPay.amount_cents)
        .values(status="kept", decided_on=as_of))
    result.promises_broken = _rows(update(PromiseToPay).where(
        PromiseToPay.status == "open", PromiseToPay.due_on < as_of).values(status="broken", decided_on=as_of))

    # The case's figures from the ledger caches: one UPDATE ... FROM aggregates, unchanged rows left alone.
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    owed = (select(Charge.account_id, func.min(Charge.patient_responsible_since).label("oldest"))
            .where(Charge.patient_balance_cents > 0).group_by(Charge.account_id).subquery())
    paid = (select(Payment.account_id, func.max(Payment.received_on).label("last_paid"))
            .where(Payment.source == "patient", Payment.received_on <= as_of,
                   Payment.posting_id.not_in(reversed_postings)).group_by(Payment.account_id).subquery())
    broken = (select(PromiseToPay.account_id, func.count(PromiseToPay.id).label("broken"))
              .where(PromiseToPay.status == "broken").group_by(PromiseToPay.account_id).subquery())
    fresh = (select(CollectionCase.account_id.label("account_id"),
                    (Account.patient_balance_cents - Account.credit_cents).label("balance"),
                    owed.c.oldest, paid.c.last_paid, func.coalesce(broken.c.broken, 0).label("broken"))
             .join(Account, Account.id == CollectionCase.account_id)
             .outerjoin(owed, owed.c.account_id == Account.id)
             .outerjoin(paid, paid.c.account_id == Account.id)
             .outerjoin(broken, broken.c.account_id == Account.id)).subquery()
    figures = {"balance_cents": fresh.c.balance, "oldest_since": fresh.c.oldest,
               "last_payment_on": fresh.c.last_paid, "broken_promises": fresh.c.broken,
               "age_bucket": _bucket_of(fresh.c.oldest, as_of)}
    _rows(update(CollectionCase).where(
        CollectionCase.account_id == fresh.c.account_id,
        or_(*[getattr(CollectionCase, name).is_distinct_from(value) for name, value in figures.items()]))
        .values(**figures))

    # A defaulted plan hands the account back at the stage it had: its clock starts again today.
    result.returned_from_plan_default = _rows(update(CollectionCase).where(
        exists(case_account.where(Account.collection_stage == "plan_defaulted"))).values(stage_since=as_of))

    # Into the cycle at the first statement issued since the case (re)opened.
    first = (select(func.min(Statement.statement_date))
             .where(Statement.account_id == CollectionCase.account_id, Statement.statement_date <= as_of,
                    Statement.statement_date >= func.coalesce(CollectionCase.stage_since, date(1900, 1, 1)))
             .scalar_subquery())
    _rows(update(CollectionCase).where(CollectionCase.stage == "none", CollectionCase.balance_cents > 0)
          .values(first_statement_on=first))
    result.entered_cycle = _rows(update(CollectionCase).where(
        CollectionCase.stage == "none", CollectionCase.first_statement_on.is_not(None),
        CollectionCase.balance_cents > 0)
        .values(stage="first_statement", stage_since=CollectionCase.first_statement_on))

    # Paid off: out of the cycle; a new balance starts it again with a new first statement.
    result.resolved = _rows(update(CollectionCase).where(
        CollectionCase.stage.in_(DUNNING_STAGES), CollectionCase.balance_cents <= 0)
        .values(stage="none", stage_since=as_of, first_statement_on=None, next_action_on=None))

    # A hold restarts the stage clock; otherwise one step per run once the stage's days have passed.
    held = exists(case_account.where(_held(as_of)))
    result.on_hold = _rows(update(CollectionCase).where(CollectionCase.stage.in_(DUNNING_STAGES), held)
                           .values(stage_since=as_of))
    days = stage_days(rules)
    for current, following in reversed(list(pairwise(DUNNING_STAGES))):
        result.advanced[following] = _rows(update(CollectionCase).where(
            CollectionCase.stage == current, CollectionCase.balance_cents > 0, ~held,
            CollectionCase.stage_since <= as_of - timedelta(days=days[current]))
            .values(stage=following, stage_since=as_of))
    result.advanced = dict(reversed(result.advanced.items()))

    _rescore(rules, as_of)
    facility.save_settings(rules).last_run_on = as_of  # the first run stores the default rules
    # Account.collection_stage mirrors the case (and so leaves "plan_defaulted").
    case_stage = select(CollectionCase.stage).where(locate).scalar_subquery()
    _rows(update(Account).where(exists().where(locate, CollectionCase.stage != Account.collection_stage))
          .values(collection_stage=case_stage))
    audit.record("collections.run", "collections", actor=actor, detail=result.as_dict())
    db.session.flush()
    return result
