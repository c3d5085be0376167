"""Locations: where care happens, each with the place-of-service code its professional claims carry."""
import re

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.facility.fields import FieldError, apply, taken, text
from portal.facility.places_of_service import PLACES_OF_SERVICE
from portal.facility.record import saved
from portal.models import Location

STATE = re.compile(r"^[A-Z]{2}$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")


def all_locations(*, active_only: bool = False) -> list[Location]:
    query = select(Location).order_by(Location.active.desc(), Location.name)
    if active_only:
        query = query.where(Location.active.is_(True))
    return list(db.session.scalars(query))


def check_place_of_service(code: str | None) -> str:
    code = (code or "").strip()
    if not (len(code) == 2 and code.isdigit()):
        raise FieldError("place_of_service", "A place-of-service code has two digits, such as 11 or 52.")
    if code not in PLACES_OF_SERVICE:
        raise FieldError("place_of_service", f"{code} is not a place-of-service code CMS publishes.")
    return code


def save_location(location: Location | None, values: dict, *, actor,
                  ip: str | None = None, user_agent: str | None = None) -> Location:
    """Create a location (`location` None) or change one; every change is audited."""
    state, zip_code = text(values, "state"), text(values, "zip_code")
    if state:
        state = state.upper()
        if not STATE.match(state):
            raise FieldError("state", "Two letters, such as NJ.")
    if zip_code and not ZIP.match(zip_code):
        raise FieldError("zip_code", "A 5-digit ZIP, or ZIP+4.")
    checked = {
        "name": text(values, "name", required="Give the location a name."),
        "place_of_service": check_place_of_service(values.get("place_of_service")),
        "address_line1": text(values, "address_line1"),
        "city": text(values, "city"),
        "state": state,
        "zip_code": zip_code,
        "active": bool(values.get("active", True)),
    }
    created = location is None
    record = location or Location(facility_id=saved().id)
    if taken(Location, record, facility_id=record.facility_id, name=checked["name"]):
        raise FieldError("name", "Another location already has this name.")
    changes = apply(record, checked)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("location.created" if created else "location.updated", "location", actor=actor,
                     object_id=record.id, detail=changes, ip=ip, user_agent=user_agent)
    return record
