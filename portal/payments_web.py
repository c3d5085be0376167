"""The JSON steps of the card form, shared by the patient, pay-by-link and staff pages.

The browser posts: start (amount; returns the SetupIntent secret), confirm (the saved card's
payment method; the server charges it), and complete (after 3-D Secure). Every step names its
attempt, and the attempt must belong to the account the page is about.
"""
import uuid

from flask import current_app, g, jsonify
from flask_babel import gettext as _

from portal import money, payments
from portal.extensions import db
from portal.models import Account, CardPayment, Statement
from portal.payments import gateway
from portal.payments.errors import shown
from portal.web import json_id, json_object


def new_token() -> str:
    return uuid.uuid4().hex


def card_page_context(account: Account, *, start_url: str, confirm_url: str, complete_url: str,
                      show_saved: bool) -> dict:
    """What the card form template needs; also lets Stripe's scripts through this page's CSP."""
    g.stripe_page = True
    least, most = payments.amount_bounds(account)
    return {
        "stripe_js": gateway.js_url(), "stripe_key": _publishable_key(), "token": new_token(),
        "start_url": start_url, "confirm_url": confirm_url, "complete_url": complete_url,
        "least_cents": least, "most_cents": most,
        "saved_cards": payments.saved_cards(account) if show_saved else [],
        "card_ready": gateway.configured(),
    }


def _publishable_key() -> str:
    return current_app.config.get("STRIPE_PUBLISHABLE_KEY") or ""


def _error(message: str, status: int = 400, field: str | None = None):
    """A refusal the form shows: beside `field` (the amount) when one field is wrong, else above the button
    (in the page's language)."""
    return jsonify(status="failed", message=shown(message), field=field, token=new_token()), status


def start(account: Account, *, channel: str, actor: str, statement: Statement | None = None,
          allow_saved: bool = True):
    data = json_object()
    try:
        amount = money.parse_cents(str(data.get("amount", "")))
    except ValueError:
        return _error(_("Enter an amount like 25.00."), field="amount")
    saved = data.get("saved_card_id") if allow_saved else None
    try:
        attempt, secret = payments.start(
            account, amount, token=str(data.get("token", ""))[:64] or new_token(), channel=channel, actor=actor,
            save_card=bool(data.get("save_card")) and allow_saved, statement=statement,
            saved_card_id=json_id(saved))
    except (payments.PaymentError, gateway.GatewayError) as exc:
        return _error(getattr(exc, "message", None) or str(exc), field=getattr(exc, "field", None))
    return jsonify(attempt_id=attempt.id, setup_client_secret=secret)


def _attempt(account: Account) -> CardPayment | None:
    attempt_id = json_id(json_object().get("attempt_id"))
    attempt = db.session.get(CardPayment, attempt_id) if attempt_id else None
    return attempt if attempt is not None and attempt.account_id == account.id else None


def confirm(account: Account, *, actor: str, receipt_url):
    attempt = _attempt(account)
    if attempt is None:
        return _error(_("This payment was not found. Please reload the page."), 404)
    payment_method = json_object().get("payment_method_id")
    payment_method = str(payment_method)[:255] if payment_method is not None else None
    try:
        outcome = payments.confirm(attempt.id, payment_method_id=payment_method, actor=actor)
    except (payments.PaymentError, gateway.GatewayError) as exc:
        db.session.rollback()
        return _error(getattr(exc, "message", None) or str(exc))
    return _answer(outcome, receipt_url)


def complete(account: Account, *, actor: str, receipt_url):
    attempt = _attempt(account)
    if attempt is None:
        return _error(_("This payment was not found. Please reload the page."), 404)
    try:
        outcome = payments.complete(attempt.id, actor=actor)
    except (payments.PaymentError, gateway.GatewayError) as exc:
        db.session.rollback()
        return _error(getattr(exc, "message", None) or str(exc))
    return _answer(outcome, receipt_url)


def _answer(outcome: payments.Outcome, receipt_url):
    body = outcome.as_dict()
    if body.get("message"):
        body["message"] = shown(body["message"])  # kept in English on the attempt; said in the page's language
    if outcome.status == "succeeded":
        body["redirect"] = receipt_url(outcome.payment_id)
    elif outcome.status == "failed":
        body["token"] = new_token()  # a new attempt for the next card
    return jsonify(body)
