"""Dashboard cards: what needs a person, filtered by what the user may see."""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select

from portal import claims, collections, estimates, iop, money, remittances
from portal.clock import facility_today, facility_zone
from portal.extensions import db
from portal.models import Account, Dispute, GoodFaithEstimate, Lead, Payment, StripeEvent, User, utcnow
from portal.remittances import underpayments


@dataclass
class Card:
    title: str
    value: str
    note: str = ""
    worklist: str | None = None  # the staff side links each worklist name to its page


def cards_for(user: User) -> list[Card]:
    cards: list[Card] = []
    if user.can("accounts.view"):
        ins, pat, credit = db.session.execute(select(
            func.coalesce(func.sum(Account.insurance_balance_cents), 0),
            func.coalesce(func.sum(Account.patient_balance_cents), 0),
            func.coalesce(func.sum(Account.credit_cents), 0),
        )).one()
        start_of_day = datetime.combine(facility_today(), time.min, facility_zone()).astimezone(UTC)
        paid_today = db.session.scalar(
            select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(Payment.created_at >= start_of_day)
        )
        cards += [
            Card("Insurance A/R", money.format_usd(ins), "Owed by payers", "accounts"),
            Card("Patient A/R", money.format_usd(pat), "Owed by patients and guarantors", "accounts"),
            Card("Unapplied credit", money.format_usd(credit), "Payments not yet applied to a charge"),
            Card("Payments today", money.format_usd(paid_today), "Posted since midnight, facility time"),
        ]
    if user.can("payments.refund"):
        open_disputes = db.session.scalar(select(func.count(Dispute.id)).where(Dispute.state == "open"))
        failed_events = db.session.scalar(select(func.count(StripeEvent.id)).where(StripeEvent.status == "failed"))
        cards += [
            Card("Card disputes open", str(open_disputes), "Chargebacks to answer in the Stripe Dashboard",
                 "card_events"),
            Card("Card events failed", str(failed_events), "Stripe events to look at and process again",
                 "card_events"),
        ]
    if user.can("collections.work"):
        figures = collections.figures(facility_today())
        by_bucket = " · ".join(f"{label} {money.format_usd(cents)}"
                               for label, cents in zip(collections.BUCKETS, figures.buckets))
        cards += [
            Card("Patient aging", money.format_usd(sum(figures.buckets)), by_bucket,
                 "aging"),
            Card("Collected this month", money.format_usd(figures.collected_this_month_cents),
                 "Patient payments received since the 1st"),
            Card("Promises due today", str(figures.promises_due_today), "Promises to pay falling due today",
                 "collections_queue"),
            Card("Accounts on hold", str(figures.on_hold),
                 "Insurance pending, plans, disputes and other holds", "collections_queue"),
        ]
    if user.can("claims.view"):
        by_status = claims.count_by_status()
        cards += [
            Card("Claims held", str(by_status.get("held", 0) + by_status.get("rejected", 0)),
                 "Held by the scrubber or rejected by the payer: fix and scrub again", "claims"),
            Card("Claims ready to send", str(by_status.get("ready", 0)), "Scrubbed clean, waiting for their 837 file",
                 "claims"),
            Card("ERA exceptions waiting", str(remittances.open_exception_count()),
                 "Remittance claims and lines to match by hand", "era_exceptions"),
            Card("Denials open", str(claims.open_count()), "Denied lines not yet settled", "denials"),
            Card("Underpayments open", str(underpayments.open_count()), "Lines allowed below what was expected",
                 "underpayments"),
        ]
    if user.can("iop.review"):
        yesterday = facility_today() - timedelta(days=1)
        count = sum(n for _, n, _ in iop.charges_by_day(yesterday, yesterday))
        cards += [
            Card("IOP days to review", str(len(iop.open_exceptions())), "Attended days the nightly run could not bill",
                 "iop_review"),
            Card("IOP charges yesterday", str(count), "Per-diem charges for yesterday's date of service",
                 "iop_review"),
        ]
    if user.can("estimates.run"):
        threshold = estimates.settings().gfe_dispute_threshold_cents
        leads = db.session.scalar(select(func.count(Lead.id)).where(Lead.status == "new"))
        over = db.session.scalar(select(func.count(GoodFaithEstimate.id)).where(
            GoodFaithEstimate.flagged_at.is_not(None)))
        undelivered = db.session.scalar(select(func.count(GoodFaithEstimate.id)).where(
            GoodFaithEstimate.delivered_at.is_(None)))
        cards += [
            Card("New prospects", str(leads), "Asked for a call back about an estimate", "leads"),
            Card(f"GFEs billed {money.format_usd_short(threshold)}+ over", str(over),
                 "Patients may dispute: hold collections", "gfes"),
            Card("GFEs to deliver", str(undelivered), "Good Faith Estimates not yet given to the patient",
                 "gfes"),
        ]
    if user.can("admin.users"):
        locked = db.session.scalar(select(func.count(User.id)).where(User.locked_until > utcnow()))
        no_2fa = db.session.scalar(select(func.count(User.id)).where(
            User.kind == "staff", User.active.is_(True), User.totp_enabled.is_(False)))
        cards += [
            Card("Locked logins", str(locked), "After repeated failed sign-ins", "staff_logins"),
            Card("Staff without two-factor", str(no_2fa), "Active staff logins", "staff_logins"),
        ]
    return cards
