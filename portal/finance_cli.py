"""`flask --app portal gl ...`: the general ledger and deposit reconciliation; each failure exits non-zero
with one line."""
import os
from datetime import date, timedelta

import click
from flask.cli import AppGroup

from portal import audit, facility
from portal.cli_common import emit, read_file
from portal.clock import facility_today
from portal.finance import bank, month_end, payouts, periods, reconcile
from portal.finance import journal as gl
from portal.models import BANK_FORMATS, NOTE_KINDS

gl_cli = AppGroup("gl", help="The general ledger: journal export, month-end close, and deposit reconciliation "
                             "(card payouts, bank statements).")


def _day(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"{what} {text[:20]!r} is not a date: write it as YYYY-MM-DD") from None


def _month(text: str):
    try:
        return periods.parse_month(text)
    except (gl.JournalError, OverflowError) as exc:
        message = str(exc) if isinstance(exc, gl.JournalError) else f"{text[:20]!r} is not a month: write it as YYYY-MM"
        raise click.ClickException(message) from None


# ---------------------------------------------------------------- the journal and closed months

@gl_cli.command("export")
@click.option("--from", "start", default=None, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD.")
@click.option("--format", "fmt", default="parity", help=f"One of: {', '.join(gl.FORMATS)}.")
@click.option("--out", "out", default=None, help="The file to write (default: standard output).")
@click.option("--json", "as_json", is_flag=True, help="Describe the export as JSON (with --out).")
def export(start, end, fmt, out, as_json):
    """Write the journal from --from to --to for the accounting system, and record the export."""
    first, last = _day(start, "--from"), _day(end, "--to")
    if first is None or last is None:
        raise click.ClickException("give the days: --from YYYY-MM-DD --to YYYY-MM-DD")
    if as_json and not out:
        raise click.ClickException("--json describes the export written with --out FILE")
    try:
        made = gl.export(facility.saved().id, first, last, fmt, actor="cli:gl-export")
    except gl.JournalError as exc:
        raise click.ClickException(str(exc)) from exc
    if out:
        try:
            with open(out, "wb") as handle:
                handle.write(made.content)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    audit.record("gl.exported", "gl_export", actor="cli:gl-export", object_id=made.record.id,
                 detail={"from": first.isoformat(), "to": last.isoformat(), "format": fmt, "lines": len(made.lines)})
    if not out:
        click.echo(made.content.decode(), nl=False)
        return
    debits = sum(line.debit_cents for line in made.lines)
    credits = sum(line.credit_cents for line in made.lines)
    emit(as_json, {"export_id": made.record.id, "file": out, "format": fmt, "lines": len(made.lines),
                   "debit_cents": debits, "credit_cents": credits, "sha256": made.record.sha256},
         f"wrote {len(made.lines)} journal line(s) to {out}: debits {debits} = credits {credits} cents")


@gl_cli.command("close")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--json", "as_json", is_flag=True)
def close(month_text, as_json):
    """Close a month for good: its journal is frozen, later postings dated in it book today as corrections."""
    try:
        period = periods.close_month(facility.saved().id, _month(month_text), actor="cli:gl-close")
    except gl.JournalError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(as_json, {"month": period.month.strftime("%Y-%m"), "lines": period.line_count,
                   "debit_cents": period.debit_total_cents},
         f"closed {period.label}: {period.line_count} journal line(s) frozen")


@gl_cli.command("periods")
@click.option("--json", "as_json", is_flag=True)
def periods_command(as_json):
    """Closed months, newest first, and the first month still open."""
    facility_id = facility.current().id or 0
    closed = sorted(gl.closed_periods(facility_id).values(), key=lambda p: p.month, reverse=True)
    first_open = periods.first_open_month(facility_id)
    emit(as_json, {"closed": [{"month": p.month.strftime("%Y-%m"), "closed_by": p.closed_by,
                               "closed_at": p.closed_at, "lines": p.line_count,
                               "debit_cents": p.debit_total_cents} for p in closed],
                   "first_open": first_open.strftime("%Y-%m") if first_open else None},
         "\n".join([*(f"{p.label}: closed by {p.closed_by}, {p.line_count} line(s)" for p in closed),
                    f"first open month: {first_open:%B %Y}" if first_open else "nothing booked yet"]))


@gl_cli.command("month-end")
@click.argument("month_text", metavar="YYYY-MM")
@click.option("--json", "as_json", is_flag=True)
def month_end_command(month_text, as_json):
    """The month-end report: cash by source, refunds, card fees and the A/R roll-forward per program."""
    report = month_end.report(facility.current().id or 0, _month(month_text))
    rows = [{"program": r.program, "opening_cents": r.opening_cents, "charges_cents": r.charges_cents,
             "payments_cents": r.payments_cents, "adjustments_cents": r.adjustments_cents,
             "closing_cents": r.closing_cents} for r in [*report.programs, report.total]]
    payload = {"month": report.month.strftime("%Y-%m"), "cash": dict(report.cash), "refunds": dict(report.refunds),
               "cash_total_cents": report.cash_total_cents, "card_fees_cents": report.card_fees_cents,
               "programs": rows[:-1], "total": rows[-1], "credit_opening_cents": report.credit_opening_cents,
               "credit_closing_cents": report.credit_closing_cents, "corrections": report.corrections}
    text = [f"Month end {report.month:%B %Y}", *(f"  {name}: {cents}" for name, cents in report.cash),
            f"  card fees: {report.card_fees_cents}",
            *(f"  {r['program']}: {r['opening_cents']} + {r['charges_cents']} - {r['payments_cents']} - "
              f"{r['adjustments_cents']} = {r['closing_cents']}" for r in rows)]
    emit(as_json, payload, "\n".join(text))


# ---------------------------------------------------------------- deposit reconciliation

@gl_cli.command("payouts-import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def payouts_import(path, as_json):
    """Import the card processor's itemized payout reconciliation report (CSV)."""
    content = read_file(path)
    try:
        result = payouts.import_report(facility.saved().id, content, os.path.basename(path),
                                       actor="cli:gl-payouts-import")
    except payouts.PayoutError as exc:
        raise click.ClickException(str(exc)) from exc
    lines = [result.summary()]
    lines += [f"  unmatched {u.reporting_category} {u.balance_transaction_id} ({u.reference or 'no reference'}) "
              f"in payout {u.payout_id}" for u in result.unmatched]
    emit(as_json, result.as_dict(), "\n".join(lines))


@gl_cli.command("bank-import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(BANK_FORMATS), default=None,
              help="The statement's format (default: from the file name, .csv or BAI2).")
@click.option("--json", "as_json", is_flag=True)
def bank_import(path, fmt, as_json):
    """Import a bank statement: BAI2, or the bank CSV (date, amount, description, reference)."""
    content = read_file(path)
    fmt = fmt or ("csv" if path.lower().endswith(".csv") else "bai2")
    try:
        result = bank.import_statement(facility.saved().id, content, os.path.basename(path), fmt,
                                       actor="cli:gl-bank-import")
    except bank.BankError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(as_json, result.as_dict(), result.summary())


@gl_cli.command("reconcile")
@click.option("--from", "start", default=None, help="First day, YYYY-MM-DD (default: 30 days ago).")
@click.option("--to", "end", default=None, help="Last day, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True)
def reconcile_command(start, end, as_json):
    """Match bank credits to card payouts, ERAs and deposit batches; list differences and what is in transit."""
    last = _day(end, "--to") or facility_today()
    first = _day(start, "--from") or last - timedelta(days=30)
    try:
        result = reconcile.reconcile(facility.current().id or 0, first, last)
    except reconcile.ReconcileError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(as_json, result.as_dict(), result.summary())


@gl_cli.command("explain")
@click.argument("kind", type=click.Choice(NOTE_KINDS))
@click.argument("item_id", metavar="ID", type=click.IntRange(1, 2 ** 31 - 1))
@click.option("--note", required=True, help="What explains the difference or the unmatched item (500 characters).")
@click.option("--json", "as_json", is_flag=True)
def explain(kind, item_id, note, as_json):
    """Explain a difference or an unmatched item with a note (shown beside it)."""
    try:
        found = reconcile.explain(facility.saved().id, kind, item_id, note, actor="cli:gl-explain")
    except reconcile.ReconcileError as exc:
        raise click.ClickException(str(exc)) from exc
    emit(as_json, {"id": found.id, "item_kind": found.item_kind, "item_id": found.item_id, "note": found.note},
         f"noted on {reconcile.KIND_WORDS[kind]} {item_id}: {found.note}")
