"""Programs: the levels of care the facility runs, where, and which providers bill and render for each."""
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.facility.fields import FieldError, apply, taken, text
from portal.facility.record import saved
from portal.models import Location, Program, Provider
from portal.models.providers import PROGRAM_LEVELS


def all_programs(*, active_only: bool = False) -> list[Program]:
    query = select(Program).order_by(Program.active.desc(), Program.name)
    if active_only:
        query = query.where(Program.active.is_(True))
    return list(db.session.scalars(query))


def _chosen(model, record_id, field: str, message: str, current_id: int | None):
    """The id of an active record of `model`, or None for none; the current choice may stay though inactive."""
    if not record_id:
        return None
    found = db.session.get(model, record_id)
    if found is None or (not found.active and found.id != current_id):
        raise FieldError(field, message)
    return found.id


def save_program(program: Program | None, values: dict, *, actor,
                 ip: str | None = None, user_agent: str | None = None) -> Program:
    """Create a program (`program` None) or change one; every change is audited."""
    level = values.get("level_of_care")
    if level not in PROGRAM_LEVELS:
        raise FieldError("level_of_care", "Choose a level of care from the list.")
    record = program or Program(facility_id=saved().id)
    checked = {
        "name": text(values, "name", required="Give the program a name."),
        "level_of_care": level,
        "location_id": _chosen(Location, values.get("location_id"), "location_id",
                               "Choose an active location.", record.location_id),
        "billing_provider_id": _chosen(Provider, values.get("billing_provider_id"), "billing_provider_id",
                                       "Choose an active provider.", record.billing_provider_id),
        "rendering_provider_id": _chosen(Provider, values.get("rendering_provider_id"), "rendering_provider_id",
                                         "Choose an active provider.", record.rendering_provider_id),
        "active": bool(values.get("active", True)),
    }
    if taken(Program, record, facility_id=record.facility_id, name=checked["name"]):
        raise FieldError("name", "Another program already has this name.")
    created = program is None
    changes = apply(record, checked)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("program.created" if created else "program.updated", "program", actor=actor,
                     object_id=record.id, detail=changes, ip=ip, user_agent=user_agent)
    return record
