"""The collectors' worklist: the score, its reasons, assignment and the settings that weigh it."""
from datetime import date, timedelta

from sqlalchemy import case, or_, select, update

from portal import audit, facility, money
from portal.clock import facility_today
from portal.collections.holding import _held
from portal.collections.policy import (
    BALANCE_POINTS_CAP,
    BUCKETS,
    RECENT_PAYMENT_DAYS,
    STAGE_WORDS,
    CollectionsError,
    _rows,
    settings,
)
from portal.extensions import db
from portal.models import (
    Account,
    CollectionCase,
    CollectionSettings,
    User,
)
from portal.models.collections import DUNNING_STAGES

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


def assign(account: Account, *, assignee: User | None, next_action_on: date | None, actor: str,
           ip: str | None = None, user_agent: str | None = None) -> None:
    if assignee is not None and not assignee.can("collections.work"):
        raise CollectionsError("Assign the account to someone who works the collections queue.")
    c = case_for(account)
    c.assignee_id = assignee.id if assignee else None
    c.next_action_on = next_action_on
    audit.record("collections.assigned", "collection_case", actor=actor, object_id=c.id,
                 account_id=account.id,
                 detail={"assignee_id": c.assignee_id, "next_action_on": str(next_action_on)},
                 ip=ip, user_agent=user_agent)


def collectors() -> list[User]:
    staff = db.session.scalars(select(User).where(User.kind == "staff", User.active.is_(True))
                               .order_by(User.full_name))
    return [u for u in staff if u.can("collections.work")]


SETTING_FIELDS = (
    "days_first_statement", "days_second_statement", "days_third_statement", "days_final_notice",
    "message_first_statement", "message_second_statement", "message_third_statement", "message_final_notice",
    "message_pre_collection", "call_attempts_limit", "call_window_days", "quiet_days_after_conversation",
    "earliest_hour", "latest_hour", "min_placement_days", "min_placement_cents", "weight_per_100_dollars",
    "weight_per_age_bucket", "weight_per_stage", "weight_per_broken_promise", "weight_no_recent_payment",
)


def update_settings(values: dict, *, actor, ip: str | None = None, user_agent: str | None = None) -> None:
    rules = facility.save_settings(settings())
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
                 detail=changes, ip=ip, user_agent=user_agent)
