"""Celery tasks: thin wrappers that call services. The beat schedule lives here, in one place."""
import logging

from celery import shared_task
from celery.schedules import crontab
from sqlalchemy.exc import OperationalError

from portal import collections, iop, ledger, mail, payments, plans, remittances, statements
from portal.clock import facility_today
from portal.estimates import gfe
from portal.extensions import db
from portal.remittances import underpayments

log = logging.getLogger(__name__)

# Times are in the facility's zone (the Celery timezone is set from FACILITY_TIMEZONE). Nothing runs between
# 01:00 and 03:00, the hours daylight saving skips or repeats: a job there would not run, or run twice, one night.
BEAT_SCHEDULE = {
    "iop-charges-nightly": {"task": "portal.tasks.iop_nightly", "schedule": crontab(hour=0, minute=30)},
    "ledger-check-nightly": {"task": "portal.tasks.ledger_check", "schedule": crontab(hour=3, minute=45)},
    "gfe-check-nightly": {"task": "portal.tasks.gfe_check", "schedule": crontab(hour=4, minute=0)},
    "underpayments-nightly": {"task": "portal.tasks.underpayments_scan", "schedule": crontab(hour=4, minute=15)},
    # Before the statements: a statement carries the message of the stage the account is in that day.
    "collections-nightly": {"task": "portal.tasks.collections_nightly", "schedule": crontab(hour=5, minute=30)},
    "statements-daily": {"task": "portal.tasks.statements_daily", "schedule": crontab(hour=6, minute=0)},
    "plans-daily": {"task": "portal.tasks.plans_daily", "schedule": crontab(hour=9, minute=0)},
    "card-refunds-pending": {"task": "portal.tasks.settle_card_refunds", "schedule": crontab(minute="*/15")},
    "stripe-events-left": {"task": "portal.tasks.requeue_stripe_events", "schedule": crontab(minute="*/10")},
    "plan-charges-interrupted": {"task": "portal.tasks.resume_plan_charges", "schedule": crontab(minute="5-59/15")},
    "era-uploads-stalled": {"task": "portal.tasks.requeue_era_uploads", "schedule": crontab(minute="*/10")},
}

# The nightly runs go over every account: hours, not the default ten minutes.
NIGHTLY_LIMITS = {"soft_time_limit": 3 * 3600, "time_limit": 3 * 3600 + 300}
# A database or network hiccup (a failover, a dropped connection) is tried again, a few times, spaced out: the
# failed try rolled back, mail included (mail leaves at the commit), so nothing is done or sent twice.
TRANSIENT = (OperationalError, OSError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 30, "retry_backoff_max": 600, "max_retries": 5}


@shared_task(name="portal.tasks.ledger_check", acks_late=True, **NIGHTLY_LIMITS, **RETRY)
def ledger_check() -> dict:
    """Recompute every account; a disagreement is logged as an error for the on-call person."""
    checked, problems = ledger.check_all()
    for problem in problems:
        log.error("ledger check: account %s: %s", problem.account_number, "; ".join(problem.problems))
    return {"accounts_checked": checked, "accounts_with_problems": [p.as_dict() for p in problems]}


@shared_task(name="portal.tasks.settle_card_refunds", acks_late=True, **RETRY)
def settle_card_refunds(older_than_minutes: int = 10) -> dict:
    """Card refunds left pending by a crash: posted if Stripe made them, voided if it did not."""
    return payments.settle_pending_refunds(older_than_minutes)


@shared_task(name="portal.tasks.process_stripe_event", acks_late=True, **RETRY)
def process_stripe_event(event_row_id: int) -> str:
    """A stored Stripe webhook event, processed once (idempotent: a second run changes nothing)."""
    return payments.process_event(event_row_id)


@shared_task(name="portal.tasks.requeue_stripe_events", acks_late=True, **RETRY)
def requeue_stripe_events(older_than_minutes: int = 10) -> dict:
    """Stripe events stored but never processed (a crash between storing and processing): queued again."""
    ids = payments.events_left_received(older_than_minutes)
    for event_row_id in ids:
        process_stripe_event.delay(event_row_id)
    return {"requeued": len(ids)}


@shared_task(name="portal.tasks.iop_nightly", bind=True, acks_late=True, **NIGHTLY_LIMITS, **RETRY)
def iop_nightly(self, as_of: str | None = None) -> dict:
    """Per-diem charges for the service date in arrears, then the authorization run-out alerts."""
    from datetime import date

    day = date.fromisoformat(as_of) if as_of else facility_today()
    result = iop.run(day, actor=f"task:{self.request.id}")
    iop.alert_forecasts(day)
    return result.as_dict()


