"""Claims in real Chromium: a biller builds claims, finds one held by the scrubber, has it fixed and scrubs
it again, overrides a warning with a reason, sends the payer's file and downloads it."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import ClinicalSession
from portal.remittances import x12
from tests.conftest import PASSWORD
from tests.fixtures import claims as cf
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser
REASON = "Why this warning does not stop the claim"


def test_biller_builds_scrubs_fixes_and_sends_a_batch(app, live_server, page, make_staff, artifacts_dir):
    clinic = cf.clinic()
    unsigned, warned = clinic.patient(), clinic.patient()
    clinic.days(unsigned, 2)
    clinic.days(warned, 2)
    db.session.query(ClinicalSession).filter_by(patient_id=unsigned.id).update({"signed": False})
    # The second patient's charges name no rendering provider and the program has none: a warning.
    clinic.program.rendering_provider_id = None
    db.session.commit()
    unsigned_name, warned_name, payer_name, unsigned_id = unsigned.full_name, warned.full_name, clinic.payer.name, \
        unsigned.id
    db.session.rollback()  # hold no read snapshot while the server writes
    staff_sign_in(page, live_server, make_staff("biller"), PASSWORD)

    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Claims").click()
    page.get_by_role("button", name="Build claims").click()
    expect(page.get_by_role("status")).to_contain_text("Built 2 claims: 0 ready, 2 held")
    page.screenshot(path=str(artifacts_dir / "claims-built.png"), full_page=True)

    held = page.get_by_role("row", name=unsigned_name)
    held.get_by_role("link").click()
    expect(page.get_by_text("No signed session note for 11/02/2026")).to_be_visible()
    expect(page.get_by_text("An error cannot be overridden").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "claim-held.png"), full_page=True)
    # The clinician signs the notes; the biller scrubs again.
    db.session.rollback()
    db.session.query(ClinicalSession).filter_by(patient_id=unsigned_id).update({"signed": True})
    db.session.commit()
    page.get_by_role("button", name="Scrub again").click()
    expect(page.get_by_role("heading", name="Claim")).to_contain_text("Held")  # the warning is left
    page.get_by_label(REASON).fill("Group sessions are billed under the facility's NPI")
    page.get_by_role("button", name="Override this warning").click()
    expect(page.get_by_role("heading", name="Claim")).to_contain_text("Ready")
    expect(page.get_by_text("Overridden by Test biller")).to_contain_text("billed under the facility's NPI")

    page.get_by_role("link", name="All claims").click()
    page.get_by_role("row", name=warned_name).get_by_role("link").click()
    page.get_by_label(REASON).fill("Rendering provider is not required by this contract")
    page.get_by_role("button", name="Override this warning").click()
    expect(page.get_by_role("heading", name="Claim")).to_contain_text("Ready")

    page.get_by_role("link", name="All claims").click()
    page.get_by_role("button", name=f"Send to {payer_name}").click()
    expect(page.get_by_role("status")).to_contain_text("837")
    expect(page.get_by_role("row", name=unsigned_name)).to_contain_text("Sent")
    page.screenshot(path=str(artifacts_dir / "claims-sent.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="837P-").first.click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"ISA*") and x12.validate(content) == []
