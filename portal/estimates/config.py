"""Estimate settings and the names of levels of care and units."""

from portal import facility
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
    """The estimator's settings: stored, or the column defaults unsaved (reading never writes)."""
    return facility.settings_row(EstimateSettings)


def unit_name(level: str) -> str:
    return UNIT_NAMES.get(level, "day")


def count_of(n: int, unit: str) -> str:
    """ "1 day", "20 days": a count with its unit, as the copy says it."""
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
