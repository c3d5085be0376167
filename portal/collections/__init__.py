"""Collections: aging, the dunning cycle, holds, the collectors' queue, contacts, promises, agencies.

The nightly run works on whole sets of accounts with a handful of SQL statements (no per-account
loop), so its cost per account stays flat as the facility grows. It is idempotent: a second run
for the same date changes nothing.

Stages advance one step per run once an account has been `days_<stage>` days in its stage; a hold
(staff hold, insurance still pending, or a plan in good standing) restarts that clock, so dunning
resumes with a full interval when the hold ends. A defaulted plan returns the account to the stage
it was in (the case keeps it; `Account.collection_stage` mirrors the case).

Owns: policy (settings, stages), aging, holds, the nightly run, the worklist and its score,
contacts and promises, placement with agencies and bad debt.
May import: models, ledger, facility, clock, audit, notifications. Never statements, views or tasks.
"""
from portal.collections.aging_report import AgingFilters, AgingReport, aging, aging_csv
from portal.collections.contacting import (
    STATE_ZONES,
    ContactCheck,
    ContactPreferences,
    actor_names,
    check_contact,
    contact_preferences,
    contact_zones,
    contacts,
    log_contact,
    promises,
    record_promise,
    set_contact_preferences,
)
from portal.collections.holding import Hold, add_hold, holds, holds_to_review, release_hold, stage_message
from portal.collections.nightly import RunResult, run
from portal.collections.placement import (
    PLACEMENT_COLUMNS,
    Figures,
    agencies,
    create_agency,
    figures,
    open_placement,
    open_placement_counts,
    place,
    placement_blockers,
    placement_file,
    recall,
    record_agency_payment,
    set_agency_active,
    write_off_bad_debt,
)
from portal.collections.policy import (
    ACTOR_RUN,
    BALANCE_POINTS_CAP,
    BUCKET_KEYS,
    BUCKETS,
    CHANNEL_WORDS,
    HOLD_WORDS,
    NO_CONTACT_HOLDS,
    OUTCOME_WORDS,
    RECENT_PAYMENT_DAYS,
    STAGE_WORDS,
    CollectionsError,
    settings,
    stage_days,
)
from portal.collections.worklist import (
    SETTING_FIELDS,
    assign,
    case_for,
    collectors,
    queue,
    reasons,
    scored_on,
    update_settings,
)

__all__ = [
    "ACTOR_RUN",
    "BALANCE_POINTS_CAP",
    "BUCKETS",
    "BUCKET_KEYS",
    "CHANNEL_WORDS",
    "HOLD_WORDS",
    "NO_CONTACT_HOLDS",
    "OUTCOME_WORDS",
    "PLACEMENT_COLUMNS",
    "RECENT_PAYMENT_DAYS",
    "SETTING_FIELDS",
    "STAGE_WORDS",
    "STATE_ZONES",
    "AgingFilters",
    "AgingReport",
    "CollectionsError",
    "ContactCheck",
    "ContactPreferences",
    "Figures",
    "Hold",
    "RunResult",
    "actor_names",
    "add_hold",
    "agencies",
    "aging",
    "aging_csv",
    "assign",
    "case_for",
    "check_contact",
    "collectors",
    "contact_preferences",
    "contact_zones",
    "contacts",
    "create_agency",
    "figures",
    "holds",
    "holds_to_review",
    "log_contact",
    "open_placement",
    "open_placement_counts",
    "place",
    "placement_blockers",
    "placement_file",
    "promises",
    "queue",
    "reasons",
    "recall",
    "record_agency_payment",
    "record_promise",
    "release_hold",
    "run",
    "scored_on",
    "set_agency_active",
    "set_contact_preferences",
    "settings",
    "stage_days",
    "stage_message",
    "update_settings",
    "write_off_bad_debt",
]
