"""Invoice pages: the account's Invoices section, making invoices with checkboxes and a grouping, the invoice
page, its PDF, email and void; who may do what; bad input answered on its field."""
from datetime import date

from sqlalchemy import func, select

from portal import invoices
from portal.extensions import db
from portal.models import Account, AuditEvent, Invoice
from portal.payments import deposits
from tests.conftest import post_form
from tests.fixtures import factories


def account_with_charges(*days):
    account = factories.account()
    ids = [factories.charge(account, 10000 + n, day=day).id for n, day in enumerate(days)]
    return account, ids


def test_a_biller_makes_one_invoice_per_month_from_the_checked_charges(app, login_as):
    account, (sept, octo, left) = account_with_charges(date(2026, 9, 2), date(2026, 10, 3), date(2026, 10, 9))
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/invoices/new"
    page = biller.get(url).get_data(as_text=True)
    assert 'name="charge_ids"' in page and "One invoice per month of service" in page
    response = post_form(biller, url, {"charge_ids": [sept, octo], "grouping": "month"})
    assert response.status_code == 302
    made = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
    assert [(i.total_cents, len(i.lines)) for i in made] == [(10000, 1), (10001, 1)]
    hub = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert "Invoices" in hub and made[0].number in hub and made[1].number in hub and "$100.01" in hub
    assert [c.id for c in invoices.uninvoiced_charges(account.id)] == [left]


def test_the_invoice_page_pdf_email_and_void(app, login_as, smtp_server):
    account, (charge_id,) = account_with_charges(date(2026, 10, 1))
    [invoice] = invoices.build(account, [charge_id], grouping="one", actor="test")
    db.session.commit()
    biller = login_as("biller")
    base = f"/staff/accounts/{account.id}/invoices/{invoice.id}"
    page = biller.get(base).get_data(as_text=True)
    assert invoice.number in page and "Take a payment at the desk" in page
    pdf = biller.get(f"{base}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"

    assert post_form(biller, f"{base}/email", {}, page=base).status_code == 302
    assert [m["To"] for m in smtp_server.messages] == [account.email]

    refused = post_form(biller, f"{base}/void", {"reason": ""}, page=base)
    assert refused.status_code == 400 and "Say why the invoice is voided." in refused.get_data(as_text=True)
    assert db.session.get(Invoice, invoice.id).status == "open"
    assert post_form(biller, f"{base}/void", {"reason": "sent to the wrong guarantor"}, page=base).status_code == 302
    assert db.session.get(Invoice, invoice.id, populate_existing=True).status == "void"
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "invoice")))
    assert {"invoice.created", "invoice.viewed", "invoice.sent", "invoice.voided"} <= actions


def test_the_desk_payment_form_is_filled_in_for_the_invoice(app, login_as):
    account, (first, second) = account_with_charges(date(2026, 10, 1), date(2026, 10, 2))
    [invoice] = invoices.build(account, [first, second], grouping="one", actor="test")
    deposits.open_batch(deposit_date=date(2026, 10, 5), kind="cash_drawer", control_total_cents=20001,
                        control_count=1, actor="test")
    db.session.commit()
    page = login_as("biller").get(f"/staff/accounts/{account.id}/post-payment?invoice={invoice.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and f"Paying invoice {invoice.number}" in text
    assert 'value="200.01"' in text and 'value="100.00"' in text and 'value="100.01"' in text


def test_refusals_are_shown_on_the_field_and_change_nothing(app, login_as):
    account, (charge_id,) = account_with_charges(date(2026, 10, 1))
    other, (elsewhere,) = account_with_charges(date(2026, 10, 1))
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/invoices/new"
    for data, message in [({"grouping": "one"}, "Choose at least one charge."),
                          ({"charge_ids": [elsewhere], "grouping": "one"}, "A chosen charge cannot be invoiced now"),
                          ({"charge_ids": ["9e999999"], "grouping": "one"}, "Choose the charges from the list."),
                          ({"charge_ids": [charge_id], "grouping": "a\x00b"}, "not allowed"),
                          ({"charge_ids": [charge_id], "grouping": "week"}, "Not a valid choice")]:
        response = post_form(biller, url, data)
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), (data, message)
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    [made] = invoices.build(db.session.get(Account, other.id), [elsewhere], grouping="one", actor="test")
    db.session.commit()
    assert biller.get(f"/staff/accounts/{account.id}/invoices/{made.id}").status_code == 404  # another account's


def test_permissions(app, login_as):
    account, (charge_id,) = account_with_charges(date(2026, 10, 1))
    [invoice] = invoices.build(account, [charge_id], grouping="one", actor="test")
    db.session.commit()
    base = f"/staff/accounts/{account.id}/invoices"
    outsider = login_as("admissions")
    for url in (f"{base}/new", f"{base}/{invoice.id}", f"{base}/{invoice.id}/invoice.pdf"):
        assert outsider.get(url).status_code == 403, url
    for url in (f"{base}/{invoice.id}/void", f"{base}/{invoice.id}/email", f"{base}/new"):
        assert outsider.post(url, data={"reason": "x"}).status_code in (400, 403), url
    assert db.session.get(Invoice, invoice.id).status == "open"
    collector = login_as("collector")
    assert collector.get(f"{base}/{invoice.id}").status_code == 200


def test_emailing_without_an_address_says_so_and_sends_nothing(app, login_as, smtp_server):
    account, (charge_id,) = account_with_charges(date(2026, 10, 1))
    account.email = None
    [invoice] = invoices.build(account, [charge_id], grouping="one", actor="test")
    db.session.commit()
    biller = login_as("biller")
    base = f"/staff/accounts/{account.id}/invoices/{invoice.id}"
    response = post_form(biller, f"{base}/email", {}, page=base)
    assert response.status_code == 400 and "no email address on file" in response.get_data(as_text=True)
    assert smtp_server.messages == [] and db.session.get(Invoice, invoice.id).sent_at is None
