"""Payment plans for billing staff: the list with its health, set-up, approval and cancellation."""
from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal import audit, money, payments, plans
from portal.auth import permission_required
from portal.clock import facility_today
from portal.extensions import db
from portal.forms import Form
from portal.models import Account, PaymentPlan
from portal.web import audit_context

bp = Blueprint("staff_plans", __name__, url_prefix="/staff/plans")


class SetupForm(Form):
    months = IntegerField("Number of months", validators=[Optional(), NumberRange(min=1, max=60)])
    monthly = StringField("Or a monthly amount (dollars)", validators=[Optional(), Length(max=12)])
    down_payment = StringField("Down payment (dollars; empty for the policy minimum)",
                               validators=[Optional(), Length(max=12)])
    first_due = StringField("First payment date (YYYY-MM-DD)", validators=[DataRequired(), Length(max=10)])
    card = SelectField("Card for automatic payments", coerce=int)


class ReasonForm(Form):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=300)])


def _actor() -> str:
    return f"user:{current_user.id}"


@bp.get("/")
@permission_required("plans.manage")
def index():
    kind = request.args.get("show", "all")
    if kind not in plans.FILTERS:
        kind = "all"
    return render_template("staff/plans/index.html", rows=plans.listing(kind, facility_today()), kind=kind,
                           filters=plans.FILTERS, health=plans.health())


@bp.route("/new/<int:account_id>", methods=["GET", "POST"])
@permission_required("plans.manage")
def setup(account_id: int):
    account = db.session.get(Account, account_id) or abort(404)
    cards = payments.saved_cards(account)
    form = SetupForm(data={"first_due": (facility_today() + timedelta(days=7)).isoformat()})
    form.card.choices = [(c.id, f"{c.brand.title()} ending {c.last4}") for c in cards]
    schedule, error = None, None
    if form.is_submitted() and form.validate():
        try:
            monthly = money.parse_cents(form.monthly.data) if form.monthly.data else None
            down = money.parse_cents(form.down_payment.data) if form.down_payment.data else None
            schedule = plans.build_schedule(account.patient_due_cents, date.fromisoformat(form.first_due.data),
                                            plans.policy(), months=None if monthly else form.months.data,
                                            monthly_cents=monthly, down_payment_cents=down)
            if request.form.get("confirm"):
                card = next((c for c in cards if c.id == form.card.data), None)
                plan = plans.create(account, schedule, card=card, actor=_actor(), by_patient=False)
                audit.record("plan.created", "payment_plan", actor=current_user, object_id=plan.id,
                             account_id=account.id, detail={"months": plan.months, "balance_cents": plan.balance_cents},
                             **audit_context())
                flash("Payment plan set up.", "info")
                return redirect(url_for(".detail", plan_id=plan.id))
        except ValueError as exc:
            db.session.rollback()
            error = str(exc) if isinstance(exc, plans.PlanError) else "Check the dates and amounts."
    return render_template("staff/plans/setup.html", account=account, form=form, schedule=schedule, error=error,
                           cards=cards), 400 if error else 200


@bp.get("/<int:plan_id>")
@permission_required("plans.manage")
def detail(plan_id: int):
    plan = db.session.get(PaymentPlan, plan_id) or abort(404)
    audit.record("plan.viewed", "payment_plan", actor=current_user, object_id=plan.id, account_id=plan.account_id,
                 **audit_context())
    return render_template("staff/plans/detail.html", plan=plan, reason_form=ReasonForm(),
                           change_form=ChangeForm(), remaining=plans.remaining_cents(plan))


@bp.post("/<int:plan_id>/approve")
@permission_required("plans.manage")
def approve(plan_id: int):
    plan = db.session.get(PaymentPlan, plan_id) or abort(404)
    try:  # the CSRF token is checked for every form post by the app
        plans.approve(plan, actor=_actor())
        audit.record("plan.approved", "payment_plan", actor=current_user, object_id=plan.id, account_id=plan.account_id,
                     **audit_context())
        flash("Plan approved.", "info")
    except plans.PlanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for(".detail", plan_id=plan.id))


@bp.post("/<int:plan_id>/cancel")
@permission_required("plans.manage")
def cancel(plan_id: int):
    plan = db.session.get(PaymentPlan, plan_id) or abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("Say why the plan is cancelled.", "error")
        return redirect(url_for(".detail", plan_id=plan.id))
    try:
        plans.cancel(plan, reason=form.reason.data, actor=_actor())
        audit.record("plan.cancelled", "payment_plan", actor=current_user, object_id=plan.id,
                     account_id=plan.account_id, detail={"reason": form.reason.data}, **audit_context())
        flash("Plan cancelled.", "info")
    except plans.PlanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for(".detail", plan_id=plan.id))


class ChangeForm(Form):
    months = IntegerField("New number of months", validators=[Optional(), NumberRange(min=1, max=60)])
    monthly = StringField("Or a new monthly amount (dollars)", validators=[Optional(), Length(max=12)])


@bp.post("/<int:plan_id>/payments/<int:installment_id>/move")
@permission_required("plans.manage")
def move(plan_id: int, installment_id: int):
    plan = db.session.get(PaymentPlan, plan_id) or abort(404)
    installment = next((i for i in plan.installments if i.id == installment_id), None) or abort(404)
    form = ReasonForm()
    try:
        if not form.validate_on_submit():
            raise plans.PlanError("Say why the payment is moved.")
        moved = plans.skip(installment, reason=form.reason.data, actor=current_user, **audit_context())
        flash(f"Payment moved to {moved.due_date:%b %d, %Y}.", "info")
    except plans.PlanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for(".detail", plan_id=plan.id))


@bp.post("/<int:plan_id>/change")
@permission_required("plans.manage")
def change(plan_id: int):
    plan = db.session.get(PaymentPlan, plan_id) or abort(404)
    form = ChangeForm()
    try:
        if not form.validate_on_submit() or not (form.months.data or form.monthly.data):
            raise plans.PlanError("Enter a number of months or a monthly amount.")
        monthly = money.parse_cents(form.monthly.data) if form.monthly.data else None
        plans.reamortise(plan, months=None if monthly else form.months.data, monthly_cents=monthly,
                         actor=current_user, **audit_context())
        flash("The rest of the plan was spread again.", "info")
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, plans.PlanError) else "Enter an amount like 50.00.", "error")
    return redirect(url_for(".detail", plan_id=plan.id))


@bp.post("/invite/<int:account_id>")
@permission_required("plans.manage")
def invite(account_id: int):
    """Mail the guarantor a link to add a card and choose a plan in the portal."""
    account = db.session.get(Account, account_id) or abort(404)
    try:
        plans.invite(account, actor=current_user, **audit_context())
        flash(f"Sent a plan link to {account.email}.", "info")
    except plans.PlanError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    return redirect(url_for(".setup", account_id=account.id))
