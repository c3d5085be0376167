"""Facility."""
from portal.facility.record import EDITABLE, NUMBERS, current, update

__all__ = ["EDITABLE", "NUMBERS", "current", "update"]
