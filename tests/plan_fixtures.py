"""A guarantor with a balance and a card saved through the Stripe emulator, ready for a plan."""
from datetime import date

import pytest

from portal import payments, plans
from portal.extensions import db
from portal.models import SavedCard
from portal.payments import gateway
from tests import factories, stripe_helpers


def account_with_card(emulator: str, balance: int = 120000, number: str = stripe_helpers.CARD_OK):
    account = factories.account()
    account.email = f"plan-{account.id}@example.org"
    factories.charge(account, balance, day=date(2026, 9, 1))
    customer = payments._customer(account)
    setup_id, secret = gateway.create_setup_intent(customer, 0)
    method = stripe_helpers.save_card(emulator, secret, number)
    card = SavedCard(account_id=account.id, payment_method_id=method, **gateway.card_details(method))
    db.session.add(card)
    db.session.commit()
    return account, card


@pytest.fixture
def make_plan(app, stripe_emulator):
    def make(*, balance=120000, months=6, card_number=stripe_helpers.CARD_OK, first_due=date(2026, 12, 1)):
        account, card = account_with_card(stripe_emulator, balance, card_number)
        schedule = plans.build_schedule(balance, first_due, plans.policy(), months=months)
        return plans.create(account, schedule, card=card, actor="test", by_patient=False)

    return make
