"""Charging plans: due installments, retries and failures, absorbing new balances, reminders."""
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal import audit, facility, i18n, ledger, money, payments
from portal.clock import long_date
from portal.extensions import db
from portal.locking import lock_rows
from portal.mail import email_stop
from portal.models import (
    Account,
    PaymentPlan,
    PlanChargeAttempt,
    PlanInstallment,
    utcnow,
)
from portal.payments import gateway
from portal.plans.enrolment import _end, _mail, policy
from portal.transaction import commit_before_outside_call

# ---------------------------------------------------------------- charging


@dataclass
class ChargeOutcome:
    installment_id: int
    plan_id: int
    account_number: str
    attempt: int
    result: str  # paid | failed | card_refused | defaulted | skipped | deferred (a card payment is under way)
    amount_cents: int
    message: str | None = None


def due_installments(as_of: date) -> list[int]:
    return list(db.session.scalars(
        select(PlanInstallment.id).join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PlanInstallment.status == "scheduled", PlanInstallment.next_attempt_on <= as_of,
               PaymentPlan.status == "active", PaymentPlan.card_refused_on.is_(None))
        .order_by(PlanInstallment.next_attempt_on, PlanInstallment.id)))


def absorb_new_balances(*, actor: str) -> int:
    """Where policy says new charges join the plan, spread what an account now owes beyond the plan
    over the payments left (the daily job runs this before charging)."""
    if not policy().new_charges_join:
        return 0
    changed = 0
    for plan in db.session.scalars(select(PaymentPlan).where(PaymentPlan.status == "active")).all():
        upcoming = [i for i in plan.installments if i.status == "scheduled"]
        account = db.session.get(Account, plan.account_id)
        extra = account.patient_due_cents - _scheduled_total(upcoming)
        if extra <= 0 or not upcoming or any(i.failures for i in upcoming):
            continue
        base, remainder = divmod(extra, len(upcoming))
        for n, installment in enumerate(upcoming):
            installment.amount_cents += base + (remainder if n == 0 else 0)
        plan.balance_cents += extra
        changed += 1
        audit.record("plan.new_charges_joined", "payment_plan", actor=actor, object_id=plan.id,
                     account_id=plan.account_id, detail={"added_cents": extra})
    db.session.flush()
    return changed


def _scheduled_total(installments) -> int:
    return sum(i.amount_cents for i in installments if i.status == "scheduled")


def billed_apart_cents(plan: PaymentPlan) -> int:
    """What the account owes beyond what the plan will still take (new charges billed apart)."""
    account = db.session.get(Account, plan.account_id)
    return max(account.patient_due_cents - remaining_cents(plan), 0)


def charge_due(as_of: date, *, actor: str) -> list[ChargeOutcome]:
    """Charge every installment due by `as_of` (the daily job). Rerunning charges nobody twice."""
    absorb_new_balances(actor=actor)
    outcomes = end_plans_left_without_a_card(as_of, actor=actor)
    for installment_id in due_installments(as_of):
        outcome = charge_installment(installment_id, as_of, actor=actor)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def resume_interrupted(as_of: date, *, actor: str) -> list[ChargeOutcome]:
    """Charges a worker claimed and never finished (it died, or lost its connection) once their claim has run
    out: Stripe may have charged already, and that payment belongs on the account now, not at tomorrow's run.
    Installments nobody started wait for the daily run."""
    now = utcnow()
    stalled = db.session.scalars(select(PlanChargeAttempt.installment_id).where(
        PlanChargeAttempt.status == "started",
        or_(PlanChargeAttempt.claimed_until.is_(None), PlanChargeAttempt.claimed_until <= now))).all()
    outcomes = []
    for installment_id in sorted(set(stalled)):
        if (outcome := charge_installment(installment_id, as_of, actor=actor)) is not None:
            outcomes.append(outcome)
    return outcomes


