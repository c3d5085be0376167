"""A biller in real Chromium opens a deposit batch, posts a check to chosen lines, and closes the batch."""
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal import ledger
from portal.extensions import db
from portal.models import Charge, DepositBatch, Payment
from tests.conftest import PASSWORD
from tests.fixtures import factories
from tests.fixtures.browser import staff_sign_in

pytestmark = pytest.mark.browser


def test_biller_posts_a_check_to_chosen_lines_and_closes_the_batch(app, live_server, page, make_staff,
                                                                  artifacts_dir):
    account = factories.account()
    older = factories.charge(account, 12000, day=date(2026, 10, 1))
    newer = factories.charge(account, 30000, day=date(2026, 10, 8))
    biller = make_staff("biller")
    staff_sign_in(page, live_server, biller, PASSWORD)

    page.get_by_role("link", name="Deposits").click()
    page.get_by_label("Kind").select_option("patient_lockbox")
    page.get_by_label("Control total").fill("250.00")
    page.get_by_label("Number of payments").fill("1")
    page.get_by_role("button", name="Open the batch").click()
    expect(page.get_by_text("Choose it when you post each payment")).to_be_visible()
    db.session.commit()  # end the test's read snapshot: the server wrote the batch
    batch = db.session.scalar(select(DepositBatch))
    db.session.commit()

    page.goto(f"{live_server}/staff/accounts/{account.id}")
    page.get_by_role("link", name="Post a payment").click()
    page.get_by_label("Deposit batch").select_option(str(batch.id))
    page.get_by_label("Method").select_option("check")
    page.get_by_label("Amount", exact=True).fill("250.00")
    page.get_by_label("Check number or reference").fill("7731")
    page.get_by_label("To the lines below").check()
    page.get_by_label("Apply to 2026-10-08").fill("200.00")
    page.get_by_label("Apply to 2026-10-01").fill("40.00")
    page.screenshot(path=str(artifacts_dir / "staff-post-payment.png"), full_page=True)
    page.get_by_role("button", name="Post the payment").click()
    expect(page.get_by_text("$240.00 applied, $10.00 kept as unapplied credit")).to_be_visible()
    expect(page.get_by_role("cell", name="check 7731", exact=False).first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "staff-account-after-posting.png"), full_page=True)

    page.get_by_role("link", name="Deposits").click()
    page.get_by_role("link", name=f"B{batch.id:05d}", exact=False).click()
    expect(page.get_by_text("Posted payments match the control figures.")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "staff-batch-open.png"), full_page=True)
    page.get_by_role("button", name="Close the batch").click()
    expect(page.get_by_text("Batch closed. It is now read-only.")).to_be_visible()
    expect(page.get_by_role("button", name="Close the batch")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "staff-batch-closed.png"), full_page=True)

    db.session.commit()
    payment = db.session.scalar(select(Payment))
    assert (payment.method, payment.reference, payment.amount_cents) == ("check", "7731", 25000)
    assert [db.session.get(Charge, c.id).patient_balance_cents for c in (older, newer)] == [8000, 10000]
    assert db.session.get(DepositBatch, batch.id).status == "closed"
    assert ledger.check_all()[1] == []
    db.session.commit()
