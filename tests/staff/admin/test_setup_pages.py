"""Facility set-up pages: an admin creates and edits programs, locations and providers; bad input re-renders
with the field's error; other roles are refused; every change is in the audit log."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Location, Program, Provider
from tests.conftest import post_form


def _audited(action: str, user) -> AuditEvent | None:
    return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.user_id == user.id))


def test_admin_sets_up_a_location_a_provider_and_a_program(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/locations/new", {
        "name": "Main campus", "place_of_service": "52", "city": "Springfield", "state": "NJ", "zip_code": "07081"})
    assert response.status_code == 302
    location = db.session.scalar(select(Location))
    assert (location.place_of_service, location.active) == ("52", True)
    response = post_form(admin, "/staff/admin/providers/new", {
        "kind": "organization", "organization_name": "Riverside Recovery LLC", "npi": "1245319599",
        "tin": "12-3456789", "taxonomy_code": "261QM0801X"})
    assert response.status_code == 302
    organization = db.session.scalar(select(Provider))
    assert organization.tin == "123456789" and organization.display_name == "Riverside Recovery LLC"
    response = post_form(admin, "/staff/admin/programs/new", {
        "name": "Adult IOP", "level_of_care": "iop", "location_id": str(location.id),
        "billing_provider_id": str(organization.id), "rendering_provider_id": "0"})
    assert response.status_code == 302
    program = db.session.scalar(select(Program))
    assert (program.location_id, program.billing_provider_id, program.rendering_provider_id) == \
        (location.id, organization.id, None)
    listing = admin.get("/staff/admin/programs").get_data(as_text=True)
    assert "Adult IOP" in listing and "Main campus" in listing and "Riverside Recovery LLC" in listing
    assert "52 Psychiatric facility - partial hospitalization" in admin.get("/staff/admin/locations").get_data(
        as_text=True)
    for action in ("location.created", "provider.created", "program.created"):
        assert _audited(action, admin.user), action


def test_admin_edits_and_deactivates_a_program(login_as):
    admin = login_as("admin")
    post_form(admin, "/staff/admin/programs/new", {"name": "Day PHP", "level_of_care": "php"})
    program = db.session.scalar(select(Program))
    page = f"/staff/admin/programs/{program.id}"
    assert 'value="Day PHP"' in admin.get(page).get_data(as_text=True)
    response = post_form(admin, page, {"name": "Day PHP (adults)", "level_of_care": "php"})  # "active" unticked
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.refresh(program)
    assert program.name == "Day PHP (adults)" and not program.active
    event = _audited("program.updated", admin.user)
    assert event.detail == {"name": ["Day PHP", "Day PHP (adults)"], "active": [True, False]}
    assert "inactive" in admin.get("/staff/admin/programs").get_data(as_text=True)


def test_a_wrong_npi_check_digit_re_renders_with_the_field_error_and_the_input(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/providers/new", {
        "kind": "individual", "first_name": "Dana", "last_name": "Lee", "npi": "1245319598"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "check digit is wrong" in page and 'value="Dana"' in page
    assert db.session.scalar(select(func.count(Provider.id))) == 0


def test_a_second_provider_with_the_same_npi_gets_a_field_error(login_as):
    admin = login_as("admin")
    first = {"kind": "individual", "first_name": "Dana", "last_name": "Lee", "npi": "1245319599"}
    assert post_form(admin, "/staff/admin/providers/new", first).status_code == 302
    response = post_form(admin, "/staff/admin/providers/new", {**first, "first_name": "Dan"})
    assert response.status_code == 400
    assert "Another provider already has this NPI." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Provider.id))) == 1


def test_an_unknown_place_of_service_and_bad_shapes_get_field_errors(login_as):
    admin = login_as("admin")
    response = post_form(admin, "/staff/admin/locations/new", {"name": "Annex", "place_of_service": "98"})
    assert response.status_code == 400
    assert "98 is not a place-of-service code CMS publishes." in response.get_data(as_text=True)
    response = post_form(admin, "/staff/admin/providers/new", {
        "kind": "organization", "organization_name": "Org", "npi": "1234567893", "taxonomy_code": "261QM0801"})
    assert response.status_code == 400 and "ending in X" in response.get_data(as_text=True)
    response = post_form(admin, "/staff/admin/programs/new", {"name": "X", "level_of_care": "iop",
                                                               "location_id": "2147483648"})
    assert response.status_code == 400 and "Not a valid choice" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Location.id))) == 0


def test_roles_without_facility_settings_are_refused(login_as):
    biller = login_as("biller")
    for url in ("/staff/admin/programs", "/staff/admin/locations/new", "/staff/admin/providers"):
        assert biller.get(url).status_code == 403, url
    token_page = biller.get("/staff/").get_data(as_text=True)
    assert "/staff/admin/programs" not in token_page  # nor is it in their menu
