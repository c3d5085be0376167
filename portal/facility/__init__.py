"""The facility: its record (names, identifiers, addresses) and its billing codes.

May import: models, audit.
"""
from portal.facility.record import EDITABLE, NUMBERS, current, update

__all__ = [
    "EDITABLE",
    "NUMBERS",
    "current",
    "update",
]
