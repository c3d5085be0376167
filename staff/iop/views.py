"""IOP: attendance, authorizations, and the review of what the nightly engine did."""
from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, iop
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Authorization, BillingCode, ClinicalSession, IopException, Patient
from portal.web import audit_context, db_id
from staff.forms import ActionForm
from staff.iop.forms import AuthorizationForm, DismissForm, RerunForm, SessionForm

bp = Blueprint("staff_iop", __name__, url_prefix="/staff/iop")


def _actor() -> str:
    return f"user:{current_user.id}"


def _code_choices(group_id):
    ids = iop.group_code_ids(group_id)
    return [(c.id, f"{c.code} {c.description}") for c in db.session.scalars(
        select(BillingCode).where(BillingCode.id.in_(ids)).order_by(BillingCode.code))]


def _patient(mrn: str) -> Patient | None:
    return db.session.scalar(select(Patient).where(Patient.mrn == mrn.strip(), Patient.merged_into_id.is_(None)))


@bp.get("/")
@permission_required("iop.review")
def review():
    today = facility_today()
    start = today - timedelta(days=14)
    return render_template(
        "staff/iop/review.html", by_day=iop.charges_by_day(start, today), exceptions=iop.open_exceptions(),
        dismiss_form=DismissForm(), rerun_form=RerunForm(data={"service_date": today - timedelta(days=1)}),
        highlight=request.args.get("exception", type=db_id), settings=iop.settings(),
    )


@bp.post("/exceptions/<int:exception_id>/dismiss")
@permission_required("iop.review")
def dismiss(exception_id: int):
    exc = db.session.get(IopException, exception_id) or abort(404)
    form = DismissForm()
    if form.validate_on_submit():
        try:
            iop.dismiss(exc, reason=form.reason.data, actor=_actor())
        except iop.IopError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            audit.record("iop_exception.dismissed", "iop_exception", actor=current_user, object_id=exc.id,
                         patient_id=exc.patient_id, detail={"reason": form.reason.data}, **audit_context())
            flash("Dismissed.", "info")
    else:
        flash("Say why the day is dismissed.", "error")
    return redirect(url_for(".review"))


@bp.post("/rerun")
@permission_required("iop.review")
def rerun():
    form = RerunForm()
    if not form.validate_on_submit():
        flash("Choose a date of service to run again.", "error")
        return redirect(url_for(".review"))
    try:
        result = iop.run(facility_today(), actor=_actor(), only_date=form.service_date.data)
    except iop.IopError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for(".review"))
    audit.record("iop.rerun", "iop_run", actor=current_user, detail={"service_date": form.service_date.data.isoformat(),
                                                                      "charges": len(result.charges)},
                 **audit_context())
    flash(f"{form.service_date.data:%m/%d/%Y}: {len(result.charges)} charge(s) created, "
          f"{len(result.exceptions)} day(s) not billable.", "info")
    return redirect(url_for(".review"))


@bp.get("/reconciliation")
@permission_required("iop.review")
def reconciliation():
    today = facility_today()
    start = request.args.get("start", type=_date) or today - timedelta(days=30)
    end = request.args.get("end", type=_date) or today
    audit.record("iop.reconciliation_viewed", "iop_report", actor=current_user,
                 detail={"start": start.isoformat(), "end": end.isoformat()}, **audit_context())
    return render_template("staff/iop/reconciliation.html", report=iop.reconcile(start, end), start=start, end=end)


def _date(value: str):
    from datetime import date

    return date.fromisoformat(value)


@bp.get("/forecast")
@permission_required("iop.review")
def forecast():
    return render_template("staff/iop/forecast.html", rows=iop.forecast(facility_today()), settings=iop.settings())


