"""Everything that seeds the demo facility `make run` serves, and nothing else.

`records` seeds the facility, people and accounts and calls the others: payment history for estimates, ERA files,
an underpayment scan, a deposit batch and collection cases. A real facility never depends on any of it.
May import any domain package.
"""
from portal.demo.records import (
    ACTOR,
    DEMO_DOMAIN,
    PATIENT_LOGINS,
    DemoResult,
    Login,
    StatementDetails,
    seed,
    staff_password,
)

__all__ = [
    "ACTOR",
    "DEMO_DOMAIN",
    "PATIENT_LOGINS",
    "DemoResult",
    "Login",
    "StatementDetails",
    "seed",
    "staff_password",
]
