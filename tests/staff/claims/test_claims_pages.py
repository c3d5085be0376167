"""Staff claim pages: a biller builds claims, works the scrubber's findings, sends an 837 and downloads it;
payers' claim rules from the payer page; who may do what; hostile input never a server error."""
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Claim, ClaimIssue, ClaimRule, Role, RolePermission
from tests.conftest import post_form
from tests.fixtures.claims import clinic

LIST = "/staff/claims/"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def audited(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def only_claim() -> Claim:
    return db.session.scalars(select(Claim)).one()


@pytest.fixture
def ready_clinic(app):
    """A clinic with one patient whose three attended days wait to be billed (nothing holds them)."""
    found = clinic()
    found.days(found.patient(), 3)
    return found


@pytest.fixture
def warned_clinic(app):
    """The program names no rendering provider: the payer is sent one, so the claim carries a warning."""
    found = clinic()
    found.program.rendering_provider = None
    db.session.commit()
    found.days(found.patient(), 2)
    return found


def build(client, **values):
    data = {"payer_id": "0", "program_id": "0", "since": "", "through": "", **values}
    return post_form(client, "/staff/claims/build", data, page=LIST, follow_redirects=True)


def viewer_role(name: str = "claims_viewer") -> None:
    role = Role(name=name, description="Reads claims", permissions=[
        RolePermission(permission=p) for p in ("dashboard.view", "accounts.view", "claims.view")])
    db.session.add(role)
    db.session.commit()


# ---------------------------------------------------------------- building and working findings


def test_a_biller_builds_claims_from_the_page_and_sees_them_listed_ready(login_as, ready_clinic):
    client = login_as("biller")
    page = text(build(client, payer_id=str(ready_clinic.payer.id)))
    assert "Built 1 claim: 1 ready, 0 held." in page
    claim = only_claim()
    row = re.search(rf"<tr><td><a href=\"/staff/claims/{claim.id}\">{claim.control_number}</a></td>.*?</tr>",
                    page).group(0)
    assert ready_clinic.patients[0].full_name in row and "Harbor Health" in row
    assert "11/02/2026–11/04/2026" in row and "$1,950.00" in row and "Ready to send" in row
    assert "Ready to send (1)" in page  # the count by status
    assert "Send to Harbor Health" in page
    assert "No released charges wait" in text(build(client))  # built once: nothing left to bill


def test_the_status_filter_lists_only_that_status_and_an_unknown_one_is_a_400(login_as, ready_clinic):
    client = login_as("biller")
    build(client)
    assert only_claim().control_number in text(client.get(LIST + "?status=ready"))
    held = text(client.get(LIST + "?status=held"))
    assert only_claim().control_number not in held and "No claims are held by the scrubber." in held
    assert client.get(LIST + "?status=nonsense").status_code == 400


def test_the_claim_page_shows_lines_findings_history_and_is_audited(login_as, warned_clinic):
    client = login_as("biller")
    assert "1 ready, 0 held" not in text(build(client))
    claim = only_claim()
    assert claim.status == "held"
    page = text(client.get(f"/staff/claims/{claim.id}"))
    assert "Held by the scrubber" in page and "Rendering provider missing" in page
    assert '<span class="tag warn">Warning</span>' in page
    assert f"{claim.control_number}-1" in page and f"{claim.control_number}-2" in page  # REF*6R per line
    assert "S9480" in page and "$650.00" in page and "11/03/2026" in page
    assert "Override this warning" in page and "Scrub again" in page
    assert "Test biller" in page  # the history names who built it
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "claim.viewed")).one()
    assert (event.object_id, event.account_id, event.patient_id) == (str(claim.id), claim.account_id, claim.patient_id)


def test_overriding_a_warning_with_a_reason_makes_the_claim_ready_and_is_audited(login_as, warned_clinic):
    client = login_as("biller")
    build(client)
    claim = only_claim()
    issue = db.session.scalars(select(ClaimIssue)).one()
    url = f"/staff/claims/issues/{issue.id}/override"
    response = post_form(client, url, {f"issue-{issue.id}-reason": ""}, page=f"/staff/claims/{claim.id}")
    assert response.status_code == 400 and "Give the reason for the override." in text(response)
    response = post_form(client, url, {f"issue-{issue.id}-reason": "The payer waives it for group sessions."},
                         page=f"/staff/claims/{claim.id}", follow_redirects=True)
    page = text(response)
    assert "Warning overridden" in page and "Ready to send" in page
    assert "Overridden by Test biller" in page and "The payer waives it for group sessions." in page
    db.session.refresh(claim)
    assert claim.status == "ready"
    assert audited("claim.warning_overridden") == 1


