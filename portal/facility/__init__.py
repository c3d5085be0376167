"""The facility: its record (names, identifiers, addresses) and its billing codes.

May import: models, audit.
"""
from portal.facility.record import (
    EDITABLE,
    NUMBERS,
    current,
    new_charge_status,
    save_settings,
    saved,
    settings_row,
    unsaved,
    update,
)

__all__ = [
    "EDITABLE",
    "NUMBERS",
    "current",
    "new_charge_status",
    "save_settings",
    "saved",
    "settings_row",
    "unsaved",
    "update",
]