def charge_installment(installment_id: int, as_of: date, *, actor: str) -> ChargeOutcome | None:
    """Charge one installment off-session, once per (installment, attempt number).

    Three short steps, so no lock is held while the processor answers: claim the attempt (committed),
    create or find its PaymentIntent, then record the result and post the payment.
    """
    claimed = _claim(installment_id, as_of)
    if claimed is None or isinstance(claimed, ChargeOutcome):
        return claimed
    attempt_id, resumed = claimed
    attempt = db.session.get(PlanChargeAttempt, attempt_id)
    installment = db.session.get(PlanInstallment, installment_id)
    plan = installment.plan
    account = db.session.get(Account, plan.account_id)
    marker = {"parity_plan_attempt": str(attempt.id)}
    intent_id = attempt.payment_intent_id or (
        gateway.find_payment_intent(account.stripe_customer_id, marker) if resumed else None)
    if intent_id:
        intent = gateway.retrieve_payment_intent(intent_id)
    else:
        fac = facility.current()
        params = gateway.payment_intent_params(
            amount_cents=attempt.amount_cents, customer_id=account.stripe_customer_id,
            payment_method_id=plan.card.payment_method_id, card_payment_id=attempt.id, account_id=account.id,
            descriptor=fac.statement_descriptor, payer_name=fac.neutral_name, off_session=True)
        params["metadata"] = {**marker, "parity_account": str(account.id)}
        intent = gateway.create_payment_intent(
            params, idempotency_key=f"plan-installment-{installment.id}-attempt-{attempt.attempt_number}")
    outcome = ChargeOutcome(installment.id, plan.id, account.number, attempt.attempt_number, "paid",
                            attempt.amount_cents)
    installment = lock_rows(PlanInstallment, [installment_id])[installment_id]
    attempt = db.session.get(PlanChargeAttempt, attempt_id)
    if attempt.status != "started":  # settled by another worker meanwhile
        return None
    attempt.payment_intent_id = intent.id
    if intent.status == "succeeded":
        payment = ledger.post_payment(account.id, amount_cents=attempt.amount_cents, method="card",
                                      key=f"stripe:{intent.id}", actor=actor, reference=intent.id)
        installment = db.session.get(PlanInstallment, installment_id)
        attempt = db.session.get(PlanChargeAttempt, attempt_id)
        attempt.status, installment.status, installment.payment_id = "succeeded", "paid", payment.id
        _complete_if_done(installment.plan)
        commit_before_outside_call()  # the mail says the payment was received: store that first
        with i18n.for_account(account):
            _mail(account, _("Your plan payment was received"),
                  _("We received your scheduled payment of %(amount)s. Thank you.",
                    amount=money.format_usd(attempt.amount_cents)))
        return outcome
    db.session.flush()
    if intent.hard_decline:
        return _card_refused(installment_id, attempt_id, intent.error_message, as_of, outcome)
    return _failed(installment_id, attempt_id, intent.error_message, as_of, outcome)


