"""IOP per-diem charges from attendance.

Each night, for the service date `as_of - arrears_days` (and, for late-signed notes, the
`catch_up_days` before it), a patient whose signed documentation-group units reach the threshold
(and the optional minutes condition) gets exactly one charge for the billable code of the
authorization valid that day with units left. Days that cannot be billed become exceptions with
a reason, each alerted once. The charge's idempotency key is the natural key
`iop:<patient>:<date>`, so a rerun, or a second worker on the same date, creates nothing new.

Owns: settings and authorizations, the nightly engine, review (exceptions, reconciliation, forecasts) and
attendance with its CSV imports.
May import: models, ledger, codes, mail, notifications, audit. Never views or tasks.
"""
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
    reconcile,
)

__all__ = [
    "AUTH_COLUMNS",
    "BATCH_SIZE",
    "SESSION_COLUMNS",
    "DayOutcome",
    "Forecast",
    "ImportResult",
    "IopError",
    "Reconciliation",
    "RunResult",
    "alert_forecasts",
    "charges_by_day",
    "dismiss",
    "forecast",
    "group_code_ids",
    "import_authorizations",
    "import_sessions",
    "open_exceptions",
    "reconcile",
    "record_session",
    "run",
    "save_authorization",
    "service_dates",
    "settings",
    "sign_session",
    "units_used",
]
