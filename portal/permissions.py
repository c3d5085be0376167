"""Named permissions and the default roles built from them.

A role is a set of these names; admins can change the sets on the roles page. Views check
names, never role names, so a new role needs no code.
"""
PERMISSIONS = {
    "dashboard.view": "See the staff dashboard",
    "accounts.view": "View patient accounts and their financial records",
    "accounts.edit": "Change account and patient details",
    "patients.merge": "Merge a duplicate patient into another",
    "payments.post": "Post patient and insurance payments, and take card payments",
    "payments.refund": "Refund card payments",
    "plans.manage": "Set up, approve and cancel payment plans",
    "adjustments.post": "Post adjustments and write-offs",
    "ledger.reverse": "Reverse postings",
    "claims.view": "View claims and remittances",
    "claims.submit": "Build, scrub and send claims, set payers' claim rules, override scrubber warnings",
    "collections.work": "Work the collections queue",
    "collections.place": "Place accounts with agencies, record agency payments and write off bad debt",
    "estimates.run": "Run cost estimates and Good Faith Estimates",
    "attendance.record": "Record attendance and documentation",
    "authorizations.manage": "Enter and change payer authorizations",
    "iop.review": "Review IOP per-diem charges, exceptions and forecasts",
    "charges.post": "Enter charges by hand and release held charges from the review queue",
    "admin.users": "Manage staff users",
    "admin.roles": "Manage roles and permissions",
    "admin.audit": "Read the audit log",
    "admin.settings": "Change facility settings",
    "payers.manage": "Add and change payers and their plans",
    "finance.view": "Export the general-ledger journal, reconcile deposits, read the month-end report",
    "finance.close": "Change the chart of accounts mapping, close months, explain reconciliation differences",
}

DEFAULT_ROLES = {
    "admin": ("Administrator: users, roles, settings, audit log", set(PERMISSIONS)),
    "biller": (
        "Posts payments, adjustments and reversals; works claims",
        {"dashboard.view", "accounts.view", "accounts.edit", "payments.post", "payments.refund", "adjustments.post",
         "ledger.reverse", "claims.view", "authorizations.manage", "iop.review", "plans.manage", "payers.manage",
         "charges.post", "claims.submit"},
    ),
    "collector": (
        "Works the collections queue",
        {"dashboard.view", "accounts.view", "collections.work", "collections.place", "payments.post",
         "plans.manage"},
    ),
    "admissions": (
        "Gives estimates to prospects, admits patients, enters authorizations",
        {"dashboard.view", "estimates.run", "authorizations.manage"},
    ),
    "clinician": ("Clinician or front desk: records attendance", {"dashboard.view", "attendance.record"}),
    "finance": (
        "Business office: the general ledger, month-end close and deposit reconciliation",
        {"dashboard.view", "accounts.view", "claims.view", "finance.view", "finance.close"},
    ),
}
