"""Bank statements: the credits and debits on the operating account, from a BAI2 file or a simple CSV.

BAI2 (the banks' cash-management format, version 2): each 16 record is a transaction; its type code says
credit or debit, its amount is in cents, its day is its group's as-of date; the bank reference, the
customer reference and the text are kept (an ACH credit's text carries the payer's TRN trace). Status
and summary records are not transactions and are skipped.

Bank CSV, one transaction per row, with a header row naming these columns (any order, any case; other
columns are ignored):

    date         the day the bank posted it: YYYY-MM-DD (or MM/DD/YYYY)
    amount       dollars: positive for a credit (a deposit), negative for a debit, e.g. 1234.56 or -12.00
    description  the bank's text for it (may be empty)
    reference    the bank's or the sender's reference, a check number, an ACH trace (may be empty)

A file is imported once (its SHA-256); a transaction is kept once however many statements list it, by its
natural key: the bank reference with the day and amount when the bank gives one, else the day, amount,
reference and text with the transaction's place among identical ones that day.
"""
import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, datetime

from bai2 import bai2
from bai2.constants import TypeCodeLevel, TypeCodeTransaction
from sqlalchemy import select

from portal import money
from portal.audit import record
from portal.extensions import db
from portal.models import BANK_FORMATS, BankStatement, BankTransaction

FORMAT_WORDS = {"bai2": "BAI2", "csv": "Bank CSV (date, amount, description, reference)"}
MAX_ROWS = 50_000
CSV_COLUMNS = ("date", "amount", "description", "reference")


class BankError(Exception):
    """A statement refused, in one line a person can act on."""


@dataclass(frozen=True)
class Parsed:
    posted_on: date
    amount_cents: int
    description: str
    reference: str | None
    bank_reference: str | None = None
    type_code: str | None = None


@dataclass
class BankImport:
    statement: BankStatement
    new: int
    already: int

    def summary(self) -> str:
        text = f"imported {self.new} new transaction(s) from {self.statement.filename}"
        if self.already:
            text += f"; {self.already} already came with an earlier statement"
        return text

    def as_dict(self) -> dict:
        s = self.statement
        return {"statement_id": s.id, "format": s.format, "filename": s.filename, "first_day": s.first_day,
                "last_day": s.last_day, "transactions": s.transaction_count, "new": self.new,
                "already": self.already}


