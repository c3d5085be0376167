"""The business office's books: the journal export, closing months, the chart of accounts, the month-end report."""
from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from portal import audit, facility
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.finance import chart, month_end, periods
from portal.finance import journal as gl
from portal.forms import Form
from portal.models import GL_ACCOUNT_TYPES, GlExport
from portal.models.finance import GL_ACCOUNT_TYPE_WORDS
from portal.web import audit_context

bp = Blueprint("staff_finance", __name__, url_prefix="/staff/finance")


class ExportForm(Form):
    start = DateField("From", validators=[InputRequired(message="Enter the first day.")])
    end = DateField("To", validators=[InputRequired(message="Enter the last day.")])
    format = SelectField("Format", choices=list(gl.FORMATS.items()))


class CloseForm(Form):
    month = HiddenField(validators=[DataRequired()])
    confirm = BooleanField("I have exported this month's journal and checked it; close it for good.")


class AccountForm(Form):
    number = StringField("Number", validators=[DataRequired(), Length(max=20)])
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    type = SelectField("Type", choices=[(t, GL_ACCOUNT_TYPE_WORDS[t]) for t in GL_ACCOUNT_TYPES])


class MappingForm(Form):
    """The choices travel as map-<source> fields, one per movement (checked by the chart)."""


def _actor() -> str:
    return f"user:{current_user.id}"


def _facility_id() -> int:
    return facility.saved().id


@bp.get("/")
@permission_required("finance.view")
def index():
    facility_id = _facility_id()
    chart.ensure_chart(facility_id, actor=_actor())
    today = facility_today()
    last_month = gl.month_of(today.replace(day=1) - timedelta(days=1))
    form = ExportForm(data={"start": last_month, "end": gl.next_month(last_month) - timedelta(days=1)})
    return _index(form, facility_id)


def _index(form: ExportForm, facility_id: int, status: int = 200, close_form: CloseForm | None = None):
    first_open = periods.first_open_month(facility_id)
    closable = first_open if first_open is not None and gl.next_month(first_open) <= facility_today() else None
    closed = sorted(gl.closed_periods(facility_id).values(), key=lambda p: p.month, reverse=True)
    exports = db.session.scalars(select(GlExport).where(GlExport.facility_id == facility_id)
                                 .order_by(GlExport.id.desc()).limit(20)).all()
    preview = None
    if closable is not None:
        lines = gl.journal(facility_id, closable, gl.next_month(closable) - timedelta(days=1), actor=_actor())
        preview = {"lines": len(lines), "debits": sum(line.debit_cents for line in lines),
                   "credits": sum(line.credit_cents for line in lines)}
    close_form = close_form or CloseForm(data={"month": closable.strftime("%Y-%m") if closable else ""})
    return render_template("staff/finance/index.html", form=form, close_form=close_form, closable=closable,
                           preview=preview, closed=closed, exports=exports, formats=gl.FORMATS,
                           first_open=first_open), status


@bp.post("/journal")
@permission_required("finance.view")
def export_journal():
    facility_id = _facility_id()
    form = ExportForm()
    if not form.validate_on_submit():
        return _index(form, facility_id, 400)
    try:
        made = gl.export(facility_id, form.start.data, form.end.data, form.format.data, actor=_actor())
    except gl.JournalError as exc:
        form.end.errors.append(str(exc))
        return _index(form, facility_id, 400)
    audit.record("gl.exported", "gl_export", actor=current_user, object_id=made.record.id,
                 detail={"from": form.start.data.isoformat(), "to": form.end.data.isoformat(),
                         "format": form.format.data, "lines": len(made.lines)}, **audit_context())
    return Response(made.content, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={made.filename}"})


@bp.post("/close")
@permission_required("finance.close")
def close():
    facility_id = _facility_id()
    form = CloseForm()
    export_form = ExportForm(formdata=None)
    if not form.validate_on_submit():
        return _index(export_form, facility_id, 400, form)
    if not form.confirm.data:
        form.confirm.errors.append("Tick the box to close the month: a closed month cannot be reopened.")
        return _index(export_form, facility_id, 400, form)
    try:
        period = periods.close_month(facility_id, periods.parse_month(form.month.data), actor=_actor())
    except gl.JournalError as exc:
        form.confirm.errors.append(str(exc))
        return _index(export_form, facility_id, 400, form)
    flash(f"{period.label} is closed: {period.line_count} journal lines frozen. "
          "Anything dated in it from now on is booked in the open month, marked as a correction.")
    return redirect(url_for(".index"))


@bp.route("/chart", methods=["GET", "POST"])
@permission_required("finance.view")
def chart_page():
    facility_id = _facility_id()
    chart.ensure_chart(facility_id, actor=_actor())
    account_form, mapping_form, status = AccountForm(prefix="account"), MappingForm(prefix="mapping"), 200
    mapping_error = None
    if request.method == "POST":
        if not current_user.can("finance.close"):
            return Response("You may read the chart but not change it.", status=403)
        if "account-number" in request.form and account_form.validate_on_submit():
            try:
                account, created = chart.save_account(facility_id, number=account_form.number.data,
                                                      name=account_form.name.data, type=account_form.type.data,
                                                      actor=_actor())
            except chart.ChartError as exc:
                account_form.number.errors.append(str(exc))
            else:
                audit.record("gl.account_added" if created else "gl.account_changed", "gl_account",
                             actor=current_user, object_id=account.id,
                             detail={"number": account.number, "name": account.name, "type": account.type},
                             **audit_context())
                flash(f"{'Added' if created else 'Changed'} account {account.label}.")
                return redirect(url_for(".chart_page"))
        elif "account-number" not in request.form and mapping_form.validate_on_submit():
            try:
                changes = {key.removeprefix("map-"): int(value) for key, value in request.form.items()
                           if key.startswith("map-") and value.isdigit() and len(value) < 10}
                changed = chart.remap(facility_id, changes, actor=_actor())
            except chart.ChartError as exc:
                mapping_error = str(exc)
            else:
                if changed:
                    audit.record("gl.mapping_changed", "gl_mapping", actor=current_user, object_id=facility_id,
                                 detail={"sources": changed}, **audit_context())
                flash(f"Mapping saved ({len(changed)} changed). Closed months keep the journal they closed with.")
                return redirect(url_for(".chart_page"))
        status = 400
    mapping = chart.mapping_of(facility_id)
    groups = {}
    for source in chart.SOURCES:
        groups.setdefault(source.group, []).append((source, mapping.get(source.key)))
    return render_template("staff/finance/chart.html", accounts=chart.accounts_of(facility_id), groups=groups,
                           account_form=account_form, mapping_form=mapping_form, mapping_error=mapping_error,
                           type_words=GL_ACCOUNT_TYPE_WORDS), status


@bp.get("/month-end")
@permission_required("finance.view")
def month_end_report():
    facility_id = _facility_id()
    default = gl.month_of(facility_today().replace(day=1) - timedelta(days=1))
    error = None
    try:
        month = periods.parse_month(request.args["month"]) if request.args.get("month") else default
    except gl.JournalError as exc:
        month, error = default, str(exc)
    report = month_end.report(facility_id, month)
    return render_template("staff/finance/month_end.html", report=report, error=error,
                           closed=month in gl.closed_periods(facility_id)), 400 if error else 200
