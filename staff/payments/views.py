"""Posting by hand: payments into deposit batches, credit, adjustments, reversals; the batches."""
import uuid

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, documents, invoices, ledger, money, payments
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, Charge, DepositBatch, Payment, Role
from portal.payments import deposits, desk
from portal.web import audit_context, db_id
from staff.forms import ActionForm
from staff.payments.forms import (
    AdjustmentForm,
    ApplyCreditForm,
    BatchForm,
    PaymentForm,
    RefundCreditForm,
    ReverseForm,
)

bp = Blueprint("staff_payments", __name__, url_prefix="/staff")


def _account(account_id: int) -> Account:
    return db.session.get(Account, account_id) or abort(404)


def _to_account(account: Account):
    return redirect(url_for("staff_accounts.account", account_id=account.id))


def _fresh_token() -> dict:
    return {"token": uuid.uuid4().hex}


def _line_amounts(form, lines: list[Charge]) -> tuple[list[tuple[int, int]], dict[int, str], list[str]]:
    """The per-line amounts typed in the table: (charge id, cents) pairs, the raw text, errors."""
    chosen, typed, errors = [], {}, []
    for charge in lines:
        text = (request.form.get(f"line-{charge.id}") or "").strip()
        typed[charge.id] = text
        if not text:
            continue
        try:
            cents = money.parse_cents(text)
        except ValueError:
            errors.append(f"Line {charge.service_date.isoformat()}: enter an amount like 25.00.")
            continue
        if cents < 0:
            errors.append(f"Line {charge.service_date.isoformat()}: enter an amount above zero.")
        elif cents:
            chosen.append((charge.id, cents))
    if form.allocation.data == "lines" and not chosen and not errors:
        errors.append("Enter an amount on at least one line, or apply oldest first.")
    if form.allocation.data == "oldest" and chosen:
        errors.append("You typed line amounts: choose “To the lines below”, or clear them.")
    return chosen, typed, errors


def _place(form, exc: desk.PostingError, line_errors: list[str]) -> None:
    if exc.field == "lines":
        line_errors.append(exc.message)
    elif exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def _submit_with_lines(form, lines, post):
    """Validate the form and its amounts per line, then `post(allocate_to)`; a refusal lands at its field.
    Returns what `post` returned (None when refused), the amounts typed and the line errors."""
    valid = form.validate_on_submit()
    chosen, typed, line_errors = _line_amounts(form, lines)
    if not valid or line_errors:
        return None, typed, line_errors
    try:
        return post(chosen if form.allocation.data == "lines" else None), typed, line_errors
    except desk.PostingError as exc:
        db.session.rollback()
        _place(form, exc, line_errors)
        return None, typed, line_errors


# ---------------------------------------------------------------- payments and credit


@bp.route("/accounts/<int:account_id>/post-payment", methods=["GET", "POST"])
@permission_required("payments.post")
def post_payment(account_id: int):
    account = _account(account_id)
    batches = deposits.open_batches()
    form = PaymentForm(data={**_fresh_token(), "received_on": facility_today(),
                             "batch_id": request.args.get("batch", type=db_id)})
    form.batch_id.choices = [(b.id, b.label) for b in batches]
    lines = desk.open_patient_lines(account.id)
    typed, line_errors = {}, []
    if request.method == "GET" and (invoice := _invoice_to_pay(account)) is not None:
        typed = _prefill_from_invoice(form, invoice)
    if request.method == "POST":
        payment, typed, line_errors = _submit_with_lines(form, lines, lambda allocate_to: desk.post_payment(
            account, user=current_user, amount_cents=form.amount_cents, method=form.method.data,
            received_on=form.received_on.data, reference=form.reference.data, batch_id=form.batch_id.data,
            token=form.token.data, allocate_to=allocate_to, **audit_context()))
        if payment is not None:
            credit = ledger.unapplied_credit(payment.id)
            flash(f"Payment R{payment.id:08d} posted: {money.format_usd(payment.amount_cents - credit)} applied, "
                  f"{money.format_usd(credit)} kept as unapplied credit.", "info")
            return _to_account(account)
    else:
        audit.record("payment_form.viewed", "account", actor=current_user, object_id=account.id, account_id=account.id,
                     **audit_context())
    failed = request.method == "POST"
    return render_template("staff/posting/payment.html", account=account, form=form, lines=lines, typed=typed,
                           line_errors=line_errors, batches=batches), 400 if failed else 200


