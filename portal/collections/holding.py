"""Holds that pause dunning: staff holds, insurance still pending, a plan in good standing."""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, or_, select

from portal import audit, money
from portal.collections.policy import HOLD_WORDS, CollectionsError, settings
from portal.extensions import db
from portal.models import (
    Account,
    CollectionHold,
    PaymentPlan,
    utcnow,
)
from portal.models.collections import STAFF_HOLD_KINDS, CollectionCase

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
             today: date, actor: str, ip: str | None = None, user_agent: str | None = None) -> CollectionHold:
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
                 detail={"kind": kind, "ends_on": str(ends_on), "review_on": str(review_on)},
                 ip=ip, user_agent=user_agent)
    return hold


def holds_to_review(today: date) -> list[CollectionHold]:
    """Staff holds whose review date has come, oldest first: someone must release or extend them."""
    return list(db.session.scalars(select(CollectionHold).where(
        CollectionHold.released_at.is_(None), CollectionHold.review_on <= today,
        or_(CollectionHold.ends_on.is_(None), CollectionHold.ends_on >= today))
        .order_by(CollectionHold.review_on, CollectionHold.id).limit(50)))


def release_hold(account: Account, hold_id: int, *, actor: str,
                 ip: str | None = None, user_agent: str | None = None) -> None:
    hold = db.session.get(CollectionHold, hold_id)
    if hold is None or hold.account_id != account.id or hold.released_at is not None:
        raise CollectionsError("That hold is not active on this account.")
    hold.released_at, hold.released_by = utcnow(), actor
    audit.record("collections.hold_released", "collection_hold", actor=actor, object_id=hold.id,
                 account_id=account.id, ip=ip, user_agent=user_agent)


def stage_message(account: Account, as_of: date) -> str | None:
    """The message for a statement issued on `as_of`: none while a hold stops dunning; an account not
    yet in the cycle gets the first statement's."""
    if holds(account, as_of):
        return None
    stage = db.session.scalar(select(CollectionCase.stage).where(CollectionCase.account_id == account.id))
    if stage in (None, "none"):
        stage = "first_statement"
    return getattr(settings(), f"message_{stage}", None)
