"""What every response shares: nothing with patient data is cached, and oversized bodies are refused."""
from datetime import date

from portal import statements
from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories


def test_pdfs_csvs_json_and_835_files_are_never_cached(app, login_as, remittance_world):
    biller = login_as("biller")
    remittance, upload = remittance_world.remittance, remittance_world.upload
    responses = {
        "835": biller.get(f"/staff/remittances/{remittance.id}/file"),
        "json": biller.get(f"/staff/remittances/uploads/{upload.id}/status"),
        "csv": login_as("collector").get("/staff/collections/aging.csv"),
    }
    account = factories.account()
    factories.charge(account, 12345, responsibility="patient")
    statement, _ = statements.issue(account, date.today(), actor="test")
    db.session.commit()
    patient = app.test_client()
    user = factories.patient_login(account, PASSWORD)
    assert post_form(patient, "/login", {"email": user.email, "password": PASSWORD}).status_code == 302
    responses["pdf"] = patient.get(f"/accounts/{account.id}/statements/{statement.id}/pdf")
    responses["html"] = patient.get(f"/accounts/{account.id}")
    for kind, response in responses.items():
        assert response.status_code == 200, kind
        assert response.headers.get("Cache-Control") == "no-store", kind
    static = app.test_client().get("/static/css/parity.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
