"""Payer pages: admins and billers add payers and plans; bad input re-renders with field errors; others are
refused; changes are audited."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, InsurancePlan, Payer
from tests.conftest import csrf_from, post_form

HARBOR = {"name": "Blue Harbor Health", "x12_payer_id": "BHH01", "payer_type": "commercial",
          "claims_address_line1": "PO Box 1", "claims_city": "Newark", "claims_state": "NJ",
          "claims_zip_code": "07101", "phone": "800-555-0100", "timely_filing_days": "90", "appeal_limit_days": "180"}


def test_a_biller_adds_a_payer_and_its_plans(login_as):
    biller = login_as("biller")
    response = post_form(biller, "/staff/admin/payers/new", HARBOR)
    payer = db.session.scalar(select(Payer))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/staff/admin/payers/{payer.id}")
    assert (payer.timely_filing_days, payer.appeal_limit_days, payer.active) == (90, 180, True)
    page = f"/staff/admin/payers/{payer.id}"
    token = csrf_from(biller.get(page).get_data(as_text=True))
    response = biller.post(f"{page}/plans", data={"plan-csrf_token": token, "plan-name": "Harbor PPO"})
    assert response.status_code == 302
    again = biller.post(f"{page}/plans", data={"plan-csrf_token": token, "plan-name": "Harbor PPO"})
    assert again.status_code == 400 and "already has a plan with this name" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count(InsurancePlan.id))) == 1
    assert "Harbor PPO" in biller.get("/staff/admin/payers").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "insurance_plan.created",
                                                      AuditEvent.user_id == biller.user.id))


def test_admin_edits_a_payer_and_deactivates_a_plan(login_as):
    admin = login_as("admin")
    post_form(admin, "/staff/admin/payers/new", HARBOR)
    payer = db.session.scalar(select(Payer))
    page = f"/staff/admin/payers/{payer.id}"
    response = post_form(admin, page, {**HARBOR, "payer_type": "medicare_advantage", "active": "y"})
    assert response.status_code == 302
    db.session.refresh(payer)
    assert payer.payer_type == "medicare_advantage"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payer.updated"))
    assert event.detail == {"payer_type": ["commercial", "medicare_advantage"]}
    token = csrf_from(admin.get(page).get_data(as_text=True))
    admin.post(f"{page}/plans", data={"plan-csrf_token": token, "plan-name": "Harbor HMO"})
    plan = db.session.scalar(select(InsurancePlan))
    assert post_form(admin, f"/staff/admin/payers/plans/{plan.id}", {"name": "Harbor HMO"}).status_code == 302
    db.session.refresh(plan)
    assert not plan.active
    assert "(inactive)" in admin.get(page).get_data(as_text=True)


def test_bad_payer_input_re_renders_with_field_errors(login_as):
    admin = login_as("admin")
    post_form(admin, "/staff/admin/payers/new", HARBOR)
    response = post_form(admin, "/staff/admin/payers/new", {**HARBOR, "name": "Copy"})
    assert response.status_code == 400
    assert "Another payer already has this payer id." in response.get_data(as_text=True)
    response = post_form(admin, "/staff/admin/payers/new", {**HARBOR, "x12_payer_id": "NEW1",
                                                            "timely_filing_days": "3651"})
    assert response.status_code == 400 and 'value="Blue Harbor Health"' in response.get_data(as_text=True)
    response = post_form(admin, "/staff/admin/payers/new", {**HARBOR, "x12_payer_id": "NEW2", "claims_state": "N1"})
    assert response.status_code == 400 and "Two letters" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Payer.id))) == 1


def test_roles_without_payers_manage_are_refused(login_as):
    collector = login_as("collector")
    assert collector.get("/staff/admin/payers").status_code == 403
    assert collector.get("/staff/admin/payers/new").status_code == 403
