"""Collections: aging, the dunning cycle, holds, the collectors' queue, contacts, promises, agencies.

The nightly run works on whole sets of accounts with a handful of SQL statements (no per-account
loop), so its cost per account stays flat as the facility grows. It is idempotent: a second run
for the same date changes nothing.

Stages advance one step per run once an account has been `days_<stage>` days in its stage; a hold
(staff hold, insurance still pending, or a plan in good standing) restarts that clock, so dunning
resumes with a full interval when the hold ends. A defaulted plan returns the account to the stage
it was in (the case keeps it; `Account.collection_stage` mirrors the case).
"""
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, insert, literal, or_, select, update

from portal import money
from portal.extensions import db
from portal.models import (
    Account,
    Agency,
    AgencyPayment,
    Charge,
    CollectionCase,
    CollectionHold,
    CollectionSettings,
    ContactLog,
    Coverage,
    Patient,
    Payment,
    PaymentPlan,
    Placement,
    Posting,
    PromiseToPay,
    Statement,
    User,
    utcnow,
)
from portal.models.collections import DUNNING_STAGES, STAFF_HOLD_KINDS
from portal.services import audit, facility, ledger
from portal.services.clock import facility_today, facility_zone

STAGE_WORDS = {"none": "Not yet billed", "first_statement": "First statement",
               "second_statement": "Second statement", "third_statement": "Third statement",
               "final_notice": "Final notice", "pre_collection": "Pre-collection",
               "placed": "Placed with agency", "written_off": "Written off", "plan_defaulted": "Plan defaulted"}
BUCKETS = ("Current", "31–60", "61–90", "91–120", "Over 120")
BUCKET_KEYS = ("current", "days_31_60", "days_61_90", "days_91_120", "over_120")
HOLD_WORDS = {"insurance_pending": "Insurance pending", "plan": "Payment plan in good standing",
              "dispute": "Dispute", "financial_assistance": "Financial-assistance review",
              "bankruptcy": "Bankruptcy", "deceased": "Deceased"}
CHANNEL_WORDS = {"call": "Call", "email": "Email", "letter": "Letter", "note": "Note"}
OUTCOME_WORDS = {"no_answer": "No answer", "left_message": "Left a message (no debt details)",
                 "conversation": "Spoke with the guarantor", "wrong_number": "Wrong number", "sent": "Sent",
                 "returned_mail": "Returned mail", "note": "Note"}
# Holds under which nobody may contact the guarantor about the debt (automatic stay; an estate).
NO_CONTACT_HOLDS = ("bankruptcy", "deceased")
RECENT_PAYMENT_DAYS = 60
BALANCE_POINTS_CAP = 50  # hundreds of dollars: balances above $5,000 score alike
ACTOR_RUN = "task:collections"


class CollectionsError(ValueError):
    """The action is not allowed; the message says why, in words for staff."""


# ---------------------------------------------------------------- settings


def settings() -> CollectionSettings:
    fac = facility.current()
    found = db.session.scalar(select(CollectionSettings).where(CollectionSettings.facility_id == fac.id))
    if found is None:
        found = CollectionSettings(
            facility_id=fac.id,
            message_second_statement="This is your second statement. Please pay or call us to set up a plan.",
            message_third_statement="Your balance is past due. Please pay now or call us to discuss options.",
            message_final_notice="Final notice: please pay or contact us within 30 days to avoid referral "
                                 "to an outside agency.",
            message_pre_collection="Your account may be referred to a collection agency. Call us today; "
                                   "payment plans and financial assistance are available.")
        db.session.add(found)
        db.session.commit()
    return found


SETTING_FIELDS = (
    "days_first_statement", "days_second_statement", "days_third_statement", "days_final_notice",
    "message_first_statement", "message_second_statement", "message_third_statement", "message_final_notice",
    "message_pre_collection", "call_attempts_limit", "call_window_days", "quiet_days_after_conversation",
    "earliest_hour", "latest_hour", "min_placement_days", "min_placement_cents", "weight_per_100_dollars",
    "weight_per_age_bucket", "weight_per_stage", "weight_per_broken_promise", "weight_no_recent_payment",
)


def update_settings(values: dict, *, actor) -> None:
    rules = settings()
    if values["earliest_hour"] >= values["latest_hour"]:
        raise CollectionsError("The earliest hour must be before the latest hour.")
    changes = {}
    for name in SETTING_FIELDS:
        new = values[name]
        if isinstance(new, str):
            new = new.strip() or None
        if getattr(rules, name) != new:
            changes[name] = [getattr(rules, name), new]
            setattr(rules, name, new)
    if rules.last_run_on and any(name.startswith("weight_") for name in changes):
        _rescore(rules, rules.last_run_on)  # the queue and its reasons follow the new weights now
    audit.record("collections.settings_updated", "collection_settings", actor=actor, object_id=rules.id,
                 detail=changes)


def stage_days(rules: CollectionSettings) -> dict[str, int]:
    return {"first_statement": rules.days_first_statement, "second_statement": rules.days_second_statement,
            "third_statement": rules.days_third_statement, "final_notice": rules.days_final_notice}


