"""Admissions: the estimate tool, prospects and admitting, Good Faith Estimates and the $400 flag."""
import re
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import estimates
from portal.estimates import gfe
from portal.extensions import db
from portal.models import AuditEvent, Estimate, GoodFaithEstimate, Lead, Patient
from tests.conftest import post_form
from tests.fixtures import factories
from tests.fixtures.estimates import TODAY, add_lines, ready_facility


def pdf_text(pdf: bytes) -> str:
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", " ", text.decode())


# ---------------------------------------------------------------- GFE timing and contents


@pytest.mark.parametrize("scheduled, start, requested, due", [
    (date(2026, 10, 14), date(2026, 11, 2), False, date(2026, 10, 19)),  # 13 business days ahead: 3 (over a weekend)
    (date(2026, 10, 16), date(2026, 10, 22), False, date(2026, 10, 19)),  # Friday, 4 ahead: next business day
    (date(2026, 10, 14), date(2026, 10, 15), False, date(2026, 10, 14)),  # closer than 3: the same day
    (date(2026, 10, 14), date(2026, 10, 15), True, date(2026, 10, 19)),  # requested: 3 business days
    (date(2026, 11, 25), date(2026, 12, 14), True, date(2026, 12, 1)),  # Thanksgiving is not a business day
    (date(2026, 7, 1), date(2026, 7, 6), False, date(2026, 7, 1)),  # Jul 3 (the 4th, observed) is off: 2 ahead
])
def test_gfe_due_date_in_business_days(scheduled, start, requested, due):
    assert gfe.due_date(scheduled, start, requested) == due


def test_a_facility_open_on_federal_holidays_counts_them(app):
    app.config["FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS"] = False
    try:
        assert gfe.due_date(date(2026, 11, 25), date(2026, 12, 14), True) == date(2026, 11, 30)
    finally:
        app.config["FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS"] = True


def test_gfe_pdf_has_the_required_contents(app):
    ready_facility()
    account = factories.account(with_coverage=False)
    patient = account.patients[0]
    made = gfe.create(patient, primary_service="Intensive outpatient program, 3 hours a day", level="iop",
                      start=date(2026, 11, 2), end=date(2026, 11, 27), scheduled_on=TODAY, requested=False,
                      items=[gfe.Item("S9480", "IOP per diem", 20, 95000), gfe.Item("90791", "Evaluation", 1, 35000)],
                      diagnosis_codes="F32.1", separately_scheduled="Psychiatric medication management",
                      actor="test")
    assert made.total_cents == 1935000 and made.due_on == date(2026, 10, 19)
    text = pdf_text(gfe.pdf(made))
    for expected in ("Good Faith Estimate", patient.full_name, "Date of birth Jan 1, 1990",
                     "Intensive outpatient program, 3 hours a day", "Nov 2, 2026 to Nov 27, 2026",
                     "Diagnosis codes: F32.1", "Test Facility", "NPI 1234567893", "TIN 123456789",
                     "100 Main Street, Springfield, NJ 07081", "S9480", "IOP per diem", "$950.00", "$19,000.00",
                     "90791", "$19,350.00", "Psychiatric medication management", "scheduled separately",
                     "not include any unknown or unexpected costs", "right to dispute the bill", "120 calendar days",
                     "$25 fee", "will not affect the quality of the care", "$400.00 or more"):
        assert expected in text, expected


def test_gfe_needs_the_facility_identifiers(app):
    account = factories.account(with_coverage=False)
    with pytest.raises(estimates.EstimateError, match="NPI, TIN, address"):
        gfe.create(account.patients[0], primary_service="IOP", level="iop", start=TODAY, end=TODAY,
                   scheduled_on=TODAY, requested=True, items=[gfe.Item("S9480", "IOP", 1, 95000)], actor="test")