def _claim(installment_id: int, as_of: date):
    """Claim the installment's next attempt: (attempt id, resumed?), an outcome if nothing is owed,
    or None when it is not due or another worker holds it."""
    installment = lock_rows(PlanInstallment, [installment_id]).get(installment_id)
    if installment is None or installment.status != "scheduled" or installment.next_attempt_on > as_of \
            or installment.plan.status != "active" or installment.plan.card_refused_on is not None:
        return None
    plan = installment.plan
    # Locked as a card payment locks it while Stripe charges: what such a payment is charging counts below.
    account = lock_rows(Account, [plan.account_id])[plan.account_id]
    number = installment.failures + 1
    now = utcnow()
    attempt = db.session.scalar(select(PlanChargeAttempt).where(
        PlanChargeAttempt.installment_id == installment.id, PlanChargeAttempt.attempt_number == number))
    if attempt is not None and (attempt.status != "started" or (attempt.claimed_until and attempt.claimed_until > now)):
        return None
    resumed = attempt is not None
    if attempt is None:
        # A payment made outside the plan lowers what the plan still takes.
        if account.patient_due_cents <= 0:
            installment.status = "skipped"
            _complete_if_done(plan)
            db.session.flush()
            return ChargeOutcome(installment.id, plan.id, account.number, number, "skipped", 0,
                                 "nothing is owed any more")
        # So does one being charged right now (its PaymentIntent made, not yet settled).
        amount = min(installment.amount_cents, account.patient_due_cents - payments.charging_cents(account.id))
        if amount <= 0:
            db.session.flush()
            return ChargeOutcome(installment.id, plan.id, account.number, number, "deferred", 0,
                                 "a card payment of the account is under way; charged at the next run if owed")
        attempt = PlanChargeAttempt(installment_id=installment.id, attempt_number=number, charge_date=as_of,
                                    amount_cents=amount)
        db.session.add(attempt)
    attempt.claimed_until = now + timedelta(seconds=current_app.config.get("PLAN_CLAIM_SECONDS", 120))
    commit_before_outside_call()  # the claimed attempt is stored before Stripe is asked to charge
    return attempt.id, resumed


def _failed(installment_id: int, attempt_id: int, message: str | None, as_of: date,
            outcome: ChargeOutcome) -> ChargeOutcome:
    rules = policy()
    installment = db.session.get(PlanInstallment, installment_id)
    attempt = db.session.get(PlanChargeAttempt, attempt_id)
    plan = installment.plan
    account = db.session.get(Account, plan.account_id)
    attempt.status, attempt.message = "failed", message or "The card was not charged."
    installment.failures = attempt.attempt_number
    attempt.claimed_until = None
    outcome.message = attempt.message
    base = current_app.config["BASE_URL"]
    if installment.failures >= rules.failures_before_default:
        _end(plan, "defaulted", f"{installment.failures} failed attempts on payment {installment.sequence}")
        account.collection_stage = "plan_defaulted"  # collections picks the account up from here
        outcome.result = "defaulted"
        commit_before_outside_call()  # the mail says the plan ended: store that first
        with i18n.for_account(account):
            _mail(account, _("Your payment plan has ended"),
                  _("We could not charge your card for your payment plan after several tries, so the plan has ended. "
                    "Please sign in to pay or call us to set up a new plan: %(login)s", login=base + "/login"))
        return outcome
    schedule = rules.retry_schedule
    wait = schedule[min(installment.failures, len(schedule)) - 1] if schedule else 1
    installment.next_attempt_on = as_of + timedelta(days=wait)
    outcome.result = "failed"
    commit_before_outside_call()  # the mail gives the retry date: store it first
    with i18n.for_account(account):
        _mail(account, _("We could not take your plan payment"),
              _("Your scheduled payment of %(amount)s did not go through. We will try again on %(day)s. "
                "To use another card, sign in: %(login)s", amount=money.format_usd(attempt.amount_cents),
                day=long_date(installment.next_attempt_on), login=base + "/login"))
    return outcome


def _card_refused(installment_id: int, attempt_id: int, message: str | None, as_of: date,
                  outcome: ChargeOutcome) -> ChargeOutcome:
    """A hard decline: trying the same card again would fail again, so the retries stop until the plan has
    another card; the payer is asked for one, and the plan shows on the billers' lists."""
    installment = db.session.get(PlanInstallment, installment_id)
    attempt = db.session.get(PlanChargeAttempt, attempt_id)
    plan = installment.plan
    attempt.status, attempt.message = "failed", message or "The card was refused."
    attempt.claimed_until = None
    installment.failures = attempt.attempt_number
    plan.card_refused_on = as_of
    outcome.result, outcome.message = "card_refused", attempt.message
    account = db.session.get(Account, plan.account_id)
    card = plan.card
    commit_before_outside_call()  # the mail says the card will not be tried again: store that first
    with i18n.for_account(account):
        _mail(account, _("Your plan payment needs a new card"),
              _("Your scheduled payment of %(amount)s was refused by the bank that issued your %(brand)s ending "
                "%(last4)s, and we will not try that card again. Please sign in and choose another card for your "
                "payment plan: %(login)s", amount=money.format_usd(attempt.amount_cents), brand=card.brand.title(),
                last4=card.last4, login=current_app.config["BASE_URL"] + "/login"))
    return outcome


