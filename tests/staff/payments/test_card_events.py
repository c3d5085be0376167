"""Billers see card disputes with their evidence due dates, and process again a Stripe event that failed."""
import json

from sqlalchemy import select

from portal import payments
from portal.extensions import db
from portal.models import AuditEvent, Dispute, StripeEvent
from tests.conftest import post_form
from tests.portal.payments.test_stripe_events import card_payment, dispute, event


def test_a_failed_dispute_event_processed_again_takes_the_payment_back_and_lists_the_dispute(
        app, login_as, stripe_emulator):
    payment = card_payment(10000, stripe_emulator)
    # What a crash in our handler left: the event stored, marked failed with its error.
    row, _ = payments.receive_event(json.loads(event("charge.dispute.created",
                                                     dispute(payment.reference, 10000, dispute_id="du_again"))))
    row.status, row.error = "failed", "OperationalError: the database went away"
    db.session.commit()
    biller = login_as("biller")

    page = biller.get("/staff/card-events/").get_data(as_text=True)
    assert "charge.dispute.created" in page and "the database went away" in page and "No card disputes." in page

    response = post_form(biller, f"/staff/card-events/{row.id}/again", {}, page="/staff/card-events/")
    assert response.status_code == 302
    assert db.session.get(StripeEvent, row.id, populate_existing=True).status == "processed"
    assert db.session.scalar(select(Dispute.state).where(Dispute.stripe_dispute_id == "du_again")) == "open"
    page = biller.get("/staff/card-events/").get_data(as_text=True)
    assert "No failed events." in page and "$100.00" in page and "fraudulent" in page
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "stripe_event.requeued"))

    again = post_form(biller, f"/staff/card-events/{row.id}/again", {}, page="/staff/card-events/",
                      follow_redirects=True)
    assert "Only an event that failed can be processed again." in again.get_data(as_text=True)


def test_card_events_need_the_refund_permission(login_as):
    assert login_as("collector").get("/staff/card-events/").status_code == 403
