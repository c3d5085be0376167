"""Deposit reconciliation for the business office: upload the card processor's payout report and the bank's
statement, then see what matched, what differs, what the bank has that we do not and what has not arrived."""
from datetime import date, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal import facility
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.finance import bank, payouts, reconcile
from portal.forms import Form, record_id
from portal.models import NOTE_KINDS
from portal.web import audit_context

bp = Blueprint("staff_reconciliation", __name__, url_prefix="/staff/finance/reconciliation")
MAX_FILE_BYTES = 10 * 1024 * 1024


class PayoutReportForm(Form):
    report = FileField("Itemized payout reconciliation report (CSV)",
                       validators=[FileRequired("Choose the payout report file.")])


class BankStatementForm(Form):
    statement = FileField("Bank statement", validators=[FileRequired("Choose the bank statement file.")])
    format = SelectField("Format", choices=list(bank.FORMAT_WORDS.items()), default="bai2")


class ExplainForm(Form):
    kind = HiddenField(validators=[DataRequired()])
    item_id = HiddenField(validators=[DataRequired(), record_id])
    note = TextAreaField("Note", validators=[DataRequired("Write what explains this item."),
                                             Length(max=reconcile.MAX_NOTE)])
    start = HiddenField()
    end = HiddenField()


def _facility_id() -> int:
    return facility.saved().id


def _day(text: str | None) -> date | None:
    value = (text or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]) if len(value) == 10 else None
    except ValueError:
        return None


def _range(start_text: str | None, end_text: str | None) -> tuple[date, date, str | None]:
    today = facility_today()
    start, end = _day(start_text), _day(end_text)
    error = None
    if (start_text and start is None) or (end_text and end is None):
        error = "Write the days as YYYY-MM-DD."
    end = end or today
    start = start or end - timedelta(days=30)
    if error is None and (end < start or (end - start).days > 366):
        error = "Choose a range of up to a year whose first day is before its last."
    if error:
        start, end = today - timedelta(days=30), today
    return start, end, error


def _page(status: int = 200, *, start_text: str | None = None, end_text: str | None = None,
          payout_form: PayoutReportForm | None = None, bank_form: BankStatementForm | None = None,
          explain_form: ExplainForm | None = None, explain_for: tuple[str, str] | None = None):
    start, end, range_error = _range(start_text, end_text)
    result = reconcile.reconcile(_facility_id(), start, end)
    return render_template(
        "staff/finance/reconciliation.html", result=result, start=start, end=end,
        range_error=range_error, limit_mb=MAX_FILE_BYTES // (1024 * 1024),
        payout_form=payout_form or PayoutReportForm(formdata=None),
        bank_form=bank_form or BankStatementForm(formdata=None), explain_form=explain_form,
        explain_for=explain_for, can_explain=current_user.can("finance.close"),
    ), 400 if (range_error or status == 400) else status


@bp.get("/")
@permission_required("finance.view")
def index():
    return _page(start_text=request.args.get("from"), end_text=request.args.get("to"))


def _upload(form, field, form_name: str, import_file, refusal: type[Exception]):
    """Read the uploaded file (refused over the size limit) and import it; the page again with the reason
    beside the field when refused, else the import's result."""
    if not form.validate_on_submit():
        return None, _page(400, **{form_name: form})
    content = field.data.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        field.errors.append(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        return None, _page(400, **{form_name: form})
    try:
        return import_file(content, field.data.filename or "upload"), None
    except refusal as exc:
        db.session.rollback()
        field.errors.append(str(exc))
        return None, _page(400, **{form_name: form})


@bp.post("/payouts")
@permission_required("finance.view")
def upload_payouts():
    form = PayoutReportForm()
    result, refused = _upload(form, form.report, "payout_form", lambda content, filename: payouts.import_report(
        _facility_id(), content, filename, actor=current_user, **audit_context()), payouts.PayoutError)
    if refused is not None:
        return refused
    flash(result.summary().capitalize() + ".", "info")
    for item in result.unmatched[:20]:
        flash(f"Not matched to our records: {item.reporting_category} {item.balance_transaction_id} "
              f"({item.reference or 'no reference'}) in payout {item.payout_id}.", "error")
    return redirect(url_for(".index"))


@bp.post("/bank")
@permission_required("finance.view")
def upload_bank():
    form = BankStatementForm()
    result, refused = _upload(form, form.statement, "bank_form", lambda content, filename: bank.import_statement(
        _facility_id(), content, filename, form.format.data, actor=current_user, **audit_context()), bank.BankError)
    if refused is not None:
        return refused
    flash(result.summary().capitalize() + ".", "info")
    return redirect(url_for(".index"))


@bp.post("/explain")
@permission_required("finance.close")
def explain():
    form = ExplainForm()
    kind = form.kind.data if form.kind.data in NOTE_KINDS else ""
    target = (kind, form.item_id.data or "")
    if not form.validate_on_submit() or not kind:
        if not kind:
            form.note.errors.append("Choose an item from the list to explain.")
        return _page(400, start_text=form.start.data, end_text=form.end.data, explain_form=form, explain_for=target)
    try:
        reconcile.explain(_facility_id(), kind, int(form.item_id.data), form.note.data, actor=current_user,
                          **audit_context())
    except reconcile.ReconcileError as exc:
        db.session.rollback()
        form.note.errors.append(str(exc))
        return _page(400, start_text=form.start.data, end_text=form.end.data, explain_form=form, explain_for=target)
    flash("Note saved.", "info")
    start, end, _ = _range(form.start.data, form.end.data)
    return redirect(url_for(".index", **{"from": start.isoformat(), "to": end.isoformat()}))
