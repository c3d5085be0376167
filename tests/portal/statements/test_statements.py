"""Statements: who gets one, frozen snapshots, the PDF a mailed statement would be, pay by link."""
import subprocess
from datetime import date, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from portal import ledger, statements
from portal.extensions import db
from portal.models import Account, Statement
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories

AS_OF = date(2026, 11, 10)


def account_due(amount, *, statement_day=AS_OF.day, email="guarantor@example.org"):
    account = factories.account()
    account.statement_day, account.email = statement_day, email
    db.session.commit()
    if amount:
        factories.charge(account, amount, day=date(2026, 10, 1))
    return account


def test_run_issues_due_accounts_once_and_skips_zero_credit_and_small_balances(app, smtp_server):
    due = account_due(12345)
    zero = account_due(0)
    small = account_due(300)  # under the $5.00 minimum
    credit = account_due(1000)
    ledger.post_payment(credit.id, amount_cents=3000, method="cash", key="over", actor="test")
    other_day = account_due(5000, statement_day=11)
    result = statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    assert [i["account"] for i in result.issued] == [due.number]
    reasons = {s["account"]: s["reason"] for s in result.skipped}
    assert reasons == {zero.number: "nothing is due", small.number: "below the $5.00 minimum",
                       credit.number: "the account has a credit"}
    assert other_day.number not in reasons
    again = statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    assert again.issued == [] and again.skipped[0]["reason"] == "a statement for this date already exists"
    assert db.session.scalar(select(func.count(Statement.id))) == 1
    [mail] = smtp_server.messages
    body = mail.get_payload()
    assert mail["To"] == "guarantor@example.org" and "$123.45" in body
    issued = db.session.scalar(select(Statement))
    assert f"/pay?code={issued.code}" in body and f"/login?next=/accounts/{due.id}/pay" in body
    for word in ("S9480", "IOP", "psychiatric", "per diem", due.patients[0].last_name):
        assert word not in body and word not in mail["Subject"]


def test_statement_is_frozen_and_the_next_one_carries_forward(app):
    account = account_due(20000)
    first, _ = statements.issue(account, AS_OF, actor="test")
    snapshot = dict(first.snapshot)
    ledger.post_payment(account.id, amount_cents=5000, method="check", key="chk", actor="test",
                        received_on=AS_OF + timedelta(days=3))
    db.session.expire_all()
    first = db.session.get(Statement, first.id)
    assert first.amount_due_cents == 20000 and first.snapshot == snapshot
    second, _ = statements.issue(db.session.get(Account, account.id), AS_OF + timedelta(days=30), actor="test")
    assert (second.cycle_number, second.previous_amount_due_cents) == (2, 20000)
    assert (second.payments_since_cents, second.amount_due_cents) == (5000, 15000)


def test_pdf_carries_the_amount_due_code_remit_address_and_stub(app):
    account = account_due(45678)
    statement, _ = statements.issue(account, AS_OF, actor="test")
    pdf = statements.pdf(statement)
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    assert "$456.78" in text and statement.code in text
    assert "Detach and return this part with your payment" in text and "Amount enclosed" in text
    assert account.number in text
    assert statements.pdf(statement) == pdf  # rendered once, kept


def test_patient_sees_only_their_statements(app, client):
    mine, theirs = account_due(10000), account_due(20000)
    my_statement, _ = statements.issue(mine, AS_OF, actor="test")
    their_statement, _ = statements.issue(theirs, AS_OF, actor="test")
    user = factories.patient_login(mine, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    page = client.get(f"/accounts/{mine.id}/statements/{my_statement.id}")
    assert page.status_code == 200 and "$100.00" in page.get_data(as_text=True)
    assert client.get(f"/accounts/{mine.id}/statements/{their_statement.id}").status_code == 404
    assert client.get(f"/accounts/{theirs.id}/statements/{their_statement.id}/pdf").status_code == 404
    pdf = client.get(f"/accounts/{mine.id}/statements/{my_statement.id}/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_pay_by_link_needs_code_birth_date_and_zip_and_never_says_which_was_wrong(app, client):
    account = account_due(30000)
    statement, _ = statements.issue(account, AS_OF, actor="test")
    patient = account.patients[0]
    good = {"code": statement.code.lower(), "date_of_birth": patient.date_of_birth.isoformat(), "zip_code": "07081"}
    answers = []
    for wrong in ({"code": "ZZZZZZZZ"}, {"date_of_birth": "1970-01-01"}, {"zip_code": "99999"}):
        response = post_form(client, "/pay", {**good, **wrong})
        refused = "could not find a statement with those details" in response.get_data(as_text=True)
        answers.append((response.status_code, refused))
    assert answers == [(404, True)] * 3
    found = post_form(client, "/pay", {**good, "date_of_birth": f"{patient.date_of_birth:%m/%d/%Y}"})
    assert found.status_code == 302
    page = client.get("/pay/statement").get_data(as_text=True)
    assert "$300.00" in page and patient.last_name not in page
    assert "What this statement is for" in page and "Oct 1, 2026 · Outpatient services" in page
    assert "set up a payment plan" in page
    pdf = client.get("/pay/statement/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.headers["Cache-Control"] == "no-store"
    assert app.test_client().get("/pay/statement/pdf").status_code == 403  # only in the session the details opened


def test_the_birth_date_is_typed_as_mm_dd_yyyy_and_a_mistyped_one_is_said_at_the_field(app, client):
    assert 'type="date"' not in client.get("/pay").get_data(as_text=True)
    for typed, error in (("13/45/1990", "Enter the date as MM/DD/YYYY."),
                         ("1/1/90", "Enter the date as MM/DD/YYYY."), ("1/1/0990", "Check the year")):
        refused = post_form(client, "/pay", {"code": "ABCDEFGH", "date_of_birth": typed, "zip_code": "07081"})
        assert refused.status_code == 400 and error in refused.get_data(as_text=True)


def test_pay_by_link_is_rate_limited_per_code(app, client):
    account = account_due(30000)
    statement, _ = statements.issue(account, AS_OF, actor="test")
    codes = [post_form(client, "/pay", {"code": statement.code, "date_of_birth": "1970-01-01", "zip_code": "11111"},
                       environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code for n in range(1, 8)]
    assert codes[:5] == [404] * 5 and codes[5:] == [429, 429]


def test_cli_statements_run_json(app):
    account = account_due(9999)
    result = app.test_cli_runner().invoke(
        args=["statements", "run", "--as-of", AS_OF.isoformat(), "--json", "--no-mail"])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.output)
    assert [i["account"] for i in data["issued"]] == [account.number]


def test_the_statement_mail_links_open_the_pay_page_with_the_code_or_sign_in_to_pay(app, client, smtp_server):
    account = account_due(30000)
    statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    body = smtp_server.messages[0].get_payload()
    statement = db.session.scalar(select(Statement))
    pay_link, sign_in = (urlsplit(next(w for w in body.split() if marker in w)) for marker in ("/pay?", "/login?"))
    page = client.get(f"{pay_link.path}?{pay_link.query}").get_data(as_text=True)
    assert f'value="{statement.code}"' in page
    user = factories.patient_login(account, PASSWORD)
    signed_in = post_form(client, f"{sign_in.path}?{sign_in.query}", {"email": user.email, "password": PASSWORD})
    assert signed_in.headers["Location"].endswith(f"/accounts/{account.id}/pay")
