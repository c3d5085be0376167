"""The staff account hub fits a phone: nothing wider than a 390-pixel screen."""
from tests.conftest import PASSWORD
from tests.fixtures.browser import staff_sign_in
from tests.staff.accounts.test_account_hub import hub_account


def test_the_account_hub_fits_a_phone(app, live_server, phone_page, make_staff, artifacts_dir):
    account, child, _payment = hub_account()
    staff_sign_in(phone_page, live_server, make_staff("admin"), PASSWORD)
    phone_page.goto(f"{live_server}/staff/accounts/{account.id}")
    phone_page.get_by_role("heading", name="Guarantor").wait_for()
    phone_page.wait_for_load_state("load")
    phone_page.screenshot(path=str(artifacts_dir / "account-hub-phone.png"), full_page=True)
    assert phone_page.get_by_text("Visa ending 4242").is_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    phone_page.get_by_role("link", name=f"Edit {child.full_name}").click()
    phone_page.get_by_label("Preferred name").fill("Lee")
    phone_page.get_by_role("button", name="Save").click()
    phone_page.get_by_text("Saved Lee Reyes's details.").wait_for()
    phone_page.wait_for_load_state("load")  # measured once the stylesheet is applied, not while it still loads
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
