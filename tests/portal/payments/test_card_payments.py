"""Card payments against the Stripe emulator: success, decline, 3-D Secure, webhooks, exactly once."""
import hashlib
import hmac
import json
import subprocess
import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from portal import ledger, tasks
from portal.extensions import db
from portal.models import CardPayment, Payment, SavedCard, StripeEvent
from portal.payments import cards
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories, stripe_helpers
from tests.fixtures.stripe_helpers import CARD_3DS, CARD_DECLINE


def signed_in_patient(app, balance=25000):
    account = factories.account()
    factories.charge(account, balance)
    user = factories.patient_login(account, PASSWORD)
    client = app.test_client()
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    page = client.get(f"/accounts/{account.id}/pay").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    return client, account, token


def call(client, url, csrf, body):
    response = client.post(url, json=body, headers={"X-CSRFToken": csrf})
    return response.status_code, response.get_json()


def pay(client, account, csrf, emulator, *, amount="100.00", card=stripe_helpers.CARD_OK, save=False):
    base = f"/accounts/{account.id}/pay"
    status, started = call(client, f"{base}/start", csrf, {"token": uuid.uuid4().hex, "amount": amount,
                                                            "save_card": save})
    assert status == 200, started
    method = stripe_helpers.save_card(emulator, started["setup_client_secret"], card)
    status, outcome = call(client, f"{base}/confirm", csrf, {"attempt_id": started["attempt_id"],
                                                              "payment_method_id": method})
    return started["attempt_id"], outcome


def payments_count():
    return db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "card"))


def test_card_payment_posts_once_and_shows_a_receipt(app, stripe_emulator, smtp_server):
    client, account, csrf = signed_in_patient(app)
    attempt_id, outcome = pay(client, account, csrf, stripe_emulator, amount="120.50", save=True)
    assert outcome["status"] == "succeeded", outcome
    db.session.refresh(account)
    assert account.patient_balance_cents == 25000 - 12050
    receipt = client.get(outcome["redirect"]).get_data(as_text=True)
    assert "$120.50" in receipt and "Visa ending 4242" in receipt
    assert [c.last4 for c in db.session.scalars(select(SavedCard))] == ["4242"]
    pdf = client.get(outcome["redirect"] + "/pdf").data
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    number = receipt.split('data-testid="receipt-number">')[1].split("<")[0]
    assert "$120.50" in text and number in text
    [mail] = smtp_server.messages
    assert mail["To"] == account.email and number in mail.get_payload() and "$120.50" in mail.get_payload()
    # The same confirmation again (a retried request) changes nothing.
    _, again = call(client, f"/accounts/{account.id}/pay/confirm", csrf, {"attempt_id": attempt_id})
    assert again["status"] == "succeeded" and payments_count() == 1
    assert ledger.check_all()[1] == []