def test_billed_400_over_the_gfe_flags_the_account_once(app, login_as):
    ready_facility()
    account = factories.account(with_coverage=False)
    made = gfe.create(account.patients[0], primary_service="IOP", level="iop", start=date(2026, 10, 1),
                      end=date(2026, 10, 31), scheduled_on=date(2026, 9, 1), requested=False,
                      items=[gfe.Item("S9480", "IOP per diem", 2, 95000)], actor="test")
    factories.charge(account, 95000, day=date(2026, 10, 1))
    factories.charge(account, 95000, day=date(2026, 10, 2))
    factories.charge(account, 39999, day=date(2026, 10, 3))
    factories.charge(account, 90000, day=date(2026, 11, 5))  # outside the GFE's dates
    assert gfe.check_overages(actor="test") == []  # $399.99 over: not yet
    factories.charge(account, 1, day=date(2026, 10, 4))
    client = login_as("admissions")
    response = post_form(client, "/staff/admissions/gfe/check", {}, page="/staff/admissions/gfe")
    assert response.status_code == 302
    db.session.refresh(made)
    assert made.flagged_billed_cents == 230000 and made.flagged_at is not None
    assert gfe.check_overages(actor="test") == []  # flagged once
    from portal import tasks

    assert tasks.gfe_check.delay().get() == {"flagged": []}  # the nightly job finds nothing new
    page = client.get("/staff/").get_data(as_text=True)
    assert re.search(r"GFEs billed \$400\+ over</h2>\s*<p class=\"stat-value\"><a[^>]*>1</a>", page)
    biller = login_as("biller")
    account_page = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert "billed $2,300.00: $400+ over, dispute eligible" in account_page


def test_gfe_form_creates_prices_and_records_delivery(app, login_as):
    ready_facility()
    factories.code("S9480").level_of_care = "iop"
    db.session.commit()
    patient = factories.account(with_coverage=False).patients[0]
    client = login_as("admissions")
    bad = post_form(client, "/staff/admissions/gfe/new", {
        "mrn": patient.mrn, "primary_service": "IOP", "level": "iop", "start": "2026-11-02", "end": "2026-11-27",
        "quantity": "20", "scheduled_on": "2026-10-14", "extra_items": "90791, Evaluation, one, 350"})
    assert bad.status_code == 400 and "Line 1: the quantity is a whole number" in bad.get_data(as_text=True)
    response = post_form(client, "/staff/admissions/gfe/new", {
        "mrn": patient.mrn, "primary_service": "IOP", "level": "iop", "start": "2026-11-02", "end": "2026-11-27",
        "quantity": "20", "scheduled_on": "2026-10-14", "extra_items": "90791, Evaluation, 1, 350.00"})
    assert response.status_code == 302
    made = db.session.scalar(select(GoodFaithEstimate))
    assert made.total_cents == 20 * 90000 + 35000 and made.due_on == date(2026, 10, 19)
    pdf = client.get(f"/staff/admissions/gfe/{made.id}/pdf")
    assert pdf.mimetype == "application/pdf" and "$18,350.00" in pdf_text(pdf.data)
    post_form(client, f"/staff/admissions/gfe/{made.id}/delivered", {"how": "email"},
              page=f"/staff/admissions/gfe/{made.id}")
    db.session.refresh(made)
    assert made.delivered_how == "email" and made.delivered_by == f"user:{client.user.id}"


# ---------------------------------------------------------------- estimates, prospects, admitting


