"""Underpayments for billing staff: the worklist, payer drift, contract rates and the detection settings."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal import audit, money, remittances
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.models import (
    InsurancePlan,
    Payer,
    Underpayment,
)
from portal.remittances import underpayments
from portal.web import audit_context, db_id
from staff.underpayments.forms import ContractRateForm, SettingsForm, UnderpaymentForm

bp = Blueprint("staff_underpayments", __name__, url_prefix="/staff/remittances")


def _actor() -> str:
    return f"user:{current_user.id}"


# ---------------------------------------------------------------- underpayments

@bp.get("/underpayments")
@permission_required("claims.view")
def underpayment_list():
    payer_id = request.args.get("payer", type=db_id)
    rows = underpayments.worklist("open", payer_id)
    audit.record("underpayments.viewed", "underpayment", actor=current_user, detail={"count": len(rows)},
                 **audit_context())
    return render_template("staff/era/underpayments.html", rows=rows, form=UnderpaymentForm(),
                           patients=underpayments.patients_of(rows),
                           payers=remittances.payers(), payer_id=payer_id, settings=underpayments.settings())


@bp.post("/underpayments/<int:underpayment_id>")
@permission_required("payments.post")
def resolve_underpayment(underpayment_id: int):
    item = db.session.get(Underpayment, underpayment_id) or abort(404)
    form = UnderpaymentForm()
    if not form.validate_on_submit():
        flash("Add a note saying why.", "error")
        return redirect(url_for(".underpayment_list"))
    try:
        underpayments.resolve(item, form.status.data, form.note.data, actor=_actor(), **audit_context())
    except underpayments.UnderpaymentError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(f"Marked {form.status.data}.", "info")
    return redirect(url_for(".underpayment_list"))


@bp.get("/payers/<int:payer_id>/drift")
@permission_required("claims.view")
def drift(payer_id: int):
    payer = db.session.get(Payer, payer_id) or abort(404)
    table = underpayments.drift(payer.id, today=facility_today())
    top = max((c.median_cents for cells in table.values() for c in cells), default=0)
    return render_template("staff/era/drift.html", payer=payer, table=table, top=top)


@bp.route("/underpayments/settings", methods=["GET", "POST"])
@permission_required("admin.settings")
def underpayment_settings():
    record = underpayments.settings()
    form = SettingsForm(obj=record)
    if form.validate_on_submit():
        underpayments.update_settings(threshold_bps=form.threshold_bps.data, minimum_sample=form.minimum_sample.data,
                                      lookback_days=form.lookback_days.data, actor=_actor(),
                                      **audit_context())
        flash("Underpayment settings saved.", "info")
        return redirect(url_for(".underpayment_settings"))
    return render_template("staff/era/settings.html", form=form), 400 if form.errors else 200


@bp.route("/contract-rates", methods=["GET", "POST"])
@permission_required("admin.settings")
def contract_rates():
    form = ContractRateForm()
    form.payer_id.choices = [(p.id, p.name) for p in remittances.payers()]
    form.plan_id.choices = [(0, "Any plan")] + [
        (p.id, f"{p.payer.name}: {p.name}") for p in db.session.scalars(db.select(InsurancePlan)
                                                                         .order_by(InsurancePlan.name))]
    if form.validate_on_submit():
        plan = db.session.get(InsurancePlan, form.plan_id.data) if form.plan_id.data else None
        try:
            cents = money.parse_cents(form.allowed.data)
        except ValueError:
            form.allowed.errors.append("Enter an amount like 650.00.")
        else:
            if plan is not None and plan.payer_id != form.payer_id.data:
                form.plan_id.errors.append("That plan belongs to another payer.")
            else:
                try:
                    underpayments.add_contract_rate(
                        payer_id=form.payer_id.data, plan_id=plan.id if plan else None,
                        procedure_code=form.procedure_code.data, allowed_cents=cents,
                        effective_from=form.effective_from.data, effective_to=form.effective_to.data,
                        actor=_actor(), **audit_context())
                except underpayments.UnderpaymentError as error:
                    db.session.rollback()
                    form.allowed.errors.append(str(error))
                else:
                    flash("Contract rate saved.", "info")
                    return redirect(url_for(".contract_rates"))
    return render_template("staff/era/contract_rates.html", form=form, rates=underpayments.contract_rates()), \
        400 if form.errors else 200
