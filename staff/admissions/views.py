"""Admissions: estimates with full detail, prospects (leads), admitting, Good Faith Estimates, backtest."""
from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, documents, estimates, facility, money
from portal.auth import permission_required
from portal.clock import facility_today
from portal.estimates import gfe
from portal.extensions import db
from portal.models import Estimate, GoodFaithEstimate, InsurancePlan, Lead, Patient, Payer
from portal.web import audit_context
from staff.admissions.forms import (
    AdmitForm,
    DeliveredForm,
    GfeForm,
    LeadForm,
    SettingsForm,
    StaffEstimateForm,
)
from staff.forms import ActionForm

bp = Blueprint("staff_admissions", __name__, url_prefix="/staff/admissions")


def _actor() -> str:
    return f"user:{current_user.id}"


def _patient(mrn: str) -> Patient | None:
    found = select(Patient).where(Patient.mrn == (mrn or "").strip(), Patient.merged_into_id.is_(None))
    return db.session.scalar(found)


def _estimate_form() -> StaffEstimateForm:
    form = StaffEstimateForm(data={"lead": request.args.get("lead", "")} if request.method == "GET" else None)
    form.payer.choices = [("", "Self-pay / all insurers")] + [
        (str(p.id), p.name) for p in db.session.scalars(select(Payer).order_by(Payer.name))]
    form.plan.choices = _plan_choices(form.payer.data)
    form.lead.choices = [("", "—")] + [
        (str(lead.id), f"#{lead.id} {lead.name}") for lead in db.session.scalars(
            select(Lead).where(Lead.status != "closed").order_by(Lead.id.desc()).limit(200))]
    return form


def _plan_choices(payer_id: str | None) -> list:
    """The plans as "Payer: Plan"; once a payer is chosen, its plans only (the page's script hides the other
    payers' plans as the payer changes)."""
    query = select(InsurancePlan).join(Payer).order_by(Payer.name, InsurancePlan.name)
    if (payer_id or "").isdigit() and len(payer_id) <= 9:  # an id, not a number too big for the database
        query = query.where(InsurancePlan.payer_id == int(payer_id))
    return [("", "Any plan")] + [(str(p.id), f"{p.payer.name}: {p.name}") for p in db.session.scalars(query)]


@bp.route("/estimate", methods=["GET", "POST"])
@permission_required("estimates.run")
def estimate():
    form = _estimate_form()
    if not form.validate_on_submit():
        return render_template("staff/admissions/estimate.html", form=form), 400 if form.is_submitted() else 200
    lead = db.session.get(Lead, int(form.lead.data)) if form.lead.data else None
    patient = _patient(form.mrn.data) if form.mrn.data else None
    if form.mrn.data and patient is None:
        form.mrn.errors.append("No patient has that MRN.")
        return render_template("staff/admissions/estimate.html", form=form), 400
    req = estimates.Request(level=form.level.data, days=form.days.data, payer_id=form.payer_id(),
                            plan_id=int(form.plan.data) if form.plan.data else None, benefits=form.benefits())
    try:
        result = estimates.estimate(req, as_of=facility_today(), detail=True)
        if form.save.data:
            saved = estimates.save(result, actor=_actor(), lead=lead, patient=patient, **audit_context())
            flash("Estimate saved.", "info")
            return redirect(url_for(".estimate_detail", estimate_id=saved.id))
    except estimates.EstimateError as error:
        db.session.rollback()
        (form.mrn if "prospect or a patient" in str(error) else form.payer).errors.append(str(error))
        return render_template("staff/admissions/estimate.html", form=form), 400
    return render_template("staff/admissions/estimate.html", form=form, r=result.as_dict(),
                           level_names=estimates.LEVEL_NAMES)


def _saved(estimate_id: int) -> Estimate:
    return db.session.get(Estimate, estimate_id) or abort(404)


@bp.get("/estimates/<int:estimate_id>")
@permission_required("estimates.run")
def estimate_detail(estimate_id: int):
    saved = _saved(estimate_id)
    audit.record("estimate.viewed", "estimate", actor=current_user, object_id=saved.id, patient_id=saved.patient_id,
                 account_id=saved.account_id, **audit_context())
    return render_template("staff/admissions/estimate_detail.html", saved=saved, r=saved.result,
                           level_names=estimates.LEVEL_NAMES)


@bp.get("/estimates/<int:estimate_id>/pdf")
@permission_required("estimates.run")
def estimate_pdf(estimate_id: int):
    saved = _saved(estimate_id)
    audit.record("estimate.printed", "estimate", actor=current_user, object_id=saved.id, patient_id=saved.patient_id,
                 account_id=saved.account_id, **audit_context())
    pdf = documents.render_pdf("pdf/estimate.html", saved=saved, r=saved.result, facility=facility.current(),
                               level_names=estimates.LEVEL_NAMES)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="estimate-{saved.id}.pdf"'})


