"""Staff take a card payment for an account and refund part of it: Stripe and the ledger agree."""
import uuid

from sqlalchemy import select

from portal import ledger
from portal.clock import facility_today, long_date
from portal.extensions import db
from portal.models import AuditEvent, Payment, Refund
from tests.conftest import PASSWORD, csrf_from, post_form
from tests.fixtures import factories, stripe_helpers


def test_biller_takes_a_card_payment_then_refunds_part_of_it(app, login_as, stripe_emulator):
    account = factories.account()
    factories.charge(account, 30000)
    biller = login_as("biller")
    page = biller.get(f"/staff/accounts/{account.id}/card-payment").get_data(as_text=True)
    csrf = csrf_from(page)
    base = f"/staff/accounts/{account.id}/card-payment"
    started = biller.post(f"{base}/start", json={"token": uuid.uuid4().hex, "amount": "200.00"},
                          headers={"X-CSRFToken": csrf}).get_json()
    method = stripe_helpers.save_card(stripe_emulator, started["setup_client_secret"])
    outcome = biller.post(f"{base}/confirm", json={"attempt_id": started["attempt_id"], "payment_method_id": method},
                          headers={"X-CSRFToken": csrf}).get_json()
    assert outcome["status"] == "succeeded"
    payment = db.session.scalar(select(Payment).where(Payment.account_id == account.id))
    assert payment.amount_cents == 20000 and payment.created_by == f"user:{biller.user.id}"

    account_page = f"/staff/accounts/{account.id}"
    page = biller.get(account_page).get_data(as_text=True)
    refund_form_token = page.split('name="token" type="hidden" value="')[1].split('"')[0]
    response = post_form(biller, f"{account_page}/payments/{payment.id}/refund",
                         {"amount": "50.00", "reason": "billed twice for one visit", "token": refund_form_token},
                         page=account_page)
    assert response.status_code == 302
    refund = db.session.scalar(select(Refund))
    assert refund.amount_cents == 5000 and refund.stripe_refund_id.startswith("re_")
    emulated = stripe_helpers.retrieve(stripe_emulator, f"refunds/{refund.stripe_refund_id}")
    assert emulated["amount"] == 5000 and emulated["payment_intent"] == payment.reference
    db.session.refresh(account)
    assert account.patient_balance_cents == 30000 - 20000 + 5000
    assert ledger.check_all()[1] == []
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.account_id == account.id)))
    assert {"card_payment.started", "payment.refunded"} <= actions

    patient = app.test_client()  # the guarantor sees the refund under the payment it came from
    post_form(patient, "/login", {"email": factories.patient_login(account, PASSWORD).email, "password": PASSWORD})
    history = patient.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert f"Refunded $50.00 to your card on {long_date(facility_today())}" in history


def test_collector_cannot_refund(app, login_as):
    account = factories.account()
    payment = ledger.post_payment(account.id, amount_cents=1000, method="cash", key="cash", actor="test")
    collector = login_as("collector")
    csrf = csrf_from(collector.get("/staff/").get_data(as_text=True))
    response = collector.post(f"/staff/accounts/{account.id}/payments/{payment.id}/refund",
                              data={"csrf_token": csrf, "amount": "10.00", "reason": "x", "token": "t"})
    assert response.status_code == 403