def test_saved_card_pays_without_entering_it_again(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    pay(client, account, csrf, stripe_emulator, amount="10.00", save=True)
    card = db.session.scalar(select(SavedCard))
    _status, started = call(client, f"/accounts/{account.id}/pay/start", csrf,
                           {"token": uuid.uuid4().hex, "amount": "15.00", "saved_card_id": card.id})
    assert started["setup_client_secret"] is None
    _, outcome = call(client, f"/accounts/{account.id}/pay/confirm", csrf, {"attempt_id": started["attempt_id"]})
    assert outcome["status"] == "succeeded" and payments_count() == 2


def test_declined_card_explains_and_posts_nothing(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    attempt_id, outcome = pay(client, account, csrf, stripe_emulator, card=CARD_DECLINE)
    assert outcome["status"] == "failed"
    assert outcome["message"] == "Your card was declined. Please use another card or call your bank."
    assert outcome["token"]  # a fresh attempt for the next card
    assert payments_count() == 0
    assert db.session.get(CardPayment, attempt_id).status == "failed"
    db.session.refresh(account)
    assert account.patient_balance_cents == 25000


def test_three_d_secure_is_finished_in_the_browser(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    attempt_id, outcome = pay(client, account, csrf, stripe_emulator, card=CARD_3DS)
    assert outcome["status"] == "requires_action" and payments_count() == 0
    stripe_helpers.authenticate(stripe_emulator, outcome["client_secret"])
    _, done = call(client, f"/accounts/{account.id}/pay/complete", csrf, {"attempt_id": attempt_id})
    assert done["status"] == "succeeded" and payments_count() == 1


def test_amount_outside_the_bounds_is_refused_with_words(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app, balance=25000)
    for amount, words in (("250.01", "up to your balance"), ("1.00", "smallest payment"), ("ten", "like 25.00")):
        status, body = call(client, f"/accounts/{account.id}/pay/start", csrf,
                            {"token": uuid.uuid4().hex, "amount": amount})
        assert status == 400 and words in body["message"]
    assert db.session.scalar(select(func.count(CardPayment.id))) == 0


def test_another_patients_attempt_cannot_be_confirmed(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    other_client, other_account, other_csrf = signed_in_patient(app)
    _, started = call(other_client, f"/accounts/{other_account.id}/pay/start", other_csrf,
                      {"token": uuid.uuid4().hex, "amount": "50.00"})
    status, _body = call(client, f"/accounts/{account.id}/pay/confirm", csrf, {"attempt_id": started["attempt_id"]})
    assert status == 404
    started_elsewhere = client.post(f"/accounts/{other_account.id}/pay/start", json={}, headers={"X-CSRFToken": csrf})
    assert started_elsewhere.status_code == 404


def sign(payload: bytes, secret: str = "whsec_parity_test") -> str:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def succeeded_event(intent_id: str, attempt_id: int, amount: int, event_id: str, customer: str | None = None) -> bytes:
    """The signed body Stripe sends; the customer is the attempt's own unless another is named."""
    if customer is None:
        customer = db.session.get(CardPayment, attempt_id).account.stripe_customer_id
    return json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                       "data": {"object": {"id": intent_id, "object": "payment_intent", "amount": amount,
                                           "customer": customer,
                                           "metadata": {"parity_card_payment": str(attempt_id)}}}}).encode()


def test_webhook_refuses_a_bad_signature_and_ignores_replays(app, client, stripe_emulator):
    web, account, csrf = signed_in_patient(app)
    attempt_id, outcome = pay(web, account, csrf, stripe_emulator, card=CARD_3DS)
    attempt = db.session.get(CardPayment, attempt_id)
    stripe_helpers.authenticate(stripe_emulator, outcome["client_secret"])
    payload = succeeded_event(attempt.payment_intent_id, attempt.id, attempt.amount_cents, "evt_1")
    forged = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload, "wrong")})
    assert forged.status_code == 400 and payments_count() == 0
    for _ in range(100):
        response = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload)},
                               content_type="application/json")
        assert response.status_code == 200
    assert payments_count() == 1
    assert db.session.scalar(select(func.count(StripeEvent.id))) == 1
    _, done = call(web, f"/accounts/{account.id}/pay/complete", csrf, {"attempt_id": attempt_id})
    assert done["status"] == "succeeded" and payments_count() == 1


def test_nothing_about_services_reaches_the_processor(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    attempt_id, _outcome = pay(client, account, csrf, stripe_emulator)
    attempt = db.session.get(CardPayment, attempt_id)
    sent = json.dumps([stripe_helpers.retrieve(stripe_emulator, f"payment_intents/{attempt.payment_intent_id}"),
                       stripe_helpers.retrieve(stripe_emulator, f"customers/{account.stripe_customer_id}")]).lower()
    for word in ("s9480", "h0015", "9085", "iop", "intensive", "psychiatr", "diagnos", "substance", "alcohol",
                 "treatment", account.patients[0].last_name.lower()):
        assert word not in sent, word
    intent = stripe_helpers.retrieve(stripe_emulator, f"payment_intents/{attempt.payment_intent_id}")
    assert intent["metadata"] == {"parity_card_payment": str(attempt.id), "parity_account": str(account.id)}


def test_a_webhook_that_fails_midway_is_processed_on_redelivery(app, client, stripe_emulator, monkeypatch):

    web, account, csrf = signed_in_patient(app)
    attempt_id, outcome = pay(web, account, csrf, stripe_emulator, card=CARD_3DS)
    stripe_helpers.authenticate(stripe_emulator, outcome["client_secret"])
    attempt = db.session.get(CardPayment, attempt_id)
    payload = succeeded_event(attempt.payment_intent_id, attempt.id, attempt.amount_cents, "evt_flaky")
    real = cards.record_success
    monkeypatch.setattr(cards, "record_success", lambda *a, **k: (_ for _ in ()).throw(OSError("db down")))
    app.config["PROPAGATE_EXCEPTIONS"], saved = False, app.config.get("PROPAGATE_EXCEPTIONS")
    try:
        first = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload)},
                            content_type="application/json")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = saved
    # Stripe hears 200 at once: the event is stored; processing it failed and says why.
    assert first.status_code == 200 and payments_count() == 0
    event = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == "evt_flaky"))
    assert event.status == "failed" and "db down" in event.error
    monkeypatch.setattr(cards, "record_success", real)
    event.status = "received"  # as a crash before processing leaves it: the job queues it again
    event.received_at -= timedelta(minutes=30)
    db.session.commit()
    assert tasks.requeue_stripe_events.delay().get() == {"requeued": 1}
    db.session.refresh(event)
    assert event.status == "processed" and payments_count() == 1
    assert tasks.process_stripe_event.delay(event.id).get() == "processed" and payments_count() == 1


