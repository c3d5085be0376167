"""Closing a month: its journal is frozen as exported, and the ledger books nothing into it any more.

Months close in order and only once they are over (by the facility's calendar). While a month
closes, PostgreSQL holds a SHARE lock on the tables the journal reads: a posting still writing into
that month finishes first (and is in the frozen journal), one that begins after sees the month
closed and books into today, marked as correcting it (see the ledger's unit of work).
"""
from datetime import date, timedelta

from sqlalchemy import func, select

from portal.audit import record
from portal.clock import facility_today
from portal.extensions import db
from portal.finance import payouts
from portal.finance.journal import JournalError, journal, month_of, next_month
from portal.models import Account, GlPeriod, GlPeriodLine, LedgerEntry


def parse_month(text: str | None) -> date:
    """"2026-11" -> 2026-11-01, or JournalError."""
    value = (text or "").replace("\x00", "").strip()
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise JournalError(f"{value[:20]!r} is not a month: write it as YYYY-MM (e.g. 2026-11).") from None


def first_open_month(facility_id: int) -> date | None:
    """The earliest month with anything booked that is not closed (None: nothing booked yet)."""
    closed = set(db.session.scalars(select(GlPeriod.month).where(GlPeriod.facility_id == facility_id)))
    earliest = db.session.scalar(select(func.min(LedgerEntry.gl_date)).join(
        Account, Account.id == LedgerEntry.account_id).where(Account.facility_id == facility_id))
    earliest_payout = payouts.earliest_day(facility_id)
    candidates = [d for d in (earliest, earliest_payout) if d is not None]
    if not candidates:
        return None
    month = month_of(min(candidates))
    while month in closed:
        month = next_month(month)
    return month


def close_month(facility_id: int, month: date, *, actor: str) -> GlPeriod:
    """Freeze the month's journal and lock it. Flushes and audits; the caller commits."""
    if month != month_of(month):
        raise JournalError("A period is a whole month: give its first day.")
    last_day = next_month(month) - timedelta(days=1)
    if last_day >= facility_today():
        raise JournalError(f"{month:%B %Y} is not over yet: it can be closed from {last_day + timedelta(days=1)}.")
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(db.text("LOCK TABLE ledger_entries, card_payouts IN SHARE MODE"))
    existing = db.session.scalar(select(GlPeriod).where(GlPeriod.facility_id == facility_id, GlPeriod.month == month)
                                 .with_for_update())
    if existing is not None:
        raise JournalError(f"{month:%B %Y} is already closed (by {existing.closed_by}); a closed month stays closed.")
    first_open = first_open_month(facility_id)
    if first_open is not None and first_open < month:
        raise JournalError(f"Close {first_open:%B %Y} first: months close in order.")
    lines = journal(facility_id, month, last_day, actor=actor)
    period = GlPeriod(facility_id=facility_id, month=month, closed_by=actor,
                      debit_total_cents=sum(line.debit_cents for line in lines), line_count=len(lines))
    db.session.add(period)
    db.session.flush()
    db.session.add_all(GlPeriodLine(period_id=period.id, day=line.day, account_number=line.account_number,
                                    account_name=line.account_name, debit_cents=line.debit_cents,
                                    credit_cents=line.credit_cents, corrects=line.corrects,
                                    description=line.description) for line in lines)
    record("gl.period_closed", "gl_period", actor=actor, object_id=period.id,
           detail={"facility_id": facility_id, "month": month.isoformat(), "lines": len(lines),
                   "debits_cents": period.debit_total_cents})
    db.session.flush()
    return period