def stage_message(account: Account, as_of: date) -> str | None:
    """The message for a statement issued on `as_of`: none while a hold stops dunning; an account not
    yet in the cycle gets the first statement's."""
    if holds(account, as_of):
        return None
    stage = db.session.scalar(select(CollectionCase.stage).where(CollectionCase.account_id == account.id))
    if stage in (None, "none"):
        stage = "first_statement"
    return getattr(settings(), f"message_{stage}", None)


# ---------------------------------------------------------------- aging


def _bucket_of(since_column, as_of: date):
    """0 current (0-30 days), 1 31-60, 2 61-90, 3 91-120, 4 over 120, counted from the day the patient
    became responsible."""
    return case(
        (since_column >= as_of - timedelta(days=30), 0),
        (since_column >= as_of - timedelta(days=60), 1),
        (since_column >= as_of - timedelta(days=90), 2),
        (since_column >= as_of - timedelta(days=120), 3),
        else_=4,
    )


def bucket_for(since: date | None, as_of: date) -> int:
    if since is None:
        return 0
    days = (as_of - since).days
    return 0 if days <= 30 else 1 if days <= 60 else 2 if days <= 90 else 3 if days <= 120 else 4


@dataclass
class AgingFilters:
    payer_id: int | None = None
    facility_id: int | None = None
    assignee_id: int | None = None
    stage: str | None = None


def _aging_query(as_of: date, filters: AgingFilters):
    bucket = _bucket_of(Charge.patient_responsible_since, as_of)
    sums = [func.sum(case((bucket == i, Charge.patient_balance_cents), else_=0)).label(key)
            for i, key in enumerate(BUCKET_KEYS)]
    stage = func.coalesce(CollectionCase.stage, "none")
    query = (select(Account.id, Account.number, Account.guarantor_name, stage.label("stage"),
                    User.full_name.label("assignee"), *sums,
                    func.sum(Charge.patient_balance_cents).label("total"))
             .join(Account, Account.id == Charge.account_id)
             .outerjoin(CollectionCase, CollectionCase.account_id == Account.id)
             .outerjoin(User, User.id == CollectionCase.assignee_id)
             .where(Charge.patient_balance_cents > 0)
             .group_by(Account.id, Account.number, Account.guarantor_name, stage, User.full_name))
    if filters.payer_id:
        query = query.where(exists().where(
            Coverage.payer_id == filters.payer_id, Coverage.patient_id == Patient.id,
            Patient.account_id == Account.id))
    if filters.facility_id:
        query = query.where(Account.facility_id == filters.facility_id)
    if filters.assignee_id:
        query = query.where(CollectionCase.assignee_id == filters.assignee_id)
    if filters.stage:
        query = query.where(stage == filters.stage)
    return query


@dataclass
class AgingReport:
    as_of: date
    totals: list[int]
    total: int
    accounts: int
    rows: list = field(default_factory=list)  # the largest balances, for the page

    def shares_bps(self) -> list[int]:
        return [money.round_half_up(t * 10000, self.total) if self.total else 0 for t in self.totals]


def aging(as_of: date, filters: AgingFilters | None = None, *, limit: int = 100) -> AgingReport:
    """Totals per bucket over every account (one aggregate query) and the largest balances."""
    inner = _aging_query(as_of, filters or AgingFilters()).subquery()
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(inner.c.total), 0),
                                    *[func.coalesce(func.sum(inner.c[k]), 0) for k in BUCKET_KEYS])).one()
    rows = db.session.execute(select(inner).order_by(inner.c.total.desc(), inner.c.number).limit(limit)).all()
    return AgingReport(as_of, [int(x) for x in row[2:]], int(row[1]), int(row[0]), rows)


def aging_csv(as_of: date, filters: AgingFilters | None = None):
    """The whole report as CSV lines (streamed): one row per account, amounts in dollars."""
    out = io.StringIO()
    writer = csv.writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(["account", "guarantor", "stage", "collector", *BUCKETS, "total"])
    yield flush()
    query = _aging_query(as_of, filters or AgingFilters()).order_by(Account.number)
    for r in db.session.execute(query.execution_options(yield_per=2000)):
        amounts = [money.format_plain(int(getattr(r, k))) for k in (*BUCKET_KEYS, "total")]
        stage = STAGE_WORDS.get(r.stage, r.stage)
        writer.writerow([r.number, r.guarantor_name, stage, r.assignee or "", *amounts])
        yield flush()


# ---------------------------------------------------------------- holds


def _staff_hold_active(as_of: date):
    return exists().where(CollectionHold.account_id == Account.id, CollectionHold.released_at.is_(None),
                          CollectionHold.starts_on <= as_of,
                          or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= as_of))


def _plan_in_good_standing():
    return exists().where(PaymentPlan.account_id == Account.id, PaymentPlan.status == "active")


def _held(as_of: date):
    """Any hold, as SQL on Account: staff holds, insurance still owing, a plan in good standing."""
    return or_(_staff_hold_active(as_of), Account.insurance_balance_cents > 0, _plan_in_good_standing())


@dataclass
class Hold:
    kind: str
    why: str
    who: str
    until: date | None = None
    review_on: date | None = None
    hold_id: int | None = None

    @property
    def label(self) -> str:
        return HOLD_WORDS[self.kind]