def test_an_error_cannot_be_overridden_and_the_claim_stays_held(login_as, app):
    found = clinic()
    found.days(found.patient(diagnoses=()), 1)
    client = login_as("biller")
    build(client)
    claim = only_claim()
    issue = db.session.scalars(select(ClaimIssue).where(ClaimIssue.rule == "diagnosis")).one()
    page = text(client.get(f"/staff/claims/{claim.id}"))
    assert "No diagnosis" in page and "An error cannot be overridden" in page
    response = post_form(client, f"/staff/claims/issues/{issue.id}/override",
                         {f"issue-{issue.id}-reason": "Please let it through anyway."},
                         page=f"/staff/claims/{claim.id}")
    assert response.status_code == 400 and "An error cannot be overridden" in text(response)
    db.session.refresh(claim)
    db.session.refresh(issue)
    assert claim.status == "held" and issue.overridden_at is None
    assert audited("claim.warning_overridden") == 0


def test_scrub_again_after_the_record_is_fixed_makes_the_claim_ready(login_as, warned_clinic):
    client = login_as("biller")
    build(client)
    claim = only_claim()
    claim.rendering_provider_id = warned_clinic.rendering.id  # the biller fixed the record
    db.session.commit()
    response = post_form(client, f"/staff/claims/{claim.id}/scrub", {}, page=f"/staff/claims/{claim.id}",
                         follow_redirects=True)
    assert "Scrubbed claim" in text(response) and "ready to send" in text(response)
    db.session.refresh(claim)
    assert claim.status == "ready"


# ---------------------------------------------------------------- sending and the file


def test_sending_makes_an_837_that_downloads_and_the_claims_show_sent(login_as, ready_clinic):
    client = login_as("biller")
    build(client)
    page = text(post_form(client, "/staff/claims/send", {"payer_id": str(ready_clinic.payer.id)}, page=LIST,
                          follow_redirects=True))
    claim = only_claim()
    assert claim.status == "sent" and claim.batch_id is not None
    assert "Made 837P-87726-" in page and "(1 claim)" in page
    assert re.search(r'<td><a href="/staff/claims/\d+">' + claim.control_number + r"</a>.*?Sent</span>", page)
    link = re.search(r'href="(/staff/claims/batches/\d+/file)">(837P[^<]+)</a>', page)
    response = client.get(link.group(1))
    assert response.status_code == 200 and response.data.startswith(b"ISA*")
    assert f'attachment; filename="{link.group(2)}"' == response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert audited("claim_batch.downloaded") == 1
    assert "Sent" in text(client.get(f"/staff/claims/{claim.id}"))


def test_a_refused_send_says_why_and_keeps_nothing(login_as, ready_clinic):
    client = login_as("biller")
    build(client)
    ready_clinic.payer.x12_payer_id = None
    db.session.commit()
    page = text(post_form(client, "/staff/claims/send", {"payer_id": str(ready_clinic.payer.id)}, page=LIST,
                          follow_redirects=True))
    assert "has no electronic payer id" in page
    assert only_claim().status == "ready"


# ---------------------------------------------------------------- who may


def test_without_claims_submit_build_send_override_and_scrub_are_403(app, login_as, warned_clinic, roles):
    viewer_role()
    client = login_as("claims_viewer")
    page = client.get(LIST)
    assert page.status_code == 200 and "Build claims" not in text(page)
    biller = login_as("biller")
    build(biller)
    claim = only_claim()
    issue = db.session.scalars(select(ClaimIssue)).one()
    for url, data in (("/staff/claims/build", {}), ("/staff/claims/send", {"payer_id": str(warned_clinic.payer.id)}),
                      (f"/staff/claims/issues/{issue.id}/override", {f"issue-{issue.id}-reason": "Because I say so."}),
                      (f"/staff/claims/{claim.id}/scrub", {})):
        assert post_form(client, url, data, page=LIST).status_code == 403, url
    assert client.get(f"/staff/claims/{claim.id}").status_code == 200
    assert "Override this warning" not in text(client.get(f"/staff/claims/{claim.id}"))


def test_without_claims_view_the_list_is_403_and_the_menu_has_no_claims(login_as, ready_clinic):
    client = login_as("clinician")
    assert client.get(LIST).status_code == 403
    assert ">Claims</a>" not in text(client.get("/staff/"))
    assert ">Claims</a>" in text(login_as("biller").get("/staff/"))


# ---------------------------------------------------------------- hostile input