# ---------------------------------------------------------------- leads


@bp.get("/leads")
@permission_required("estimates.run")
def leads():
    status = request.args.get("status", "open")
    query = select(Lead).order_by(Lead.id.desc())
    if status == "open":
        query = query.where(Lead.status.in_(("new", "contacted")))
    rows = db.session.scalars(query.limit(500)).all()
    audit.record("leads.viewed", "lead", actor=current_user, detail={"count": len(rows)}, **audit_context())
    return render_template("staff/admissions/leads.html", rows=rows, status=status)


@bp.route("/leads/new", methods=["GET", "POST"])
@permission_required("estimates.run")
def lead_new():
    form = LeadForm()
    if form.validate_on_submit():
        try:
            lead = estimates.create_lead(name=form.name.data, phone=form.phone.data, email=form.email.data,
                                         consent=form.consent.data, consent_text="recorded by staff",
                                         payer_id=None, level=None, source="staff", actor=_actor(),
                                         date_of_birth=form.date_of_birth.data, notes=form.notes.data,
                                         **audit_context())
        except estimates.EstimateError as error:
            form.phone.errors.append(str(error))
        else:
            return redirect(url_for(".lead_detail", lead_id=lead.id))
    return render_template("staff/admissions/lead_new.html", form=form), 400 if form.is_submitted() else 200


def _lead(lead_id: int) -> Lead:
    return db.session.get(Lead, lead_id) or abort(404)


@bp.get("/leads/<int:lead_id>")
@permission_required("estimates.run")
def lead_detail(lead_id: int):
    lead = _lead(lead_id)
    audit.record("lead.viewed", "lead", actor=current_user, object_id=lead.id, patient_id=lead.patient_id,
                 **audit_context())
    return render_template("staff/admissions/lead.html", lead=lead, admit_form=AdmitForm(
        data={"date_of_birth": lead.date_of_birth}), action_form=ActionForm())


@bp.post("/leads/<int:lead_id>/contacted")
@permission_required("estimates.run")
def lead_contacted(lead_id: int):
    lead = _lead(lead_id)
    if ActionForm().validate_on_submit() and lead.status == "new":
        lead.status = "contacted"
        audit.record("lead.contacted", "lead", actor=current_user, object_id=lead.id, **audit_context())
    return redirect(url_for(".lead_detail", lead_id=lead.id))


@bp.post("/leads/<int:lead_id>/admit")
@permission_required("estimates.run")
def lead_admit(lead_id: int):
    lead = _lead(lead_id)
    form = AdmitForm()
    if form.validate_on_submit():
        existing = _patient(form.mrn.data) if form.mrn.data else None
        if form.mrn.data and existing is None:
            form.mrn.errors.append("No patient has that MRN.")
        else:
            try:
                patient = estimates.admit(lead, actor=_actor(), patient=existing, first_name=form.first_name.data,
                                          last_name=form.last_name.data, date_of_birth=form.date_of_birth.data,
                                          **audit_context())
            except estimates.EstimateError as error:
                db.session.rollback()
                form.first_name.errors.append(str(error))
            else:
                flash(f"Admitted as {patient.full_name} ({patient.mrn}); saved estimates are on the account.", "info")
                return redirect(url_for(".lead_detail", lead_id=lead.id))
    return render_template("staff/admissions/lead.html", lead=lead, admit_form=form, action_form=ActionForm()), 400


# ---------------------------------------------------------------- Good Faith Estimates


@bp.get("/gfe")
@permission_required("estimates.run")
def gfe_list():
    rows = db.session.scalars(select(GoodFaithEstimate).order_by(GoodFaithEstimate.id.desc()).limit(500)).all()
    audit.record("gfes.viewed", "good_faith_estimate", actor=current_user, detail={"count": len(rows)},
                 **audit_context())
    return render_template("staff/admissions/gfe_list.html", rows=rows, action_form=ActionForm(),
                           today=facility_today())


def _items(text: str) -> list[gfe.Item]:
    items = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            raise ValueError(f"Line {number}: write code, description, quantity, price.")
        try:
            items.append(gfe.Item(parts[0], parts[1], int(parts[2]), money.parse_cents(parts[3])))
        except ValueError:
            raise ValueError(f"Line {number}: the quantity is a whole number and the price like 150.00.") from None
    return items


