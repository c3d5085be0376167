"""A guarantor removes a card they saved: it leaves Stripe's customer and can no longer be charged here."""
import uuid

import pytest
from sqlalchemy import select

from portal import payments
from portal.extensions import db
from portal.models import Account, AuditEvent, SavedCard
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories, stripe_helpers
from tests.fixtures.plans import account_with_card


def signed_in(app, account: Account):
    client = app.test_client()
    post_form(client, "/login", {"email": factories.patient_login(account, PASSWORD).email, "password": PASSWORD})
    return client


def remove(client, account: Account, card_id: int):
    page = f"/accounts/{account.id}"
    return post_form(client, f"{page}/cards/{card_id}/remove", {}, page=page, follow_redirects=True)


def attached_to(emulator: str, card: SavedCard) -> str | None:
    return stripe_helpers.retrieve(emulator, f"payment_methods/{card.payment_method_id}")["customer"]


def test_a_removed_card_leaves_stripe_and_cannot_pay_again(app, stripe_emulator):
    account, card = account_with_card(stripe_emulator)
    stripe_helpers.attach(stripe_emulator, card.payment_method_id, account.stripe_customer_id)
    assert attached_to(stripe_emulator, card) == account.stripe_customer_id
    client = signed_in(app, account)
    page = client.get(f"/accounts/{account.id}").get_data(as_text=True)
    assert "Visa ending 4242, expires 12/2031" in page

    after = remove(client, account, card.id).get_data(as_text=True)
    assert "Your Visa ending 4242 is no longer saved." in after and "No saved cards." in after
    assert attached_to(stripe_emulator, card) is None
    with pytest.raises(payments.PaymentError, match="saved cards"):
        payments.start(db.session.get(Account, account.id), 5000, token=uuid.uuid4().hex, channel="portal",
                            actor="test", saved_card_id=card.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "card.removed"))
    assert event.account_id == account.id and event.detail == {"brand": "visa", "last4": "4242"}


def test_the_card_that_pays_a_plan_stays_until_the_plan_uses_another(app, make_plan, stripe_emulator):
    plan = make_plan()
    account = db.session.get(Account, plan.account_id)
    card_id = plan.saved_card_id
    card = db.session.get(SavedCard, card_id)
    stripe_helpers.attach(stripe_emulator, card.payment_method_id, account.stripe_customer_id)
    refused = remove(signed_in(app, account), account, card_id).get_data(as_text=True)
    assert "pays your payment plan. Choose another card for the plan first." in refused
    db.session.refresh(card)
    assert card.removed_at is None and attached_to(stripe_emulator, card) == account.stripe_customer_id


def test_a_patient_cannot_remove_another_accounts_card(app, stripe_emulator):
    theirs, card = account_with_card(stripe_emulator)
    mine = factories.account()
    client = signed_in(app, mine)
    assert "not saved on this account" in remove(client, mine, card.id).get_data(as_text=True)
    assert client.post(f"/accounts/{theirs.id}/cards/{card.id}/remove").status_code in (400, 404)
    assert db.session.get(SavedCard, card.id).removed_at is None