def test_absurd_ids_are_404_and_a_nul_reason_is_a_form_error(login_as, warned_clinic):
    client = login_as("biller")
    build(client)
    for url in ("/staff/claims/99999999999999999999", "/staff/claims/999", "/staff/claims/batches/999/file",
                "/staff/claims/batches/99999999999999999999/file"):
        assert client.get(url).status_code == 404, url
    assert post_form(client, "/staff/claims/issues/99999999999999999999/override", {}, page=LIST).status_code == 404
    claim = only_claim()
    issue = db.session.scalars(select(ClaimIssue)).one()
    response = post_form(client, f"/staff/claims/issues/{issue.id}/override",
                         {f"issue-{issue.id}-reason": "Waived\x00 by the payer"}, page=f"/staff/claims/{claim.id}")
    assert response.status_code == 400 and "not allowed (NUL)" in text(response)
    db.session.refresh(issue)
    assert issue.overridden_at is None


def test_bad_build_input_is_a_400_with_the_field_errors(login_as, ready_clinic):
    client = login_as("biller")
    for values, message in (({"since": "2026-11-05", "through": "2026-11-01"}, "The through date is before"),
                            ({"since": "0000-01-01"}, "Not a valid date value."),
                            ({"payer_id": "99999999999999999999"}, "Not a valid choice."),
                            ({"program_id": "a\x00b"}, "not allowed (NUL)")):
        response = post_form(client, "/staff/claims/build", {"payer_id": "0", "program_id": "0", **values}, page=LIST)
        assert response.status_code == 400, values
        assert message in text(response), values
    assert db.session.scalar(select(func.count(Claim.id))) == 0
    response = post_form(client, "/staff/claims/send", {"payer_id": "99999999999999999999"}, page=LIST)
    assert response.status_code == 400


# ---------------------------------------------------------------- the account page


def test_the_account_page_lists_the_accounts_claims(login_as, ready_clinic):
    client = login_as("biller")
    build(client)
    claim = only_claim()
    page = text(client.get(f"/staff/accounts/{claim.account_id}"))
    section = re.search(r'<section aria-labelledby="claims-title">.*?</section>', page).group(0)
    assert f'<a href="/staff/claims/{claim.id}">{claim.control_number}</a>' in section
    assert "Harbor Health" in section and "$1,950.00" in section and "Ready to send" in section


# ---------------------------------------------------------------- claim rules on the payer page


def rule_values(**changes) -> dict:
    values = {"rule-billing_provider_id": "0", "rule-claim_type": "professional", "rule-code_set": "procedure",
              "rule-billable_codes": "s9480, h0015", "rule-required_modifiers": "hq", "rule-place_of_service": "",
              "rule-taxonomy_code": "", "rule-send_rendering_provider": "y", "rule-authorization_required": "y",
              "rule-grouping": "month", "rule-bill_type": "", "rule-secondary_electronic": "y"}
    values.update(changes)
    return values


def test_a_claim_rule_is_added_from_the_payer_page(login_as, ready_clinic):
    client = login_as("biller")
    payer_page = f"/staff/admin/payers/{ready_clinic.payer.id}"
    assert "Claim rules" in text(client.get(payer_page))
    response = post_form(client, f"{payer_page}/claim-rules", rule_values(), page=payer_page, follow_redirects=True)
    page = text(response)
    assert response.status_code == 200 and "Saved the claim rules" in page
    rule = db.session.scalars(select(ClaimRule)).one()
    assert (rule.billing_provider_id, rule.billable_codes, rule.required_modifiers, rule.grouping) == (
        None, "S9480,H0015", "HQ", "month")
    assert "Every billing NPI" in page and "S9480,H0015" in page
    assert audited("claim_rule.created") == 1
    edit = f"/staff/admin/payers/claim-rules/{rule.id}"
    response = post_form(client, edit, rule_values(**{"rule-grouping": "day", "rule-required_modifiers": ""}),
                         follow_redirects=True)
    assert response.status_code == 200
    db.session.refresh(rule)
    assert (rule.grouping, rule.required_modifiers) == ("day", None)


def test_a_bad_modifier_list_shows_the_field_error(login_as, ready_clinic):
    client = login_as("biller")
    payer_page = f"/staff/admin/payers/{ready_clinic.payer.id}"
    response = post_form(client, f"{payer_page}/claim-rules", rule_values(**{"rule-required_modifiers": "HQ,95X"}),
                         page=payer_page)
    assert response.status_code == 400
    assert re.search(r'<p class="error" id="rule-required_modifiers-error">Up to four two-character modifiers',
                     text(response))
    assert db.session.scalar(select(func.count(ClaimRule.id))) == 0


def test_a_rule_for_one_npi_is_refused_twice_on_the_provider_field(login_as, ready_clinic):
    client = login_as("biller")
    payer_page = f"/staff/admin/payers/{ready_clinic.payer.id}"
    values = rule_values(**{"rule-billing_provider_id": str(ready_clinic.billing.id)})
    assert post_form(client, f"{payer_page}/claim-rules", values, page=payer_page).status_code == 302
    response = post_form(client, f"{payer_page}/claim-rules", values, page=payer_page)
    assert response.status_code == 400 and "already has rules for this NPI" in text(response)
