"""Payment plans with autopay: policy, the exact schedule, enrolment, daily charging, retries, default.

The schedule rule: after the down payment, the balance is split into equal whole-cent installments
and the remainder (fewer cents than the number of installments) is added to the first installment,
so the installments add up to the plan balance exactly and never differ by more than that remainder.

Owns: enrolment (policy, schedule, create, approve, cancel, change), charging (daily charges, retries,
reminders) and the billers' worklist.
May import: models, ledger, payments (the gateway, card payments under way), mail, audit. Never views or tasks.
"""
from portal.plans.charging import (
    ChargeOutcome,
    _claim,
    absorb_new_balances,
    billed_apart_cents,
    charge_due,
    charge_installment,
    due_installments,
    remaining_cents,
    resume_interrupted,
    send_reminders,
)
from portal.plans.enrolment import (
    GOOD_STANDING,
    PlanError,
    Schedule,
    active_plan,
    add_months,
    approve,
    build_schedule,
    cancel,
    change_card,
    create,
    invite,
    needs_approval,
    policy,
    presets,
    reamortise,
    required_down_payment,
    send_confirmation,
    skip,
    update_policy,
)
from portal.plans.worklist import FILTERS, Health, health, listing

__all__ = [
    "FILTERS",
    "GOOD_STANDING",
    "ChargeOutcome",
    "Health",
    "PlanError",
    "Schedule",
    "_claim",
    "absorb_new_balances",
    "active_plan",
    "add_months",
    "approve",
    "billed_apart_cents",
    "build_schedule",
    "cancel",
    "change_card",
    "charge_due",
    "charge_installment",
    "create",
    "due_installments",
    "health",
    "invite",
    "listing",
    "needs_approval",
    "policy",
    "presets",
    "reamortise",
    "remaining_cents",
    "required_down_payment",
    "resume_interrupted",
    "send_confirmation",
    "send_reminders",
    "skip",
    "update_policy",
]
