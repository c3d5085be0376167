"""Payment plans with autopay: policy, the exact schedule, enrolment, daily charging, retries, default.

The schedule rule: after the down payment, the balance is split into equal whole-cent installments
and the remainder (fewer cents than the number of installments) is added to the first installment,
so the installments add up to the plan balance exactly and never differ by more than that remainder.
"""
import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from portal import money
from portal.extensions import db
from portal.models import (
    Account,
    PaymentPlan,
    PlanChargeAttempt,
    PlanInstallment,
    PlanPolicy,
    SavedCard,
    utcnow,
)
from portal.services import audit, email_stop, facility, gateway, ledger
from portal.services.clock import facility_today
from portal.services.locking import lock_rows

GOOD_STANDING = ("active",)


class PlanError(ValueError):
    """A plan request outside policy or otherwise impossible, with a message fit to show."""


def policy() -> PlanPolicy:
    fac = facility.current()
    found = db.session.scalar(select(PlanPolicy).where(PlanPolicy.facility_id == fac.id))
    if found is None:
        found = PlanPolicy(facility_id=fac.id)
        db.session.add(found)
        db.session.commit()
    return found


def update_policy(rules: PlanPolicy, values: dict, *, actor) -> None:
    if values["self_service_max_months"] > values["max_term_months"]:
        raise PlanError("The self-service limit cannot be longer than the longest plan.")
    changes = {k: [getattr(rules, k), v] for k, v in values.items() if getattr(rules, k) != v}
    for key, value in values.items():
        setattr(rules, key, value)
    audit.record("plan_policy.updated", "plan_policy", actor=actor, object_id=rules.id, detail=changes)


