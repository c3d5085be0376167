"""The one module that talks to Stripe (the real service, or the local emulator in development and tests).

Only opaque ids travel: metadata carries our record ids, descriptions are neutral, and no billing
code, diagnosis or program name is ever sent.
"""
from dataclasses import dataclass

import stripe
from flask import current_app

# The API version every request asks for: the one this SDK release was generated for. An SDK upgrade
# (pyproject pins its major version) then changes nothing at Stripe until this line changes with it.
STRIPE_API_VERSION = "2026-10-28.endive"

class GatewayError(Exception):
    """The processor refused or failed; `message` is fit to show the payer."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message, self.code = message, code


DECLINE_WORDS = {
    "card_declined": "Your card was declined. Please use another card or call your bank.",
    "insufficient_funds": "Your card has insufficient funds. Please use another card.",
    "expired_card": "Your card has expired. Please use another card.",
    "incorrect_cvc": "The security code is not right. Please check it and try again.",
    "processing_error": "The card could not be processed. Please try again in a moment.",
    "payment_intent_authentication_failure":
        "Your bank could not confirm this payment. Please try again or use another card.",
}


# Declines that trying the same card again cannot cure (Stripe's error codes and decline codes).
HARD_DECLINES = frozenset({"lost_card", "stolen_card", "pickup_card", "expired_card", "incorrect_number",
                           "invalid_number", "invalid_expiry_year", "invalid_expiry_month", "restricted_card"})


@dataclass
class Intent:
    id: str
    status: str
    client_secret: str | None
    error_code: str | None = None
    error_message: str | None = None
    decline_code: str | None = None

    @property
    def hard_decline(self) -> bool:
        return is_hard_decline(self.error_code, self.decline_code)


def is_hard_decline(code: str | None, decline_code: str | None) -> bool:
    """The card itself is refused (lost, stolen, expired, a wrong number...): retrying it would fail again."""
    return code in HARD_DECLINES or decline_code in HARD_DECLINES


def configured() -> bool:
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def emulated() -> bool:
    return bool(current_app.config.get("STRIPE_API_BASE"))


def js_url() -> str:
    base = current_app.config.get("STRIPE_API_BASE")
    return f"{base}/js.stripe.com/v3/" if base else "https://js.stripe.com/v3/"


def origins() -> list[str]:
    """What a card page must allow in its Content-Security-Policy."""
    base = current_app.config.get("STRIPE_API_BASE")
    return [base] if base else ["https://js.stripe.com", "https://api.stripe.com", "https://hooks.stripe.com"]


def _client() -> stripe.StripeClient:
    config = current_app.config
    if not config.get("STRIPE_SECRET_KEY"):
        raise GatewayError("Card payments are not set up. Please call our billing office.")
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], base_addresses={"api": base} if base else None,
                               stripe_version=STRIPE_API_VERSION, max_network_retries=2)


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as exc:
        code = exc.code or "card_declined"
        raise GatewayError(DECLINE_WORDS.get(code, exc.user_message or DECLINE_WORDS["card_declined"]), code) from exc
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe error: %s", exc)
        raise GatewayError("The card service did not answer. Nothing was charged; please try again.",
                           "gateway") from exc


def create_customer(account_id: int) -> str:
    return _call(_client().v1.customers.create, params={"metadata": {"parity_account": str(account_id)}}).id


def create_setup_intent(customer_id: str | None, card_payment_id: int) -> tuple[str, str]:
    """The SetupIntent the browser confirms with the card. With a customer (the payer asked to keep the card)
    Stripe attaches the card to it for later charges; without one the card serves this payment only."""
    params: dict = {"usage": "on_session", "metadata": {"parity_card_payment": str(card_payment_id)}}
    if customer_id is not None:
        params.update(customer=customer_id, usage="off_session")
    # Keyed by the attempt: a start retried after a crash (or on another server) gets the same SetupIntent.
    # (A card saved from the cards page, attempt 0, has no attempt to repeat.)
    options = {"idempotency_key": f"parity-card-setup-{card_payment_id}"} if card_payment_id else {}
    intent = _call(_client().v1.setup_intents.create, params=params, options=options)
    return intent.id, intent.client_secret


def retrieve_setup_intent(setup_intent_id: str) -> dict:
    return _call(_client().v1.setup_intents.retrieve, setup_intent_id).to_dict()


def setup_intent_secret(setup_intent_id: str) -> str:
    return _call(_client().v1.setup_intents.retrieve, setup_intent_id).client_secret


def payment_intent_params(*, amount_cents: int, customer_id: str, payment_method_id: str, card_payment_id: int,
                          account_id: int, descriptor: str, payer_name: str, off_session: bool = False) -> dict:
    params = {
        "amount": amount_cents, "currency": "usd", "customer": customer_id, "payment_method": payment_method_id,
        # Confirmed here, on the server: live Stripe refuses that without a return URL unless the intent
        # is limited to cards (no redirecting payment methods).
        "confirm": True, "payment_method_types": ["card"],
        "metadata": {"parity_card_payment": str(card_payment_id), "parity_account": str(account_id)},
    }
    if off_session:
        params["off_session"] = True
    if not emulated():  # the emulator refuses these two fields
        params["description"] = f"Payment to {payer_name}"
        params["statement_descriptor_suffix"] = descriptor[:22]
    return params


def create_payment_intent(params: dict, *, idempotency_key: str) -> Intent:
    try:
        intent = _client().v1.payment_intents.create(params=params,  # type: ignore[arg-type]  # built above
                                                     options={"idempotency_key": idempotency_key})
    except stripe.CardError as exc:
        code = exc.code or "card_declined"
        return Intent(id=None, status="failed", client_secret=None, error_code=code,
                      error_message=DECLINE_WORDS.get(code, exc.user_message or DECLINE_WORDS["card_declined"]),
                      decline_code=getattr(exc.error, "decline_code", None) if exc.error else None)
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe error: %s", exc)
        raise GatewayError("The card service did not answer. Nothing was charged; please try again.",
                           "gateway") from exc
    return _intent(intent)


def retrieve_payment_intent(intent_id: str) -> Intent:
    return _intent(_call(_client().v1.payment_intents.retrieve, intent_id))


def _intent(intent) -> Intent:
    data = intent.to_dict()
    error = data.get("last_payment_error") or {}
    code = error.get("code")
    return Intent(data["id"], data["status"], data.get("client_secret"), code,
                  DECLINE_WORDS.get(code, error.get("message")) if code else None, error.get("decline_code"))


def find_payment_intent(customer_id: str, metadata: dict) -> str | None:
    """A PaymentIntent of this customer carrying these metadata, if one was created (after a crash)."""
    client = _client()
    # Stripe filters by customer; the emulator cannot, so every page is read there.
    params = {"limit": 100} if emulated() else {"customer": customer_id, "limit": 100}
    while True:
        page = _call(client.v1.payment_intents.list, params=params)
        for intent in page.data:
            data = intent.to_dict()
            if data.get("customer") == customer_id and all(
                    (data.get("metadata") or {}).get(k) == v for k, v in metadata.items()):
                return data["id"]
        if not page.has_more or not page.data:
            return None
        params = {**params, "starting_after": page.data[-1].id}


def card_details(payment_method_id: str) -> dict:
    card = _call(_client().v1.payment_methods.retrieve, payment_method_id).card
    return {"brand": card.brand, "last4": card.last4, "exp_month": int(card.exp_month), "exp_year": int(card.exp_year)}


def detach_card(payment_method_id: str) -> None:
    """Take a saved card off its Stripe customer: it can no longer be charged from this account."""
    _call(_client().v1.payment_methods.detach, payment_method_id)


def refund(payment_intent_id: str, amount_cents: int, *, idempotency_key: str) -> str:
    """Refund part of a PaymentIntent; the key travels in the metadata too, so the refund can be found again."""
    created = _call(_client().v1.refunds.create,
                    params={"payment_intent": payment_intent_id, "amount": amount_cents,
                            "metadata": {"parity_refund": idempotency_key}},
                    options={"idempotency_key": idempotency_key})
    return created.id


@dataclass
class RefundFound:
    id: str
    status: str  # pending | requires_action | succeeded | failed | canceled
    amount_cents: int
    payment_intent_id: str | None = None
    key: str | None = None  # our idempotency key, for a refund we asked for


def _refund_found(data: dict) -> RefundFound:
    return RefundFound(data["id"], data.get("status") or "succeeded", int(data["amount"]), data.get("payment_intent"),
                       (data.get("metadata") or {}).get("parity_refund"))


def retrieve_refund(refund_id: str) -> RefundFound:
    """A refund as Stripe holds it now (a webhook's copy may be older than a later event's)."""
    return _refund_found(_call(_client().v1.refunds.retrieve, refund_id).to_dict())


def list_refunds(payment_intent_id: str) -> list[RefundFound]:
    """Every refund of a PaymentIntent, ours and those made in the Stripe Dashboard."""
    client, found = _client(), []
    params = {"payment_intent": payment_intent_id, "limit": 100}
    while True:
        page = _call(client.v1.refunds.list, params=params)
        found += [_refund_found(r.to_dict()) for r in page.data]
        if not page.has_more or not page.data:
            return found
        params = {**params, "starting_after": page.data[-1].id}


def payment_intent_customer(payment_intent_id: str) -> str | None:
    """The Stripe customer a PaymentIntent charged (refund and dispute objects do not name it)."""
    return _call(_client().v1.payment_intents.retrieve, payment_intent_id).to_dict().get("customer")


def find_refund(payment_intent_id: str, idempotency_key: str) -> RefundFound | None:
    """The refund of this PaymentIntent made under our key (after a crash), if Stripe made one."""
    client = _client()
    params = {"payment_intent": payment_intent_id, "limit": 100}
    while True:
        page = _call(client.v1.refunds.list, params=params)
        for found in page.data:
            data = found.to_dict()
            if (data.get("metadata") or {}).get("parity_refund") == idempotency_key:
                return _refund_found(data)
        if not page.has_more or not page.data:
            return None
        params = {**params, "starting_after": page.data[-1].id}


def verify_event(payload: bytes, signature: str | None) -> dict:
    """The webhook event (as plain data) if its signature is right; raises ValueError otherwise."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise ValueError("webhooks are not configured")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret).to_dict()
    except (stripe.SignatureVerificationError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError("bad signature") from exc
    if not (isinstance(event.get("id"), str) and 0 < len(event["id"]) <= 100 and isinstance(event.get("type"), str)):
        raise ValueError("not an event")
    return event
