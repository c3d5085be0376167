"""Demo."""
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

__all__ = ["ACTOR", "DEMO_DOMAIN", "DemoResult", "Login", "PATIENT_LOGINS", "StatementDetails", "seed", "staff_password"]
