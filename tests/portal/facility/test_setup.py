"""First start: `setup` on an empty database makes the facility and an admin who can sign in, once."""
import json

import pyotp
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Facility, Program, Role, TotpEnrolment, User
from tests.conftest import PASSWORD, post_form

SETUP = ["setup", "--facility-name", "Riverside Recovery Center", "--admin-email", "Owner@Riverside.example"]


def test_setup_on_an_empty_database_makes_an_admin_who_can_sign_in(app):
    result = app.test_cli_runner().invoke(args=[*SETUP, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Riverside Recovery Center" in result.output and PASSWORD not in result.output
    facility = db.session.scalar(select(Facility))
    assert facility.name == facility.neutral_name == "Riverside Recovery Center"
    assert facility.statement_descriptor == "RIVERSIDE RECOVERY CEN"
    admin = db.session.scalar(select(User).where(User.email == "owner@riverside.example"))
    assert admin.role.name == "admin" and admin.is_staff
    assert db.session.scalar(select(func.count(Role.id))) == 6  # the default roles, ready for new users
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "facility.created"))
    client = app.test_client()
    response = post_form(client, "/staff/login", {"email": "owner@riverside.example", "password": PASSWORD})
    # The password is accepted; admins then enrol in two-factor before anything else, and reach the admin pages.
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/login/enrol")
    client.get("/staff/login/enrol")
    secret = db.session.scalar(select(TotpEnrolment.secret).where(TotpEnrolment.user_id == admin.id))
    response = post_form(client, "/staff/login/enrol", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get("/staff/admin/programs").status_code == 200
    assert client.get("/staff/admin/payers").status_code == 200


def test_setup_generates_a_password_shown_once_in_json(app):
    result = app.test_cli_runner().invoke(args=[*SETUP, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["admin"]["email"] == "owner@riverside.example" and payload["admin"]["role"] == "admin"
    assert payload["facility"]["name"] == "Riverside Recovery Center"
    password = payload["temporary_password"]
    assert len(password) >= 12
    client = app.test_client()
    response = post_form(client, "/staff/login", {"email": "owner@riverside.example", "password": password})
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/login/enrol")


def test_setup_refuses_a_second_run_in_one_line_and_changes_nothing(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=SETUP).exit_code == 0
    again = runner.invoke(args=["setup", "--facility-name", "Another", "--admin-email", "second@example.org"])
    assert again.exit_code != 0
    assert again.output.strip().count("\n") == 0 and "already has a facility" in again.output
    assert db.session.scalar(select(func.count(Facility.id))) == 1
    assert db.session.scalar(select(User).where(User.email == "second@example.org")) is None


def test_the_demo_has_programs_locations_and_providers_and_setup_then_refuses(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    adult_iop = db.session.scalar(select(Program).where(Program.name == "Adult IOP"))
    assert adult_iop.location.place_of_service == "57"
    assert adult_iop.billing_provider.kind == "organization" and adult_iop.rendering_provider.kind == "individual"
    refused = runner.invoke(args=SETUP)
    assert refused.exit_code != 0 and "already has a facility" in refused.output


def test_setup_refuses_a_bad_email_or_weak_password_and_creates_nothing(app):
    runner = app.test_cli_runner()
    cases = [
        (["setup", "--facility-name", "Riverside", "--admin-email", "not-an-email"], None, "not an email"),
        ([*SETUP, "--password-stdin"], "short\n", "at least 12 characters"),
        ([*SETUP, "--password-stdin"], "aaaaaaaaaaaaaaaa\n", "too weak"),
        ([*SETUP, "--password-stdin"], "", "no password"),
        (["setup", "--facility-name", "  ", "--admin-email", "a@example.org"], None, "facility's name"),
    ]
    for args, stdin, message in cases:
        result = runner.invoke(args=args, input=stdin)
        assert result.exit_code != 0, args
        assert message in result.output and result.output.strip().count("\n") == 0, result.output
    assert db.session.scalar(select(func.count(Facility.id))) == 0
    assert db.session.scalar(select(func.count(User.id))) == 0
