"""Stripe webhooks: signature-checked, CSRF-exempt, idempotent on the event id, quick to answer."""
from flask import Blueprint, jsonify, request

from portal import payments
from portal.extensions import csrf
from portal.payments import gateway

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/stripe")
@csrf.exempt
def stripe_event():
    try:
        event = gateway.verify_event(request.get_data(), request.headers.get("Stripe-Signature"))
    except ValueError:
        return jsonify(error="invalid signature"), 400
    return jsonify(result=payments.handle_event(event.to_dict()))