def _invoice_to_pay(account: Account) -> invoices.InvoiceFigures | None:
    """The invoice the patient pays at the desk (`?invoice=`), if it is this account's and owes something."""
    invoice_id = request.args.get("invoice", type=db_id)
    found = invoices.get_for_account(account, invoice_id) if invoice_id else None
    return found if found is not None and found.balance_cents > 0 else None


def _prefill_from_invoice(form: PaymentForm, invoice: invoices.InvoiceFigures) -> dict[int, str]:
    """The payment form filled in for the invoice's balance, each line its own; the line amounts typed."""
    form.amount.data = money.format_plain(invoice.balance_cents)
    form.allocation.data = "lines"
    form.reference.description = f"Paying invoice {invoice.invoice.number}. " + (form.reference.description or "")
    return {f.charge.id: money.format_plain(f.balance_cents) for f in invoice.lines if f.balance_cents > 0}


def _credit_choices(credits) -> list[tuple[int, str]]:
    return [(p.id, f"R{p.id:08d} · {p.received_on.isoformat()} · {money.format_usd(c)} credit") for p, c in credits]


@bp.route("/accounts/<int:account_id>/apply-credit", methods=["GET", "POST"])
@permission_required("payments.post")
def apply_credit(account_id: int):
    account = _account(account_id)
    credits = desk.credit_payments(account.id)
    form = ApplyCreditForm(data=_fresh_token())
    form.payment_id.choices = _credit_choices(credits)
    lines = desk.open_patient_lines(account.id)
    typed, line_errors = {}, []
    if request.method == "POST":
        allocations, typed, line_errors = _submit_with_lines(form, lines, lambda allocate_to: desk.apply_credit(
            account, user=current_user, payment_id=form.payment_id.data, token=form.token.data,
            allocate_to=allocate_to, **audit_context()))
        if allocations is not None:
            flash(f"Applied {money.format_usd(sum(a.amount_cents for a in allocations))} of credit.", "info")
            return _to_account(account)
    return render_template("staff/posting/apply_credit.html", account=account, form=form, lines=lines, typed=typed,
                           line_errors=line_errors, credits=credits), 400 if request.method == "POST" else 200