def end_plans_left_without_a_card(as_of: date, *, actor: str) -> list[ChargeOutcome]:
    """A plan whose card was refused for good, and that got no new card within the time a soft decline's retries
    would have taken (the policy's retry schedule), ends as defaulted like any other, so collections takes it up."""
    grace = sum(policy().retry_schedule) or 1
    waiting = list(db.session.scalars(select(PaymentPlan.id).where(
        PaymentPlan.status == "active", PaymentPlan.card_refused_on <= as_of - timedelta(days=grace))))
    outcomes = []
    for plan_id in waiting:
        plan = lock_rows(PaymentPlan, [plan_id])[plan_id]
        if plan.status != "active" or plan.card_refused_on is None:
            continue  # a new card came meanwhile
        refused = next((i for i in plan.installments if i.status == "scheduled" and i.failures), None)
        account = lock_rows(Account, [plan.account_id])[plan.account_id]
        _end(plan, "defaulted", f"no new card within {grace} days of the card being refused")
        account.collection_stage = "plan_defaulted"  # collections picks the account up from here
        audit.record("plan.defaulted", "payment_plan", actor=actor, object_id=plan.id, account_id=account.id,
                     detail={"reason": plan.end_reason})
        outcomes.append(ChargeOutcome(refused.id if refused else 0, plan.id, account.number,
                                      refused.failures if refused else 0, "defaulted",
                                      refused.amount_cents if refused else 0, plan.end_reason))
        commit_before_outside_call()  # the mail says the plan ended: store that first
        with i18n.for_account(account):
            _mail(account, _("Your payment plan has ended"),
                  _("We asked for a new card for your payment plan and did not receive one, so the plan has ended. "
                    "Please sign in to pay or call us to set up a new plan: %(login)s",
                    login=current_app.config["BASE_URL"] + "/login"))
    return outcomes


def _complete_if_done(plan: PaymentPlan) -> None:
    if all(i.status in ("paid", "skipped") for i in plan.installments):
        plan.status, plan.end_reason = "completed", "all payments made"


def send_reminders(as_of: date) -> int:
    """Mail each payer a few days before an installment is charged (once per installment, and not to
    payers who stopped billing email); returns how many were mailed."""
    rules = policy()
    horizon = as_of + timedelta(days=rules.reminder_lead_days)
    upcoming = db.session.scalars(
        select(PlanInstallment).join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PlanInstallment.status == "scheduled", PlanInstallment.reminded_on.is_(None),
               PlanInstallment.failures == 0, PlanInstallment.due_date > as_of,
               PlanInstallment.due_date <= horizon, PaymentPlan.status == "active")).all()
    mailed = 0
    for installment in upcoming:
        account = db.session.get(Account, installment.plan.account_id)
        card = installment.plan.card
        if not email_stop.has_stopped(account):
            with i18n.for_account(account):
                body = _("On %(day)s we will charge %(amount)s to your %(brand)s ending %(last4)s.",
                         day=long_date(installment.due_date), amount=money.format_usd(installment.amount_cents),
                         brand=card.brand.title(), last4=card.last4)
                _mail(account, _("Your plan payment is coming up"), f"{body}\n\n{email_stop.footer(account)}",
                      headers=email_stop.headers(account))
            mailed += 1
        installment.reminded_on = as_of
    db.session.flush()
    return mailed




def remaining_cents(plan: PaymentPlan) -> int:
    return _scheduled_total(plan.installments)


