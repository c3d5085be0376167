import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Charge, Episode
from tests.conftest import csrf_from, post_form
from tests.fixtures import charges, factories


def _form_page(client, url):
    html = client.get(url).get_data(as_text=True)
    return html, csrf_from(html)


def test_a_biller_adds_and_edits_an_episode_with_field_errors_first(login_as):
    client = login_as("biller")
    patient = factories.account().patients[0]
    program = charges.program("Evening IOP")
    url = f"/staff/charges/patients/{patient.id}/episodes/new"
    bad = post_form(client, url, {"program_id": program.id, "admit_date": "2026-09-01", "discharge_date": "2026-08-01",
                                  "diagnoses": "F10, Z99.99", "referring_provider_npi": "1234567890"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "F10 is a category" in page and "check digit" in page and "cannot be before" in page
    assert db.session.scalar(select(func.count(Episode.id))) == 0
    good = post_form(client, url, {"program_id": program.id, "admit_date": "2026-09-01",
                                   "diagnoses": "F10.20\nf331", "referring_provider_name": "Dr. Lee",
                                   "referring_provider_npi": charges.VALID_NPI})
    assert good.status_code == 302
    episode = db.session.scalar(select(Episode))
    shown = client.get(f"/staff/charges/patients/{patient.id}").get_data(as_text=True)
    assert "F10.20" in shown and "Alcohol dependence, uncomplicated" in shown and "Evening IOP" in shown
    edit = post_form(client, f"/staff/charges/episodes/{episode.id}",
                     {"program_id": program.id, "admit_date": "2026-09-01", "discharge_date": "2026-10-01",
                      "diagnoses": "F33.1, F10.20"})
    assert edit.status_code == 302
    db.session.expire_all()
    assert [d.code for d in db.session.get(Episode, episode.id).diagnoses] == ["F331", "F1020"]
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"episode.created", "episode.updated", "patient.charges_viewed"} <= actions


def test_a_hand_charge_shows_its_price_then_posts_once_on_a_double_submit(login_as):
    client = login_as("biller")
    patient = factories.account().patients[0]
    code = factories.code("90837")
    episode = charges.episode(patient)
    url = f"/staff/charges/patients/{patient.id}/charges/new"
    html, token = _form_page(client, url)
    one_time = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    fields = {"csrf_token": token, "token": one_time, "billing_code_id": code.id, "service_date": "2026-10-02",
              "units": 3, "modifiers": "hq, 95", "place_of_service": "52", "episode_id": episode.id,
              "diagnosis_pointers": "1,2", "coverage_id": patient.coverages[0].id, "rendering_provider_id": 0}
    preview = client.post(url, data={**fields, "preview": "Show the price"})
    assert preview.status_code == 200 and "$2,700.00" in preview.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Charge.id))) == 0
    for _ in range(2):
        posted = client.post(url, data={**fields, "post": "Post the charge"})
        assert posted.status_code == 302
    charge = db.session.scalar(select(Charge))
    assert db.session.scalar(select(func.count(Charge.id))) == 1
    assert (charge.amount_cents, charge.modifiers, charge.diagnosis_pointers) == (270000, "HQ,95", "1,2")
    page = client.get(f"/staff/charges/patients/{patient.id}").get_data(as_text=True)
    reverse_url = f"/staff/accounts/{patient.account_id}/postings/{charge.posting_id}/reverse"
    assert reverse_url in page  # corrected only by reversal
    assert "Payments applied to the charge return" in client.get(reverse_url).get_data(as_text=True)


def test_bad_coding_re_renders_with_field_errors(login_as):
    client = login_as("biller")
    patient = factories.account().patients[0]
    code = factories.code("90837")
    url = f"/staff/charges/patients/{patient.id}/charges/new"
    token = _form_page(client, url)[1]
    response = client.post(url, data={"csrf_token": token, "token": "t1", "billing_code_id": code.id,
                                      "service_date": "2026-10-02", "units": 1000, "modifiers": "HQ,95,GT,59,XU",
                                      "place_of_service": "5", "diagnosis_pointers": "x", "coverage_id": 0,
                                      "episode_id": 0, "rendering_provider_id": 0, "post": "Post"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter 1 to 999 units." in page and "numbers from the episode" in page
    assert "at most 4 modifiers" in page and "A place of service has 2 digits" in page  # all at once
    assert db.session.scalar(select(func.count(Charge.id))) == 0


def test_the_review_queue_holds_until_released_one_or_many(login_as):
    factories.facility().charge_review = True
    db.session.commit()
    client = login_as("biller")
    account = factories.account(2)
    code = factories.code("90837")
    posted = []
    for patient in account.patients:
        url = f"/staff/charges/patients/{patient.id}/charges/new"
        html, token = _form_page(client, url)
        one_time = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
        assert client.post(url, data={"csrf_token": token, "token": one_time, "billing_code_id": code.id,
                                      "service_date": "2026-10-02", "units": 1, "place_of_service": "11",
                                      "coverage_id": 0, "episode_id": 0, "rendering_provider_id": 0,
                                      "post": "Post"}).status_code == 302
        posted.append(db.session.scalar(select(Charge).where(Charge.patient_id == patient.id)))
    assert {c.review_status for c in posted} == {"held"}
    queue = client.get("/staff/charges/review").get_data(as_text=True)
    assert account.patients[0].last_name in queue and "by hand" in queue
    filtered = client.get(f"/staff/charges/review?patient={account.patients[1].id}").get_data(as_text=True)
    assert f'name="one" value="{posted[1].id}"' in filtered and f'name="one" value="{posted[0].id}"' not in filtered
    token = csrf_from(queue)
    assert client.post("/staff/charges/review/release", data={"csrf_token": token, "one": posted[0].id,
                                                               "charge_id": [posted[1].id]}).status_code == 302
    db.session.expire_all()
    assert [db.session.get(Charge, c.id).review_status for c in posted] == ["released", "held"]
    client.post("/staff/charges/review/release", data={"csrf_token": token, "charge_id": [posted[1].id, "x\x00"]})
    db.session.expire_all()
    assert db.session.get(Charge, posted[1].id).released_by == f"user:{client.user.id}"
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "charge.released")) == 2


def test_the_setting_is_on_the_facility_page(login_as):
    client = login_as("admin")
    page = client.get("/staff/admin/facility").get_data(as_text=True)
    assert "charge review queue" in page
    facility = factories.facility()
    response = post_form(client, "/staff/admin/facility", {
        "name": facility.name, "neutral_name": facility.neutral_name, "statement_descriptor": "TEST HEALTH",
        "charge_review": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert factories.facility().charge_review is True


def test_roles_without_the_permission_get_403(login_as):
    patient = factories.account().patients[0]
    collector = login_as("collector")
    assert collector.get(f"/staff/charges/patients/{patient.id}/charges/new").status_code == 403
    assert collector.get("/staff/charges/review").status_code == 403
    assert collector.get(f"/staff/charges/patients/{patient.id}/episodes/new").status_code == 403
    clinician = login_as("clinician")
    assert clinician.get(f"/staff/charges/patients/{patient.id}").status_code == 403

