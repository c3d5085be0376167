"""Invoices for billing staff: build them from an account's uninvoiced self-pay charges, read one, download its
PDF, email it to the guarantor, void it with a reason."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import audit, invoices, money
from portal.auth import permission_required
from portal.extensions import db
from portal.models import Account
from portal.web import audit_context
from staff.invoices.forms import BuildInvoicesForm, SendInvoiceForm, VoidInvoiceForm

bp = Blueprint("staff_invoices", __name__, url_prefix="/staff/accounts")

def _account(account_id: int) -> Account:
    return db.session.get(Account, account_id) or abort(404)


def _invoice(account: Account, invoice_id: int) -> invoices.InvoiceFigures:
    return invoices.get_for_account(account, invoice_id) or abort(404)


def _to_invoice(account: Account, figures: invoices.InvoiceFigures):
    return redirect(url_for(".detail", account_id=account.id, invoice_id=figures.invoice.id))


def _place(form, exc: invoices.InvoiceError) -> None:
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.route("/<int:account_id>/invoices/new", methods=["GET", "POST"])
@permission_required("payments.post")
def build(account_id: int):
    account = _account(account_id)
    charges = invoices.uninvoiced_charges(account.id)
    form = BuildInvoicesForm()
    form.charge_ids.choices = [(c.id, c.service_date.isoformat()) for c in charges]
    if form.validate_on_submit():
        try:
            made = invoices.build(account, form.charge_ids.data, grouping=form.grouping.data, actor=current_user,
                                  **audit_context())
        except invoices.InvoiceError as exc:
            db.session.rollback()
            _place(form, exc)
        else:
            flash(f"Made {', '.join(i.number for i in made)} "
                  f"({money.format_usd(sum(i.total_cents for i in made))}).", "info")
            return redirect(url_for("staff_accounts.account", account_id=account.id) + "#invoices-title")
    return render_template("staff/invoices/new.html", account=account, form=form, charges=charges,
                           chosen=set(form.charge_ids.data or [])), 400 if form.is_submitted() else 200


@bp.get("/<int:account_id>/invoices/<int:invoice_id>")
@permission_required("accounts.view")
def detail(account_id: int, invoice_id: int):
    account = _account(account_id)
    figures = _invoice(account, invoice_id)
    audit.record("invoice.viewed", "invoice", actor=current_user, object_id=figures.invoice.id, account_id=account.id,
                 detail={"number": figures.invoice.number, "as": "page"}, **audit_context())
    return _detail_page(account, figures)


def _detail_page(account: Account, figures: invoices.InvoiceFigures, *, void_form=None, send_form=None,
                 status: int = 200):
    return render_template("staff/invoices/detail.html", account=account, f=figures, words=invoices.STATUS_WORDS,
                           void_form=void_form or VoidInvoiceForm(formdata=None),
                           send_form=send_form or SendInvoiceForm(formdata=None)), status


@bp.get("/<int:account_id>/invoices/<int:invoice_id>/invoice.pdf")
@permission_required("accounts.view")
def pdf(account_id: int, invoice_id: int):
    figures = _invoice(_account(account_id), invoice_id)
    data = invoices.pdf(figures, actor=current_user, **audit_context())
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{invoices.filename(figures)}"'})


@bp.post("/<int:account_id>/invoices/<int:invoice_id>/void")
@permission_required("payments.post")
def void(account_id: int, invoice_id: int):
    account = _account(account_id)
    figures = _invoice(account, invoice_id)
    form = VoidInvoiceForm()
    if form.validate_on_submit():
        try:
            invoices.void(figures.invoice, reason=form.reason.data, actor=current_user, **audit_context())
        except invoices.InvoiceError as exc:
            db.session.rollback()
            _place(form, exc)
        else:
            flash(f"Invoice {figures.invoice.number} is void; its charges can be invoiced again.", "info")
            return _to_invoice(account, figures)
    return _detail_page(account, _invoice(account, invoice_id), void_form=form, status=400)


@bp.post("/<int:account_id>/invoices/<int:invoice_id>/email")
@permission_required("payments.post")
def email(account_id: int, invoice_id: int):
    account = _account(account_id)
    figures = _invoice(account, invoice_id)
    form = SendInvoiceForm()
    if form.validate_on_submit():
        try:
            sent_to = invoices.send(figures, actor=current_user, **audit_context())
        except invoices.InvoiceError as exc:
            db.session.rollback()
            _place(form, exc)
        else:
            flash(f"Invoice {figures.invoice.number} sent to {sent_to}.", "info")
            return _to_invoice(account, figures)
    return _detail_page(account, _invoice(account, invoice_id), send_form=form, status=400)
