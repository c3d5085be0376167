"""Payment history, prospects and Good Faith Estimates for the estimate tests."""
import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import insert

from portal import estimates
from portal.estimates import gfe
from portal.extensions import db
from portal.models import AdjudicatedLine, InsurancePlan, Payer
from tests import factories

TODAY = date(2026, 10, 14)
_keys = itertools.count(1)


def add_lines(payer: Payer, allowed: list[int], *, level: str = "iop", plan: InsurancePlan | None = None,
              paid_on: date = TODAY - timedelta(days=30), service_date: date | None = None, units: int = 1,
              episode: str | None = None, denied: bool = False, billed: int = 95000, patient_resp: int = 0,
              **extra) -> None:
    """One history line per allowed amount (per unit), paid in full less `patient_resp`."""
    db.session.execute(insert(AdjudicatedLine), [dict(
        source="import", source_key=f"test:{next(_keys)}", payer_id=payer.id, plan_id=plan.id if plan else None,
        episode_key=episode, level_of_care=level, procedure_code="S9480", service_date=service_date or paid_on
        - timedelta(days=20), paid_on=paid_on, units=units, billed_cents=billed * units,
        allowed_cents=0 if denied else cents * units, paid_cents=0 if denied else (cents - patient_resp) * units,
        patient_resp_cents=0 if denied else patient_resp * units, denied=denied,
        adjustments=[], **{"claim_status": "4" if denied else "1", **extra}) for cents in allowed])
    db.session.commit()


def make_payer(name: str, payer_type: str = "commercial", x12: str | None = None) -> Payer:
    payer = Payer(name=name, x12_payer_id=x12 or name.upper()[:6], payer_type=payer_type)
    db.session.add(payer)
    db.session.commit()
    return payer


def ready_facility():
    fac = factories.facility()
    fac.npi, fac.tin, fac.address_line1, fac.city, fac.state, fac.zip_code = (
        "1234567893", "123456789", "100 Main Street", "Springfield", "NJ", "07081")
    db.session.commit()
    return fac


def estimate_ids(patient) -> dict:
    """A prospect, a saved estimate and a Good Faith Estimate, for route tests that need their ids."""
    ready_facility()
    lead = estimates.create_lead(name="Pat Prospect", phone="555-0101", email=None, consent=True,
                                 consent_text="test", payer_id=None, level="iop", source="staff", actor="test")
    saved = estimates.save(estimates.estimate(estimates.Request(level="iop", days=5), as_of=TODAY), actor="test",
                           lead=lead)
    made = gfe.create(patient, primary_service="Intensive outpatient program", level="iop", start=TODAY,
                      end=TODAY + timedelta(days=27), scheduled_on=TODAY - timedelta(days=14), requested=False,
                      items=[gfe.Item("S9480", "IOP per diem", 20, 95000)], actor="test")
    return {"lead_id": lead.id, "estimate_id": saved.id, "gfe_id": made.id}


@pytest.fixture
def payer(app):
    factories.facility()
    return make_payer("Acme Health", x12="ACME1")
