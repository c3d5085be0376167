"""Card payments and money posted at the desk.

`cards`: a card payment's attempt recorded before Stripe is called, confirmed, then posted through the ledger;
saved cards. `webhooks`: Stripe events, stored once and processed by a worker in any order; `disputes`: chargebacks;
`stripe_objects`: which of our records a Stripe object belongs to. `receipts`: receipts and refunds. `gateway`: the one
place that talks to Stripe. `desk`: cash, check and card-terminal payments, credits, adjustments and reversals
by hand. `deposits`: deposit batches.
May import: models, ledger, facility, mail, audit, collections, notifications. Never views or tasks.
"""
from portal.payments.cards import (
    CHARGING_PLAN_STATUSES,
    Outcome,
    _customer,
    amount_bounds,
    charging_cents,
    check_amount,
    complete,
    confirm,
    finish_card_setup,
    record_success,
    remove_saved_card,
    saved_cards,
    start,
    start_card_setup,
)
from portal.payments.disputes import disputes_by_urgency
from portal.payments.errors import PaymentError
from portal.payments.receipts import Receipt, receipt, receipt_number, refund, send_receipt, settle_pending_refunds
from portal.payments.webhooks import (
    events_left_received,
    events_needing_attention,
    process_again,
    process_event,
    receive_event,
)

__all__ = [
    "CHARGING_PLAN_STATUSES",
    "Outcome",
    "PaymentError",
    "Receipt",
    "_customer",
    "amount_bounds",
    "charging_cents",
    "check_amount",
    "complete",
    "confirm",
    "disputes_by_urgency",
    "events_left_received",
    "events_needing_attention",
    "finish_card_setup",
    "process_again",
    "process_event",
    "receipt",
    "receipt_number",
    "receive_event",
    "record_success",
    "refund",
    "remove_saved_card",
    "saved_cards",
    "send_receipt",
    "settle_pending_refunds",
    "start",
    "start_card_setup",
]
