"""Collections in real Chromium: a collector opens the queue, opens the top account, logs a call and
records a promise; the queue and the aging report are captured for review."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal import collections
from portal.clock import facility_today
from portal.extensions import db
from portal.models import ContactLog, PromiseToPay
from tests.conftest import PASSWORD
from tests.fixtures.browser import staff_sign_in
from tests.fixtures.collections import owing
from tests.portal.collections.test_collections import zone_where_it_is

pytestmark = pytest.mark.browser


def test_collector_works_the_top_account_of_the_queue(app, live_server, page, make_staff, artifacts_dir):
    today = facility_today()
    top = owing(185000, today - timedelta(days=130))
    others = [owing(cents, today - timedelta(days=days)) for cents, days in ((42000, 95), (9000, 40), (61000, 70))]
    for account in (top, *others):
        account.timezone = zone_where_it_is(13)  # daytime wherever the guarantor is, whenever the test runs
    db.session.commit()
    for days_back in (120, 90, 60, 30, 0):
        collections.run(today - timedelta(days=days_back), actor="test")
    collector = make_staff("collector")
    db.session.commit()
    staff_sign_in(page, live_server, collector, PASSWORD)
    page.get_by_role("link", name="Collections").click()
    expect(page.get_by_role("heading", name="Collections queue")).to_be_visible()
    first_row = page.get_by_test_id("queue").locator("tbody tr").first
    expect(first_row).to_contain_text(top.number)
    expect(first_row).to_contain_text("Owes $1,850.00")
    page.screenshot(path=str(artifacts_dir / "collections-queue.png"), full_page=True)
    first_row.get_by_role("link", name=top.number).click()
    expect(page.get_by_role("heading", name=f"{top.number} · {top.guarantor_name}")).to_be_visible()
    page.get_by_label("How").select_option("call")
    page.get_by_label("What happened").select_option("conversation")
    page.get_by_label("Note", exact=True).fill("Will pay $200 on Friday")
    page.get_by_role("button", name="Log contact").click()
    expect(page.get_by_test_id("contact-log")).to_contain_text("Spoke with the guarantor")
    page.get_by_label("Amount promised (dollars)").fill("200.00")
    page.get_by_label("Promised by").fill((today + timedelta(days=4)).isoformat())
    page.get_by_role("button", name="Record promise").click()
    expect(page.get_by_test_id("promises")).to_contain_text("$200.00")
    expect(page.get_by_test_id("call-block")).to_contain_text("Spoke with the guarantor")  # no call for 7 days
    page.screenshot(path=str(artifacts_dir / "collections-account.png"), full_page=True)
    page.get_by_role("link", name="Collections").click()
    page.get_by_role("link", name="Aging report").click()
    expect(page.get_by_test_id("aging-total")).to_have_text("$2,970.00")
    page.screenshot(path=str(artifacts_dir / "collections-aging.png"), full_page=True)
    db.session.commit()
    assert db.session.scalar(select(ContactLog.outcome)) == "conversation"
    promise = db.session.scalar(select(PromiseToPay))
    assert promise.amount_cents == 20000 and promise.status == "open"
