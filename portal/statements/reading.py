"""Reading statements back: lists, the page, pay-by-link look-up, the PDF and the notice mail."""
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import case, func, literal, null, or_, select, update
from sqlalchemy.orm import undefer

from portal import documents, facility, i18n, mail, money, storage
from portal.clock import long_date
from portal.extensions import db
from portal.mail import email_stop
from portal.models import (
    Account,
    AccountAccess,
    Patient,
    Payment,
    Posting,
    Statement,
    User,
    utcnow,
)
from portal.models.base import UTCDateTime

# ---------------------------------------------------------------- reading


def for_account(account: Account) -> list[Statement]:
    return list(db.session.scalars(select(Statement).where(Statement.account_id == account.id)
                                   .order_by(Statement.statement_date.desc())))


def get_for_patient_user(user: User, account_id: int, statement_id: int) -> Statement | None:
    """The statement with its lines, if it is on an account this patient login may see (one query)."""
    return db.session.scalar(
        select(Statement).join(AccountAccess, AccountAccess.account_id == Statement.account_id)
        .where(Statement.id == statement_id, Statement.account_id == account_id, AccountAccess.user_id == user.id)
        .options(undefer(Statement.snapshot)))


def get_for_account(account: Account, statement_id: int) -> Statement | None:
    return db.session.scalar(select(Statement).where(Statement.id == statement_id,
                                                     Statement.account_id == account.id))


def paid_after(statement: Statement) -> list[Payment]:
    """The guarantor's payments posted after the statement was issued (and not reversed), oldest first."""
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    return list(db.session.scalars(
        select(Payment).join(Posting, Posting.id == Payment.posting_id)
        .where(Payment.account_id == statement.account_id, Payment.source == "patient",
               Posting.created_at > statement.created_at, Payment.posting_id.not_in(reversed_postings))
        .order_by(Payment.received_on, Payment.id)))


def latest(account: Account) -> Statement | None:
    return db.session.scalar(select(Statement).where(Statement.account_id == account.id)
                             .order_by(Statement.statement_date.desc()).limit(1))


def find_for_pay_link(code: str, date_of_birth: date, zip_code: str, *, max_misses: int = 10,
                      lock_minutes: int = 60) -> Statement | None:
    """The statement whose code matches and whose account has a patient with that birth date and ZIP.

    Each try is counted on the statement before the details are compared, in one conditional UPDATE, so
    guesses from any number of addresses and processes stop at `max_misses`: the code is then locked for
    `lock_minutes` and answers like a wrong code. A match clears the count."""
    statement = db.session.scalar(select(Statement).where(Statement.code == code.strip().upper()))
    if statement is None:
        return None
    now = utcnow()
    tries = db.session.execute(
        update(Statement)
        .where(Statement.id == statement.id,
               or_(Statement.code_locked_until.is_(None), Statement.code_locked_until <= now))
        .values(code_misses=Statement.code_misses + 1,
                code_locked_until=case((Statement.code_misses + 1 >= max_misses,
                                        literal(now + timedelta(minutes=lock_minutes), UTCDateTime)),
                                       else_=null()))
        .returning(Statement.code_misses)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.expire(statement, ["code_misses", "code_locked_until"])
    if tries is None:  # locked
        return None
    zip5 = zip_code.strip()[:5]
    match = db.session.scalar(select(Patient.id).where(
        Patient.account_id == statement.account_id, Patient.date_of_birth == date_of_birth,
        func.substr(Patient.zip_code, 1, 5) == zip5))
    if not match:
        return None
    statement.code_misses, statement.code_locked_until = 0, None
    db.session.flush()
    return statement


# ---------------------------------------------------------------- PDF and mail


def pdf(statement: Statement) -> bytes:
    """The mailed statement as a PDF in the account's language, rendered once per language and kept (a
    statement never changes; whoever prints or downloads it, it is the guarantor's)."""
    with i18n.for_account(statement.account) as language:
        # The code (unique) is in the key with the id: ids start again in a rebuilt database, the store keeps its files.
        key = f"statement-{statement.id}-{statement.code}-{language}.pdf"
        if (kept := storage.get(key)) is not None:
            return kept
        data = documents.render_pdf("pdf/statement.html", statement=statement, s=statement.snapshot)
    storage.put(key, data, "application/pdf")
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
    with i18n.for_account(account):
        questions = facility.questions_line()
        body = _("Hello %(person)s,\n\nYour statement from %(name)s is ready.\nAmount due: %(amount)s by %(day)s.\n\n"
                 "Pay now, no account needed: %(pay_link)s\nOr sign in to see it and pay: %(login)s",
                 person=account.guarantor_name, name=fac.neutral_name,
                 amount=money.format_usd(statement.amount_due_cents), day=long_date(statement.due_date),
                 pay_link=base + "/pay?code=" + statement.code,
                 login=base + "/login?next=/accounts/" + str(account.id) + "/pay")
        body += f"\n\n{questions}\n\n{email_stop.footer(account)}\n"
        subject = _("Your statement from %(name)s", name=fac.neutral_name)
    mail.queue(recipients, subject, body, email_stop.headers(account))
    statement.notified_at = utcnow()
    db.session.flush()