def test_a_webhook_for_another_payment_intent_or_customer_posts_nothing(app, client, stripe_emulator):
    web, account, csrf = signed_in_patient(app)
    attempt_id, _ = pay(web, account, csrf, stripe_emulator, card=CARD_3DS)  # waiting for 3-D Secure
    attempt = db.session.get(CardPayment, attempt_id)
    other_web, other, other_csrf = signed_in_patient(app)
    other_attempt_id, _ = pay(other_web, other, other_csrf, stripe_emulator, amount="100.00")
    other_intent = db.session.get(CardPayment, other_attempt_id).payment_intent_id
    forged = [succeeded_event(other_intent, attempt.id, attempt.amount_cents, "evt_other_intent"),
              succeeded_event(attempt.payment_intent_id, attempt.id, attempt.amount_cents, "evt_other_customer",
                              customer=other.stripe_customer_id)]
    for payload in forged:
        response = client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload)},
                               content_type="application/json")
        assert response.status_code == 200
    events = db.session.scalars(select(StripeEvent).order_by(StripeEvent.id)).all()
    assert [e.status for e in events] == ["ignored", "ignored"]
    assert "is not card attempt" in events[0].error and "is not card attempt" in events[1].error
    db.session.refresh(attempt)
    assert attempt.payment_id is None and db.session.scalar(
        select(func.count(Payment.id)).where(Payment.account_id == account.id)) == 0


def test_confirm_refuses_a_card_that_is_not_this_guarantors(app, stripe_emulator):
    web, account, csrf = signed_in_patient(app)
    other_web, other, other_csrf = signed_in_patient(app)
    pay(other_web, other, other_csrf, stripe_emulator, save=True)
    theirs = db.session.scalar(select(SavedCard).where(SavedCard.account_id == other.id)).payment_method_id
    status, started = call(web, f"/accounts/{account.id}/pay/start", csrf, {"token": uuid.uuid4().hex,
                                                                            "amount": "50.00"})
    status, outcome = call(web, f"/accounts/{account.id}/pay/confirm", csrf,
                           {"attempt_id": started["attempt_id"], "payment_method_id": theirs})
    assert status == 400 and "not saved for this payment" in outcome["message"]
    intents = stripe_helpers.all_payment_intents(stripe_emulator)
    assert not [i for i in intents if i["customer"] == account.stripe_customer_id]
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.account_id == account.id)) == 0


def test_an_amount_refused_names_the_amount_field(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    for amount, message in (("abc", "Enter an amount like 25.00."),
                            ("900.00", "Enter an amount up to your balance of $250.00.")):
        status, answer = call(client, f"/accounts/{account.id}/pay/start", csrf,
                              {"token": uuid.uuid4().hex, "amount": amount})
        assert (status, answer["field"], answer["message"]) == (400, "amount", message)
    assert payments_count() == 0


def test_a_start_interrupted_before_its_card_setup_was_stored_sets_the_card_up_on_retry(app, stripe_emulator):
    client, account, csrf = signed_in_patient(app)
    token = uuid.uuid4().hex
    _, first = call(client, f"/accounts/{account.id}/pay/start", csrf, {"token": token, "amount": "40.00"})
    attempt = db.session.get(CardPayment, first["attempt_id"])
    setup_id = attempt.setup_intent_id
    attempt.setup_intent_id = None  # the server died after storing the attempt, before storing its SetupIntent
    db.session.commit()
    _, retried = call(client, f"/accounts/{account.id}/pay/start", csrf, {"token": token, "amount": "40.00"})
    assert retried["attempt_id"] == attempt.id and retried["setup_client_secret"]
    assert db.session.get(CardPayment, attempt.id).setup_intent_id == setup_id  # Stripe's, once (idempotent)
    method = stripe_helpers.save_card(stripe_emulator, retried["setup_client_secret"])
    status, outcome = call(client, f"/accounts/{account.id}/pay/confirm", csrf,
                           {"attempt_id": attempt.id, "payment_method_id": method})
    assert status == 200 and outcome["status"] == "succeeded"
