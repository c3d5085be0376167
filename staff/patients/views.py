"""Patients and guarantors for staff: register (with the duplicate check), edit, coverages, and merging."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal import audit, money, patients
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Account, Coverage, Patient, Payer
from portal.web import audit_context, db_id
from staff.patients.forms import (
    CoverageForm,
    EndCoverageForm,
    GuarantorForm,
    MergeForm,
    PatientForm,
    RegisterForm,
    coverage_details,
)

bp = Blueprint("staff_patients", __name__, url_prefix="/staff/patients")

# Where a problem the domain names shows on these forms, when the field's name differs.
COVERAGE_FIELDS = {"payer_id": "payer_plan", "plan_id": "payer_plan", "start_date": "coverage_start",
                   "end_date": "coverage_end", "deductible_cents": "deductible",
                   "deductible_met_cents": "deductible_met", "coinsurance_bps": "coinsurance",
                   "copay_cents": "copay", "oop_max_cents": "oop_max", "oop_met_cents": "oop_met"}
REGISTER_FIELDS = {"guarantor_preferred_language": "preferred_language",
                   **{f"coverage_{k}": v for k, v in COVERAGE_FIELDS.items()},
                   "coverage_member_id": "member_id", "coverage_group_number": "group_number",
                   "coverage_priority": "payer_plan"}


def _actor() -> str:
    return f"user:{current_user.id}"


def _live_patient(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.merged_into_id is not None:
        abort(404)
    return patient


def _show_problems(form, problems: dict[str, str], fields: dict[str, str] | None = None) -> list[str]:
    """Put each problem under its field; what belongs to no field is returned for the top of the form."""
    general = []
    for key, message in problems.items():
        name = (fields or {}).get(key, key)
        if name and name in form:
            form[name].errors.append(message)
        else:
            general.append(message)
    return general


def _payer_choices(current: Coverage | None = None) -> dict[str, list[tuple[str, str]]]:
    """Active payers (and the coverage's own, if it has gone inactive), each with its plans: "payer:plan"."""
    payers = db.session.scalars(select(Payer).options(selectinload(Payer.plans))
                                .where(Payer.active.is_(True) | (Payer.id == (current.payer_id if current else -1)))
                                .order_by(Payer.name)).all()
    return {payer.name: [(f"{payer.id}:0", f"{payer.name} (no particular plan)"), *[
        (f"{payer.id}:{plan.id}", plan.name) for plan in sorted(payer.plans, key=lambda p: p.name)
        if plan.active or (current is not None and current.plan_id == plan.id)]] for payer in payers}


# ---------------------------------------------------------------- registering


@bp.route("/new", methods=["GET", "POST"])
@permission_required("accounts.edit")
def register():
    form = RegisterForm()
    form.payer_plan.choices = {"": [("", "Choose a payer")], **_payer_choices()}
    if not form.is_submitted():
        account_id = request.args.get("account", type=db_id)
        attach = db.session.get(Account, account_id) if account_id else None
        if attach is not None:
            form.account_number.data = attach.number
            form.relationship.data = "19"
        return render_template("staff/patients/register.html", form=form, matches=[], general=[])
    matches, general, status = [], [], 400
    if form.validate():
        account, details = None, form.patient_details()
        number = (form.account_number.data or "").strip()
        if number:
            account = db.session.scalar(select(Account).where(func.lower(Account.number) == number.lower()))
            if account is None:
                form.account_number.errors.append("No account has this number.")
        coverage = coverage_details(form) if form.wants_coverage() else None
        if not form.account_number.errors:
            matches = [] if form.create_anyway.data else patients.find_duplicates(
                details, [coverage.member_id] if coverage else [])
            if matches:
                audit.record("patient.duplicates_shown", "patient", actor=current_user,
                             detail={"patients": [p.id for p in matches]}, **audit_context())
                status = 200  # nothing wrong yet: the biller decides
            else:
                try:
                    patient = patients.register(
                        details, actor=_actor(), mrn=form.mrn.data, relationship=form.relationship.data,
                        guarantor=form.guarantor_details(), account=account, coverage=coverage, **audit_context())
                except patients.PatientError as error:
                    general = _show_problems(form, error.problems, REGISTER_FIELDS)
                else:
                    flash(f"Registered {patient.full_name}, MRN {patient.mrn}, on account {patient.account.number}.",
                          "info")
                    return redirect(url_for("staff_accounts.account", account_id=patient.account_id))
    return render_template("staff/patients/register.html", form=form, matches=matches, general=general), status


# ---------------------------------------------------------------- editing patients and guarantors


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@permission_required("accounts.edit")
def edit(patient_id: int):
    patient = _live_patient(patient_id)
    form = PatientForm(obj=None if request.method == "POST" else patient,
                       data=None if request.method == "POST" else {"relationship": patient.relationship_to_guarantor})
    general, status = [], 200
    if form.validate_on_submit():
        try:
            patients.update_patient(patient, form.patient_details(), relationship=form.relationship.data,
                                    actor=_actor(), **audit_context())
        except patients.PatientError as error:
            general, status = _show_problems(form, error.problems), 400
        else:
            flash(f"Saved {patient.full_name}'s details.", "info")
            return redirect(url_for("staff_accounts.account", account_id=patient.account_id))
    elif form.is_submitted():
        status = 400
    else:
        audit.record("patient.viewed", "patient", actor=current_user, object_id=patient.id, patient_id=patient.id,
                     account_id=patient.account_id, detail={"page": "edit"}, **audit_context())
    return render_template("staff/patients/edit.html", form=form, patient=patient, general=general), status


@bp.route("/accounts/<int:account_id>/guarantor", methods=["GET", "POST"])
@permission_required("accounts.edit")
def guarantor(account_id: int):
    account = db.session.get(Account, account_id) or abort(404)
    form = GuarantorForm(data=None if request.method == "POST" else _guarantor_data(account))
    general, status = [], 200
    if form.validate_on_submit():
        try:
            patients.update_guarantor(account, form.guarantor_details(), actor=_actor(), **audit_context())
        except patients.PatientError as error:
            general, status = _show_problems(form, error.problems), 400
        else:
            flash("Saved the guarantor's details.", "info")
            return redirect(url_for("staff_accounts.account", account_id=account.id))
    elif form.is_submitted():
        status = 400
    else:
        audit.record("guarantor.viewed", "account", actor=current_user, object_id=account.id, account_id=account.id,
                     detail={"page": "edit"}, **audit_context())
    return render_template("staff/patients/guarantor.html", form=form, account=account, general=general), status


def _guarantor_data(account: Account) -> dict:
    first, _, last = account.guarantor_name.partition(" ")
    return {"first_name": account.guarantor_first_name or first, "last_name": account.guarantor_last_name or last,
            "date_of_birth": account.guarantor_date_of_birth, "sex": account.guarantor_sex or "",
            **{name: getattr(account, name) for name in ("address_line1", "address_line2", "city", "state",
                                                          "zip_code", "phone", "email", "preferred_language")}}


# ---------------------------------------------------------------- coverages


@bp.route("/<int:patient_id>/coverages/new", methods=["GET", "POST"])
@permission_required("accounts.edit")
def coverage_new(patient_id: int):
    return _coverage_form(_live_patient(patient_id), None)


@bp.route("/coverages/<int:coverage_id>", methods=["GET", "POST"])
@permission_required("accounts.edit")
def coverage_edit(coverage_id: int):
    coverage = db.session.get(Coverage, coverage_id) or abort(404)
    return _coverage_form(_live_patient(coverage.patient_id), coverage)


def _coverage_data(coverage: Coverage) -> dict:
    plain = money.format_plain
    return {
        "payer_plan": f"{coverage.payer_id}:{coverage.plan_id or 0}", "member_id": coverage.member_id,
        "group_number": coverage.group_number, "coverage_start": coverage.start_date,
        "coverage_end": coverage.end_date, "priority": coverage.priority, "in_network": coverage.in_network,
        "subscriber_relationship": coverage.subscriber_relationship,
        "subscriber_first_name": coverage.subscriber_first_name, "subscriber_last_name": coverage.subscriber_last_name,
        "subscriber_date_of_birth": coverage.subscriber_date_of_birth, "subscriber_sex": coverage.subscriber_sex or "",
        "deductible": plain(coverage.deductible_cents), "deductible_met": plain(coverage.deductible_met_cents),
        "coinsurance": plain(coverage.coinsurance_bps).removesuffix(".00"), "copay": plain(coverage.copay_cents),
        "copay_per": coverage.copay_per, "oop_max": plain(coverage.oop_max_cents),
        "oop_met": plain(coverage.oop_met_cents),
    }


def _coverage_form(patient: Patient, coverage: Coverage | None):
    form = CoverageForm(data=_coverage_data(coverage) if coverage and request.method != "POST" else None)
    form.payer_plan.choices = {"": [("", "Choose a payer")], **_payer_choices(coverage)}
    general, status = [], 200
    if form.validate_on_submit():
        try:
            saved = patients.save_coverage(patient, coverage_details(form), coverage=coverage, actor=_actor(),
                                           **audit_context())
        except patients.PatientError as error:
            general, status = _show_problems(form, error.problems, COVERAGE_FIELDS), 400
        else:
            flash(f"Saved {saved.payer.name} coverage for {patient.full_name}.", "info")
            return redirect(url_for("staff_accounts.account", account_id=patient.account_id))
    elif form.is_submitted():
        status = 400
    elif coverage is not None:
        audit.record("coverage.viewed", "coverage", actor=current_user, object_id=coverage.id, patient_id=patient.id,
                     account_id=patient.account_id, **audit_context())
    return render_template("staff/patients/coverage.html", form=form, patient=patient, coverage=coverage,
                           end_form=EndCoverageForm(data={"end_date": facility_today()}), general=general), status


@bp.post("/coverages/<int:coverage_id>/end")
@permission_required("accounts.edit")
def coverage_end(coverage_id: int):
    coverage = db.session.get(Coverage, coverage_id) or abort(404)
    patient = _live_patient(coverage.patient_id)
    form = EndCoverageForm()
    if not form.validate_on_submit():
        flash(" ".join(form.end_date.errors) or "Enter the last day covered.", "error")
        return redirect(url_for(".coverage_edit", coverage_id=coverage.id))
    try:
        patients.end_coverage(coverage, form.end_date.data, actor=_actor(), **audit_context())
    except patients.PatientError as error:
        flash(str(error), "error")
        return redirect(url_for(".coverage_edit", coverage_id=coverage.id))
    flash(f"The coverage ends on {form.end_date.data:%m/%d/%Y}.", "info")
    return redirect(url_for("staff_accounts.account", account_id=patient.account_id))


# ---------------------------------------------------------------- merging duplicates


@bp.route("/<int:patient_id>/merge", methods=["GET", "POST"])
@permission_required("patients.merge")
def merge(patient_id: int):
    keep = _live_patient(patient_id)
    form = MergeForm()
    general, status = [], 200
    if form.validate_on_submit():
        duplicate = db.session.scalar(select(Patient).where(
            func.lower(Patient.mrn) == form.duplicate_mrn.data.strip().lower(), Patient.merged_into_id.is_(None)))
        if duplicate is None:
            form.duplicate_mrn.errors.append("No patient (not already merged) has this MRN.")
            status = 400
        else:
            try:
                moved = patients.merge(keep, duplicate, actor=_actor(), **audit_context())
            except patients.PatientError as error:
                general, status = _show_problems(form, error.problems), 400
            else:
                summary = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in moved.items()) or "nothing"
                flash(f"Merged MRN {duplicate.mrn} into {keep.full_name} (MRN {keep.mrn}); moved: {summary}.", "info")
                return redirect(url_for("staff_accounts.account", account_id=keep.account_id))
    elif form.is_submitted():
        status = 400
    details = patients.PatientDetails(first_name=keep.first_name, last_name=keep.last_name,
                                      date_of_birth=keep.date_of_birth)
    candidates = [p for p in patients.find_duplicates(details, [c.member_id for c in keep.coverages])
                  if p.id != keep.id]
    audit.record("patient.merge_viewed", "patient", actor=current_user, object_id=keep.id, patient_id=keep.id,
                 account_id=keep.account_id, detail={"candidates": [p.id for p in candidates]}, **audit_context())
    return render_template("staff/patients/merge.html", form=form, keep=keep, candidates=candidates,
                           general=general), status
