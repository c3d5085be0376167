"""Stripe webhooks: signature-checked, CSRF-exempt, stored once per event id and answered at once;
a worker processes them (`portal.tasks.process_stripe_event`)."""
from flask import Blueprint, jsonify, request

from portal import payments
from portal.extensions import csrf
from portal.payments import gateway
from portal.transaction import commit_before_outside_call

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@csrf.exempt
def stripe_event():
    from portal.tasks import process_stripe_event

    try:
        event = gateway.verify_event(request.get_data(), request.headers.get("Stripe-Signature"))
    except ValueError:
        return jsonify(error="invalid signature"), 400
    row, stored_now = payments.receive_event(event)
    row_id, queue = row.id, stored_now or row.status == "received"  # a redelivery never processed: queued again
    commit_before_outside_call()  # the worker reads the event on its own connection
    if queue:
        process_stripe_event.delay(row_id)  # inline when no worker is configured
    return jsonify(received=True)
