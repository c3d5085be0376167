"""Reading."""
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app, render_template
from markupsafe import Markup
from sqlalchemy import func, select

from portal import documents, facility, mail, money
from portal.extensions import db
from portal.mail import email_stop
from portal.models import (
    Account,
    AccountAccess,
    Patient,
    Statement,
    User,
    utcnow,
)

# ---------------------------------------------------------------- reading


def for_account(account: Account) -> list[Statement]:
    return list(db.session.scalars(select(Statement).where(Statement.account_id == account.id)
                                   .order_by(Statement.statement_date.desc())))


@dataclass(frozen=True)
class StatementPage:
    """A statement's page as shown to the patient: its title and its rendered content."""

    id: int
    account_id: int
    title: str
    content: Markup


_pages: dict[int, StatementPage] = {}
_PAGES_KEPT = 512


def page(statement_id: int) -> StatementPage | None:
    """The statement as its page shows it. An issued statement never changes, so each one is read and
    rendered once per process; the caller checks that the viewer may see its account."""
    found = _pages.get(statement_id)
    if found is None:
        statement = db.session.get(Statement, statement_id)
        if statement is None:
            return None
        content = Markup(render_template("patient/_statement_content.html", statement=statement,
                                         s=statement.snapshot))
        found = StatementPage(statement.id, statement.account_id,
                              f"Statement {statement.statement_date.strftime('%b %d, %Y')}", content)
        if len(_pages) >= _PAGES_KEPT:
            _pages.clear()
        _pages[statement_id] = found
    return found


def forget_pages() -> None:
    """Drop the rendered pages (a test database is emptied beneath a running process)."""
    _pages.clear()


def get_for_account(account: Account, statement_id: int) -> Statement | None:
    return db.session.scalar(select(Statement).where(Statement.id == statement_id,
                                                     Statement.account_id == account.id))


def latest(account: Account) -> Statement | None:
    return db.session.scalar(select(Statement).where(Statement.account_id == account.id)
                             .order_by(Statement.statement_date.desc()).limit(1))


def find_for_pay_link(code: str, date_of_birth: date, zip_code: str) -> Statement | None:
    """The statement whose code matches and whose account has a patient with that birth date and ZIP."""
    statement = db.session.scalar(select(Statement).where(Statement.code == code.strip().upper()))
    if statement is None:
        return None
    zip5 = zip_code.strip()[:5]
    match = db.session.scalar(select(Patient.id).where(
        Patient.account_id == statement.account_id, Patient.date_of_birth == date_of_birth,
        func.substr(Patient.zip_code, 1, 5) == zip5))
    return statement if match else None


# ---------------------------------------------------------------- PDF and mail


def pdf(statement: Statement) -> bytes:
    """The mailed statement as a PDF, rendered once and kept (a statement never changes)."""
    folder = Path(current_app.config["PDF_CACHE_DIR"])
    path = folder / f"statement-{statement.id}-{statement.code}.pdf"
    if path.exists():
        return path.read_bytes()
    data = documents.render_pdf("pdf/statement.html", statement=statement, s=statement.snapshot)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def send_notice(statement: Statement) -> None:
    """Tell the guarantor a statement is ready: the amount and where to pay, nothing clinical."""

    account = statement.account
    if email_stop.has_stopped(account):
        return  # the guarantor opted out of email: the mailed statement is the notice
    recipients = [account.email] if account.email else []
    recipients += [u.email for u in db.session.scalars(
        select(User).join(AccountAccess, AccountAccess.user_id == User.id)
        .where(AccountAccess.account_id == account.id)) if u.email not in recipients]
    if not recipients:
        return
    fac = facility.current()
    base = current_app.config["BASE_URL"]
    body = (f"Hello {account.guarantor_name},\n\n"
            f"Your statement from {fac.neutral_name} is ready.\n"
            f"Amount due: {money.format_usd(statement.amount_due_cents)} by {statement.due_date:%B %d, %Y}.\n\n"
            f"Sign in to see it and pay: {base}/login\n"
            f"Or pay without signing in at {base}/pay with statement code {statement.code}.\n\n"
            f"Questions? Call {fac.phone or 'our billing office'}.\n\n"
            f"{email_stop.footer(account)}\n")
    mail.queue(recipients, f"Your statement from {fac.neutral_name}", body, email_stop.headers(account))
    statement.notified_at = utcnow()
    db.session.flush()
