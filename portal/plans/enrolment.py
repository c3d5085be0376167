"""Plan enrolment: the policy, the exact schedule, create, approve, cancel, skip, reamortise, invite."""
import calendar
from dataclasses import dataclass
from datetime import date

from celery import current_app as celery_app
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit, facility, i18n, mail, money
from portal.clock import facility_today, long_date
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    PaymentPlan,
    PlanInstallment,
    PlanPolicy,
    SavedCard,
    utcnow,
)
from portal.transaction import after_commit

GOOD_STANDING = ("active",)
ALREADY_ON_A_PLAN = _l("This account already has a payment plan. Open it to see or change the payments.")


class PlanError(ValueError):
    """A plan request outside policy or otherwise impossible, with a message fit to show."""


def policy() -> PlanPolicy:
    """The plan policy: stored, or the column defaults unsaved (reading never writes)."""
    return facility.settings_row(PlanPolicy)


def update_policy(rules: PlanPolicy, values: dict, *, actor,
                  ip: str | None = None, user_agent: str | None = None) -> None:
    if values["self_service_max_months"] > values["max_term_months"]:
        raise PlanError("The self-service limit cannot be longer than the longest plan.")
    facility.save_settings(rules)
    changes = {k: [getattr(rules, k), v] for k, v in values.items() if getattr(rules, k) != v}
    for key, value in values.items():
        setattr(rules, key, value)
    audit.record("plan_policy.updated", "plan_policy", actor=actor, object_id=rules.id, detail=changes,
                 ip=ip, user_agent=user_agent)


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
        raise PlanError(_("Choose a number of months or a monthly amount."))
    if balance_cents < rules.min_balance_cents:
        raise PlanError(_("Plans start at balances of %(amount)s.", amount=money.format_usd(rules.min_balance_cents)))
    least_down = required_down_payment(balance_cents, rules)
    down = least_down if down_payment_cents is None else down_payment_cents
    if down < least_down:
        raise PlanError(_("The down payment must be at least %(amount)s.", amount=money.format_usd(least_down)))
    if down >= balance_cents:
        raise PlanError(_("The down payment would pay the whole balance; pay it instead."))
    rest = balance_cents - down
    if monthly_cents is not None:
        if monthly_cents <= 0:
            raise PlanError(_("Enter a monthly amount."))
        months = -(-rest // monthly_cents)  # ceiling: enough months to cover the rest
    if months < 1 or months > rules.max_term_months:
        raise PlanError(_("Plans run from 1 to %(months)s months.", months=rules.max_term_months))
    base, remainder = divmod(rest, months)
    if base < rules.min_installment_cents:
        raise PlanError(_("Each payment must be at least %(amount)s; choose fewer months.",
                          amount=money.format_usd(rules.min_installment_cents)))
    amounts = [base + remainder] + [base] * (months - 1)
    dates = [add_months(first_due, n, first_due.day) for n in range(months)]
    return Schedule(balance_cents, down, tuple(zip(dates, amounts, strict=True)))


PRESET_MONTHS = (3, 6, 12)


def presets(balance_cents: int, first_due: date, rules: PlanPolicy) -> list[Schedule]:
    """The plans offered with one tap: 3, 6 and 12 months and the longest a patient may set up alone, those the
    policy allows for this balance (none needs the billing team's approval)."""
    found = []
    for months in sorted({*PRESET_MONTHS, rules.self_service_max_months}):
        if months > rules.self_service_max_months:
            continue
        try:
            found.append(build_schedule(balance_cents, first_due, rules, months=months))
        except PlanError:
            continue
    return found


def needs_approval(schedule: Schedule, rules: PlanPolicy) -> bool:
    return schedule.months > rules.self_service_max_months


def active_plan(account: Account) -> PaymentPlan | None:
    return db.session.scalar(select(PaymentPlan).where(PaymentPlan.account_id == account.id,
                                                       PaymentPlan.status.in_(("active", "pending_approval"))))


def create(account: Account, schedule: Schedule, *, card: SavedCard | None, actor: str, by_patient: bool,
           agreement_name: str | None = None, agreement_ip: str | None = None) -> PaymentPlan:
    """Put a balance on a plan. A patient's plan beyond self-service terms waits for a biller."""
    rules = policy()
    account = lock_rows(Account, [account.id])[account.id]  # concurrent enrolments of one account take turns
    if active_plan(account) is not None:
        raise PlanError(str(ALREADY_ON_A_PLAN))
    if schedule.balance_cents > account.patient_due_cents:
        raise PlanError(_("The plan cannot be larger than what is owed."))
    if card is None or card.account_id != account.id or card.removed_at is not None:
        raise PlanError(_("Choose the card for automatic payments."))
    if by_patient and not (agreement_name or "").strip():
        raise PlanError(_("Type your name to accept the agreement."))
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
    try:
        db.session.flush()
    except IntegrityError as exc:  # the database's own rule: one open plan per account
        db.session.rollback()
        raise PlanError(str(ALREADY_ON_A_PLAN)) from exc
    if account.email:
        _confirm_after_commit(plan.id)
    return plan


def _confirm_after_commit(plan_id: int) -> None:
    """Hand the confirmation to a worker once the plan is committed (never for a plan rolled back; a worker
    must find the plan it is told about)."""
    def send() -> None:
        try:
            celery_app.tasks[CONFIRM_TASK].delay(plan_id)
        except Exception:  # the plan stands without its mail: log it, never fail the enrolment after commit
            current_app.logger.exception("plan %s: the confirmation mail could not be queued", plan_id)

    after_commit(send)


CONFIRM_TASK = "portal.tasks.send_plan_confirmation"


def send_confirmation(plan: PaymentPlan) -> bool:
    """Mail the guarantor the plan's schedule with the agreement as a PDF, in their language. False when there
    is no one to send it to (no email, or they asked for no billing email)."""
    from portal import documents
    from portal.mail import email_stop

    account = db.session.get(Account, plan.account_id)
    if account is None or not account.email or email_stop.has_stopped(account):
        return False
    fac = facility.current()
    with i18n.for_account(account):
        lines = [f"{n}. {long_date(i.due_date)}: {money.format_usd(i.amount_cents)}"
                 for n, i in enumerate(sorted(plan.installments, key=lambda i: i.sequence), start=1)]
        state = (_("Your payment plan is set up. The payments are charged to your card on these dates:")
                 if plan.status == "active" else
                 _("We received your payment plan. Our billing team confirms it by email before anything is "
                   "charged. The payments would be:"))
        body = (_("Hello %(person)s,", person=account.guarantor_name) + "\n\n" + state + "\n" + "\n".join(lines)
                + "\n\n" + _("The agreement you signed is attached.") + "\n\n" + f"{fac.neutral_name}\n\n"
                + email_stop.footer(account) + "\n")
        subject = _("Your payment plan - %(name)s", name=fac.neutral_name)
        pdf = documents.render_pdf("pdf/plan_agreement.html", plan=plan, account=account, facility=fac)
    mail.send([account.email], subject, body, email_stop.headers(account),
              attachments=[(f"payment-plan-{plan.id}.pdf", "application/pdf", pdf)])
    return True


def approve(plan: PaymentPlan, *, actor: str) -> None:
    if plan.status != "pending_approval":
        raise PlanError("Only a plan waiting for approval can be approved.")
    plan.status, plan.approved_by = "active", actor
    db.session.flush()


def cancel(plan: PaymentPlan, *, reason: str, actor: str) -> None:
    if plan.status not in ("active", "pending_approval"):
        raise PlanError("This plan has already ended.")
    _end(plan, "cancelled", f"{reason} ({actor})")
    db.session.flush()


def change_card(plan: PaymentPlan, card_id: int, *, actor: str) -> None:
    card = db.session.get(SavedCard, card_id)
    if card is None or card.account_id != plan.account_id or card.removed_at is not None:
        raise PlanError(_("Choose one of the account's saved cards."))
    plan.saved_card_id = card.id
    plan.card_refused_on = None  # the refused card's installment is charged again at the next daily run
    db.session.flush()


def skip(installment: PlanInstallment, *, reason: str, actor,
         ip: str | None = None, user_agent: str | None = None) -> PlanInstallment:
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
                 detail={"from": installment.due_date.isoformat(), "to": moved.due_date.isoformat(), "reason": reason},
                 ip=ip, user_agent=user_agent)
    return moved


