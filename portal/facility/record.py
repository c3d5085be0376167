"""The facility record: names, identifiers and addresses shown to patients and payers."""
from flask import current_app
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import Facility

EDITABLE = ("name", "neutral_name", "npi", "tin", "phone", "address_line1", "city", "state", "zip_code",
            "statement_descriptor", "statement_minimum_cents", "statement_due_days", "payment_minimum_cents")
NUMBERS = ("statement_minimum_cents", "statement_due_days", "payment_minimum_cents")


def current() -> Facility:
    """The facility, created from configuration on first use."""
    facility = db.session.scalar(select(Facility).order_by(Facility.id).limit(1))
    if facility is None:
        name = current_app.config["FACILITY_NAME"]
        facility = Facility(name=name, neutral_name=name, statement_descriptor="PARITY HEALTH")
        db.session.add(facility)
        db.session.commit()
    return facility


def update(facility: Facility, values: dict, *, actor) -> None:
    changes = {}
    for field in EDITABLE:
        if field in NUMBERS and values.get(field) is None:
            continue  # left empty: keep the current value
        new = values.get(field) if field in NUMBERS else (values.get(field) or None)
        if field in ("name", "neutral_name", "statement_descriptor"):
            new = (new or "").strip()
        if getattr(facility, field) != new:
            changes[field] = [getattr(facility, field), new]
            setattr(facility, field, new)
    if changes:
        audit.record("facility.updated", "facility", actor=actor, object_id=facility.id, detail=changes)
