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
minimum sample (a setting), widening no further than the facility allows (by default never past the payer's
own type); each step and why it was left is reported. No evidence at all: no figure.

Owns: settings (`config`), evidence from payment history, the patient's share, the estimate, leads,
the backtest, history import (`history`) and Good Faith Estimates (`gfe`).
May import: models, facility, documents, audit. Never views or tasks.
"""
from portal.estimates.backtesting import backtest, backtest_summary, update_settings
from portal.estimates.config import (
    BASIS_NAMES,
    LEVEL_NAMES,
    PROCESSED,
    SAMPLE_LINES,
    UNIT_NAMES,
    VALID_STATUSES,
    EstimateError,
    count_of,
    settings,
    unit_name,
)
from portal.estimates.estimator import Request, Result, estimate, offered_levels
from portal.estimates.evidence import DENIAL, SERIES, Evidence, Step, effective_n, gather, line
from portal.estimates.leads import admit, create_lead, for_account, lead_email, save
from portal.estimates.share import Benefits, ShareDay, apply_benefits, grouped_days

__all__ = [
    "BASIS_NAMES",
    "DENIAL",
    "LEVEL_NAMES",
    "PROCESSED",
    "SAMPLE_LINES",
    "SERIES",
    "UNIT_NAMES",
    "VALID_STATUSES",
    "Benefits",
    "EstimateError",
    "Evidence",
    "Request",
    "Result",
    "ShareDay",
    "Step",
    "admit",
    "apply_benefits",
    "backtest",
    "backtest_summary",
    "count_of",
    "create_lead",
    "effective_n",
    "estimate",
    "for_account",
    "gather",
    "grouped_days",
    "lead_email",
    "line",
    "offered_levels",
    "save",
    "settings",
    "unit_name",
    "update_settings",
]
