"""Prospects (leads), saved estimates and admitting a prospect as a patient."""
from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from portal import audit, facility, patients
from portal.estimates.config import EstimateError
from portal.estimates.estimator import Result
from portal.extensions import db
from portal.models import (
    Estimate,
    Lead,
    Patient,
)

# ---------------------------------------------------------------- leads and saved estimates


def lead_email(text: str | None) -> str | None:
    """One valid address, normalised, or None when empty: a lead's email may become an account's login."""
    if not (text or "").strip():
        return None
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise EstimateError("Enter one email address like name@example.com.") from None


def create_lead(*, name: str, phone: str | None, email: str | None, consent: bool, consent_text: str | None,
                payer_id: int | None, level: str | None, source: str, actor: str,
                date_of_birth: date | None = None, notes: str | None = None,
                ip: str | None = None, user_agent: str | None = None) -> Lead:
    if not name.strip():
        raise EstimateError("Enter a name.")
    if not (phone or email):
        raise EstimateError("Enter a phone number or an email address so we can reach you.")
    if source == "public" and not consent:
        raise EstimateError("Tick the box to let us contact you.")
    email = lead_email(email)
    lead = Lead(name=name.strip(), phone=(phone or "").strip() or None, email=email,
                contact_consent=consent, consent_text=consent_text if consent else None, payer_id=payer_id,
                level_of_care=level, source=source, status="new", date_of_birth=date_of_birth, notes=notes,
                created_by=actor)
    db.session.add(lead)
    db.session.flush()
    audit.record("lead.created", "lead", actor=actor, object_id=lead.id, detail={"source": source},
                 ip=ip, user_agent=user_agent)
    db.session.flush()
    return lead


def save(result: Result, *, actor: str, lead: Lead | None = None, patient: Patient | None = None,
         ip: str | None = None, user_agent: str | None = None) -> Estimate:
    """Keep an estimate as it was shown, on a lead or a patient (and so on the patient's account)."""
    if lead is None and patient is None:
        raise EstimateError("Save the estimate to a prospect or a patient.")
    if lead is not None and patient is None:
        patient = lead.patient
    saved = Estimate(
        lead_id=lead.id if lead else None, patient_id=patient.id if patient else None,
        account_id=patient.account_id if patient else None, payer_id=result.request.payer_id,
        plan_id=result.request.plan_id, level_of_care=result.request.level, days=result.request.days,
        as_of=result.as_of, basis_level=result.evidence.level if result.evidence else None,
        patient_low_cents=result.patient_total.get("low"), patient_mid_cents=result.patient_total.get("mid"),
        patient_high_cents=result.patient_total.get("high"), inputs=result.request.as_dict(),
        result=result.as_dict(), created_by=actor)
    db.session.add(saved)
    db.session.flush()
    audit.record("estimate.saved", "estimate", actor=actor, object_id=saved.id,
                 patient_id=saved.patient_id, account_id=saved.account_id,
                 detail={"lead_id": saved.lead_id}, ip=ip, user_agent=user_agent)
    db.session.flush()
    return saved


def admit(lead: Lead, *, actor: str, patient: Patient | None = None, first_name: str = "", last_name: str = "",
          date_of_birth: date | None = None, ip: str | None = None, user_agent: str | None = None) -> Patient:
    """Admit a prospect: link an existing patient, or create the account and patient; estimates follow."""
    if lead.status == "admitted" and lead.patient_id:
        raise EstimateError("This prospect is already admitted.")
    if patient is None:
        first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
        if not first_name or not last_name or date_of_birth is None:
            raise EstimateError("Enter the patient's first and last name and date of birth.")
        account = patients.open_account(facility_id=facility.saved().id, guarantor_name=lead.name,
                                        email=lead.email, phone=lead.phone)
        patient = patients.number_patient(Patient(account=account, first_name=first_name, last_name=last_name,
                                                  date_of_birth=date_of_birth))
    lead.patient_id, lead.status = patient.id, "admitted"
    for saved in lead.estimates:
        saved.patient_id, saved.account_id = patient.id, patient.account_id
    audit.record("lead.admitted", "lead", actor=actor, object_id=lead.id, patient_id=patient.id,
                 account_id=patient.account_id, ip=ip, user_agent=user_agent)
    db.session.flush()
    return patient


def for_account(account_id: int) -> list[Estimate]:
    return list(db.session.scalars(select(Estimate).where(Estimate.account_id == account_id)
                                   .order_by(Estimate.id.desc())))
