"""Dates in the facility's time zone: a date of service or "yesterday" is a facility date."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def facility_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["FACILITY_TIMEZONE"])


def facility_today(now: datetime | None = None) -> date:
    now = now or datetime.now(UTC)
    return now.astimezone(facility_zone()).date()


def facility_time(moment: datetime | None) -> str:
    """A stored UTC time as staff read it: in the facility's zone, named ("Dec 2, 2026 09:14 EST")."""
    if moment is None:
        return ""
    local = moment.astimezone(facility_zone())
    return f"{local:%b} {local.day}, {local:%Y %H:%M %Z}"


def long_date(value: date | datetime | str | None) -> str:
    """A date as every patient page, mail and document writes it ("Dec 6, 2026"): a snapshot's ISO date
    too, and a stored UTC time as its day in the facility's zone."""
    if not value:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    elif isinstance(value, datetime):
        value = value.astimezone(facility_zone()).date()
    from portal import i18n  # a page or mail in Spanish writes "6 dic 2026"

    if i18n.current() == "es":
        from babel.dates import format_date

        return format_date(value, "d MMM y", locale="es").replace(".", "")
    return f"{value:%b} {value.day}, {value.year}"