def holds(account: Account, as_of: date) -> list[Hold]:
    """Every hold on the account today, derived ones first."""
    found = []
    if account.insurance_balance_cents > 0:
        owes = money.format_usd(account.insurance_balance_cents)
        found.append(Hold("insurance_pending", f"Insurance still owes {owes}", "automatic"))
    plan = db.session.scalar(select(PaymentPlan).where(PaymentPlan.account_id == account.id,
                                                       PaymentPlan.status == "active"))
    if plan is not None:
        found.append(Hold("plan", f"Plan #{plan.id} is active and paid to date", "automatic"))
    for h in db.session.scalars(select(CollectionHold).where(
            CollectionHold.account_id == account.id, CollectionHold.released_at.is_(None),
            CollectionHold.starts_on <= as_of,
            or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= as_of))
            .order_by(CollectionHold.id)):
        found.append(Hold(h.kind, h.reason, h.created_by, h.ends_on, h.review_on, h.id))
    return found


def add_hold(account: Account, *, kind: str, reason: str, ends_on: date | None, review_on: date | None,
             today: date, actor: str) -> CollectionHold:
    if kind not in STAFF_HOLD_KINDS:
        raise CollectionsError("Choose the kind of hold.")
    if not reason.strip():
        raise CollectionsError("Say why the account is on hold.")
    if ends_on is None and review_on is None:
        raise CollectionsError("Give an end date or a review date.")
    if (ends_on and ends_on < today) or (review_on and review_on < today):
        raise CollectionsError("The end and review dates cannot be in the past.")
    hold = CollectionHold(account_id=account.id, kind=kind, reason=reason.strip(), starts_on=today,
                          ends_on=ends_on, review_on=review_on, created_by=actor)
    db.session.add(hold)
    db.session.flush()
    audit.record("collections.hold_added", "collection_hold", actor=actor, object_id=hold.id,
                 account_id=account.id,
                 detail={"kind": kind, "ends_on": str(ends_on), "review_on": str(review_on)})
    return hold


def holds_to_review(today: date) -> list[CollectionHold]:
    """Staff holds whose review date has come, oldest first: someone must release or extend them."""
    return list(db.session.scalars(select(CollectionHold).where(
        CollectionHold.released_at.is_(None), CollectionHold.review_on <= today,
        or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= today))
        .order_by(CollectionHold.review_on, CollectionHold.id).limit(50)))


def release_hold(account: Account, hold_id: int, *, actor: str) -> None:
    hold = db.session.get(CollectionHold, hold_id)
    if hold is None or hold.account_id != account.id or hold.released_at is not None:
        raise CollectionsError("That hold is not active on this account.")
    hold.released_at, hold.released_by = utcnow(), actor
    audit.record("collections.hold_released", "collection_hold", actor=actor, object_id=hold.id,
                 account_id=account.id)


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


