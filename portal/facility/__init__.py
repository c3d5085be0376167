"""The facility: its record (names, identifiers, addresses), its billing codes, and its setup: first start,
programs (levels of care), locations with their place of service, and providers with their NPIs.

May import: models, audit, people (first start creates the first admin).
"""
from portal.facility.fields import FieldError
from portal.facility.locations import all_locations, check_place_of_service, save_location
from portal.facility.places_of_service import PLACES_OF_SERVICE
from portal.facility.programs import all_programs, save_program
from portal.facility.providers import all_providers, check_npi, check_taxonomy, check_tin, npi_is_valid, save_provider
from portal.facility.record import (
    EDITABLE,
    NUMBERS,
    current,
    new_charge_status,
    questions_line,
    save_settings,
    saved,
    settings_row,
    unsaved,
    update,
)
from portal.facility.setup import SetupError, SetupResult, first_start

__all__ = [
    "EDITABLE",
    "NUMBERS",
    "PLACES_OF_SERVICE",
    "FieldError",
    "SetupError",
    "SetupResult",
    "all_locations",
    "all_programs",
    "all_providers",
    "check_npi",
    "check_place_of_service",
    "check_taxonomy",
    "check_tin",
    "current",
    "first_start",
    "new_charge_status",
    "npi_is_valid",
    "questions_line",
    "save_location",
    "save_program",
    "save_provider",
    "save_settings",
    "saved",
    "settings_row",
    "unsaved",
    "update",
]
