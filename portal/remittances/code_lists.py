"""The published CARC and RARC lists, loaded from a file: words and dates for every code a payer may send."""
import csv
import io
from datetime import date

from flask import g
from sqlalchemy import select

from portal.extensions import db
from portal.models import AdjustmentCode

LISTS = ("carc", "rarc")
COLUMNS = ["code", "description", "start_date", "last_modified", "stop_date"]


class CodeListError(ValueError):
    """The file was refused; nothing changed."""


def _date(value: str, where: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise CodeListError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc


def read(text: str) -> list[dict]:
    """Rows of a code-list CSV (code,description,start_date,last_modified,stop_date), checked whole."""
    if "\x00" in text:
        raise CodeListError("the file holds NUL bytes; it is not a code list")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or [f.strip().lower() for f in reader.fieldnames] != COLUMNS:
        raise CodeListError(f"the first line must be {','.join(COLUMNS)}")
    rows, seen = [], set()
    for n, raw in enumerate(reader, 2):
        code, words = (raw.get("code") or "").strip().upper(), (raw.get("description") or "").strip()
        where = f"line {n}"
        if not code or len(code) > 8 or not code.isalnum():
            raise CodeListError(f"{where}: {code!r} is not a code")
        if not words:
            raise CodeListError(f"{where}: code {code} has no description")
        if code in seen:
            raise CodeListError(f"{where}: code {code} is listed twice")
        seen.add(code)
        rows.append({"code": code, "description": words, "start_date": _date(raw.get("start_date") or "", where),
                     "last_modified": _date(raw.get("last_modified") or "", where),
                     "stop_date": _date(raw.get("stop_date") or "", where)})
    if not rows:
        raise CodeListError("the file lists no codes")
    return rows


def load(code_list: str, text: str) -> dict[str, int]:
    """Add new codes and update changed ones; a code missing from the file keeps its row (old remittances
    still read). Loading the same file twice changes nothing."""
    if code_list not in LISTS:
        raise CodeListError(f"unknown list {code_list!r}: carc or rarc")
    rows = read(text)
    existing = {c.code: c for c in db.session.scalars(select(AdjustmentCode).where(
        AdjustmentCode.code_list == code_list))}
    summary = {"added": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        known = existing.get(row["code"])
        if known is None:
            db.session.add(AdjustmentCode(code_list=code_list, **row))
            summary["added"] += 1
        elif any(getattr(known, k) != v for k, v in row.items()):
            for k, v in row.items():
                setattr(known, k, v)
            summary["updated"] += 1
        else:
            summary["unchanged"] += 1
    db.session.flush()
    g.pop("adjustment_codes", None)
    return summary


def loaded() -> dict[tuple[str, str], AdjustmentCode]:
    """Every loaded code, read once per request (or command) however many codes a page shows."""
    if "adjustment_codes" not in g:
        g.adjustment_codes = {(c.code_list, c.code): c for c in db.session.scalars(select(AdjustmentCode))}
    return g.adjustment_codes
