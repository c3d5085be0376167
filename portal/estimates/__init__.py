"""Estimates."""
from portal.estimates.backtesting import backtest, backtest_summary, update_settings
from portal.estimates.config import (
    BASIS_NAMES,
    LEVEL_NAMES,
    PROCESSED,
    SAMPLE_LINES,
    UNIT_NAMES,
    VALID_STATUSES,
    EstimateError,
    settings,
    unit_name,
)
from portal.estimates.estimator import Request, Result, estimate
from portal.estimates.evidence import DENIAL, SERIES, Evidence, Step, effective_n, gather, line
from portal.estimates.leads import admit, create_lead, for_account, save
from portal.estimates.share import Benefits, ShareDay, apply_benefits

__all__ = ["BASIS_NAMES", "Benefits", "DENIAL", "EstimateError", "Evidence", "LEVEL_NAMES", "PROCESSED", "Request", "Result", "SAMPLE_LINES", "SERIES", "ShareDay", "Step", "UNIT_NAMES", "VALID_STATUSES", "admit", "apply_benefits", "backtest", "backtest_summary", "create_lead", "effective_n", "estimate", "for_account", "gather", "line", "save", "settings", "unit_name", "update_settings"]