def reamortise(plan: PaymentPlan, *, months: int | None = None, monthly_cents: int | None = None,
               actor, ip: str | None = None, user_agent: str | None = None) -> None:
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
                 detail={"left_cents": left, "payments": fresh.months, "monthly_cents": fresh.monthly_cents},
                 ip=ip, user_agent=user_agent)


def invite(account: Account, *, actor, ip: str | None = None, user_agent: str | None = None) -> None:
    """Send the guarantor a link to save a card and enrol themselves (no names, no services)."""
    if not account.email:
        raise PlanError("This account has no email address.")
    base = current_app.config["BASE_URL"]
    with i18n.for_account(account):
        _mail(account, _("Set up a payment plan"),
              _("You can spread your balance over monthly payments with no interest. Sign in at %(login)s, "
                "open your account and choose Payment plan.", login=base + "/login"))
    audit.record("plan.invited", "account", actor=actor, object_id=account.id, account_id=account.id,
                 ip=ip, user_agent=user_agent)


def _end(plan: PaymentPlan, status: str, reason: str) -> None:
    plan.status, plan.end_reason = status, reason
    for installment in plan.installments:
        if installment.status == "scheduled":
            installment.status = "cancelled"


def _mail(account: Account, subject: str, body: str, headers: dict[str, str] | None = None) -> None:
    """Mail the guarantor: the caller composes `subject` and `body` inside `i18n.for_account(account)`."""
    if not account.email:
        return

    name = facility.current().neutral_name
    with i18n.for_account(account):
        greeting = _("Hello %(person)s,", person=account.guarantor_name)
    mail.queue([account.email], f"{subject} - {name}", f"{greeting}\n\n{body}\n\n{name}\n", headers)