@bp.route("/gfe/new", methods=["GET", "POST"])
@permission_required("estimates.run")
def gfe_new():
    today = facility_today()
    form = GfeForm(data={"mrn": request.args.get("mrn", ""), "scheduled_on": today, "level": "iop"}
                   if request.method == "GET" else None)
    if form.validate_on_submit():
        patient = _patient(form.mrn.data)
        try:
            extra = _items(form.extra_items.data)
        except ValueError as error:
            form.extra_items.errors.append(str(error))
            extra = None
        if patient is None:
            form.mrn.errors.append("No patient has that MRN.")
        elif extra is not None:
            try:
                made = gfe.create(patient, primary_service=form.primary_service.data, level=form.level.data,
                                  start=form.start.data, end=form.end.data, scheduled_on=form.scheduled_on.data,
                                  requested=form.requested.data, diagnosis_codes=form.diagnosis_codes.data,
                                  items=gfe.default_items(form.level.data, form.quantity.data) + extra,
                                  separately_scheduled=form.separately_scheduled.data, actor=_actor(),
                                  **audit_context())
            except estimates.EstimateError as error:
                db.session.rollback()
                form.start.errors.append(str(error))
            else:
                flash(f"Good Faith Estimate created; deliver it by {made.due_on:%m/%d/%Y}.", "info")
                return redirect(url_for(".gfe_detail", gfe_id=made.id))
    return render_template("staff/admissions/gfe_new.html", form=form), 400 if form.is_submitted() else 200


def _gfe(gfe_id: int) -> GoodFaithEstimate:
    return db.session.get(GoodFaithEstimate, gfe_id) or abort(404)


@bp.get("/gfe/<int:gfe_id>")
@permission_required("estimates.run")
def gfe_detail(gfe_id: int):
    item = _gfe(gfe_id)
    audit.record("gfe.viewed", "good_faith_estimate", actor=current_user, object_id=item.id,
                 patient_id=item.patient_id, account_id=item.account_id, **audit_context())
    return render_template("staff/admissions/gfe.html", g=item, billed=gfe.billed_cents(item),
                           delivered_form=DeliveredForm())


@bp.get("/gfe/<int:gfe_id>/pdf")
@permission_required("estimates.run")
def gfe_pdf(gfe_id: int):
    item = _gfe(gfe_id)
    audit.record("gfe.printed", "good_faith_estimate", actor=current_user, object_id=item.id,
                 patient_id=item.patient_id, account_id=item.account_id, **audit_context())
    return Response(gfe.pdf(item), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="good-faith-estimate-{item.id}.pdf"'})


@bp.post("/gfe/<int:gfe_id>/delivered")
@permission_required("estimates.run")
def gfe_delivered(gfe_id: int):
    item = _gfe(gfe_id)
    form = DeliveredForm()
    if form.validate_on_submit():
        try:
            gfe.mark_delivered(item, how=form.how.data, actor=_actor(), **audit_context())
            flash("Delivery recorded.", "info")
        except estimates.EstimateError as error:
            db.session.rollback()
            flash(str(error), "error")
    return redirect(url_for(".gfe_detail", gfe_id=item.id))


@bp.post("/gfe/check")
@permission_required("estimates.run")
def gfe_check():
    if ActionForm().validate_on_submit():
        found = gfe.check_overages(actor=_actor())
        threshold = money.format_usd(estimates.settings().gfe_dispute_threshold_cents)
        flash(f"{len(found)} Good Faith Estimate(s) newly flagged: billed {threshold} or more above the estimate.",
              "info")
    return redirect(url_for(".gfe_list"))


# ---------------------------------------------------------------- backtest and settings


@bp.get("/backtest")
@permission_required("admin.settings")
def backtest():
    since = request.args.get("since")
    try:
        since_day = date.fromisoformat(since) if since else None
    except ValueError:
        abort(400, "Give the date as YYYY-MM-DD.")
    # It re-estimates every past stay: run on request, not on every visit.
    report = estimates.backtest(since_day) if "run" in request.args else None
    return render_template("staff/admissions/backtest.html", report=report, since=since)


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("admin.settings")
def estimate_settings():
    config = estimates.settings()
    form = SettingsForm(obj=config, data={"gfe_dispute_threshold": config.gfe_dispute_threshold_cents // 100}
                        if request.method == "GET" else None)
    if form.validate_on_submit():
        estimates.update_settings(config, half_life_days=form.half_life_days.data,
                                  minimum_sample=form.minimum_sample.data, lookback_days=form.lookback_days.data,
                                  fallback_stop=form.fallback_stop.data,
                                  waive_balance_bill=form.waive_balance_bill.data,
                                  gfe_dispute_threshold_cents=form.gfe_dispute_threshold.data * 100, actor=_actor(),
                                  **audit_context())
        flash("Estimate settings saved.", "info")
        return redirect(url_for(".estimate_settings"))
    return render_template("staff/admissions/settings.html", form=form), 400 if form.is_submitted() else 200
