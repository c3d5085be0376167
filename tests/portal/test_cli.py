"""Command-line tools: seed-demo is idempotent, ledger check catches drift, bad input exits non-zero."""
import json

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import Account, LedgerEntry, User
from tests.conftest import post_form


def test_seed_demo_is_idempotent_and_the_ledger_checks_clean(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--json"])
    assert first.exit_code == 0, first.output
    payload = json.loads(first.output)
    assert payload["created"] is True
    roles = {login["role"] for login in payload["logins"]}
    assert roles == {"admin", "biller", "collector", "admissions", "clinician", "finance", "patient"}
    assert sum(1 for login in payload["logins"] if login["side"] == "patient") == 2
    entries = db.session.scalar(select(func.count(LedgerEntry.id)))
    second = runner.invoke(args=["seed-demo", "--json"])
    assert json.loads(second.output)["created"] is False
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == entries
    check = runner.invoke(args=["ledger", "check", "--json"])
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["ok"] is True


def test_seed_demo_prints_statement_details_that_pay_by_link_accepts(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--json"])
    example = json.loads(result.output)["statement"]
    assert example["account"] not in ("A-10001", "A-10002")  # an account without a demo login
    found = post_form(client, "/pay", {"code": example["code"], "date_of_birth": example["date_of_birth"],
                                       "zip_code": example["zip_code"]})
    assert found.status_code == 302 and found.headers["Location"].endswith("/pay/statement")


def test_ledger_check_names_an_account_whose_stored_balance_drifted(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    db.session.execute(update(Account).where(Account.number == "A-10002")
                       .values(patient_balance_cents=Account.patient_balance_cents + 1))
    db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "A-10002" in result.output
    assert "A-10001" not in result.output


def test_users_create_makes_a_staff_login_and_refuses_bad_input_in_one_line(app):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["users", "create", "--email", "New.Biller@Example.org", "--role", "biller", "--json"])
    assert made.exit_code == 0, made.output
    data = json.loads(made.output)
    assert len(data["temporary_password"]) >= 12
    user = db.session.scalar(select(User).where(User.email == "new.biller@example.org"))
    assert user.role.name == "biller"
    again = runner.invoke(args=["users", "create", "--email", "new.biller@example.org", "--role", "biller"])
    assert again.exit_code != 0 and again.output.strip().count("\n") == 0 and "already exists" in again.output
    bad_role = runner.invoke(args=["users", "create", "--email", "x@example.org", "--role", "wizard"])
    assert bad_role.exit_code != 0 and "Unknown role" in bad_role.output
    no_account = runner.invoke(args=["users", "create", "--email", "p@example.org", "--role", "patient"])
    assert no_account.exit_code != 0 and "--account" in no_account.output


def test_demo_totp_prints_codes_only_for_demo_logins(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    ok = runner.invoke(args=["demo-totp", "admin@demo.example.org"])
    assert ok.exit_code == 0 and ok.output.strip().isdigit()
    refused = runner.invoke(args=["demo-totp", "someone@hospital.org"])
    assert refused.exit_code != 0


def test_every_printed_demo_login_signs_in(app):
    import pyotp

    from tests.conftest import post_form

    logins = json.loads(app.test_cli_runner().invoke(args=["seed-demo", "--json"]).output)["logins"]
    for login in logins:
        client = app.test_client()
        url = "/staff/login" if login["side"] == "staff" else "/login"
        response = post_form(client, url, {"email": login["email"], "password": login["password"]})
        assert response.status_code == 302, login["email"]
        if login["totp_secret"]:
            response = post_form(client, "/staff/login/totp", {"code": pyotp.TOTP(login["totp_secret"]).now()})
            assert response.status_code == 302, login["email"]
        home = client.get("/staff/" if login["side"] == "staff" else "/")
        assert home.status_code == 200, login["email"]
