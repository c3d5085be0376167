"""An invoice as a PDF, and sent to the guarantor by email with the PDF attached (both audited)."""
from flask import current_app
from flask_babel import gettext as _

from portal import audit, documents, facility, i18n, mail, money
from portal.clock import long_date
from portal.invoices.issuing import InvoiceError, InvoiceFigures
from portal.mail import email_stop
from portal.models import User, utcnow


def pdf(figures: InvoiceFigures, *, actor: User | str, ip: str | None = None, user_agent: str | None = None) -> bytes:
    """The invoice as it stands now (paid and balance change with payments, so it is rendered each time)."""
    invoice = figures.invoice
    data = _render(figures)
    audit.record("invoice.viewed", "invoice", actor=actor, object_id=invoice.id, account_id=invoice.account_id,
                 detail={"number": invoice.number, "as": "pdf"}, ip=ip, user_agent=user_agent)
    return data


def _render(figures: InvoiceFigures) -> bytes:
    """The PDF in the guarantor's language: it goes to them, whoever prints or sends it."""
    invoice = figures.invoice
    with i18n.for_account(invoice.account):
        return documents.render_pdf("pdf/invoice.html", f=figures, invoice=invoice, account=invoice.account,
                                    facility=facility.current())


def filename(figures: InvoiceFigures) -> str:
    return f"invoice-{figures.invoice.number}.pdf"


def send(figures: InvoiceFigures, *, actor: User | str, ip: str | None = None, user_agent: str | None = None) -> str:
    """Email the invoice to the guarantor, the PDF attached; the address it went to. Nothing clinical in the
    message: the amount, the due date and how to pay."""
    invoice, account = figures.invoice, figures.invoice.account
    if invoice.status == "void":
        raise InvoiceError(f"Invoice {invoice.number} is void: it is not sent.")
    if not account.email:
        raise InvoiceError("The guarantor has no email address on file: add one, or print the invoice and mail it.")
    if email_stop.has_stopped(account):
        raise InvoiceError("The guarantor asked for no billing email: print the invoice and mail it.")
    fac = facility.current()
    with i18n.for_account(account):
        questions = facility.questions_line()
        body = _("Hello %(person)s,\n\nYour invoice %(number)s from %(name)s is attached.\nAmount due: %(amount)s by "
                 "%(day)s.\n\nSign in to pay: %(login)s",
                 person=account.guarantor_name, number=invoice.number, name=fac.neutral_name,
                 amount=money.format_usd(figures.balance_cents), day=long_date(invoice.due_on),
                 login=current_app.config["BASE_URL"] + "/login") + f"\n{questions}\n\n{email_stop.footer(account)}\n"
        subject = _("Your invoice %(number)s from %(name)s", number=invoice.number, name=fac.neutral_name)
    data = _render(figures)
    try:
        mail.send([account.email], subject, body,
                  email_stop.headers(account), attachments=[(filename(figures), "application/pdf", data)])
    except OSError as exc:
        current_app.logger.error("invoice %s could not be sent: %s", invoice.number, exc)
        raise InvoiceError("The mail server did not take the message. Try again in a few minutes.") from exc
    invoice.sent_at = utcnow()
    audit.record("invoice.sent", "invoice", actor=actor, object_id=invoice.id, account_id=account.id,
                 detail={"number": invoice.number, "to": account.email, "balance_cents": figures.balance_cents},
                 ip=ip, user_agent=user_agent)
    return account.email
