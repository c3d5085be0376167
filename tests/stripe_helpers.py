"""What Stripe.js does in a browser, done over HTTP against the emulator (for tests without a browser)."""
import json
import urllib.parse
import urllib.request

CARD_OK, CARD_3DS, CARD_DECLINE = "4242424242424242", "4000002500003155", "4000000000000341"


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def save_card(emulator: str, setup_client_secret: str, number: str = CARD_OK) -> str:
    """confirmCardSetup: returns the payment method id (answers 3-D Secure on the setup as passed)."""
    setup_id = setup_client_secret.split("_secret_")[0]
    url = f"{emulator}/v1/setup_intents/{setup_id}/confirm"
    body = {"key": "pk_test_parity", "use_stripe_sdk": True, "client_secret": setup_client_secret,
            "payment_method_data": {"type": "card", "card": {"number": number, "exp_month": "12", "exp_year": "2031",
                                                              "cvc": "123"},
                                    "billing_details": {"address": {"postal_code": "07081"}}}}
    result = _post(url, body)
    if result["status"] == "requires_action":
        result = _post(url, {"key": "pk_test_parity", "use_stripe_sdk": True, "client_secret": setup_client_secret})
    return result["payment_method"]


def authenticate(emulator: str, payment_client_secret: str, success: bool = True) -> dict:
    """confirmCardPayment: the payer completes (or fails) 3-D Secure."""
    intent_id = payment_client_secret.split("_secret_")[0]
    return _post(f"{emulator}/v1/payment_intents/{intent_id}/_authenticate?success={'true' if success else 'false'}",
                 {"key": "pk_test_parity", "client_secret": payment_client_secret})


def attach(emulator: str, payment_method_id: str, customer_id: str) -> None:
    """What Stripe does when a customer's SetupIntent succeeds (the emulator leaves the card unattached)."""
    request = urllib.request.Request(f"{emulator}/v1/payment_methods/{payment_method_id}/attach",
                                     data=urllib.parse.urlencode({"customer": customer_id}).encode(), method="POST",
                                     headers={"Authorization": "Bearer sk_test_parity"})
    urllib.request.urlopen(request, timeout=10).close()


def retrieve(emulator: str, path: str) -> dict:
    request = urllib.request.Request(f"{emulator}/v1/{path}", headers={"Authorization": "Bearer sk_test_parity"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def all_payment_intents(emulator: str) -> list[dict]:
    """Every PaymentIntent the emulator holds (its lists are oldest first, 100 a page)."""
    intents, after = [], None
    while True:
        page = retrieve(emulator, "payment_intents?limit=100" + (f"&starting_after={after}" if after else ""))
        intents += page["data"]
        if not page["has_more"]:
            return intents
        after = page["data"][-1]["id"]
