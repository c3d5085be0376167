"""A Good Faith Estimate given to a patient has a page (and its PDF) in the portal, for that account only."""
from datetime import date

from portal.estimates import gfe
from portal.extensions import db
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories
from tests.staff.admissions.test_admissions import TODAY, pdf_text, ready_facility


def _estimate(account, *, delivered: bool):
    made = gfe.create(account.patients[0], primary_service="Intensive outpatient program, 3 hours a day", level="iop",
                      start=date(2026, 11, 2), end=date(2026, 11, 27), scheduled_on=TODAY, requested=False,
                      items=[gfe.Item("S9480", "IOP per diem", 20, 95000)], diagnosis_codes=None,
                      separately_scheduled=None, actor="test")
    if delivered:
        gfe.mark_delivered(made, how="portal", actor="test")
    db.session.commit()
    return made


def test_a_delivered_estimate_is_on_the_account_page_with_its_pdf_and_no_one_else_reaches_it(app, client):
    ready_facility()
    mine, theirs = factories.account(with_coverage=False), factories.account(with_coverage=False)
    given, draft, other = _estimate(mine, delivered=True), _estimate(mine, delivered=False), \
        _estimate(theirs, delivered=True)
    user = factories.patient_login(mine, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    account_page = client.get(f"/accounts/{mine.id}").get_data(as_text=True)
    assert f"Estimate #{given.id}" in account_page and f"Estimate #{draft.id}" not in account_page
    page = client.get(f"/accounts/{mine.id}/estimates/{given.id}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "$19,000.00" in text and "Nov 2, 2026" in text and "right to dispute" in text
    assert "$19,000.00" in pdf_text(client.get(f"/accounts/{mine.id}/estimates/{given.id}/pdf").data)
    for url in (f"/accounts/{mine.id}/estimates/{draft.id}", f"/accounts/{mine.id}/estimates/{other.id}",
                f"/accounts/{theirs.id}/estimates/{other.id}", f"/accounts/{mine.id}/estimates/{other.id}/pdf"):
        assert client.get(url).status_code == 404, url
