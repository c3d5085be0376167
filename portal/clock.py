"""Dates in the facility's time zone: a date of service or "yesterday" is a facility date."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def facility_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["FACILITY_TIMEZONE"])


def facility_today(now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return now.astimezone(facility_zone()).date()