def _text(content: bytes, what: str) -> str:
    if not content or not content.strip():
        raise BankError(f"The file is empty: choose the bank's {what} file.")
    if b"\x00" in content:
        raise BankError(f"The file holds NUL bytes: it is not a {what} file.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            raise BankError(f"The file is not text: choose the bank's {what} file.") from None


def _clean(value: str | None, limit: int) -> str:
    return " ".join((value or "").replace("\x00", "").split())[:limit]


def parse_bai2(content: bytes) -> list[Parsed]:
    text = _text(content, "BAI2")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # The reader needs the file whole: it starts with the file header (01) and ends with the file trailer (99).
    if not lines or not lines[0].startswith("01,") or not lines[-1].startswith("99,"):
        raise BankError("This is not a whole BAI2 file: it must begin with an 01 record and end with a 99 record.")
    try:
        parsed = bai2.parse_from_string(text, check_integrity=True)
    except Exception as exc:  # the reader raises its own errors, and ValueError/IndexError on malformed fields
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise BankError(f"This is not a readable BAI2 file: {reason}.") from None
    found = []
    for group in parsed.children:
        day = group.header.as_of_date
        if not isinstance(day, date):
            raise BankError("A BAI2 group has no as-of date.")
        for account in group.children:
            for detail in account.children:
                type_code = detail.type_code
                if type_code.level != TypeCodeLevel.detail or type_code.transaction not in (
                        TypeCodeTransaction.credit, TypeCodeTransaction.debit):
                    continue
                amount = int(detail.amount or 0)
                if not amount:
                    continue
                if amount >= money.MAX_CENTS:
                    raise BankError(f"A BAI2 amount of {amount} cents is larger than any deposit.")
                sign = 1 if type_code.transaction == TypeCodeTransaction.credit else -1
                description = _clean(detail.text, 500) or type_code.description
                found.append(Parsed(day, sign * amount, description, _clean(detail.customer_reference, 100) or None,
                                    _clean(detail.bank_reference, 100) or None, type_code.code))
                if len(found) > MAX_ROWS:
                    raise BankError(f"The statement has more than {MAX_ROWS:,} transactions.")
    return found


def _csv_day(value: str, line: int) -> date:
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise BankError(f"Line {line}: date {text[:20]!r} is not a date (YYYY-MM-DD).")


def parse_csv(content: bytes) -> list[Parsed]:
    reader = csv.reader(io.StringIO(_text(content, "CSV"), newline=""))
    found = []
    try:
        header = next(reader, None)
        names = [h.strip().lower() for h in header or []]
        missing = [c for c in ("date", "amount") if c not in names]
        if missing:
            raise BankError(f"The CSV has no {' or '.join(missing)} column: its first row must name the columns "
                            "date, amount, description, reference.")
        at = {c: names.index(c) for c in CSV_COLUMNS if c in names}
        for line, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            cell = {name: values[i] if i < len(values) else "" for name, i in at.items()}
            day = _csv_day(cell["date"], line)
            try:
                amount = money.parse_cents(cell["amount"])
            except ValueError:
                raise BankError(f"Line {line}: amount {cell['amount'].strip()[:30]!r} is not an amount in "
                                "dollars.") from None
            if amount == 0:
                continue
            found.append(Parsed(day, amount, _clean(cell.get("description"), 500),
                                _clean(cell.get("reference"), 100) or None))
            if len(found) > MAX_ROWS:
                raise BankError(f"The statement has more than {MAX_ROWS:,} transactions.")
    except csv.Error as exc:
        raise BankError(f"The file is not a readable CSV: {str(exc)[:80]}.") from None
    return found


def _natural_keys(rows: list[Parsed]) -> list[str]:
    """Each row's key; identical rows without a bank reference are told apart by their place that day."""
    seen: dict[tuple, int] = {}
    keys = []
    for row in rows:
        if row.bank_reference:
            basis: tuple = ("bank", row.posted_on.isoformat(), row.amount_cents, row.bank_reference)
        else:
            basis = ("row", row.posted_on.isoformat(), row.amount_cents, row.reference or "", row.description.lower())
        seen[basis] = seen.get(basis, 0) + 1
        keys.append(hashlib.sha256(repr((*basis, seen[basis])).encode()).hexdigest())
    return keys


def import_statement(facility_id: int, content: bytes, filename: str, fmt: str, *, actor,
                     ip: str | None = None, user_agent: str | None = None) -> BankImport:
    """Import a statement; refused whole (BankError) if unreadable or imported before. Flushes and audits;
    the caller commits."""
    if fmt not in BANK_FORMATS:
        raise BankError(f"Choose the statement's format: {', '.join(FORMAT_WORDS.values())}.")
    digest = hashlib.sha256(content or b"").hexdigest()
    before = db.session.scalar(select(BankStatement).where(BankStatement.facility_id == facility_id,
                                                           BankStatement.sha256 == digest))
    if before is not None:
        raise BankError(f"This statement was imported before ({before.filename}, "
                        f"{before.imported_at:%Y-%m-%d}); nothing was added.")
    rows = parse_bai2(content) if fmt == "bai2" else parse_csv(content)
    if not rows:
        raise BankError("The statement lists no credits or debits.")
    keys = _natural_keys(rows)
    known: set[str] = set()
    for start in range(0, len(keys), 5000):
        known.update(db.session.scalars(select(BankTransaction.natural_key).where(
            BankTransaction.facility_id == facility_id, BankTransaction.natural_key.in_(keys[start:start + 5000]))))
    statement = BankStatement(facility_id=facility_id, format=fmt, filename=_clean(filename, 255) or "statement",
                              sha256=digest, first_day=min(r.posted_on for r in rows),
                              last_day=max(r.posted_on for r in rows), transaction_count=len(rows), new_count=0,
                              imported_by=_label(actor))
    db.session.add(statement)
    db.session.flush()
    new = [BankTransaction(facility_id=facility_id, statement_id=statement.id, posted_on=r.posted_on,
                           amount_cents=r.amount_cents, description=r.description, reference=r.reference,
                           bank_reference=r.bank_reference, type_code=r.type_code, natural_key=key)
           for r, key in zip(rows, keys, strict=True) if key not in known]
    db.session.add_all(new)
    statement.new_count = len(new)
    db.session.flush()
    result = BankImport(statement, len(new), len(rows) - len(new))
    record("reconciliation.bank_imported", "bank_statement", actor=actor, object_id=statement.id,
           detail={"facility_id": facility_id, **result.as_dict(), "first_day": statement.first_day.isoformat(),
                   "last_day": statement.last_day.isoformat()}, ip=ip, user_agent=user_agent)
    return result


def _label(actor) -> str:
    return f"user:{actor.id}" if hasattr(actor, "id") else str(actor)[:100]


def transactions_between(facility_id: int, start: date, end: date) -> list[BankTransaction]:
    return list(db.session.scalars(select(BankTransaction).where(
        BankTransaction.facility_id == facility_id, BankTransaction.posted_on >= start,
        BankTransaction.posted_on <= end).order_by(BankTransaction.posted_on, BankTransaction.id)))
