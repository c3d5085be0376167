"""Celery tasks: thin wrappers that call services. The beat schedule lives here, in one place."""
import logging

from celery import shared_task
from celery.schedules import crontab

from portal.services import ledger

log = logging.getLogger(__name__)

BEAT_SCHEDULE = {
    "ledger-check-nightly": {"task": "portal.tasks.ledger_check", "schedule": crontab(hour=2, minute=15)},
}


@shared_task(name="portal.tasks.ledger_check", acks_late=True)
def ledger_check() -> dict:
    """Recompute every account; a disagreement is logged as an error for the on-call person."""
    checked, problems = ledger.check_all()
    for problem in problems:
        log.error("ledger check: account %s: %s", problem.account_number, "; ".join(problem.problems))
    return {"accounts_checked": checked, "accounts_with_problems": [p.as_dict() for p in problems]}
