"""Estimate settings and the names of levels of care and units."""

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal import facility
from portal.models import (
    EstimateSettings,
)

# Names shown to people, in the page's language (lazy: str() one where it is stored or joined).
LEVEL_NAMES = {"iop": _l("Intensive outpatient (IOP)"), "php": _l("Partial hospitalization (PHP)"),
               "outpatient": _l("Outpatient therapy"), "residential": _l("Residential"),
               "other": _l("Other services")}
# The unit a level counts: per-diem levels count days, outpatient counts sessions. A key, not a word shown:
# `Result.unit` carries it (saved with estimates, compared by the templates); count_of and the templates
# say it in the page's language.
UNIT_NAMES = {"outpatient": "session"}
BASIS_NAMES = {"plan": _l("this plan"), "payer": _l("this insurer (all its plans)"),
               "payer_type": _l("insurers of this type"), "all": _l("all insurers")}
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
    """ "1 day", "20 days", "3 sessions": a count with its unit, in the page's language."""
    if unit == "session":
        return ngettext("%(num)d session", "%(num)d sessions", n)
    return ngettext("%(num)d day", "%(num)d days", n)
