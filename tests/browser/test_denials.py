"""Denials in real Chromium: a biller finds a denial on the worklist, appeals it with a note and a follow-up
date, writes the letter's paragraph and downloads the appeal letter."""
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.clock import facility_today
from tests.conftest import PASSWORD
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_biller_appeals_a_denial_and_downloads_the_letter(app, live_server, page, make_staff, remittance_world,
                                                          artifacts_dir):
    staff_sign_in(page, live_server, make_staff("biller"), PASSWORD)
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Remittances").click()
    page.get_by_role("link", name="Denials").click()
    expect(page.get_by_text("CO-50 Not deemed a medical necessity").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "denials-worklist.png"), full_page=True)
    page.get_by_role("link", name="Work it").first.click()

    follow_up = facility_today() + timedelta(days=14)
    page.get_by_label("Mark as").select_option("appealed")
    page.get_by_label("Note").fill("Appeal sent with the treatment plan")
    page.get_by_label("Follow up on").fill(follow_up.isoformat())
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".denial-step").last).to_contain_text("Appeal sent with the treatment plan")
    expect(page.get_by_text(f"Follow up: {follow_up:%m/%d/%Y}")).to_be_visible()

    page.get_by_label("Why the payer should pay").fill("The program's physician certified the need for care.")
    page.get_by_role("button", name="Save the letter text").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the appeal letter (PDF)").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    page.screenshot(path=str(artifacts_dir / "denial-appealed.png"), full_page=True)