@bp.route("/sessions", methods=["GET", "POST"])
@permission_required("attendance.record")
def sessions():
    day = request.args.get("date", type=_date) or facility_today()
    form = SessionForm(data={"service_date": day, "minutes": 60, "units": 1})
    form.code.choices = _code_choices(iop.settings().documentation_group_id)
    status = 200
    if form.validate_on_submit():
        patient = _patient(form.mrn.data)
        if patient is None:
            form.mrn.errors.append("No patient has that MRN.")
            status = 400
        else:
            session = iop.record_session(patient=patient, service_date=form.service_date.data,
                                         billing_code_id=form.code.data, minutes=form.minutes.data,
                                         units=form.units.data, clinician=form.clinician.data,
                                         signed=form.signed.data, actor=_actor())
            db.session.flush()
            audit.record("session.created", "clinical_session", actor=current_user, object_id=session.id,
                         patient_id=patient.id, account_id=patient.account_id, **audit_context())
            flash(f"Saved {patient.mrn}'s session.", "info")
            return redirect(url_for(".sessions", date=form.service_date.data.isoformat()))
    elif form.is_submitted():
        status = 400
    listed = db.session.scalars(select(ClinicalSession).where(ClinicalSession.service_date == day)
                                .order_by(ClinicalSession.patient_id, ClinicalSession.id)).all()
    audit.record("sessions.viewed", "clinical_session", actor=current_user,
                 detail={"date": day.isoformat(), "count": len(listed)}, **audit_context())
    return render_template("staff/iop/sessions.html", form=form, sessions=listed, day=day,
                           action_form=ActionForm()), status


@bp.post("/sessions/<int:session_id>/sign")
@permission_required("attendance.record")
def sign(session_id: int):
    session = db.session.get(ClinicalSession, session_id) or abort(404)
    if ActionForm().validate_on_submit():
        iop.sign_session(session)
        audit.record("session.signed", "clinical_session", actor=current_user, object_id=session.id,
                     patient_id=session.patient_id, **audit_context())
        flash("Signed.", "info")
    return redirect(url_for(".sessions", date=session.service_date.isoformat()))


@bp.get("/authorizations")
@permission_required("authorizations.manage")
def authorizations():
    rows = db.session.scalars(select(Authorization).order_by(Authorization.end_date.desc())).all()
    used = iop.units_used([a.id for a in rows])
    audit.record("authorizations.viewed", "authorization", actor=current_user, detail={"count": len(rows)},
                 **audit_context())
    return render_template("staff/iop/authorizations.html", rows=rows, used=used)


@bp.route("/authorizations/new", methods=["GET", "POST"])
@permission_required("authorizations.manage")
def authorization_new():
    return _authorization_form(None)


@bp.route("/authorizations/<int:authorization_id>", methods=["GET", "POST"])
@permission_required("authorizations.manage")
def authorization_edit(authorization_id: int):
    return _authorization_form(db.session.get(Authorization, authorization_id) or abort(404))


def _authorization_form(auth: Authorization | None):
    data = None if auth is None else {"mrn": auth.patient.mrn, "code": auth.billing_code_id, "number": auth.number,
                                      "start": auth.start_date, "end": auth.end_date, "units": auth.units_allotted}
    form = AuthorizationForm(data=data)
    form.code.choices = _code_choices(iop.settings().billable_group_id)
    if form.validate_on_submit():
        patient = _patient(form.mrn.data)
        coverage = next((c for c in patient.coverages if c.active_on(form.start.data)), None) if patient else None
        if patient is None:
            form.mrn.errors.append("No patient has that MRN.")
        elif auth is not None and patient.id != auth.patient_id:
            form.mrn.errors.append("An authorization cannot move to another patient.")
        elif coverage is None:
            form.mrn.errors.append("The patient has no coverage active on the first day.")
        else:
            try:
                saved = iop.save_authorization(patient=patient, coverage_id=coverage.id,
                                               billing_code_id=form.code.data, start=form.start.data,
                                               end=form.end.data, units=form.units.data, number=form.number.data,
                                               actor=_actor(), authorization=auth)
            except iop.IopError as error:
                db.session.rollback()
                form.start.errors.append(str(error))
            else:
                audit.record("authorization.saved", "authorization", actor=current_user, object_id=saved.id,
                             patient_id=patient.id, account_id=patient.account_id,
                             detail={"start": saved.start_date.isoformat(), "end": saved.end_date.isoformat(),
                                     "units": saved.units_allotted}, **audit_context())
                flash("Authorization saved.", "info")
                return redirect(url_for(".authorizations"))
    status = 400 if form.is_submitted() else 200
    return render_template("staff/iop/authorization_form.html", form=form, auth=auth), status
