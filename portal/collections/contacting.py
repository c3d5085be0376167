"""Contacts with guarantors and their limits (time of day, time zones, consent), and promises to pay."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from portal import audit
from portal.clock import facility_zone
from portal.collections.holding import holds
from portal.collections.policy import (
    CHANNEL_WORDS,
    NO_CONTACT_HOLDS,
    OUTCOME_WORDS,
    CollectionsError,
    settings,
)
from portal.collections.worklist import case_for
from portal.extensions import db
from portal.models import (
    Account,
    CollectionCase,
    ContactLog,
    PromiseToPay,
    User,
    utcnow,
)

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


def set_contact_preferences(account: Account, *, email_opt_out: bool, text_consent: bool, actor: str,
                            ip: str | None = None, user_agent: str | None = None) -> None:
    """Record an email opt-out or consent to texts (or their withdrawal), as the guarantor asked."""
    c = case_for(account)
    changes = {}
    for name, wanted in (("email_opt_out_at", email_opt_out), ("text_consent_at", text_consent)):
        if wanted != (getattr(c, name) is not None):
            setattr(c, name, utcnow() if wanted else None)
            changes[name.removesuffix("_at")] = wanted
    if changes:
        audit.record("collections.contact_preferences", "collection_case", actor=actor, object_id=c.id,
                     account_id=account.id, detail=changes, ip=ip, user_agent=user_agent)


def log_contact(account: Account, *, channel: str, outcome: str, note: str | None, at: datetime, actor: str,
                as_of: date | None = None,
                ip: str | None = None, user_agent: str | None = None) -> tuple[ContactLog, ContactCheck]:
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
                 account_id=account.id, detail={"channel": channel, "outcome": outcome},
                 ip=ip, user_agent=user_agent)
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
                   actor: str, ip: str | None = None, user_agent: str | None = None) -> PromiseToPay:
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
                 ip=ip, user_agent=user_agent)
    return promise


def promises(account: Account) -> list[PromiseToPay]:
    return list(db.session.scalars(select(PromiseToPay).where(PromiseToPay.account_id == account.id)
                                   .order_by(PromiseToPay.due_on.desc())))
