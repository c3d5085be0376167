"""Iop."""
from portal.iop.attendance import (
    AUTH_COLUMNS,
    SESSION_COLUMNS,
    ImportResult,
    import_authorizations,
    import_sessions,
    record_session,
    sign_session,
)
from portal.iop.authorizations import (
    BATCH_SIZE,
    IopError,
    group_code_ids,
    save_authorization,
    settings,
    units_used,
)
from portal.iop.nightly import DayOutcome, RunResult, run, service_dates
from portal.iop.review import (
    Forecast,
    Reconciliation,
    alert_forecasts,
    charges_by_day,
    dismiss,
    forecast,
    open_exceptions,
    reason_choices,
    reconcile,
)

__all__ = ["AUTH_COLUMNS", "BATCH_SIZE", "DayOutcome", "Forecast", "ImportResult", "IopError", "Reconciliation", "RunResult", "SESSION_COLUMNS", "alert_forecasts", "charges_by_day", "dismiss", "forecast", "group_code_ids", "import_authorizations", "import_sessions", "open_exceptions", "reason_choices", "reconcile", "record_session", "run", "save_authorization", "service_dates", "settings", "sign_session", "units_used"]
