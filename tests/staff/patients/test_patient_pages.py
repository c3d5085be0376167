"""The staff patient pages: registering (with the duplicate warning), editing, coverages, merging, permissions."""
from datetime import date

from sqlalchemy import select

from portal import patients
from portal.extensions import db
from portal.models import Account, AuditEvent, Coverage, Patient
from tests.conftest import post_form
from tests.fixtures import factories
from tests.fixtures.patients import payer_with_plan, register

NEW = "/staff/patients/new"
DANA = {"first_name": "Dana", "last_name": "Reyes", "date_of_birth": "1990-05-01", "sex": "F",
        "preferred_language": "es", "phone": "555-010-0199", "email": "dana@example.org", "relationship": "18",
        "consent_email": "y"}


def _body(response) -> str:
    return response.get_data(as_text=True)


def test_a_biller_registers_a_self_guarantor_patient_with_coverage_on_an_empty_database(app, login_as):
    client = login_as("biller")
    factories.facility()
    payer, plan = payer_with_plan()
    db.session.commit()
    page = _body(client.get(NEW))
    assert "Harbor PPO" in page and "Leave empty and one is given" in page
    response = post_form(client, NEW, {**DANA, "payer_plan": f"{payer.id}:{plan.id}",
                                       "member_id": "W123", "coverage_start": "2026-01-01"})
    assert response.status_code == 302, _body(response)
    patient = db.session.scalar(select(Patient))
    assert patient.mrn == f"MRN{5000 + patient.id}" and patient.preferred_language == "es" and patient.consent_email
    assert patient.account.guarantor_name == "Dana Reyes" and patient.account.phone == "555-010-0199"
    assert [(c.plan_id, c.member_id, c.priority) for c in patient.coverages] == [(plan.id, "W123", 1)]
    hub = _body(client.get(response.headers["Location"]))
    assert "Registered Dana Reyes" in hub and "member W123" in hub and "Harbor PPO" in hub


def test_a_child_with_a_parent_as_guarantor_then_a_sibling_on_the_same_account(app, login_as):
    client = login_as("biller")
    factories.facility()
    child = {**DANA, "first_name": "Lee", "date_of_birth": "2011-02-03", "relationship": "19",
             "guarantor_first_name": "Sam", "guarantor_last_name": "Reyes", "guarantor_date_of_birth": "1970-01-01",
             "guarantor_sex": "M", "guarantor_email": "sam@example.org", "guarantor_city": "Newark"}
    assert post_form(client, NEW, child).status_code == 302
    account = db.session.scalar(select(Account))
    assert (account.guarantor_name, account.email, account.city) == ("Sam Reyes", "sam@example.org", "Newark")
    prefilled = _body(client.get(f"{NEW}?account={account.id}"))
    assert f'value="{account.number}"' in prefilled
    sibling = {**DANA, "first_name": "Ari", "date_of_birth": "2013-04-05", "relationship": "19",
               "account_number": account.number.lower()}
    assert post_form(client, NEW, sibling).status_code == 302
    assert [p.first_name for p in db.session.get(Account, account.id).patients] == ["Lee", "Ari"]


def test_bad_input_re_renders_with_field_errors_and_saves_nothing(app, login_as):
    client = login_as("biller")
    factories.facility()
    bad = {**DANA, "first_name": "", "date_of_birth": "2999-01-01", "email": "not-an-address", "state": "New Jersey",
           "relationship": "01", "account_number": "", "mrn": "bad mrn!"}
    response = post_form(client, NEW, bad)
    page = _body(response)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in page and "Use letters, digits and dashes only." in page
    assert "Enter the two-letter state" in page
    missing_guarantor = post_form(client, NEW, {**DANA, "relationship": "01", "date_of_birth": "2999-01-01"})
    assert "The date of birth is in the future." in _body(missing_guarantor)
    assert "Enter the guarantor, or choose Self." in _body(missing_guarantor)
    half_insurance = post_form(client, NEW, {**DANA, "member_id": "W123"})
    assert half_insurance.status_code == 400 and "Choose the payer." in _body(half_insurance)
    assert "Enter the date the coverage starts." in _body(half_insurance)
    unknown = post_form(client, NEW, {**DANA, "account_number": "A-99999"})
    assert "No account has this number." in _body(unknown)
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 0


def test_a_likely_duplicate_is_shown_before_saving_and_create_anyway_is_deliberate(app, login_as):
    client = login_as("biller")
    existing = register("Dana", "Reyes", mrn="OLD-1")
    db.session.commit()
    warned = post_form(client, NEW, {**DANA, "first_name": " dana ", "last_name": "REYES"})
    page = _body(warned)
    assert warned.status_code == 200 and "This may be a patient we already have" in page
    assert "MRN OLD-1" in page and f"#patient-{existing.id}" in page and "Use this patient" in page
    assert 'name="create_anyway"' in page
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 1
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.duplicates_shown"))
    saved = post_form(client, NEW, {**DANA, "create_anyway": "y"})
    assert saved.status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(Patient)) == 2


def test_editing_the_patient_and_the_guarantor(app, login_as):
    client = login_as("biller")
    patient = register()
    db.session.commit()
    edit = f"/staff/patients/{patient.id}/edit"
    assert 'value="Dana"' in _body(client.get(edit))
    response = post_form(client, edit, {**DANA, "preferred_name": "Dee", "city": "Trenton", "state": "nj"})
    assert response.status_code == 302
    refused = post_form(client, edit, {**DANA, "email": "a@b@c"})
    assert refused.status_code == 400
    guarantor = f"/staff/patients/accounts/{patient.account_id}/guarantor"
    assert post_form(client, guarantor, {"first_name": "Dana", "last_name": "Reyes", "phone": "555-010-0111",
                                         "address_line1": "1 Elm St", "preferred_language": "en"}).status_code == 302
    db.session.expire_all()
    patient = db.session.get(Patient, patient.id)
    assert (patient.preferred_name, patient.state) == ("Dee", "NJ")
    assert (patient.account.phone, patient.account.address_line1) == ("555-010-0111", "1 Elm St")
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"patient.viewed", "patient.updated", "guarantor.viewed", "guarantor.updated"} <= actions


