"""Estimate settings and the names of levels of care and units."""
from sqlalchemy import select

from portal import facility
from portal.extensions import db
from portal.models import (
    EstimateSettings,
)

LEVEL_NAMES = {"iop": "Intensive outpatient (IOP)", "php": "Partial hospitalization (PHP)",
               "outpatient": "Outpatient therapy", "residential": "Residential", "other": "Other services"}
UNIT_NAMES = {"outpatient": "session"}  # per-diem levels count days, outpatient counts sessions
BASIS_NAMES = {"plan": "this plan", "payer": "this insurer (all its plans)", "payer_type": "insurers of this type",
               "all": "all insurers"}
PROCESSED = ("1", "2", "3", "19", "20", "21")  # CLP02 processed; 4 denied; 22 (reversal), 23 (not ours) ignored
VALID_STATUSES = (*PROCESSED, "4")
SAMPLE_LINES = 25


class EstimateError(ValueError):
    """A request the estimator cannot answer as asked, with a message fit to show."""


def settings() -> EstimateSettings:
    fac = facility.current()
    found = db.session.scalar(select(EstimateSettings).where(EstimateSettings.facility_id == fac.id))
    if found is None:
        found = EstimateSettings(facility_id=fac.id, half_life_days=365, minimum_sample=20, lookback_days=1095,
                                 waive_balance_bill=False, gfe_dispute_threshold_cents=40000)
        db.session.add(found)
        db.session.commit()
    return found


def unit_name(level: str) -> str:
    return UNIT_NAMES.get(level, "day")
