"""The search box on every staff page: POST with CSRF, results in place, audited without the query text."""
from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import csrf_from
from tests.fixtures import factories


def test_the_header_search_finds_a_patient_and_links_to_the_account(login_as):
    client = login_as("biller")
    patient = factories.account().patients[0]
    patient.last_name, patient.date_of_birth = "Okafor", date(1980, 3, 4)
    db.session.commit()
    dashboard = client.get("/staff/").get_data(as_text=True)
    assert 'action="/staff/search/"' in dashboard  # the box is in the header of every staff page
    for typed in ("okaf", "03/04/1980", patient.mrn, patient.account.number, patient.coverages[0].member_id):
        response = client.post("/staff/search/", data={"csrf_token": csrf_from(dashboard), "q": typed})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, typed
        assert f"/staff/accounts/{patient.account_id}" in page and "Okafor" in page, typed
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patients.searched")
                               .order_by(AuditEvent.id)).first()
    assert event.detail["results"] == 1 and event.detail["patients"] == [patient.id]
    assert "okaf" not in str(event.detail).lower()


def test_a_search_without_a_token_or_text_changes_nothing(login_as):
    client = login_as("biller")
    assert client.post("/staff/search/", data={"q": "smith"}).status_code == 400
    page = client.get("/staff/search/").get_data(as_text=True)
    empty = client.post("/staff/search/", data={"csrf_token": csrf_from(page), "q": "  "})
    assert empty.status_code == 400 and "Type a name" in empty.get_data(as_text=True)


def test_search_needs_accounts_view(login_as):
    client = login_as("clinician")
    assert client.get("/staff/search/").status_code == 403
    assert "header-search" not in client.get("/staff/").get_data(as_text=True)