@bp.route("/accounts/<int:account_id>/refund-credit", methods=["GET", "POST"])
@permission_required("payments.refund")
def refund_credit(account_id: int):
    account = _account(account_id)
    credits = desk.credit_payments(account.id)
    form = RefundCreditForm(data=_fresh_token())
    form.payment_id.choices = _credit_choices(credits)
    if form.validate_on_submit():
        try:
            refund = desk.refund_credit(
                account, user=current_user, payment_id=form.payment_id.data, amount_cents=form.amount_cents,
                method=form.method.data, check_number=form.check_number.data, reason=form.reason.data,
                token=form.token.data, **audit_context())
        except desk.PostingError as exc:
            db.session.rollback()
            _place(form, exc, [])
        else:
            flash(f"Refunded {money.format_usd(refund.amount_cents)} of unapplied credit.", "info")
            return _to_account(account)
    return render_template("staff/posting/refund_credit.html", account=account, form=form,
                           credits=credits), 400 if request.method == "POST" else 200


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/receipt.pdf")
@permission_required("accounts.view")
def receipt_pdf(account_id: int, payment_id: int):
    account = _account(account_id)
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id, Payment.account_id == account.id,
                                                      Payment.source == "patient")) or abort(404)
    receipt = payments.receipt(payment)
    audit.record("receipt.viewed", "payment", actor=current_user, object_id=payment.id, account_id=account.id,
                 **audit_context())
    return Response(documents.receipt_pdf(receipt), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="receipt-{receipt.number}.pdf"'})


# ---------------------------------------------------------------- adjustments and reversals


@bp.route("/accounts/<int:account_id>/adjust", methods=["GET", "POST"])
@permission_required("adjustments.post")
def adjust(account_id: int):
    account = _account(account_id)
    charges = db.session.scalars(select(Charge).where(Charge.account_id == account.id)
                                 .order_by(Charge.service_date, Charge.id)).all()
    form = AdjustmentForm(data={**_fresh_token(), "charge_id": request.args.get("charge", type=db_id)})
    form.charge_id.choices = [
        (c.id, f"{c.service_date.isoformat()} · {c.billing_code.code} · {c.patient.full_name} · patient "
               f"{money.format_usd(c.patient_balance_cents)} · insurance {money.format_usd(c.insurance_balance_cents)}")
        for c in charges]
    if form.validate_on_submit():
        try:
            adjustment = desk.post_adjustment(
                account, user=current_user, charge_id=form.charge_id.data, bucket=form.bucket.data,
                kind=form.kind.data, amount_cents=form.amount_cents, reason=form.reason.data, token=form.token.data,
                **audit_context())
        except desk.PostingError as exc:
            db.session.rollback()
            _place(form, exc, [])
        else:
            flash(f"Adjustment of {money.format_usd(adjustment.amount_cents)} posted.", "info")
            return _to_account(account)
    return render_template("staff/posting/adjust.html", account=account, form=form,
                           limit=desk.limit_for(current_user.role)), 400 if request.method == "POST" else 200


@bp.route("/accounts/<int:account_id>/postings/<int:posting_id>/reverse", methods=["GET", "POST"])
@permission_required("ledger.reverse")
def reverse(account_id: int, posting_id: int):
    account = _account(account_id)
    original = desk.reversible_posting(account, posting_id) or abort(404)
    item = next((i for i in desk.history(account.id) if i.posting.id == original.id), None)
    form = ReverseForm()
    if request.method == "POST" and original.reversed_by is not None:
        flash("This was already reversed.", "info")  # a double submit: the first one did it
        return _to_account(account)
    if form.validate_on_submit():
        try:
            desk.reverse(account, original, user=current_user, reason=form.reason.data, **audit_context())
        except desk.PostingError as exc:
            db.session.rollback()
            _place(form, exc, [])
        else:
            flash(f"Reversed: {item.what if item else original.kind}.", "info")
            return _to_account(account)
    return render_template("staff/posting/reverse.html", account=account, item=item, original=original,
                           form=form), 400 if request.method == "POST" else 200


# ---------------------------------------------------------------- deposit batches


@bp.route("/batches", methods=["GET", "POST"])
@permission_required("payments.post")
def batches():
    form = BatchForm(data={"deposit_date": facility_today()})
    if form.validate_on_submit():
        batch = deposits.open_batch(deposit_date=form.deposit_date.data, kind=form.kind.data,
                                    control_total_cents=form.control_total_cents,
                                    control_count=form.control_count.data, actor=current_user,
                                    **audit_context())
        flash(f"Batch {batch.label} opened. Choose it when you post each payment.", "info")
        return redirect(url_for(".batch", batch_id=batch.id))
    show = request.args.get("show", "open")
    found = deposits.batches(None if show == "all" else "open")
    return render_template("staff/posting/batches.html", form=form, batches=found,
                           show=show), 400 if request.method == "POST" else 200


@bp.get("/batches/<int:batch_id>")
@permission_required("payments.post")
def batch(batch_id: int):
    found = db.session.get(DepositBatch, batch_id) or abort(404)
    summary = deposits.summary(found)
    audit.record("deposit_batch.viewed", "deposit_batch", actor=current_user, object_id=found.id,
                 detail={"accounts": sorted({line.account.id for line in summary.lines})}, **audit_context())
    closed_by = desk.actor_names({found.closed_by})[found.closed_by] if found.closed_by else None
    return render_template("staff/posting/batch.html", s=summary, close_form=ActionForm(), closed_by=closed_by)


@bp.post("/batches/<int:batch_id>/close")
@permission_required("payments.post")
def batch_close(batch_id: int):
    found = db.session.get(DepositBatch, batch_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        deposits.close_batch(found.id, actor=current_user, **audit_context())
    except deposits.BatchError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash("Batch closed. It is now read-only.", "info")
    return redirect(url_for(".batch", batch_id=batch_id))


# ---------------------------------------------------------------- settings


@bp.route("/admin/adjustment-limits", methods=["GET", "POST"])
@permission_required("admin.settings")
def adjustment_limits():
    rows = desk.limits()
    form = ActionForm()
    errors, typed = {}, {}
    if form.validate_on_submit():
        wanted = {}
        for role, _limit, fixed in rows:
            if fixed:
                continue
            text = typed[role.id] = (request.form.get(f"limit-{role.id}") or "").strip()
            try:
                wanted[role.id] = money.parse_cents(text) if text else None
                if wanted[role.id] is not None and wanted[role.id] < 0:
                    raise ValueError
            except ValueError:
                errors[role.id] = "Enter an amount like 500.00, or leave empty for no limit."
        if not errors:
            for role_id, cents in wanted.items():
                desk.set_limit(db.session.get(Role, role_id), cents, actor=current_user, **audit_context())
            flash("Adjustment limits saved.", "info")
            return redirect(url_for(".adjustment_limits"))
    return render_template("staff/posting/limits.html", form=form, rows=rows, errors=errors, typed=typed,
                           default=desk.DEFAULT_ADJUSTMENT_LIMIT_CENTS), 400 if request.method == "POST" else 200
