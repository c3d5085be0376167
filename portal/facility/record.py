"""The facility record: names, identifiers and addresses shown to patients and payers."""
from flask import current_app
from sqlalchemy import inspect, select

from portal import audit
from portal.extensions import db
from portal.models import Facility

EDITABLE = ("name", "neutral_name", "npi", "tin", "phone", "admissions_phone", "address_line1", "city", "state",
            "zip_code", "statement_descriptor", "statement_minimum_cents", "statement_due_days",
            "payment_minimum_cents", "charge_review", "era_strict", "x12_submitter_id", "x12_receiver_id",
            "x12_receiver_name")
NUMBERS = ("statement_minimum_cents", "statement_due_days", "payment_minimum_cents")
FLAGS = ("charge_review", "era_strict")


def current() -> Facility:
    """The facility: its stored row or, before anything was saved, an unsaved one from configuration.
    Reading never writes; `saved()` stores it for writers that point rows at it."""
    facility = db.session.scalar(select(Facility).order_by(Facility.id).limit(1))
    if facility is None:
        name = current_app.config["FACILITY_NAME"]
        facility = unsaved(Facility, name=name, neutral_name=name, statement_descriptor="PARITY HEALTH")
    return facility


def questions_line() -> str:
    """The line a guarantor's mail ends with: whom to call, in the language the mail is written in."""
    from flask_babel import gettext as _

    phone = current().phone
    return _("Questions? Call %(phone)s.", phone=phone) if phone else _("Questions? Call our billing office.")


def saved() -> Facility:
    """The facility's row, stored now (flushed) if it never was."""
    facility = current()
    if facility.id is None:
        db.session.add(facility)
        db.session.flush()
    return facility


def unsaved(model, **values):
    """A settings row not in the database yet, with every column default filled in now (SQLAlchemy applies
    `default=` only on insert): the model's column defaults stay the one place defaults live."""
    for attr in inspect(model).column_attrs:
        default = attr.columns[0].default
        if attr.key not in values and default is not None and default.is_scalar:
            values[attr.key] = default.arg
    return model(**values)


def settings_row(model, **defaults):
    """The facility's row of a settings `model`, or an unsaved one from `defaults` and the column defaults."""
    facility = current()
    found = None if facility.id is None else db.session.scalar(select(model).where(model.facility_id == facility.id))
    return found if found is not None else unsaved(model, **defaults)


def save_settings(record):
    """Store a settings row read as an unsaved default (its first update is its first write)."""
    if record.id is None:
        record.facility_id = saved().id
        db.session.add(record)
        db.session.flush()
    return record


def update(facility: Facility, values: dict, *, actor,
           ip: str | None = None, user_agent: str | None = None) -> None:
    if facility.id is None:  # read before it was ever saved: this update is its first write
        db.session.add(facility)
        db.session.flush()
    changes = {}
    for field in EDITABLE:
        if field in NUMBERS and values.get(field) is None:
            continue  # left empty: keep the current value
        new: object = bool(values.get(field)) if field in FLAGS else (
            values.get(field) if field in NUMBERS else (values.get(field) or None))
        if field in ("name", "neutral_name", "statement_descriptor"):
            new = str(new or "").strip()
        if getattr(facility, field) != new:
            changes[field] = [getattr(facility, field), new]
            setattr(facility, field, new)
    if changes:
        audit.record("facility.updated", "facility", actor=actor, object_id=facility.id, detail=changes,
                     ip=ip, user_agent=user_agent)


def new_charge_status() -> str:
    """How a new charge starts: held for a biller's release when the facility reviews charges, else released."""
    return "held" if current().charge_review else "released"
