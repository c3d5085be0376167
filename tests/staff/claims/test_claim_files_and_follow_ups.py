"""From the claims pages: importing a 999, a 277CA or another system's 837; correcting, voiding and billing
the next payer from a claim's page."""
import io
import re
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from portal import claims
from portal.extensions import db
from portal.models import Claim, Coverage
from tests.conftest import post_form
from tests.fixtures import acks
from tests.fixtures.claims import clinic

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "x12" / "837"
FILES = "/staff/claims/files"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def upload(client, content: bytes, name: str):
    return post_form(client, FILES, {"file": (io.BytesIO(content), name)}, follow_redirects=True,
                     content_type="multipart/form-data")


def sent_clinic():
    found = clinic()
    found.days(found.patient(), 2)
    (claim,) = claims.build(claims.ChargeFilter(), actor="test")
    (batch,) = claims.send(found.payer, actor="test").batches
    db.session.commit()
    return found, claim, batch


def test_another_systems_837_is_imported_from_the_page(login_as):
    client = login_as("biller")
    page = text(upload(client, (SAMPLES / "demo.example2.837").read_bytes(), "old.837"))
    assert "old.837: recorded 1 claim(s) as sent" in page
    assert db.session.scalar(select(Claim.control_number)) == "26462967"


def test_a_rejecting_999_sends_the_claims_back_with_the_errors(login_as):
    _, claim, batch = sent_clinic()
    client = login_as("biller")
    rejected = acks.ack_999(batch, "R", [acks.SegmentError("NM1", 12, "2010", "8", element=9, element_code="6",
                                                         bad_value="MEM#1")])
    page = text(upload(client, rejected, "clearinghouse.999"))
    assert "clearinghouse.999:" in page
    db.session.refresh(claim)
    assert claim.status == "rejected"
    assert "invalid character" in claim.history[-1].note


def test_a_file_that_is_neither_is_refused_and_nothing_changes(login_as):
    client = login_as("biller")
    response = upload(client, b"\x00\x01 not x12", "junk.txt")
    assert response.status_code == 400
    assert "Refused, nothing changed:" in text(response)
    assert db.session.scalar(select(func.count(Claim.id))) == 0
    missing = post_form(client, FILES, {}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "Choose the file to import." in text(missing)


def test_a_denied_claim_is_corrected_from_its_page(login_as):
    _, claim, _ = sent_clinic()
    claims.change(claim, "denied", actor="test")
    claim.payer_claim_number = "ICN-9"
    db.session.commit()
    client = login_as("biller")
    page = f"/staff/claims/{claim.id}"
    assert "Correct and resubmit (replacement)" in text(client.get(page))
    done = text(post_form(client, f"{page}/replace", {}, page=page, follow_redirects=True))
    replacement = db.session.scalar(select(Claim).where(Claim.replaces_claim_id == claim.id))
    assert f"Replacement claim {replacement.control_number} built: ready to send." in done
    assert "names the payer's claim number" not in done  # the new claim is not yet with the payer
    again = post_form(client, f"{page}/void", {}, page=page)
    assert again.status_code == 400 and "already replaced or voided" in text(again)


def test_the_next_payer_is_billed_from_the_claim_page(login_as):
    _, claim, _ = sent_clinic()
    second = clinic(x12_payer_id="60054", name="Aetna Better Health").payer
    claims.save_rule(second, None, {"authorization_required": False}, actor="test")
    db.session.add(Coverage(patient_id=claim.patient_id, payer_id=second.id, member_id="SEC1", priority=2,
                            start_date=date(2026, 1, 1)))
    claims.change(claim, "partially_paid", actor="test")
    db.session.commit()
    client = login_as("biller")
    page = f"/staff/claims/{claim.id}"
    assert "Bill Aetna Better Health (next coverage)" in text(client.get(page))
    done = text(post_form(client, f"{page}/secondary", {}, page=page, follow_redirects=True))
    assert "Secondary claim" in done and "Secondary to" in done
    assert db.session.scalar(select(Claim.payer_id).where(Claim.primary_claim_id == claim.id)) == second.id


def test_the_pages_need_claims_submit(login_as):
    _, claim, _ = sent_clinic()
    client = login_as("collector")
    assert client.get(FILES).status_code == 403
    assert client.post(f"/staff/claims/{claim.id}/replace").status_code in (400, 403)



def test_the_dashboard_counts_claims_held_and_ready(login_as):
    found = clinic()
    found.days(found.patient(), 2)
    held = found.patient()
    found.days(held, 1)
    held.address_line1 = None  # the scrubber holds this one
    db.session.commit()
    claims.build(claims.ChargeFilter(), actor="test")
    db.session.commit()
    page = text(login_as("biller").get("/staff/"))
    assert re.search(r"Claims held.{0,200}>1<", page) and re.search(r"Claims ready to send.{0,200}>1<", page)
    assert "Claims held" not in text(login_as("clinician").get("/staff/"))