def _rows(statement) -> int:
    """Run a set-based statement; the number of rows it touched."""
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount


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
    db.session.execute(insert(CollectionCase.__table__).from_select(
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
    for current, following in reversed(list(zip(DUNNING_STAGES, DUNNING_STAGES[1:]))):
        result.advanced[following] = _rows(update(CollectionCase).where(
            CollectionCase.stage == current, CollectionCase.balance_cents > 0, ~held,
            CollectionCase.stage_since <= as_of - timedelta(days=days[current]))
            .values(stage=following, stage_since=as_of))
    result.advanced = dict(reversed(result.advanced.items()))

    _rescore(rules, as_of)
    rules.last_run_on = as_of
    # Account.collection_stage mirrors the case (and so leaves "plan_defaulted").
    case_stage = select(CollectionCase.stage).where(locate).scalar_subquery()
    _rows(update(Account).where(exists().where(locate, CollectionCase.stage != Account.collection_stage))
          .values(collection_stage=case_stage))
    audit.record("collections.run", "collections", actor=actor, detail=result.as_dict(), commit=False)
    db.session.commit()
    return result


# ---------------------------------------------------------------- the queue and its score


def _stage_index(column):
    return case(*[(column == s, n) for n, s in enumerate(DUNNING_STAGES, start=1)], else_=0)


def _score_sql(rules: CollectionSettings, as_of: date):
    hundreds = case((CollectionCase.balance_cents >= BALANCE_POINTS_CAP * 10000, BALANCE_POINTS_CAP),
                    else_=CollectionCase.balance_cents // 10000)
    recent = as_of - timedelta(days=RECENT_PAYMENT_DAYS)
    no_recent = case(
        (or_(CollectionCase.last_payment_on.is_(None), CollectionCase.last_payment_on < recent), 1), else_=0)
    return (rules.weight_per_100_dollars * hundreds + rules.weight_per_age_bucket * CollectionCase.age_bucket
            + rules.weight_per_stage * _stage_index(CollectionCase.stage)
            + rules.weight_per_broken_promise * CollectionCase.broken_promises
            + rules.weight_no_recent_payment * no_recent)


def _rescore(rules: CollectionSettings, as_of: date, *where) -> None:
    """Score the cases in the cycle (or those `where` picks) as of `as_of`; unchanged rows left alone."""
    score = _score_sql(rules, as_of)
    _rows(update(CollectionCase).where(CollectionCase.stage.in_(DUNNING_STAGES), *where,
                                       CollectionCase.score.is_distinct_from(score)).values(score=score))


def scored_on(rules: CollectionSettings | None = None) -> date:
    """The day the stored scores are as of: the last nightly run (today before any run)."""
    return (rules or settings()).last_run_on or facility_today()


def reasons(c: CollectionCase, rules: CollectionSettings | None = None) -> list[tuple[int, str]]:
    """Why the account is in the queue: (points, words) per part of its stored score, as of the last
    run that computed it (so they add up to the score shown), largest first."""
    rules = rules or settings()
    as_of = scored_on(rules)
    parts = []
    hundreds = min(max(c.balance_cents, 0) // 10000, BALANCE_POINTS_CAP)
    parts.append((rules.weight_per_100_dollars * hundreds, f"Owes {money.format_usd(c.balance_cents)}"))
    if c.age_bucket:
        parts.append((rules.weight_per_age_bucket * c.age_bucket,
                      f"Oldest balance {BUCKETS[c.age_bucket].lower()} days old"))
    stage_n = DUNNING_STAGES.index(c.stage) + 1 if c.stage in DUNNING_STAGES else 0
    if stage_n:
        parts.append((rules.weight_per_stage * stage_n, f"{STAGE_WORDS[c.stage]} stage"))
    if c.broken_promises:
        parts.append((rules.weight_per_broken_promise * c.broken_promises,
                      f"{c.broken_promises} broken promise{'s' if c.broken_promises > 1 else ''} to pay"))
    if c.last_payment_on is None:
        parts.append((rules.weight_no_recent_payment, "Has never paid"))
    elif c.last_payment_on < as_of - timedelta(days=RECENT_PAYMENT_DAYS):
        parts.append((rules.weight_no_recent_payment, f"No payment since {c.last_payment_on:%b %d, %Y}"))
    return sorted((p for p in parts if p[0]), key=lambda p: -p[0])


def queue(as_of: date, *, assignee_id: int | None = None, unassigned: bool = False, limit: int = 100):
    """Cases to work today, highest score first: in the cycle, owing, on no hold, not placed."""
    query = (select(CollectionCase).join(Account, Account.id == CollectionCase.account_id)
             .where(CollectionCase.stage.in_(DUNNING_STAGES), CollectionCase.balance_cents > 0, ~_held(as_of))
             .order_by(CollectionCase.score.desc(), CollectionCase.balance_cents.desc(), CollectionCase.id)
             .limit(limit))
    if assignee_id:
        query = query.where(CollectionCase.assignee_id == assignee_id)
    elif unassigned:
        query = query.where(CollectionCase.assignee_id.is_(None))
    return list(db.session.scalars(query))


def case_for(account: Account) -> CollectionCase:
    found = db.session.scalar(select(CollectionCase).where(CollectionCase.account_id == account.id))
    if found is None:
        found = CollectionCase(account_id=account.id, stage="none", balance_cents=account.patient_due_cents)
        db.session.add(found)
        db.session.flush()
    return found


def assign(account: Account, *, assignee: User | None, next_action_on: date | None, actor: str) -> None:
    if assignee is not None and not assignee.can("collections.work"):
        raise CollectionsError("Assign the account to someone who works the collections queue.")
    c = case_for(account)
    c.assignee_id = assignee.id if assignee else None
    c.next_action_on = next_action_on
    audit.record("collections.assigned", "collection_case", actor=actor, object_id=c.id,
                 account_id=account.id, commit=False,
                 detail={"assignee_id": c.assignee_id, "next_action_on": str(next_action_on)})


def collectors() -> list[User]:
    staff = db.session.scalars(select(User).where(User.kind == "staff", User.active.is_(True))
                               .order_by(User.full_name))
    return [u for u in staff if u.can("collections.work")]


# ---------------------------------------------------------------- contacts and their limits

# Time zones by state; a state that spans zones lists each (all must be inside the calling window).
_EAST = "America/New_York"
_CENTRAL = "America/Chicago"
_MOUNTAIN = "America/Denver"
_PACIFIC = "America/Los_Angeles"
STATE_ZONES = {
    **dict.fromkeys(("CT", "DE", "DC", "GA", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH", "PA", "RI", "SC",
                     "VT", "VA", "WV"), (_EAST,)),
    **dict.fromkeys(("FL", "IN", "KY", "MI", "TN"), (_EAST, _CENTRAL)),
    **dict.fromkeys(("AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI"), (_CENTRAL,)),
    **dict.fromkeys(("KS", "NE", "ND", "SD", "TX"), (_CENTRAL, _MOUNTAIN)),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), (_MOUNTAIN,)),
    "AZ": ("America/Phoenix",), "ID": (_MOUNTAIN, _PACIFIC), "OR": (_PACIFIC, _MOUNTAIN), "NV": (_PACIFIC,),
    "CA": (_PACIFIC,), "WA": (_PACIFIC,), "AK": ("America/Anchorage",), "HI": ("Pacific/Honolulu",),
}


def contact_zones(account: Account) -> list[str]:
    """The guarantor's zone if known; otherwise the facility's and the one(s) their address suggests."""
    if account.timezone:
        return [account.timezone]
    zones = [facility_zone().key]
    for zone in STATE_ZONES.get((account.state or "").upper(), ()):
        if zone not in zones:
            zones.append(zone)
    return zones


@dataclass
class ContactCheck:
    blocks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_contact(account: Account, channel: str, at: datetime, *, as_of: date | None = None) -> ContactCheck:
    """What stops (blocks) or should give pause (warnings) to contacting the guarantor at `at` (UTC)."""
    rules = settings()
    check = ContactCheck()
    if channel == "note":
        return check
    if channel == "email" and (opted_out := contact_preferences(account).email_opt_out_at):
        check.blocks.append(f"The guarantor opted out of email on {opted_out:%b %d, %Y}: no email about the "
                            f"debt (call or write instead).")
    for hold in holds(account, as_of or at.date()):
        if hold.kind in NO_CONTACT_HOLDS:
            check.blocks.append(f"{hold.label} hold: no contact about the debt.")
        elif hold.kind == "dispute":
            check.warnings.append("The guarantor disputes the debt: answer the dispute before asking for "
                                  "payment.")
    if channel in ("call", "email"):
        earliest, latest = time(rules.earliest_hour), time(rules.latest_hour)
        for zone in contact_zones(account):
            local = at.astimezone(ZoneInfo(zone))
            if not earliest <= local.time().replace(tzinfo=None) <= latest:
                check.blocks.append(f"It is {local:%I:%M %p} in {zone}: contact only between "
                                    f"{earliest:%I %p} and {latest:%I %p} local time.")
    if channel == "call":
        window_start = at - timedelta(days=rules.call_window_days)
        calls = db.session.scalars(select(ContactLog).where(
            ContactLog.account_id == account.id, ContactLog.channel == "call",
            ContactLog.contacted_at > window_start, ContactLog.contacted_at <= at)
            .order_by(ContactLog.contacted_at)).all()
        if len(calls) >= rules.call_attempts_limit:
            oldest_counted = calls[len(calls) - rules.call_attempts_limit].contacted_at
            free_at = oldest_counted + timedelta(days=rules.call_window_days)
            check.blocks.append(f"{len(calls)} call attempts in the last {rules.call_window_days} days "
                                f"(limit {rules.call_attempts_limit}): next call allowed after "
                                f"{free_at:%b %d %H:%M} UTC.")
        elif len(calls) == rules.call_attempts_limit - 1:
            check.warnings.append(f"This is the last call attempt allowed in {rules.call_window_days} days.")
        spoke = [c for c in calls if c.outcome == "conversation"
                 and c.contacted_at > at - timedelta(days=rules.quiet_days_after_conversation)]
        if spoke:
            until = spoke[-1].contacted_at + timedelta(days=rules.quiet_days_after_conversation)
            check.blocks.append(f"Spoke with the guarantor on {spoke[-1].contacted_at:%b %d}: no call until "
                                f"{until:%b %d %H:%M} UTC.")
    return check


@dataclass
class ContactPreferences:
    email_opt_out_at: datetime | None
    text_consent_at: datetime | None


def contact_preferences(account: Account) -> ContactPreferences:
    """What the guarantor told us about email and texts (nothing recorded: may email, may not text)."""
    row = db.session.execute(select(CollectionCase.email_opt_out_at, CollectionCase.text_consent_at)
                             .where(CollectionCase.account_id == account.id)).first()
    return ContactPreferences(*(row or (None, None)))


def set_contact_preferences(account: Account, *, email_opt_out: bool, text_consent: bool, actor: str) -> None:
    """Record an email opt-out or consent to texts (or their withdrawal), as the guarantor asked."""
    c = case_for(account)
    changes = {}
    for name, wanted in (("email_opt_out_at", email_opt_out), ("text_consent_at", text_consent)):
        if wanted != (getattr(c, name) is not None):
            setattr(c, name, utcnow() if wanted else None)
            changes[name.removesuffix("_at")] = wanted
    if changes:
        audit.record("collections.contact_preferences", "collection_case", actor=actor, object_id=c.id,
                     account_id=account.id, detail=changes, commit=False)


def log_contact(account: Account, *, channel: str, outcome: str, note: str | None, at: datetime, actor: str,
                as_of: date | None = None) -> tuple[ContactLog, ContactCheck]:
    """Record a contact; refused (nothing written) when a limit or the hours window forbids it."""
    if channel not in CHANNEL_WORDS or outcome not in OUTCOME_WORDS:
        raise CollectionsError("Choose how you contacted the guarantor and what happened.")
    check = check_contact(account, channel, at, as_of=as_of)
    if check.blocks:
        raise CollectionsError(" ".join(check.blocks))
    entry = ContactLog(account_id=account.id, channel=channel, outcome=outcome,
                       note=(note or "").strip() or None, contacted_at=at, created_by=actor)
    db.session.add(entry)
    db.session.flush()
    audit.record("collections.contact_logged", "collection_contact", actor=actor, object_id=entry.id,
                 account_id=account.id, detail={"channel": channel, "outcome": outcome}, commit=False)
    return entry, check


def actor_names(actors: set[str]) -> dict[str, str]:
    """'user:7' -> the user's name, for showing who logged what."""
    ids = [int(a.split(":", 1)[1]) for a in actors if a.startswith("user:") and a.split(":", 1)[1].isdigit()]
    return {f"user:{u.id}": u.full_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


def contacts(account: Account) -> list[ContactLog]:
    return list(db.session.scalars(select(ContactLog).where(ContactLog.account_id == account.id)
                                   .order_by(ContactLog.contacted_at.desc()).limit(100)))


# ---------------------------------------------------------------- promises to pay


def record_promise(account: Account, *, amount_cents: int, due_on: date, today: date,
                   actor: str) -> PromiseToPay:
    if amount_cents <= 0:
        raise CollectionsError("Enter the amount promised.")
    if amount_cents > account.patient_due_cents:
        raise CollectionsError("The promise cannot be more than the balance.")
    if not today <= due_on <= today + timedelta(days=90):
        raise CollectionsError("The promised date must be within the next 90 days.")
    promise = PromiseToPay(account_id=account.id, amount_cents=amount_cents, made_on=today, due_on=due_on,
                           created_by=actor)
    db.session.add(promise)
    case_for(account).next_action_on = due_on + timedelta(days=1)
    db.session.flush()
    audit.record("collections.promise_recorded", "promise_to_pay", actor=actor, object_id=promise.id,
                 account_id=account.id, detail={"amount_cents": amount_cents, "due_on": due_on.isoformat()},
                 commit=False)
    return promise


def promises(account: Account) -> list[PromiseToPay]:
    return list(db.session.scalars(select(PromiseToPay).where(PromiseToPay.account_id == account.id)
                                   .order_by(PromiseToPay.due_on.desc())))


# ---------------------------------------------------------------- placement, agency payments, bad debt


def open_placement(account: Account) -> Placement | None:
    return db.session.scalar(select(Placement).where(Placement.account_id == account.id,
                                                     Placement.recalled_on.is_(None)))


def _guard_extraordinary(account: Account, c: CollectionCase, as_of: date) -> list[str]:
    """Why no placement or bad-debt write-off may happen now (empty when it may)."""
    rules = settings()
    problems = [f"{h.label} hold." for h in holds(account, as_of)]
    if c.first_statement_on is None:
        problems.append("No statement has been sent.")
    elif as_of < c.first_statement_on + timedelta(days=rules.min_placement_days):
        earliest = c.first_statement_on + timedelta(days=rules.min_placement_days)
        problems.append(f"Too early: not before {earliest:%b %d, %Y} ({rules.min_placement_days} days after "
                        f"the first statement).")
    return problems


def placement_blockers(account: Account, as_of: date) -> list[str]:
    rules = settings()
    c = case_for(account)
    problems = _guard_extraordinary(account, c, as_of)
    if open_placement(account) is not None:
        problems.append("Already placed with an agency.")
    elif c.stage != "pre_collection":
        problems.append(f"The account is at {STAGE_WORDS[c.stage].lower()}; only pre-collection accounts are "
                        f"placed.")
    if account.patient_due_cents < rules.min_placement_cents:
        problems.append(f"Balances under {money.format_usd(rules.min_placement_cents)} are never placed.")
    return problems


def place(account: Account, agency: Agency, *, as_of: date, actor: str) -> Placement:
    if not agency.active:
        raise CollectionsError("That agency no longer takes placements.")
    if problems := placement_blockers(account, as_of):
        raise CollectionsError(" ".join(problems))
    c = case_for(account)
    placement = Placement(account_id=account.id, agency_id=agency.id, placed_on=as_of, prior_stage=c.stage,
                          placed_balance_cents=account.patient_due_cents, created_by=actor)
    db.session.add(placement)
    c.stage, c.stage_since, c.assignee_id, c.next_action_on = "placed", as_of, None, None
    account.collection_stage = "placed"
    db.session.flush()
    audit.record("collections.placed", "collection_placement", actor=actor, object_id=placement.id,
                 account_id=account.id, commit=False,
                 detail={"agency_id": agency.id, "balance_cents": placement.placed_balance_cents})
    return placement


def recall(account: Account, *, reason: str, as_of: date, actor: str) -> Placement:
    placement = open_placement(account)
    if placement is None:
        raise CollectionsError("The account is not placed with an agency.")
    if not reason.strip():
        raise CollectionsError("Say why the account is recalled.")
    placement.recalled_on, placement.recall_reason = as_of, reason.strip()
    c = case_for(account)
    c.stage, c.stage_since = placement.prior_stage, as_of
    account.collection_stage = placement.prior_stage
    db.session.flush()
    _rescore(settings(), scored_on(), CollectionCase.id == c.id)  # back in the queue with a current score
    audit.record("collections.recalled", "collection_placement", actor=actor, object_id=placement.id,
                 account_id=account.id, detail={"reason": reason}, commit=False)
    return placement


def _patient_charges(account_id: int) -> list[Charge]:
    return list(db.session.scalars(select(Charge).where(Charge.account_id == account_id,
                                                        Charge.patient_balance_cents > 0)
                                   .order_by(Charge.service_date, Charge.id)))


def record_agency_payment(account: Account, *, gross_cents: int, fee_cents: int | None, received_on: date,
                          reference: str | None, key: str, actor: str) -> AgencyPayment:
    """The agency collected `gross`, kept `fee` and sent us the rest.

    Posted the way the rules ask, as one ledger operation: the net cash as a payment (it matches
    the deposit) and the fee as an administrative adjustment on the patient balance, so the
    guarantor is credited the full gross and the fee shows as a collection expense. Idempotent on
    `key`: a replay posts nothing more (and records the row a first attempt may have left undone).
    """
    if done := db.session.scalar(select(AgencyPayment).where(AgencyPayment.key == key)):
        return done
    placement = open_placement(account) or db.session.scalar(
        select(Placement).where(Placement.account_id == account.id).order_by(Placement.id.desc()).limit(1))
    if placement is None:
        raise CollectionsError("The account has never been placed with an agency.")
    if fee_cents is None:
        fee_cents = money.pct(gross_cents, placement.agency.fee_bps)
    if gross_cents <= 0 or not 0 <= fee_cents < gross_cents:
        raise CollectionsError("The fee must be less than what the agency collected.")
    posted = db.session.scalar(select(Posting.id).where(Posting.idempotency_key == key))
    if posted is None and gross_cents > account.patient_due_cents:
        raise CollectionsError(f"The agency cannot have collected more than the balance "
                               f"({money.format_usd(account.patient_due_cents)}).")
    name = placement.agency.name
    try:
        remittance = ledger.post_agency_payment(
            account.id, gross_cents=gross_cents, fee_cents=fee_cents, key=key, actor=actor,
            received_on=received_on, reference=f"Agency {name} {reference or ''}".strip()[:100],
            fee_reason=f"Collection agency fee ({name})")
    except ledger.LedgerError as exc:
        raise CollectionsError(f"Nothing was posted: {exc}.") from exc
    detail = [{"charge_id": a.charge_id, "amount_cents": a.amount_cents, "adjustment_id": a.id}
              for a in remittance.fees]
    row = AgencyPayment(placement_id=placement.id, key=key, received_on=received_on, reference=reference,
                        gross_cents=gross_cents, fee_cents=fee_cents, payment_id=remittance.payment.id,
                        fee_detail=detail, created_by=actor)
    db.session.add(row)
    db.session.flush()
    audit.record("collections.agency_payment", "collection_agency_payment", actor=actor, object_id=row.id,
                 account_id=account.id, detail={"gross_cents": gross_cents, "fee_cents": fee_cents})
    return row


def write_off_bad_debt(account: Account, *, reason: str, as_of: date, actor: str) -> int:
    """Write the patient balance off as bad debt through the ledger (one adjustment per charge)."""
    c = case_for(account)
    if not reason.strip():
        raise CollectionsError("Say why the balance is written off.")
    if problems := _guard_extraordinary(account, c, as_of):
        raise CollectionsError(" ".join(problems))
    if account.credit_cents > 0:
        raise CollectionsError("Apply the account's unapplied credit first.")
    total = 0
    for charge in _patient_charges(account.id):
        amount = charge.patient_balance_cents
        ledger.post_adjustment(charge.id, amount_cents=amount, kind="bad_debt", bucket="patient",
                               key=f"collections:bad_debt:{account.id}:{charge.id}:{as_of}", actor=actor,
                               reason=reason.strip())
        total += amount
    if (placement := open_placement(account)) is not None:
        placement.recalled_on, placement.recall_reason = as_of, "written off as bad debt"
    c = case_for(account)
    c.stage, c.stage_since, c.balance_cents = "written_off", as_of, 0
    account.collection_stage = "written_off"
    audit.record("collections.bad_debt", "account", actor=actor, object_id=account.id, account_id=account.id,
                 detail={"amount_cents": total, "reason": reason})
    return total


PLACEMENT_COLUMNS = (
    ("account_number", "our account number"), ("guarantor_name", "the person who owes"),
    ("address_line1", ""), ("city", ""), ("state", ""), ("zip_code", ""), ("phone", ""), ("email", ""),
    ("balance", "patient balance in dollars, e.g. 1234.50"), ("placed_on", "YYYY-MM-DD"),
    ("first_service_date", "earliest date of service owed"),
    ("last_service_date", "latest date of service owed"),
    ("first_statement_date", ""), ("last_statement_date", ""), ("statements_sent", "count"),
    ("last_payment_date", "last patient payment, empty if none"),
)


def placement_file(agency: Agency, *, actor: str) -> str:
    """The agency's open placements as CSV: minimum necessary, no diagnosis, procedure or program."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _ in PLACEMENT_COLUMNS])
    rows = db.session.scalars(select(Placement).where(Placement.agency_id == agency.id,
                                                      Placement.recalled_on.is_(None)).order_by(Placement.id))
    for p in rows:
        a = p.account
        dates = db.session.execute(select(func.min(Charge.service_date), func.max(Charge.service_date))
                                   .where(Charge.account_id == a.id, Charge.patient_balance_cents > 0)).one()
        stmts = db.session.execute(
            select(func.min(Statement.statement_date), func.max(Statement.statement_date),
                   func.count(Statement.id)).where(Statement.account_id == a.id)).one()
        paid = db.session.scalar(select(func.max(Payment.received_on)).where(Payment.account_id == a.id,
                                                                             Payment.source == "patient"))
        writer.writerow([a.number, a.guarantor_name, a.address_line1 or "", a.city or "", a.state or "",
                         a.zip_code or "", a.phone or "", a.email or "",
                         money.format_plain(a.patient_due_cents), p.placed_on.isoformat(), _iso(dates[0]),
                         _iso(dates[1]), _iso(stmts[0]), _iso(stmts[1]), stmts[2], _iso(paid)])
    audit.record("collections.placement_file", "collection_agency", actor=actor, object_id=agency.id,
                 detail={"rows": len(out.getvalue().splitlines()) - 1}, commit=False)
    return out.getvalue()


def _iso(day) -> str:
    return day.isoformat() if day else ""


def create_agency(*, name: str, contact: str | None, fee_bps: int, actor: str) -> Agency:
    if not name.strip():
        raise CollectionsError("Name the agency.")
    if db.session.scalar(select(Agency.id).where(Agency.name == name.strip())):
        raise CollectionsError("An agency with that name exists.")
    agency = Agency(name=name.strip(), contact=(contact or "").strip() or None, fee_bps=fee_bps)
    db.session.add(agency)
    db.session.flush()
    audit.record("collections.agency_created", "collection_agency", actor=actor, object_id=agency.id,
                 commit=False)
    return agency


def set_agency_active(agency: Agency, *, active: bool, actor: str) -> None:
    """An inactive agency takes no new placements; those it holds stay until recalled or paid."""
    if agency.active == active:
        return
    agency.active = active
    audit.record("collections.agency_activated" if active else "collections.agency_deactivated",
                 "collection_agency", actor=actor, object_id=agency.id, commit=False)


def open_placement_counts() -> dict[int, int]:
    """Agency id -> accounts placed with it and not recalled."""
    return dict(db.session.execute(select(Placement.agency_id, func.count(Placement.id))
                                   .where(Placement.recalled_on.is_(None))
                                   .group_by(Placement.agency_id)).all())


def agencies(active_only: bool = False) -> list[Agency]:
    query = select(Agency).order_by(Agency.name)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return list(db.session.scalars(query))


# ---------------------------------------------------------------- dashboard figures


@dataclass
class Figures:
    buckets: list[int]
    collected_this_month_cents: int
    promises_due_today: int
    on_hold: int


def figures(today: date) -> Figures:
    report = aging(today, limit=0)
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    collected = db.session.scalar(select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
        Payment.source == "patient", Payment.received_on.between(today.replace(day=1), today),
        Payment.posting_id.not_in(reversed_postings)))
    due = db.session.scalar(select(func.count(PromiseToPay.id)).where(PromiseToPay.status == "open",
                                                                      PromiseToPay.due_on == today))
    on_hold = db.session.scalar(select(func.count(Account.id)).where(
        Account.patient_balance_cents > Account.credit_cents,
        _held(today)))
    return Figures(report.totals, int(collected), due, on_hold)


# ---------------------------------------------------------------- demo


def seed_demo(today: date, *, actor: str) -> None:
    """A few accounts at different stages, a hold, a promise and an agency, for the demo facility."""
    from portal.models import BillingCode
    from portal.services import statements  # statements import this module for their message

    fac = facility.current()
    code = db.session.scalar(select(BillingCode).where(BillingCode.kind == "billable").limit(1))
    agency = create_agency(name="Summit Recovery Services", contact="placements@summit.example.org",
                           fee_bps=2500, actor=actor)
    people = (("A-20001", "Jordan Avery", 150, 62500), ("A-20002", "Riley Chen", 95, 38000),
              ("A-20003", "Sam Patel", 40, 21000), ("A-20004", "Taylor Brooks", 160, 84000))
    made = []
    for number, name, days_ago, cents in people:
        first, last = name.split()
        account = Account(facility_id=fac.id, number=number, guarantor_name=name, state="NJ",
                          zip_code="07081", email=f"{first.lower()}@demo.example.org", phone="555-0142")
        db.session.add(account)
        db.session.flush()
        patient = Patient(account_id=account.id, mrn=f"D{number[2:]}", first_name=first, last_name=last,
                          date_of_birth=date(1985, 3, 14), zip_code="07081")
        db.session.add(patient)
        db.session.flush()
        since = today - timedelta(days=days_ago)
        charge = ledger.post_charge(account.id, patient_id=patient.id, billing_code_id=code.id,
                                    service_date=since - timedelta(days=20), amount_cents=cents,
                                    key=f"demo:collections:{number}", actor=actor)
        ledger.transfer(charge.id, amount_cents=cents, to_bucket="patient", reason="deductible",
                        key=f"demo:collections:{number}:pr", actor=actor, effective_date=since)
        statements.issue(account, since, actor=actor)
        made.append(account)
    # Walk the cycle forward a month at a time so each account sits where its age puts it.
    for days_back in (150, 120, 90, 60, 30, 0):
        run(today - timedelta(days=days_back), actor=actor)
    add_hold(made[2], kind="dispute", reason="Says the visit was covered by the employer plan", ends_on=None,
             review_on=today + timedelta(days=14), today=today, actor=actor)
    record_promise(made[1], amount_cents=10000, due_on=today + timedelta(days=5), today=today, actor=actor)
    if not placement_blockers(made[3], today):
        place(made[3], agency, as_of=today, actor=actor)
    db.session.commit()
    run(today, actor=actor)
