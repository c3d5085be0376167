"""A receipt says what was left right after the payment (or that the account was paid in full), and
where to reach the billing office: on the page, the PDF and the mail."""
import subprocess

from portal import ledger, payments
from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories


def _page(client, account, payment) -> str:
    return client.get(f"/accounts/{account.id}/payments/{payment.id}/receipt").get_data(as_text=True)


def _pdf_text(client, account, payment) -> str:
    pdf = client.get(f"/accounts/{account.id}/payments/{payment.id}/receipt/pdf").data
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return " ".join(text.split())


def test_a_receipt_tells_what_was_left_then_or_paid_in_full(app, client, smtp_server):
    facility = factories.facility()
    facility.phone, facility.remit_address = "(973) 555-0100", "PO Box 12\nSpringfield, NJ 07081"
    db.session.commit()
    account = factories.account()
    factories.charge(account, 25000)
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})

    first = ledger.post_payment(account.id, amount_cents=10000, method="cash", key="r1", actor="test")
    assert "Remaining balance after this payment: $150.00." in _page(client, account, first)
    rest = ledger.post_payment(account.id, amount_cents=15000, method="cash", key="r2", actor="test")
    page = _page(client, account, rest)
    assert "Your account is paid in full." in page
    assert "PO Box 12, Springfield, NJ 07081" in page and "(973) 555-0100" in page
    # The first receipt still says what was left when it was paid.
    assert "Remaining balance after this payment: $150.00." in _page(client, account, first)
    text = _pdf_text(client, account, rest)
    assert "Your account is paid in full." in text and "(973) 555-0100" in text and "PO Box 12" in text
    over = ledger.post_payment(account.id, amount_cents=2000, method="cash", key="r3", actor="test")
    assert "paid in full, with a credit of $20.00" in _page(client, account, over)

    payments.send_receipt(db.session.get(type(rest), rest.id))
    db.session.commit()
    [mail] = smtp_server.messages
    body = mail.get_payload()
    assert "Your account is paid in full." in body and "Billing: (973) 555-0100" in body


def test_every_patient_page_gives_the_billing_phone(app, client):
    facility = factories.facility()
    facility.phone = "(973) 555-0100"
    db.session.commit()
    account = factories.account()
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    for url in ("/", f"/accounts/{account.id}", "/pay", "/login"):
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert 'href="tel:(973)555-0100"' in page, url
        assert "· Parity</title>" not in page, url


def test_a_prospect_is_pointed_to_admissions_not_to_a_bill(app, client):
    facility = factories.facility()
    facility.phone = "(973) 555-0100"
    db.session.commit()
    page = client.get("/estimate").get_data(as_text=True)
    assert "Call Test Health admissions" in page and "your bill" not in page and "(973) 555-0100" in page