def add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    wanted = day_of_month or day.day
    return date(year, month, min(wanted, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Schedule:
    balance_cents: int
    down_payment_cents: int
    installments: tuple[tuple[date, int], ...]

    @property
    def months(self) -> int:
        return len(self.installments)

    @property
    def monthly_cents(self) -> int:
        return self.installments[-1][1]


def required_down_payment(balance_cents: int, rules: PlanPolicy) -> int:
    return min(balance_cents, max(money.pct(balance_cents, rules.down_payment_bps), rules.down_payment_cents))


def build_schedule(balance_cents: int, first_due: date, rules: PlanPolicy, *, months: int | None = None,
                   monthly_cents: int | None = None, down_payment_cents: int | None = None) -> Schedule:
    """The installments for a balance, by number of months or by monthly amount, checked against policy."""
    if (months is None) == (monthly_cents is None):
        raise PlanError("Choose a number of months or a monthly amount.")
    if balance_cents < rules.min_balance_cents:
        raise PlanError(f"Plans start at balances of {money.format_usd(rules.min_balance_cents)}.")
    least_down = required_down_payment(balance_cents, rules)
    down = least_down if down_payment_cents is None else down_payment_cents
    if down < least_down:
        raise PlanError(f"The down payment must be at least {money.format_usd(least_down)}.")
    if down >= balance_cents:
        raise PlanError("The down payment would pay the whole balance; pay it instead.")
    rest = balance_cents - down
    if monthly_cents is not None:
        if monthly_cents <= 0:
            raise PlanError("Enter a monthly amount.")
        months = -(-rest // monthly_cents)  # ceiling: enough months to cover the rest
    if months < 1 or months > rules.max_term_months:
        raise PlanError(f"Plans run from 1 to {rules.max_term_months} months.")
    base, remainder = divmod(rest, months)
    if base < rules.min_installment_cents:
        raise PlanError(f"Each payment must be at least {money.format_usd(rules.min_installment_cents)}; "
                        f"choose fewer months.")
    amounts = [base + remainder] + [base] * (months - 1)
    dates = [add_months(first_due, n, first_due.day) for n in range(months)]
    return Schedule(balance_cents, down, tuple(zip(dates, amounts, strict=True)))


def needs_approval(schedule: Schedule, rules: PlanPolicy) -> bool:
    return schedule.months > rules.self_service_max_months


def active_plan(account: Account) -> PaymentPlan | None:
    return db.session.scalar(select(PaymentPlan).where(PaymentPlan.account_id == account.id,
                                                       PaymentPlan.status.in_(("active", "pending_approval"))))


def create(account: Account, schedule: Schedule, *, card: SavedCard | None, actor: str, by_patient: bool,
           agreement_name: str | None = None, agreement_ip: str | None = None) -> PaymentPlan:
    """Put a balance on a plan. A patient's plan beyond self-service terms waits for a biller."""
    rules = policy()
    if active_plan(account) is not None:
        raise PlanError("This account already has a plan.")
    if schedule.balance_cents > account.patient_due_cents:
        raise PlanError("The plan cannot be larger than what is owed.")
    if card is None or card.account_id != account.id or card.removed_at is not None:
        raise PlanError("Choose the card for automatic payments.")
    if by_patient and not (agreement_name or "").strip():
        raise PlanError("Type your name to accept the agreement.")
    status = "pending_approval" if by_patient and needs_approval(schedule, rules) else "active"
    plan = PaymentPlan(
        account_id=account.id, status=status, balance_cents=schedule.balance_cents,
        down_payment_cents=schedule.down_payment_cents, months=schedule.months,
        first_due_date=schedule.installments[0][0], saved_card_id=card.id, created_by=actor,
        agreement_name=(agreement_name or "").strip() or None, agreement_ip=agreement_ip,
        agreement_accepted_at=utcnow() if agreement_name else None,
        approved_by=None if status == "pending_approval" else actor,
    )
    # The down payment is the first charge, taken by the next daily run.
    today = facility_today()
    charges = ([(today, schedule.down_payment_cents)] if schedule.down_payment_cents else []) + list(
        schedule.installments)
    plan.installments = [PlanInstallment(sequence=n + 1, due_date=day, amount_cents=cents, next_attempt_on=day)
                         for n, (day, cents) in enumerate(charges)]
    db.session.add(plan)
    db.session.commit()
    return plan


def approve(plan: PaymentPlan, *, actor: str) -> None:
    if plan.status != "pending_approval":
        raise PlanError("Only a plan waiting for approval can be approved.")
    plan.status, plan.approved_by = "active", actor
    db.session.commit()


def cancel(plan: PaymentPlan, *, reason: str, actor: str) -> None:
    if plan.status not in ("active", "pending_approval"):
        raise PlanError("This plan has already ended.")
    _end(plan, "cancelled", f"{reason} ({actor})")
    db.session.commit()


def change_card(plan: PaymentPlan, card_id: int, *, actor: str) -> None:
    card = db.session.get(SavedCard, card_id)
    if card is None or card.account_id != plan.account_id or card.removed_at is not None:
        raise PlanError("Choose one of the account's saved cards.")
    plan.saved_card_id = card.id
    db.session.commit()


def skip(installment: PlanInstallment, *, reason: str, actor) -> PlanInstallment:
    """Move one payment to the end of the plan (a biller's decision, with a reason)."""
    plan = installment.plan
    if plan.status != "active" or installment.status != "scheduled" or installment.failures:
        raise PlanError("Only an upcoming payment of an active plan can be moved.")
    if not reason.strip():
        raise PlanError("Say why the payment is moved.")
    last = plan.installments[-1]
    moved = PlanInstallment(sequence=last.sequence + 1, due_date=add_months(last.due_date, 1),
                            amount_cents=installment.amount_cents, next_attempt_on=add_months(last.due_date, 1))
    installment.status = "cancelled"
    plan.installments.append(moved)
    plan.months += 1
    db.session.flush()
    audit.record("plan.payment_moved", "payment_plan", actor=actor, object_id=plan.id, account_id=plan.account_id,
                 detail={"from": installment.due_date.isoformat(), "to": moved.due_date.isoformat(), "reason": reason})
    return moved


def reamortise(plan: PaymentPlan, *, months: int | None = None, monthly_cents: int | None = None,
               actor) -> None:
    """Spread what is left over a new number of months (or a new monthly amount), from the next due date."""
    rules = policy()
    upcoming = [i for i in plan.installments if i.status == "scheduled"]
    if plan.status != "active" or not upcoming or any(i.failures for i in upcoming):
        raise PlanError("Only an active plan with no payment in retry can be changed.")
    left = sum(i.amount_cents for i in upcoming)
    # The same policy, except that no minimum balance or down payment applies to what is already on a plan.
    base_rules = PlanPolicy(min_balance_cents=0, min_installment_cents=rules.min_installment_cents,
                            max_term_months=rules.max_term_months, down_payment_bps=0, down_payment_cents=0)
    fresh = build_schedule(left, upcoming[0].next_attempt_on, base_rules, months=months,
                           monthly_cents=monthly_cents, down_payment_cents=0)
    for installment in upcoming:
        installment.status = "cancelled"
    sequence = plan.installments[-1].sequence
    for n, (day, cents) in enumerate(fresh.installments, start=1):
        plan.installments.append(PlanInstallment(sequence=sequence + n, due_date=day, amount_cents=cents,
                                                 next_attempt_on=day))
    plan.months = sum(1 for i in plan.installments if i.status != "cancelled")
    db.session.flush()
    audit.record("plan.reamortised", "payment_plan", actor=actor, object_id=plan.id, account_id=plan.account_id,
                 detail={"left_cents": left, "payments": fresh.months, "monthly_cents": fresh.monthly_cents})


def invite(account: Account, *, actor) -> None:
    """Send the guarantor a link to save a card and enrol themselves (no names, no services)."""
    if not account.email:
        raise PlanError("This account has no email address.")
    base = current_app.config["BASE_URL"]
    _mail(account, "Set up a payment plan",
          f"You can spread your balance over monthly payments with no interest. Sign in at {base}/login, "
          "open your account and choose Payment plan.")
    audit.record("plan.invited", "account", actor=actor, object_id=account.id, account_id=account.id)


def _end(plan: PaymentPlan, status: str, reason: str) -> None:
    plan.status, plan.end_reason = status, reason
    for installment in plan.installments:
        if installment.status == "scheduled":
            installment.status = "cancelled"


# ---------------------------------------------------------------- charging


@dataclass
class ChargeOutcome:
    installment_id: int
    plan_id: int
    account_number: str
    attempt: int
    result: str  # paid | failed | defaulted | skipped
    amount_cents: int
    message: str | None = None


def due_installments(as_of: date) -> list[int]:
    return list(db.session.scalars(
        select(PlanInstallment.id).join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PlanInstallment.status == "scheduled", PlanInstallment.next_attempt_on <= as_of,
               PaymentPlan.status == "active")
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
                     account_id=plan.account_id, detail={"added_cents": extra}, commit=False)
    db.session.commit()
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
    outcomes = []
    for installment_id in due_installments(as_of):
        outcome = charge_installment(installment_id, as_of, actor=actor)
        if outcome is not None:
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
        db.session.commit()
        return None
    attempt.payment_intent_id = intent.id
    if intent.status == "succeeded":
        payment = ledger.post_payment(account.id, amount_cents=attempt.amount_cents, method="card",
                                      key=f"stripe:{intent.id}", actor=actor, reference=intent.id)
        installment = db.session.get(PlanInstallment, installment_id)
        attempt = db.session.get(PlanChargeAttempt, attempt_id)
        attempt.status, installment.status, installment.payment_id = "succeeded", "paid", payment.id
        _complete_if_done(installment.plan)
        db.session.commit()
        _mail(account, "Your plan payment was received",
              f"We received your scheduled payment of {money.format_usd(attempt.amount_cents)}. Thank you.")
        return outcome
    db.session.commit()
    return _failed(installment_id, attempt_id, intent.error_message, as_of, outcome)


def _claim(installment_id: int, as_of: date):
    """Claim the installment's next attempt: (attempt id, resumed?), an outcome if nothing is owed,
    or None when it is not due or another worker holds it."""
    installment = lock_rows(PlanInstallment, [installment_id]).get(installment_id)
    if installment is None or installment.status != "scheduled" or installment.next_attempt_on > as_of \
            or installment.plan.status != "active":
        db.session.commit()
        return None
    plan = installment.plan
    account = db.session.get(Account, plan.account_id)
    number = installment.failures + 1
    now = utcnow()
    attempt = db.session.scalar(select(PlanChargeAttempt).where(
        PlanChargeAttempt.installment_id == installment.id, PlanChargeAttempt.attempt_number == number))
    if attempt is not None and (attempt.status != "started" or (attempt.claimed_until and attempt.claimed_until > now)):
        db.session.commit()
        return None
    resumed = attempt is not None
    if attempt is None:
        # A payment made outside the plan lowers what the plan still takes.
        amount = min(installment.amount_cents, max(account.patient_due_cents, 0))
        if amount <= 0:
            installment.status = "skipped"
            _complete_if_done(plan)
            db.session.commit()
            return ChargeOutcome(installment.id, plan.id, account.number, number, "skipped", 0,
                                 "nothing is owed any more")
        attempt = PlanChargeAttempt(installment_id=installment.id, attempt_number=number, charge_date=as_of,
                                    amount_cents=amount)
        db.session.add(attempt)
    attempt.claimed_until = now + timedelta(seconds=current_app.config.get("PLAN_CLAIM_SECONDS", 120))
    db.session.commit()
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
        db.session.commit()
        _mail(account, "Your payment plan has ended",
              "We could not charge your card for your payment plan after several tries, so the plan has ended. "
              f"Please sign in to pay or call us to set up a new plan: {base}/login")
        return outcome
    schedule = rules.retry_schedule
    wait = schedule[min(installment.failures, len(schedule)) - 1] if schedule else 1
    installment.next_attempt_on = as_of + timedelta(days=wait)
    outcome.result = "failed"
    db.session.commit()
    _mail(account, "We could not take your plan payment",
          f"Your scheduled payment of {money.format_usd(attempt.amount_cents)} did not go through. "
          f"We will try again on {installment.next_attempt_on:%B %d, %Y}. To use another card, sign in: {base}/login")
    return outcome


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
            _mail(account, "Your plan payment is coming up",
                  f"On {installment.due_date:%B %d, %Y} we will charge {money.format_usd(installment.amount_cents)} "
                  f"to your {card.brand.title()} ending {card.last4}.\n\n{email_stop.footer(account)}",
                  headers=email_stop.headers(account))
            mailed += 1
        installment.reminded_on = as_of
    db.session.commit()
    return mailed


def _mail(account: Account, subject: str, body: str, headers: dict[str, str] | None = None) -> None:
    if not account.email:
        return
    from portal.tasks import send_mail

    name = facility.current().neutral_name
    send_mail.delay([account.email], f"{subject} - {name}", f"Hello {account.guarantor_name},\n\n{body}\n\n{name}\n",
                    headers)


def remaining_cents(plan: PaymentPlan) -> int:
    return _scheduled_total(plan.installments)


def is_in_good_standing(account: Account) -> bool:
    return db.session.scalar(select(PaymentPlan.id).where(
        PaymentPlan.account_id == account.id, PaymentPlan.status.in_(GOOD_STANDING))) is not None


# ---------------------------------------------------------------- for billers

FILTERS = {
    "all": "All plans",
    "due_today": "Charging today",
    "in_retry": "In retry",
    "failed": "Failed payments",
    "pending_approval": "Waiting for approval",
    "defaulted": "Defaulted",
}


def listing(kind: str, today: date) -> list[PaymentPlan]:
    query = select(PaymentPlan).order_by(PaymentPlan.id.desc())
    due = select(PlanInstallment.plan_id).where(PlanInstallment.status == "scheduled")
    if kind == "due_today":
        query = query.where(PaymentPlan.status == "active",
                            PaymentPlan.id.in_(due.where(PlanInstallment.next_attempt_on <= today)))
    elif kind == "in_retry":
        query = query.where(PaymentPlan.status == "active", PaymentPlan.id.in_(due.where(PlanInstallment.failures > 0)))
    elif kind == "failed":
        query = query.where(PaymentPlan.id.in_(
            select(PlanInstallment.plan_id).join(PlanChargeAttempt, PlanChargeAttempt.installment_id == PlanInstallment.id)
            .where(PlanChargeAttempt.status == "failed")))
    elif kind in ("pending_approval", "defaulted"):
        query = query.where(PaymentPlan.status == kind)
    return list(db.session.scalars(query.limit(500)))


@dataclass
class Health:
    active_plans: int
    on_time_rate_bps: int | None  # installments paid at the first attempt, of those attempted
    amount_under_plans_cents: int
    defaulted_plans: int


def health() -> Health:
    from sqlalchemy import func

    active = db.session.scalar(select(func.count(PaymentPlan.id)).where(PaymentPlan.status == "active"))
    defaulted = db.session.scalar(select(func.count(PaymentPlan.id)).where(PaymentPlan.status == "defaulted"))
    remaining = db.session.scalar(
        select(func.coalesce(func.sum(PlanInstallment.amount_cents), 0))
        .join(PaymentPlan, PaymentPlan.id == PlanInstallment.plan_id)
        .where(PaymentPlan.status == "active", PlanInstallment.status == "scheduled"))
    firsts = db.session.execute(select(PlanChargeAttempt.status).where(PlanChargeAttempt.attempt_number == 1,
                                                                       PlanChargeAttempt.status != "started")).scalars().all()
    rate = None if not firsts else (sum(1 for s in firsts if s == "succeeded") * 10000 + len(firsts) // 2) // len(firsts)
    return Health(active, rate, int(remaining), defaulted)