@shared_task(name="portal.tasks.send_mail", bind=True, acks_late=True, max_retries=5)
def send_mail(self, to: list[str], subject: str, body: str, headers: dict[str, str] | None = None) -> None:
    try:
        mail.send(to, subject, body, headers)
    except OSError as exc:  # SMTP down or refusing: try again later
        raise self.retry(exc=exc, countdown=300) from exc


@shared_task(name="portal.tasks.send_plan_confirmation", bind=True, acks_late=True, max_retries=5)
def send_plan_confirmation(self, plan_id: int) -> bool:
    """The new plan's schedule and agreement, mailed (SMTP down: tried again later)."""
    from portal.models import PaymentPlan

    plan = db.session.get(PaymentPlan, plan_id)
    if plan is None:  # queued only after the plan was committed: it was deleted since
        return False
    try:
        return plans.send_confirmation(plan)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=300) from exc


@shared_task(name="portal.tasks.statements_daily", bind=True, acks_late=True, **NIGHTLY_LIMITS, **RETRY)
def statements_daily(self, as_of: str | None = None) -> dict:
    """Statements for the accounts whose statement day it is; each guarantor is mailed once."""
    from datetime import date

    day = date.fromisoformat(as_of) if as_of else facility_today()
    return statements.run(day, actor=f"task:{self.request.id}").as_dict()


@shared_task(name="portal.tasks.plans_daily", bind=True, acks_late=True, **NIGHTLY_LIMITS)
def plans_daily(self, as_of: str | None = None) -> dict:
    """Charge the plan installments due (and retries), then remind payers of upcoming charges."""
    from datetime import date

    day = date.fromisoformat(as_of) if as_of else facility_today()
    outcomes = plans.charge_due(day, actor=f"task:{self.request.id}")
    return {"as_of": day.isoformat(), "charged": [vars(o) for o in outcomes],
            "reminders": plans.send_reminders(day)}


@shared_task(name="portal.tasks.resume_plan_charges", bind=True, acks_late=True)
def resume_plan_charges(self) -> dict:
    """Plan charges a worker started and never finished: settled (posted if Stripe charged) within minutes."""
    outcomes = plans.resume_interrupted(facility_today(), actor=f"task:{self.request.id}")
    return {"resumed": [vars(o) for o in outcomes]}


@shared_task(name="portal.tasks.collections_nightly", bind=True, acks_late=True, **NIGHTLY_LIMITS, **RETRY)
def collections_nightly(self, as_of: str | None = None) -> dict:
    """Age accounts, decide promises, advance dunning stages and score the collectors' queue."""
    from datetime import date

    day = date.fromisoformat(as_of) if as_of else facility_today()
    return collections.run(day, actor=f"task:{self.request.id}").as_dict()
@shared_task(name="portal.tasks.gfe_check", bind=True, acks_late=True, **RETRY)
def gfe_check(self) -> dict:
    """Flag Good Faith Estimates whose billed charges reached the estimate plus the dispute threshold."""
    return {"flagged": [g.id for g in gfe.check_overages(actor=f"task:{self.request.id}")]}
@shared_task(name="portal.tasks.era_import", bind=True, acks_late=True, **RETRY,
             soft_time_limit=int(remittances.IMPORT_TIME_LIMIT.total_seconds()) - 60,
             time_limit=int(remittances.IMPORT_TIME_LIMIT.total_seconds()))
def era_import(self, upload_id: int) -> dict:
    """Import an uploaded 835 whole (or record why it was refused), then check its lines for underpayment."""
    upload = remittances.run_upload(upload_id, actor=f"task:{self.request.id}")
    return remittances.status(upload) if upload else {"id": upload_id, "status": "missing"}


@shared_task(name="portal.tasks.requeue_era_uploads", acks_late=True, **RETRY)
def requeue_era_uploads() -> dict:
    """Uploads a dead worker left running (or a lost message left queued): imported again, from the start."""
    ids = remittances.stalled_uploads()
    for upload_id in ids:
        era_import.delay(upload_id)
    return {"requeued": ids}


@shared_task(name="portal.tasks.underpayments_scan", bind=True, acks_late=True, **NIGHTLY_LIMITS, **RETRY)
def underpayments_scan(self, as_of: str | None = None, days: int = 7) -> dict:
    """Check lines paid in the last `days` days; catches hand-posted insurance payments (uploads check at once)."""
    from datetime import date, timedelta

    day = date.fromisoformat(as_of) if as_of else facility_today()
    return underpayments.scan(day - timedelta(days=days), actor=f"task:{self.request.id}").as_dict()
