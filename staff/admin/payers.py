"""Admin: payers (who claims go to, with their filing and appeal limits) and the plans under each."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import claims, facility, payers
from portal.auth import permission_required
from portal.extensions import db
from portal.models import ClaimRule, InsurancePlan, Payer
from portal.web import audit_context
from staff.admin.setup import form_values, show_refusal
from staff.admin.setup_forms import PAYER_TYPE_LABELS, ClaimRuleForm, PayerForm, PlanForm

bp = Blueprint("staff_payers", __name__, url_prefix="/staff/admin/payers")


def _payer(payer_id: int) -> Payer:
    payer = db.session.get(Payer, payer_id)
    if payer is None:
        abort(404)
    return payer


@bp.get("")
@permission_required("payers.manage")
def index():
    return render_template("staff/admin/payers.html", payers=payers.all_payers(), types=PAYER_TYPE_LABELS)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("payers.manage")
def payer_new():
    form = PayerForm()
    del form.active  # a new payer is active
    if form.validate_on_submit():
        try:
            payer = payers.save_payer(None, form_values(form), actor=current_user, **audit_context())
        except payers.PayerError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Added {payer.name}. Add its plans below.", "info")
            return redirect(url_for(".payer_edit", payer_id=payer.id))
    return render_template("staff/admin/setup_form.html", form=form, title="New payer",
                           back=url_for(".index")), 400 if form.errors else 200


@bp.route("/<int:payer_id>", methods=["GET", "POST"])
@permission_required("payers.manage")
def payer_edit(payer_id: int):
    payer = _payer(payer_id)
    form = PayerForm(obj=payer)
    if form.validate_on_submit():
        try:
            payers.save_payer(payer, form_values(form), actor=current_user, **audit_context())
        except payers.PayerError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Saved {payer.name}.", "info")
            return redirect(url_for(".index"))
    return _payer_page(payer, form, _new_plan_form(formdata=None))


def _new_plan_form(**kwargs) -> PlanForm:
    """The add-a-plan form beside the payer's own: prefixed, so the two forms' fields keep apart."""
    form = PlanForm(prefix="plan", **kwargs)
    del form.active  # a new plan is active
    return form


def _rule_form(rule: ClaimRule | None = None, **kwargs) -> ClaimRuleForm:
    """A claim rule's form (prefixed on the payer page, beside the payer's own form); the providers to choose
    from are the active ones, and the one the rule already names."""
    form = ClaimRuleForm(obj=rule, **kwargs)
    keep = rule.billing_provider_id if rule else None
    form.billing_provider_id.choices = [(0, "Every billing NPI")] + [
        (p.id, f"{p.display_name} (NPI {p.npi})") for p in facility.all_providers() if p.active or p.id == keep]
    if form.billing_provider_id.data is None:
        form.billing_provider_id.data = 0
    return form


def _payer_page(payer: Payer, form: PayerForm, plan_form: PlanForm, rule_form: ClaimRuleForm | None = None):
    rule_form = rule_form or _rule_form(prefix="rule", formdata=None)
    errors = form.errors or plan_form.errors or rule_form.errors
    return render_template("staff/admin/payer.html", form=form, plan_form=plan_form, payer=payer,
                           plans=payers.plans_of(payer), rule_form=rule_form,
                           rules=claims.rules_of(payer)), 400 if errors else 200


@bp.post("/<int:payer_id>/plans")
@permission_required("payers.manage")
def plan_new(payer_id: int):
    payer = _payer(payer_id)
    plan_form = _new_plan_form()
    if plan_form.validate_on_submit():
        try:
            plan = payers.save_plan(payer, None, {"name": plan_form.name.data}, actor=current_user,
                                    **audit_context())
        except payers.PayerError as exc:
            show_refusal(plan_form, exc)
        else:
            flash(f"Added the plan {plan.name}.", "info")
            return redirect(url_for(".payer_edit", payer_id=payer.id))
    return _payer_page(payer, PayerForm(obj=payer, formdata=None), plan_form)


@bp.route("/plans/<int:insurance_plan_id>", methods=["GET", "POST"])
@permission_required("payers.manage")
def plan_edit(insurance_plan_id: int):
    plan = db.session.get(InsurancePlan, insurance_plan_id)
    if plan is None:
        abort(404)
    form = PlanForm(obj=plan)
    back = url_for(".payer_edit", payer_id=plan.payer_id)
    if form.validate_on_submit():
        try:
            payers.save_plan(plan.payer, plan, form_values(form), actor=current_user, **audit_context())
        except payers.PayerError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Saved the plan {plan.name}.", "info")
            return redirect(back)
    return render_template("staff/admin/setup_form.html", form=form, title=f"Plan {plan.name} ({plan.payer.name})",
                           back=back), 400 if form.errors else 200


# ---------------------------------------------------------------- claim rules


def _save_rule(payer: Payer, rule: ClaimRule | None, form: ClaimRuleForm) -> bool:
    """Hand the form to the domain; a refusal lands on the field it names. True when saved."""
    try:
        claims.save_rule(payer, rule, form_values(form), actor=current_user, **audit_context())
    except claims.RuleError as exc:
        show_refusal(form, exc)
        return False
    flash(f"Saved the claim rules for {payer.name}.", "info")
    return True


@bp.post("/<int:payer_id>/claim-rules")
@permission_required("payers.manage")
def rule_new(payer_id: int):
    payer = _payer(payer_id)
    rule_form = _rule_form(prefix="rule")
    if rule_form.validate_on_submit() and _save_rule(payer, None, rule_form):
        return redirect(url_for(".payer_edit", payer_id=payer.id) + "#claim-rules-title")
    return _payer_page(payer, PayerForm(obj=payer, formdata=None), _new_plan_form(formdata=None), rule_form)


@bp.route("/claim-rules/<int:claim_rule_id>", methods=["GET", "POST"])
@permission_required("payers.manage")
def rule_edit(claim_rule_id: int):
    rule = db.session.get(ClaimRule, claim_rule_id)
    if rule is None:
        abort(404)
    payer = rule.payer
    form = _rule_form(rule, prefix="rule")
    back = url_for(".payer_edit", payer_id=payer.id)
    if form.validate_on_submit() and _save_rule(payer, rule, form):
        return redirect(back + "#claim-rules-title")
    return render_template("staff/admin/setup_form.html", form=form, title=f"Claim rules ({payer.name})",
                           back=back), 400 if form.errors else 200
