"""Admin pages: users, roles and facility settings change what people can do, and forms explain refusals."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, BillingCodeGroup, Facility, User
from tests.conftest import PASSWORD, post_form, staff_login
from tests.fixtures import factories


def test_admin_adds_a_user_who_can_then_sign_in(app, login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/users/new", {
        "full_name": "Pat Collector", "email": "pat@example.org", "role": "collector", "password": PASSWORD})
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "pat@example.org"))
    assert created.role.name == "collector" and created.is_staff
    newcomer = app.test_client()
    staff_login(newcomer, created)
    assert newcomer.get("/staff/accounts/").status_code == 200
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created",
                                                      AuditEvent.user_id == admin.user.id))


def test_bad_user_form_re_renders_with_field_errors_and_keeps_input(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/users/new", {
        "full_name": "Short Password", "email": "short@example.org", "role": "biller", "password": "short"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Use 12 to 200 characters." in page
    assert 'value="short@example.org"' in page
    assert db.session.scalar(select(User).where(User.email == "short@example.org")) is None


def test_deactivated_user_cannot_sign_in(app, login_as, make_staff):
    target = make_staff("collector", totp=False)
    admin = login_as("admin")
    page = f"/staff/admin/users/{target.id}"
    assert post_form(admin, page, {"role": "collector"}).status_code == 302  # "active" left unticked
    client = app.test_client()
    response = post_form(client, "/staff/login", {"email": target.email, "password": PASSWORD})
    assert response.status_code == 401


def test_removing_a_permission_from_a_role_takes_effect_at_once(app, login_as):
    account = factories.account()
    collector = login_as("collector")
    assert collector.get(f"/staff/accounts/{account.id}").status_code == 200
    admin = login_as("admin")
    roles_page = admin.get("/staff/admin/roles").get_data(as_text=True)
    ticked = {name for name in _checked_boxes(roles_page) if name != "collector:accounts.view"}
    response = post_form(admin, "/staff/admin/roles", dict.fromkeys(ticked, "1"))
    assert response.status_code == 302
    assert collector.get(f"/staff/accounts/{account.id}").status_code == 403
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "role.updated"))
    assert event.detail == {"added": [], "removed": ["accounts.view"]}


def test_admin_role_cannot_lose_user_management(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/roles", {"admin:dashboard.view": "1"})
    assert response.status_code == 400
    assert "admin role must keep" in response.get_data(as_text=True)
    assert admin.get("/staff/admin/users").status_code == 200


def test_facility_settings_validate_and_audit(login_as):
    admin = login_as("admin")
    bad = post_form(admin, "/staff/admin/facility", {
        "name": "Clinic", "neutral_name": "Clinic", "npi": "123", "statement_descriptor": "CLINIC"})
    assert bad.status_code == 400 and "An NPI has 10 digits." in bad.get_data(as_text=True)
    mistyped = post_form(admin, "/staff/admin/facility", {
        "name": "Clinic", "neutral_name": "Clinic", "npi": "1234567894", "statement_descriptor": "CLINIC"})
    assert mistyped.status_code == 400 and "check digit is wrong" in mistyped.get_data(as_text=True)
    good = post_form(admin, "/staff/admin/facility", {
        "name": "Clinic", "neutral_name": "Riverside Health", "npi": "1234567893", "statement_descriptor": "RIVERSIDE",
        "phone": "(973) 555-0100", "admissions_phone": "(973) 555-0142"})
    assert good.status_code == 302
    facility = db.session.scalar(select(Facility))
    assert (facility.neutral_name, facility.npi) == ("Riverside Health", "1234567893")
    assert (facility.phone, facility.admissions_line) == ("(973) 555-0100", "(973) 555-0142")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "facility.updated"))


def test_the_clearinghouse_ids_claim_files_use_are_facility_settings(login_as):
    admin = login_as("admin")
    base = {"name": "Clinic", "neutral_name": "Riverside Health", "statement_descriptor": "RIVERSIDE"}
    bad = post_form(admin, "/staff/admin/facility", {**base, "x12_receiver_id": "CLEAR HOUSE*1"})
    assert bad.status_code == 400 and "Letters and digits, 2 to 15 of them." in bad.get_data(as_text=True)
    good = post_form(admin, "/staff/admin/facility", {**base, "x12_submitter_id": "SUB778",
                                                      "x12_receiver_id": "CLEARHOUSE1", "x12_receiver_name": "Clear"})
    assert good.status_code == 302
    facility = db.session.scalar(select(Facility))
    assert (facility.x12_submitter_id, facility.x12_receiver_id, facility.x12_receiver_name) == \
        ("SUB778", "CLEARHOUSE1", "Clear")


def test_audit_log_filters_by_account(login_as):
    first, second = factories.account(), factories.account()
    biller = login_as("biller")
    biller.get(f"/staff/accounts/{first.id}")
    biller.get(f"/staff/accounts/{second.id}")
    admin = login_as("admin")
    page = admin.get(f"/staff/admin/audit?account_id={second.id}&action=account.viewed").get_data(as_text=True)
    assert "1 events" in page and biller.user.email in page


def _checked_boxes(html: str) -> set[str]:
    import re

    return set(re.findall(r'name="([a-z]+:[a-z.]+)" value="1" checked', html))


def test_statement_and_payment_policy_are_facility_settings(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/facility", {
        "name": "Clinic", "neutral_name": "Riverside Health", "statement_descriptor": "RIVERSIDE",
        "statement_minimum": "10.00", "statement_due_days": "30", "payment_minimum": "2.50"})
    assert response.status_code == 302
    facility = db.session.scalar(select(Facility))
    assert (facility.statement_minimum_cents, facility.statement_due_days, facility.payment_minimum_cents) == (
        1000, 30, 250)
    bad = post_form(admin, "/staff/admin/facility", {
        "name": "Clinic", "neutral_name": "Riverside Health", "statement_descriptor": "RIVERSIDE",
        "statement_minimum": "ten"})
    assert bad.status_code == 400 and "Enter an amount like 5.00." in bad.get_data(as_text=True)


def test_plan_policy_is_an_admin_setting(login_as):
    from portal import plans

    admin = login_as("admin")
    form = {"min_balance": "100.00", "min_installment": "40.00", "max_term_months": "18", "down_payment_bps": "500",
            "down_payment": "0", "self_service_max_months": "24", "retry_days": "2, 4", "failures_before_default": "3",
            "reminder_lead_days": "2"}
    refused = post_form(admin, "/staff/admin/plan-policy", form)
    assert refused.status_code == 400 and "cannot be longer than the longest plan" in refused.get_data(as_text=True)
    assert post_form(admin, "/staff/admin/plan-policy", {**form, "self_service_max_months": "12"}).status_code == 302
    rules = plans.policy()
    db.session.refresh(rules)
    assert (rules.min_balance_cents, rules.min_installment_cents, rules.retry_schedule) == (10000, 4000, [2, 4])


def test_deactivating_a_signed_in_user_signs_them_out_on_their_next_request(app, login_as):
    collector = login_as("collector")
    assert collector.get("/staff/").status_code == 200
    admin = login_as("admin")
    page = f"/staff/admin/users/{collector.user.id}"
    assert post_form(admin, page, {"role": "collector"}).status_code == 302  # "active" left unticked
    response = collector.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_an_admin_creates_the_code_groups_the_iop_settings_name(login_as):
    admin = login_as("admin")
    empty = admin.get("/staff/admin/iop-settings").get_data(as_text=True)
    assert "IOP documentation" not in empty
    added = post_form(admin, "/staff/admin/codes/groups", {"group-name": "IOP documentation",
                                                           "group-purpose": "documentation"},
                      page="/staff/admin/codes")
    assert added.status_code == 302
    twice = post_form(admin, "/staff/admin/codes/groups", {"group-name": "IOP documentation",
                                                           "group-purpose": "documentation"},
                      page="/staff/admin/codes")
    assert twice.status_code == 400
    assert "A group named IOP documentation exists already." in twice.get_data(as_text=True)
    saved = post_form(admin, "/staff/admin/codes", {"code": "90853", "description": "Group psychotherapy",
                                                    "kind": "documentation", "minutes": "60",
                                                    "groups": str(db.session.scalar(select(BillingCodeGroup.id)))})
    assert saved.status_code == 302
    assert "IOP documentation" in admin.get("/staff/admin/iop-settings").get_data(as_text=True)
    assert "90853" in admin.get("/staff/admin/codes").get_data(as_text=True).split("Code groups")[-1]
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "billing_code_group.created"))