def test_staff_estimate_with_detail_saved_to_a_lead_then_admitted_onto_an_account(app, login_as, payer):
    add_lines(payer, [60000, 65000, 70000] * 10, paid_on=date.today() - timedelta(days=20))
    lead = estimates.create_lead(name="Sam Prospect", phone="555-0102", email=None, consent=True,
                                 consent_text="ok", payer_id=payer.id, level="iop", source="public", actor="test")
    client = login_as("admissions")
    form = {"payer": str(payer.id), "level": "iop", "days": "3", "network": "yes", "deductible": "500",
            "coinsurance": "20", "oop": "600", "lead": str(lead.id)}
    page = post_form(client, "/staff/admissions/estimate", form).get_data(as_text=True)
    assert "this insurer (all its plans)" in page and "n = 30" in page and "<svg" in page
    assert "$600.00 – $600.00" in page and "OOP cap" in page
    assert Estimate.query.count() == 0  # shown, not saved
    response = post_form(client, "/staff/admissions/estimate", {**form, "save": "y"}, page="/staff/admissions/estimate")
    assert response.status_code == 302
    saved = db.session.scalar(select(Estimate))
    assert (saved.lead_id, saved.patient_id, saved.patient_mid_cents, saved.basis_level) == (lead.id, None, 60000,
                                                                                            "payer")
    pdf = client.get(f"/staff/admissions/estimates/{saved.id}/pdf")
    text = pdf_text(pdf.data)
    assert "$600.00 – $600.00" in text and "not a guarantee" in text
    assert "The benefits it assumes" in text and "Deductible left to meet $500.00" in text
    assert "Coinsurance 20%" in text and "Out-of-pocket maximum left $600.00: reached during this stay" in text
    assert "3 days of" in text and not re.search(r"\d{4}-\d{2}-\d{2}", text)

    missing = post_form(client, f"/staff/admissions/leads/{lead.id}/admit", {"first_name": "Sam"},
                        page=f"/staff/admissions/leads/{lead.id}")
    assert missing.status_code == 400 and "first and last name and date of birth" in missing.get_data(as_text=True)
    response = post_form(client, f"/staff/admissions/leads/{lead.id}/admit",
                         {"first_name": "Sam", "last_name": "Prospect", "date_of_birth": "1999-05-04"},
                         page=f"/staff/admissions/leads/{lead.id}")
    assert response.status_code == 302
    patient = db.session.scalar(select(Patient).where(Patient.last_name == "Prospect"))
    db.session.refresh(saved)
    db.session.refresh(lead)
    assert lead.status == "admitted" and saved.account_id == patient.account_id
    account_page = login_as("biller").get(f"/staff/accounts/{patient.account_id}").get_data(as_text=True)
    assert f"Estimate #{saved.id}" in account_page and "$600.00 – $600.00" in account_page
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "lead.admitted")).patient_id == patient.id


def test_admit_links_an_existing_patient(app, login_as):
    patient = factories.account().patients[0]
    lead = estimates.create_lead(name="Jo", phone="555", email=None, consent=False, consent_text=None,
                                 payer_id=None, level=None, source="staff", actor="test")
    client = login_as("admissions")
    post_form(client, f"/staff/admissions/leads/{lead.id}/admit", {"mrn": patient.mrn},
              page=f"/staff/admissions/leads/{lead.id}")
    db.session.refresh(lead)
    assert lead.patient_id == patient.id and Patient.query.count() == 1


