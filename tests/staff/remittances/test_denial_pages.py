"""The denial pages: the worklist grouped by reason and payer with its filters, one denial worked with a note, a
follow-up date and its history, money moved once however often the form is sent, the appeal letter download,
and the dashboard's denial figures."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from portal.clock import facility_today
from portal.extensions import db
from portal.models import Adjustment, AuditEvent, Charge
from tests.conftest import post_form
from tests.fixtures import era as ef
from tests.fixtures import factories


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def audited(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def url_of(world) -> str:
    return f"/staff/remittances/denials/{world.denial.id}"


def test_the_worklist_groups_by_reason_and_payer_and_filters(login_as, remittance_world):
    client = login_as("biller")
    page = text(client.get("/staff/remittances/denials"))
    assert re.search(r"<h2[^>]*>CO-50 Not deemed a medical necessity · Payer 1999999999 <span class=\"muted\">"
                     r"\(1, \$900.00 billed\)", page)
    assert re.search(r"By reason</h2> <table><tbody> <tr><td>CO-50 Not deemed a medical necessity</td>"
                     r"<td class=\"num\">1</td>", page)
    assert "no limit" in page  # the payer sets no appeal limit
    assert "CLM-DENY-1" not in text(client.get("/staff/remittances/denials?reason=CO-197"))
    assert "CLM-DENY-1" in text(client.get("/staff/remittances/denials?reason=N115"))
    assert "CLM-DENY-1" not in text(client.get("/staff/remittances/denials?state=won"))
    assert audited("denials.viewed") == 4


def test_bad_filters_are_400_with_the_field_said(login_as, remittance_world):
    client = login_as("biller")
    response = client.get("/staff/remittances/denials?state=closed")
    assert response.status_code == 400 and "Not a valid choice" in text(response)
    response = client.get("/staff/remittances/denials?reason=50%25")
    assert response.status_code == 400 and "A reason code is letters and digits" in text(response)
    assert client.get("/staff/remittances/denials?payer=99999999999").status_code == 200  # an absurd id: all payers


def test_a_denial_is_worked_with_a_follow_up_date_and_its_history_shows(login_as, remittance_world):
    client = login_as("biller")
    w = remittance_world
    follow_up = facility_today() + timedelta(days=7)
    response = post_form(client, f"{url_of(w)}/move", {"state": "working", "note": "Records requested",
                                                        "follow_up": follow_up.isoformat()}, page=url_of(w))
    assert response.status_code == 302
    page = text(client.get(url_of(w)))
    assert f"Follow up: {follow_up.strftime('%m/%d/%Y')}" in page
    steps = re.findall(r'<tr class="denial-step">.*?</tr>', page)
    assert len(steps) == 2 and "Working" in steps[1] and "Records requested" in steps[1]
    assert client.user.full_name in steps[1]
    assert audited("denial.viewed") == 2 and audited("denial.working") == 1


def test_bad_input_re_renders_with_field_errors_and_changes_nothing(login_as, remittance_world):
    client = login_as("biller")
    w = remittance_world
    for data, message in (({"state": "working", "note": "x", "follow_up": "2026-02-31"}, "Not a valid date value"),
                          ({"state": "working", "note": "x", "follow_up": "9e999999"}, "Not a valid date value"),
                          ({"state": "working", "note": "a\x00b"}, "not allowed (NUL)"),
                          ({"state": "working", "note": "x" * 1001}, "1000"),
                          ({"state": "working", "note": "x", "follow_up": "2001-01-01"}, "from today to two years"),
                          ({"state": "won", "note": "x"}, "only once the denial is appealed"),
                          ({"state": "nonsense", "note": "x"}, "Choose what happened")):
        response = post_form(client, f"{url_of(w)}/move", data, page=url_of(w))
        assert response.status_code == 400, data
        assert message in text(response), data
    db.session.refresh(w.denial)
    assert w.denial.state == "open" and len(w.denial.steps) == 1


def test_writing_off_from_the_page_posts_once_when_the_form_is_sent_twice(login_as, remittance_world):
    client = login_as("admin")  # no daily adjustment limit
    w = remittance_world
    data = {"state": "written_off", "note": "Not worth appealing"}
    assert post_form(client, f"{url_of(w)}/move", data, page=url_of(w)).status_code == 302
    again = post_form(client, f"{url_of(w)}/move", data, page=url_of(w))
    assert again.status_code == 400 and "nothing more is done with it" in text(again)
    charge = db.session.get(Charge, w.denied_line.charge_id)
    db.session.refresh(charge)
    assert (charge.insurance_balance_cents, charge.patient_balance_cents) == (0, 0)
    assert db.session.scalar(select(func.count(Adjustment.id)).where(Adjustment.kind == "administrative")) == 1
    assert "CLM-DENY-1" not in text(client.get("/staff/remittances/denials"))  # settled
    assert "CLM-DENY-1" in text(client.get("/staff/remittances/denials?state=written_off"))  # still findable


def test_a_move_to_the_patient_over_the_roles_daily_limit_is_refused_and_posts_nothing(login_as, remittance_world):
    client = login_as("biller")  # billers adjust up to $500.00 an account a day unless told otherwise
    w = remittance_world
    response = post_form(client, f"{url_of(w)}/move", {"state": "billed_to_patient", "note": "Non-covered"},
                         page=url_of(w))
    assert response.status_code == 400 and "may post adjustments up to $500.00" in text(response)
    charge = db.session.get(Charge, w.denied_line.charge_id)
    db.session.refresh(charge)
    assert (charge.insurance_balance_cents, charge.patient_balance_cents) == (90000, 0)
    db.session.refresh(w.denial)
    assert w.denial.state == "open"


def test_the_appeal_letter_is_written_downloaded_and_audited(login_as, remittance_world):
    factories.facility()
    client = login_as("biller")
    w = remittance_world
    pdf_url = f"{url_of(w)}/appeal.pdf"
    assert client.get(pdf_url).status_code == 302  # nothing written yet: back to the denial
    response = post_form(client, f"{url_of(w)}/appeal-text", {"appeal_text": ""}, page=url_of(w))
    assert response.status_code == 400 and "Write why the payer should pay" in text(response)
    post_form(client, f"{url_of(w)}/appeal-text", {"appeal_text": "Medically necessary: see the enclosed notes."},
              page=url_of(w))
    response = client.get(pdf_url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and len(response.data) > 2000
    assert audited("denial.appeal_letter_downloaded") == 1


def test_the_dashboard_shows_the_denial_rate_and_top_reasons_to_claim_viewers_only(login_as, remittance_world):
    page = text(login_as("biller").get("/staff/"))
    section = re.search(r'<section class="card" aria-labelledby="denials-title".*?</section>', page).group(0)
    assert "50.0%" in section and "1 of 2 adjudicated lines denied" in section  # the exception line is not posted
    assert "<td>Payer 1999999999</td><td>CO-50 Not deemed a medical necessity (1)</td>" in section
    assert "denials-title" not in text(login_as("clinician").get("/staff/"))


def test_a_clinician_cannot_move_or_download(login_as, remittance_world):
    client = login_as("clinician")
    w = remittance_world
    assert client.get(url_of(w)).status_code == 403
    assert client.get(f"{url_of(w)}/appeal.pdf").status_code == 403
    ef.ledger_clean()
