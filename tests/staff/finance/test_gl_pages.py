"""The business office's pages: the journal download, closing a month behind a confirmation and its
permission, remapping the chart, the month-end report."""
from datetime import timedelta

from portal import ledger
from portal.clock import facility_today
from portal.extensions import db
from portal.models import AuditEvent, GlAccount, GlMapping, GlPeriod
from tests.conftest import post_form
from tests.fixtures import factories


def _last_month():
    return (facility_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def test_the_journal_downloads_as_csv_and_is_recorded(login_as):
    acc = factories.account()
    ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="page:cash", actor="test")
    client = login_as("finance")
    today = facility_today().isoformat()
    response = post_form(client, "/staff/finance/journal", {"start": today, "end": today, "format": "quickbooks"},
                         page="/staff/finance/")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert b"Undeposited funds" in response.data and b"50.00" in response.data
    assert db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "gl.exported")) is not None
    page = client.get("/staff/finance/").get_data(as_text=True)
    assert "QuickBooks Online journal entry import CSV" in page and "Test finance" in page  # who took it, by name

    bad = post_form(client, "/staff/finance/journal", {"start": today, "end": "2000-01-01", "format": "parity"},
                    page="/staff/finance/")
    assert bad.status_code == 400 and "before the start date" in bad.get_data(as_text=True)


def test_closing_needs_the_permission_and_the_confirmation(login_as):
    acc = factories.account()
    ledger.post_payment(acc.id, amount_cents=700, method="check", key="page:old", actor="test",
                        received_on=_last_month() + timedelta(days=2))
    month = _last_month().strftime("%Y-%m")
    biller = login_as("biller")
    assert biller.get("/staff/finance/").status_code == 403
    finance = login_as("finance")
    page = finance.get("/staff/finance/").get_data(as_text=True)
    assert f"Close {_last_month():%B %Y}" in page and "$7.00" in page
    unconfirmed = post_form(finance, "/staff/finance/close", {"month": month}, page="/staff/finance/")
    assert unconfirmed.status_code == 400 and "cannot be reopened" in unconfirmed.get_data(as_text=True)
    assert db.session.scalar(db.select(GlPeriod)) is None
    done = post_form(finance, "/staff/finance/close", {"month": month, "confirm": "y"}, page="/staff/finance/")
    assert done.status_code == 302
    period = db.session.scalar(db.select(GlPeriod))
    assert period.month == _last_month() and period.debit_total_cents == 700
    again = post_form(finance, "/staff/finance/close", {"month": month, "confirm": "y"}, page="/staff/finance/")
    assert again.status_code == 400 and "already closed" in again.get_data(as_text=True)


def test_the_chart_is_remapped_by_finance_and_closed_to_others(login_as):
    client = login_as("finance")
    added = post_form(client, "/staff/finance/chart", {"account-number": "6199", "account-name": "Merchant fees",
                                                        "account-type": "expense"})
    assert added.status_code == 302
    fees = db.session.scalar(db.select(GlAccount).where(GlAccount.number == "6199"))
    remapped = post_form(client, "/staff/finance/chart", {"map-card_fees": str(fees.id)})
    assert remapped.status_code == 302
    assert db.session.get(GlMapping, (fees.facility_id, "card_fees")).gl_account_id == fees.id
    renamed = post_form(client, "/staff/finance/chart", {"account-number": "6199", "account-name": "Card fees",
                                                          "account-type": "expense"})
    assert renamed.status_code == 302
    assert db.session.scalar(db.select(GlAccount.name).where(GlAccount.number == "6199")) == "Card fees"
    blank = post_form(client, "/staff/finance/chart", {"account-number": "6200", "account-name": "\x00 ",
                                                        "account-type": "expense"})
    assert blank.status_code == 400
    foreign = post_form(client, "/staff/finance/chart", {"map-card_fees": "999999"})
    assert foreign.status_code == 400 and "choose an account of this facility" in foreign.get_data(as_text=True)

    biller = login_as("biller")
    assert biller.get("/staff/finance/chart").status_code == 403
    assert biller.post("/staff/finance/chart", data={"map-card_fees": str(fees.id)}).status_code in (400, 403)


def test_the_month_end_report_page(login_as):
    acc = factories.account()
    factories.charge(acc, 30000, day=facility_today())
    client = login_as("finance")
    page = client.get(f"/staff/finance/month-end?month={facility_today():%Y-%m}")
    assert page.status_code == 200
    assert "$300.00" in page.get_data(as_text=True)
    bad = client.get("/staff/finance/month-end?month=soon")
    assert bad.status_code == 400 and "is not a month" in bad.get_data(as_text=True)