def test_coverages_are_added_edited_and_ended_and_a_second_primary_is_refused(app, login_as):
    client = login_as("biller")
    payer, plan = payer_with_plan()
    _other, foreign = payer_with_plan("Summit", "Summit HMO")
    patient = register()
    db.session.commit()
    new = f"/staff/patients/{patient.id}/coverages/new"
    form = {"payer_plan": f"{payer.id}:{plan.id}", "member_id": "W1", "coverage_start": "2026-01-01", "priority": "1",
            "in_network": "y", "subscriber_relationship": "18", "deductible": "1,500.00", "deductible_met": "200",
            "coinsurance": "20", "copay": "0", "copay_per": "day", "oop_max": "5000", "oop_met": "200"}
    assert post_form(client, new, form).status_code == 302
    coverage = db.session.scalar(select(Coverage))
    assert (coverage.deductible_cents, coverage.coinsurance_bps, coverage.oop_max_cents) == (150000, 2000, 500000)
    clash = post_form(client, new, {**form, "member_id": "W2", "coverage_start": "2026-06-01"})
    assert clash.status_code == 400 and "already has a primary coverage" in _body(clash)
    wrong_plan = post_form(client, new, {**form, "payer_plan": f"{payer.id}:{foreign.id}", "priority": "2"})
    assert wrong_plan.status_code == 400 and "Not a valid choice" in _body(wrong_plan)  # another payer's plan
    bad = post_form(client, new, {**form, "priority": "2", "coinsurance": "120", "deductible": "1e3",
                                  "coverage_end": "2025-01-01", "subscriber_relationship": "01"})
    page = _body(bad)
    assert bad.status_code == 400 and "Coinsurance is from 0% to 100%." in page and "Enter an amount like" in page
    edit = f"/staff/patients/coverages/{coverage.id}"
    assert 'value="1500.00"' in _body(client.get(edit))
    ended = post_form(client, f"{edit}/end", {"end_date": "2026-05-31"}, page=edit)
    assert ended.status_code == 302
    assert post_form(client, new, {**form, "member_id": "W2", "coverage_start": "2026-06-01"}).status_code == 302
    assert db.session.scalar(select(db.func.count()).select_from(Coverage)) == 2


def test_only_an_admin_merges_and_the_merge_moves_the_duplicate(app, login_as):
    keep = register(mrn="KEEP-1")
    duplicate = register("Dana", "Reyes", mrn="DUP-1")
    db.session.commit()
    url = f"/staff/patients/{keep.id}/merge"
    biller = login_as("biller")
    assert biller.get(url).status_code == 403
    assert "Merge a duplicate" not in _body(biller.get(f"/staff/accounts/{keep.account_id}"))
    admin = login_as("admin")
    page = _body(admin.get(url))
    assert "DUP-1" in page  # offered as a possible duplicate
    unconfirmed = post_form(admin, url, {"duplicate_mrn": "DUP-1"})
    assert unconfirmed.status_code == 400 and "Tick the box to confirm the merge." in _body(unconfirmed)
    done = post_form(admin, url, {"duplicate_mrn": "dup-1", "confirm": "y"})
    assert done.status_code == 302
    assert db.session.get(Patient, duplicate.id).merged_into_id == keep.id
    assert admin.get(f"/staff/patients/{duplicate.id}/edit").status_code == 404
    hub = _body(admin.get(f"/staff/accounts/{duplicate.account_id}"))
    assert "MRN DUP-1 (Dana Reyes) was merged into another patient." in hub


def test_looking_only_is_not_changing(app, login_as):
    patient = register()
    db.session.commit()
    collector = login_as("collector")  # accounts.view without accounts.edit
    assert collector.get(f"/staff/accounts/{patient.account_id}").status_code == 200
    for url in (NEW, f"/staff/patients/{patient.id}/edit", f"/staff/patients/{patient.id}/coverages/new",
                f"/staff/patients/accounts/{patient.account_id}/guarantor"):
        assert collector.get(url).status_code == 403, url
    assert "Edit the guarantor" not in _body(collector.get(f"/staff/accounts/{patient.account_id}"))


def test_ids_that_name_nothing_are_404(app, login_as):
    client = login_as("admin")
    for url in ("/staff/patients/999999/edit", "/staff/patients/coverages/999999", "/staff/patients/999999/merge",
                "/staff/patients/accounts/999999/guarantor", f"/staff/patients/{2 ** 31}/edit"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{NEW}?account=99999999999").status_code == 200
    assert date.today()  # the page above ignores an absurd id


def test_a_merged_mrn_no_longer_takes_attendance(app, login_as, program):
    duplicate = register("Dana", "Reyes", mrn="DUP-2", account=program.patient.account, relationship="19")
    patients.merge(program.patient, duplicate, actor="test")
    db.session.commit()
    client = login_as("clinician")
    response = post_form(client, "/staff/iop/sessions", {
        "mrn": "DUP-2", "service_date": "2026-10-14", "code": str(program.group_code.id), "minutes": "60",
        "units": "1", "clinician": "Dr. Lee", "signed": "y"})
    assert response.status_code == 400 and "No patient has that MRN." in _body(response)
