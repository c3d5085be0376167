"""Estimates from what payers actually allowed and paid (rules.md §5), and the patient's share (§2).

Evidence is one adjudicated line (`AdjudicatedLine`) of the requested level of care, normalized to one
day or session (allowed / units). Reversed lines and reversals are not evidence; denials (CLP02 4, the
`denied` flag, or nothing allowed) are counted apart as a denial rate. Recent payments weigh more:
weight = 0.5 ** (age_days / half_life_days), the age counted from the payment date.

Weighted percentile (the definition the tests pin): sort the values; the q-th percentile is the smallest
observed value at which the cumulative weight reaches q x the total weight. It is always a figure a
payer really allowed (never interpolated), and with equal weights p50 is the lower median. It is computed
in SQL (window sums over the sample), so only one row per query comes back, whatever the sample size.

The sample is the narrowest of plan -> payer -> payer type -> all payers that holds at least the
minimum sample (a setting); each step and why it was left is reported. No evidence at all: no figure.
"""
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
    """The estimator's settings: stored, or the column defaults unsaved (reading never writes)."""
    return facility.settings_row(EstimateSettings)


def unit_name(level: str) -> str:
    return UNIT_NAMES.get(level, "day")
