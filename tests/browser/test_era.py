"""ERA posting in real Chromium: a biller uploads an 835, sees what posted and what waits, and clears an
exception by matching it to our claim."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import EraException
from tests.conftest import PASSWORD
from tests.fixtures import era_pages as pf
from tests.fixtures import factories
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_biller_uploads_an_835_and_clears_an_exception(app, live_server, page, make_staff, artifacts_dir):
    factories.facility()
    _, lost, _ = pf.make_claims()
    pf.contract_rate()
    biller = make_staff("biller")
    db.session.commit()
    staff_sign_in(page, live_server, biller, PASSWORD)

    page.get_by_role("link", name="Remittances").click()
    page.get_by_role("link", name="Upload an 835").click()
    page.get_by_label("835 file").set_input_files(
        {"name": "harbor-1102.835", "mimeType": "text/plain", "buffer": pf.remittance_file("TRC-BROWSER")})
    page.get_by_role("button", name="Upload and post").click()
    expect(page.get_by_text("The remittance was imported")).to_be_visible()
    page.get_by_role("link", name="See what posted").click()

    expect(page.get_by_role("heading", name="Remittance TRC-BROWSER")).to_be_visible()
    paid = page.get_by_role("region", name="Claim CLM-PAID-1")
    expect(paid).to_contain_text("CO-45 Charge exceeds fee schedule or contracted fee: $400.00")
    expect(paid).to_contain_text("PR-2 Coinsurance amount: $120.00")
    expect(page.get_by_role("region", name="Claim CLM-DENY-1")).to_contain_text("CO-50 Not deemed a medical necessity")
    waiting = page.get_by_role("region", name="Claim CLM-TYPO-9")
    expect(waiting).to_contain_text("Waits: No claim has control number CLM-TYPO-9")
    page.screenshot(path=str(artifacts_dir / "era-remittance-detail.png"), full_page=True)

    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Remittances").click()
    page.get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("row", name="CLM-TYPO-9")).to_contain_text("$950.00")
    page.screenshot(path=str(artifacts_dir / "era-exception-queue.png"), full_page=True)
    page.get_by_role("link", name="Work it").click()
    page.get_by_label("Claim number, patient name or member id").fill(lost.patient.last_name)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Match to CLM-LOST-1").click()

    expect(page.get_by_role("status")).to_contain_text("Matched and posted.")
    expect(page.get_by_text("Nothing waiting.")).to_be_visible()
    db.session.commit()
    exception = db.session.scalar(select(EraException))
    assert exception.state == "matched" and exception.claim_id == lost.id
    assert lost.patient.account.insurance_balance_cents == 0
