"""What every response shares: nothing with patient data is cached, and oversized bodies are refused."""
import io
from datetime import date

from sqlalchemy import func, select

from portal import statements
from portal.extensions import db
from portal.models import EraUpload
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories
from tests.fixtures.era_pages import remittance_file


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


def test_a_body_over_the_app_limit_is_refused_with_a_readable_page(app, client):
    app.config["MAX_CONTENT_LENGTH"], before = 1024 * 1024, app.config["MAX_CONTENT_LENGTH"]
    try:
        response = client.post("/login", data={"email": "x" * (2 * 1024 * 1024), "password": "p"})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = before
    assert response.status_code == 413
    assert "larger than the 1 MB" in response.get_data(as_text=True)


def test_the_default_limit_is_ten_megabytes(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024


def test_an_oversized_835_is_refused_before_it_is_read(app, login_as):
    client = login_as("biller")
    limit = app.config["ERA_UPLOAD_MAX_BYTES"]
    big = remittance_file("TRC-BIG") + b" " * limit
    response = post_form(client, "/staff/remittances/upload", {"file": (io.BytesIO(big), "big.835")},
                         content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than 5 MB" in page and "835" in page
    assert db.session.scalar(select(func.count(EraUpload.id))) == 0
