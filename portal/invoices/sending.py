"""An invoice as a PDF, and sent to the guarantor by email with the PDF attached (both audited)."""
from flask import current_app

from portal import audit, documents, facility, mail, money
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
    invoice = figures.invoice
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
    body = (f"Hello {account.guarantor_name},\n\n"
            f"Your invoice {invoice.number} from {fac.neutral_name} is attached.\n"
            f"Amount due: {money.format_usd(figures.balance_cents)} by {long_date(invoice.due_on)}.\n\n"
            f"Sign in to pay: {current_app.config['BASE_URL']}/login\n"
            f"Questions? Call {fac.phone or 'our billing office'}.\n\n"
            f"{email_stop.footer(account)}\n")
    data = _render(figures)
    try:
        mail.send([account.email], f"Your invoice {invoice.number} from {fac.neutral_name}", body,
                  email_stop.headers(account), attachments=[(filename(figures), "application/pdf", data)])
    except OSError as exc:
        current_app.logger.error("invoice %s could not be sent: %s", invoice.number, exc)
        raise InvoiceError("The mail server did not take the message. Try again in a few minutes.") from exc
    invoice.sent_at = utcnow()
    audit.record("invoice.sent", "invoice", actor=actor, object_id=invoice.id, account_id=account.id,
                 detail={"number": invoice.number, "to": account.email, "balance_cents": figures.balance_cents},
                 ip=ip, user_agent=user_agent)
    return account.email
