"""Plans."""
from portal.plans.charging import (
    ChargeOutcome,
    _claim,
    absorb_new_balances,
    billed_apart_cents,
    charge_due,
    charge_installment,
    due_installments,
    is_in_good_standing,
    remaining_cents,
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
    reamortise,
    required_down_payment,
    skip,
    update_policy,
)
from portal.plans.worklist import FILTERS, Health, health, listing

__all__ = ["ChargeOutcome", "FILTERS", "GOOD_STANDING", "Health", "PlanError", "Schedule", "_claim", "absorb_new_balances", "active_plan", "add_months", "approve", "billed_apart_cents", "build_schedule", "cancel", "change_card", "charge_due", "charge_installment", "create", "due_installments", "health", "invite", "is_in_good_standing", "listing", "needs_approval", "policy", "reamortise", "remaining_cents", "required_down_payment", "send_reminders", "skip", "update_policy"]
