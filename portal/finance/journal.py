"""The summarised journal: for each day, what each GL account was debited or credited, in cents.

Each ledger entry is one side of a journal line: its bucket's account (a positive amount is a debit:
more owed to us, or less credit held for the guarantor). The other side is its source's account for
minus the same amount — revenue for a charge, cash for a payment, an allowance for an adjustment —
so every posting, and so every day, balances by construction. Entries are summed in one GROUP BY on
their own GL columns; the chart then maps those few sums to accounts. A closed month is read from the
lines frozen when it closed.
"""
import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.finance import payouts
from portal.finance.chart import ensure_chart, mapping_of
from portal.finance.movements import Movement
from portal.models import Account, GlExport, GlPeriod, GlPeriodLine, LedgerEntry

BUCKET_SOURCES = {"insurance": "ar:insurance", "patient": "ar:patient", "unapplied": "unapplied"}
FORMATS = {"parity": "Parity journal CSV (cents)", "quickbooks": "QuickBooks Online journal entry import CSV"}


class JournalError(Exception):
    """An export or close refused, in words."""


@dataclass(frozen=True)
class JournalLine:
    day: date
    account_number: str
    account_name: str
    debit_cents: int
    credit_cents: int
    corrects: date | None
    description: str


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def ledger_movements(facility_id: int, start: date, end: date) -> list[Movement]:
    """Both sides of every ledger entry booked from `start` to `end`, summed per day, source and bucket."""
    rows = db.session.execute(
        select(LedgerEntry.gl_date, LedgerEntry.gl_corrects, LedgerEntry.gl_source, LedgerEntry.bucket,
               func.sum(LedgerEntry.amount_cents))
        .join(Account, Account.id == LedgerEntry.account_id)
        .where(Account.facility_id == facility_id, LedgerEntry.gl_date >= start, LedgerEntry.gl_date <= end)
        .group_by(LedgerEntry.gl_date, LedgerEntry.gl_corrects, LedgerEntry.gl_source, LedgerEntry.bucket))
    movements = []
    for day, corrects, source, bucket, total in rows:
        total = int(total)
        movements.append(Movement(day, corrects, BUCKET_SOURCES[bucket], total))
        if source != "internal":  # an internal posting's entries net to zero among the buckets themselves
            movements.append(Movement(day, corrects, source, -total))
    return movements


def _lines(facility_id: int, movements: list[Movement]) -> list[JournalLine]:
    """Movements mapped through the chart and netted per day, account and corrected month."""
    mapping = mapping_of(facility_id)
    net: dict[tuple, int] = defaultdict(int)
    for m in movements:
        account = mapping.get(m.source)
        if account is None:  # a movement the chart does not know: refuse rather than leave one side out
            raise JournalError(f"No GL account is mapped for {m.source!r}; map it on the chart of accounts page.")
        net[(m.day, m.corrects, account.number, account.name)] += m.amount_cents
    lines = []
    for (day, corrects, number, name), amount in sorted(net.items(), key=lambda item: (
            item[0][0], item[0][1] or date.min, item[0][2])):
        if amount:
            lines.append(JournalLine(day, number, name, max(amount, 0), max(-amount, 0), corrects,
                                     _description(day, corrects)))
    return lines


def _description(day: date, corrects: date | None) -> str:
    text = f"Parity billing {day.isoformat()}"
    return f"{text}, correcting {corrects:%B %Y}" if corrects else text


def closed_periods(facility_id: int) -> dict[date, GlPeriod]:
    return {p.month: p for p in db.session.scalars(select(GlPeriod).where(GlPeriod.facility_id == facility_id))}


def journal(facility_id: int, start: date, end: date, *, actor: str) -> list[JournalLine]:
    """The journal from `start` to `end`: closed months as they were closed, open ones from the ledger now."""
    if end < start:
        raise JournalError("The end date is before the start date.")
    ensure_chart(facility_id, actor=actor)
    closed = closed_periods(facility_id)
    lines: list[JournalLine] = []
    month = month_of(start)
    while month <= end:
        first, last = max(start, month), min(end, next_month(month) - timedelta(days=1))
        if month in closed:
            lines.extend(JournalLine(line.day, line.account_number, line.account_name, line.debit_cents,
                                     line.credit_cents, line.corrects, line.description)
                         for line in db.session.scalars(select(GlPeriodLine).where(
                             GlPeriodLine.period_id == closed[month].id, GlPeriodLine.day >= first,
                             GlPeriodLine.day <= last).order_by(GlPeriodLine.id)))
        else:
            lines.extend(_lines(facility_id, [*ledger_movements(facility_id, first, last),
                                              *payouts.journal_movements(facility_id, first, last)]))
        month = next_month(month)
    return lines


def render(lines: list[JournalLine], fmt: str) -> bytes:
    """The file for the accounting system. `parity`: one row per line, cents, ISO dates (see docs/finance.md).
    `quickbooks`: QuickBooks Online's journal import, one journal entry per day (and per month corrected),
    dollars, MM/DD/YYYY, accounts by name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if fmt == "parity":
        writer.writerow(["date", "account_number", "account_name", "debit_cents", "credit_cents",
                         "corrects_period", "description"])
        for line in lines:
            writer.writerow([line.day.isoformat(), line.account_number, line.account_name, line.debit_cents,
                             line.credit_cents, f"{line.corrects:%Y-%m}" if line.corrects else "", line.description])
    elif fmt == "quickbooks":
        writer.writerow(["Journal No.", "Journal Date", "Account Name", "Debits", "Credits", "Description", "Name"])
        for line in lines:
            number = f"PB{line.day:%Y%m%d}" + (f"-C{line.corrects:%Y%m}" if line.corrects else "")
            writer.writerow([number, f"{line.day:%m/%d/%Y}", line.account_name, _dollars(line.debit_cents),
                             _dollars(line.credit_cents), line.description, ""])
    else:
        raise JournalError(f"Choose a format: {', '.join(FORMATS)}.")
    return out.getvalue().encode()


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}" if cents else ""


@dataclass
class Export:
    content: bytes
    lines: list[JournalLine]
    record: GlExport

    @property
    def filename(self) -> str:
        return (f"journal-{self.record.from_date.isoformat()}-{self.record.to_date.isoformat()}"
                f"-{self.record.format}.csv")


def export(facility_id: int, start: date, end: date, fmt: str, *, actor: str) -> Export:
    """Build the file and record the export (who, which days, the file's hash). Flushes; the caller commits."""
    if fmt not in FORMATS:
        raise JournalError(f"Choose a format: {', '.join(FORMATS)}.")
    lines = journal(facility_id, start, end, actor=actor)
    debits, credits = sum(line.debit_cents for line in lines), sum(line.credit_cents for line in lines)
    if debits != credits:  # by construction never; an export that does not balance must not leave
        raise JournalError(f"The journal does not balance: debits {debits} cents, credits {credits} cents.")
    content = render(lines, fmt)
    record = GlExport(facility_id=facility_id, from_date=start, to_date=end, format=fmt,
                      sha256=hashlib.sha256(content).hexdigest(), line_count=len(lines), debit_total_cents=debits,
                      created_by=actor)
    db.session.add(record)
    db.session.flush()
    return Export(content, lines, record)
