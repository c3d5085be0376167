"""Locations carry a known place-of-service code; programs point at active locations and providers."""
import pytest
from sqlalchemy import select

from portal import facility
from portal.extensions import db
from portal.models import AuditEvent


@pytest.mark.parametrize("code", ["11", "22", "19", "52", "53", "55", "57", "58", "02", "10"])
def test_the_behavioral_health_places_of_service_are_known(code):
    assert facility.check_place_of_service(code) == code


@pytest.mark.parametrize("code, message", [("5", "two digits"), ("5a", "two digits"), ("98", "not a place"),
                                           ("00", "not a place"), ("", "two digits")])
def test_unknown_places_of_service_are_refused(code, message):
    with pytest.raises(facility.FieldError, match=message):
        facility.check_place_of_service(code)


def test_location_names_are_unique_and_changes_are_audited(app):
    location = facility.save_location(None, {"name": "Main campus", "place_of_service": "52", "state": "nj",
                                             "zip_code": "07081"}, actor="test")
    assert location.state == "NJ" and location.active
    with pytest.raises(facility.FieldError, match="already has this name"):
        facility.save_location(None, {"name": "Main campus", "place_of_service": "11"}, actor="test")
    facility.save_location(location, {"name": "Main campus", "place_of_service": "57", "active": False},
                           actor="test")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "location.updated"))
    assert event.detail["place_of_service"] == ["52", "57"] and event.detail["active"] == [True, False]


def test_a_program_refuses_an_inactive_location_unless_it_already_had_it(app):
    location = facility.save_location(None, {"name": "Annex", "place_of_service": "11"}, actor="test")
    program = facility.save_program(None, {"name": "Evening IOP", "level_of_care": "iop",
                                           "location_id": location.id}, actor="test")
    facility.save_location(location, {"name": "Annex", "place_of_service": "11", "active": False}, actor="test")
    facility.save_program(program, {"name": "Evening IOP (adults)", "level_of_care": "iop",
                                    "location_id": location.id}, actor="test")
    assert program.name == "Evening IOP (adults)" and program.location_id == location.id
    with pytest.raises(facility.FieldError) as refused:
        facility.save_program(None, {"name": "Day PHP", "level_of_care": "php", "location_id": location.id},
                              actor="test")
    assert refused.value.field == "location_id"
    with pytest.raises(facility.FieldError) as refused:
        facility.save_program(None, {"name": "Day PHP", "level_of_care": "hospital"}, actor="test")
    assert refused.value.field == "level_of_care"