def test_estimate_form_errors_rerender_with_400(app, login_as, payer):
    client = login_as("admissions")
    response = post_form(client, "/staff/admissions/estimate", {"payer": str(payer.id), "level": "iop", "days": "0",
                                                                "coinsurance": "120", "mrn": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Enter a percentage from 0 to 100." in page
    save = post_form(client, "/staff/admissions/estimate", {"payer": str(payer.id), "level": "iop", "days": "5",
                                                            "save": "y"})
    assert save.status_code == 400 and "Save the estimate to a prospect or a patient." in save.get_data(as_text=True)
    patient = factories.account().patients[0]
    saved = post_form(client, "/staff/admissions/estimate", {"payer": str(payer.id), "level": "iop", "days": "5",
                                                             "mrn": patient.mrn, "save": "y"})
    assert saved.status_code == 302
    estimate = db.session.scalar(select(Estimate))
    assert (estimate.patient_id, estimate.account_id, estimate.basis_level) == (patient.id, patient.account_id, None)
    assert "Not enough history" in client.get(saved.headers["Location"]).get_data(as_text=True)


def test_leads_list_and_settings_page(app, login_as):
    estimates.create_lead(name="Listed Person", phone="555-0103", email=None, consent=True, consent_text="ok",
                          payer_id=None, level="iop", source="public", actor="guest:estimate")
    client = login_as("admissions")
    assert "Listed Person" in client.get("/staff/admissions/leads").get_data(as_text=True)
    assert client.get("/staff/admissions/settings").status_code == 403
    admin = login_as("admin")
    response = post_form(admin, "/staff/admissions/settings", {"half_life_days": "180", "minimum_sample": "30",
                                                               "lookback_days": "730", "gfe_dispute_threshold": "400"})
    assert response.status_code == 302
    config = estimates.settings()
    db.session.refresh(config)
    assert (config.half_life_days, config.minimum_sample, config.waive_balance_bill) == (180, 30, False)
    assert config.fallback_stop == "payer_type"  # the default: never across payer types
    values = {"half_life_days": "180", "minimum_sample": "30", "lookback_days": "730", "gfe_dispute_threshold": "400"}
    assert post_form(admin, "/staff/admissions/settings", {**values, "fallback_stop": "all"}).status_code == 302
    db.session.refresh(config)
    assert config.fallback_stop == "all"
    assert post_form(admin, "/staff/admissions/settings", {**values, "fallback_stop": "x"}).status_code == 400
    assert "stays scored" not in admin.get("/staff/admissions/backtest").get_data(as_text=True)
    add_lines(factories.payer(), [50000] * 20, paid_on=TODAY - timedelta(days=50))
    add_lines(factories.payer(), [55000] * 4, paid_on=TODAY, service_date=TODAY - timedelta(days=30), episode="S1")
    page = admin.get("/staff/admissions/backtest?run=1").get_data(as_text=True)
    assert "1 stays scored" in page and "$200.00" in page and "9.1%" in page  # 200.00 off 2,200.00


def test_a_staff_lead_email_is_one_valid_address(app, login_as):
    client = login_as("admissions")
    response = post_form(client, "/staff/admissions/leads/new",
                         {"name": "Sam Prospect", "email": "sam@example.org, attacker@evil.example"})
    assert response.status_code == 400
    assert "Enter one email address like name@example.com." in response.get_data(as_text=True)
    assert db.session.scalar(select(Lead)) is None
    with pytest.raises(estimates.EstimateError):
        estimates.create_lead(name="Sam", phone=None, email="a@b.org,c@d.org", consent=True, consent_text=None,
                              payer_id=None, level=None, source="staff", actor="test")


def test_the_plan_list_follows_the_chosen_insurer(app, login_as, payer):
    from portal.models import InsurancePlan
    from tests.fixtures.estimates import make_payer

    other = make_payer("Gold Cross", x12="GOLD1")
    ppo, hmo = InsurancePlan(payer=payer, name="Acme PPO"), InsurancePlan(payer=other, name="Gold HMO")
    db.session.add_all([ppo, hmo])
    db.session.commit()
    client = login_as("admissions")
    page = client.get("/staff/admissions/estimate").get_data(as_text=True)
    assert "Acme Health: Acme PPO" in page and f"{other.name}: Gold HMO" in page and "plan_filter.js" in page
    chosen = post_form(client, "/staff/admissions/estimate", {"payer": str(payer.id), "level": "iop", "days": "5"})
    plans = chosen.get_data(as_text=True).split('name="plan"')[1].split("</select>")[0]
    assert "Acme PPO" in plans and "Gold HMO" not in plans
    wrong = post_form(client, "/staff/admissions/estimate", {"payer": str(payer.id), "plan": str(hmo.id),
                                                             "level": "iop", "days": "5"})
    assert wrong.status_code == 400 and "Not a valid choice" in wrong.get_data(as_text=True)
