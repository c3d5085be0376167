"""Admin: staff users, roles and their permissions, the audit log, facility settings."""
from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import audit, facility, iop, money, plans
from portal.auth import permission_required
from portal.clock import facility_zone
from portal.extensions import db
from portal.facility import codes
from portal.models import Role, User
from portal.people import users
from portal.permissions import PERMISSIONS
from portal.web import audit_context, db_id
from staff.admin.forms import (
    AuditFilterForm,
    BillingCodeForm,
    CodeGroupForm,
    EditUserForm,
    FacilityForm,
    IopSettingsForm,
    NewUserForm,
    PlanPolicyForm,
)
from staff.forms import ActionForm

bp = Blueprint("staff_admin", __name__, url_prefix="/staff/admin")


def _role_choices():
    return [(r.name, r.name) for r in db.session.scalars(select(Role).order_by(Role.name))]


def _staff_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


@bp.get("/users")
@permission_required("admin.users")
def users_list():
    show = request.args.get("show", "active")
    stmt = select(User).where(User.kind == "staff").order_by(User.email)
    if show == "active":
        stmt = stmt.where(User.active.is_(True))
    return render_template("staff/admin/users.html", users=db.session.scalars(stmt).all(), show=show,
                           action_form=ActionForm())


@bp.route("/users/new", methods=["GET", "POST"])
@permission_required("admin.users")
def user_new():
    form = NewUserForm()
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        try:
            user = users.create_user(email=form.email.data, full_name=form.full_name.data,
                                     password=form.password.data, kind="staff", role_name=form.role.data,
                                     actor=current_user, **audit_context())
        except users.UserError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(f"Created {user.email}. Share the temporary password in person.", "info")
            return redirect(url_for(".users_list"))
    return render_template("staff/admin/user_new.html", form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@permission_required("admin.users")
def user_edit(user_id: int):
    user = _staff_user(user_id)
    form = EditUserForm(data={"role": user.role.name, "active": user.active})
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        try:
            users.update_staff_user(user, actor=current_user, role_name=form.role.data, active=form.active.data,
                                    **audit_context())
        except users.UserError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            flash(f"Saved {user.email}.", "info")
            return redirect(url_for(".users_list"))
    return render_template("staff/admin/user_edit.html", form=form, user=user, action_form=ActionForm()), \
        400 if form.errors else 200


@bp.post("/users/<int:user_id>/unlock")
@permission_required("admin.users")
def user_unlock(user_id: int):
    user = _staff_user(user_id)
    if ActionForm().validate_on_submit():
        users.unlock(user, actor=current_user, **audit_context())
        flash(f"Unlocked {user.email}.", "info")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/reset-two-factor")
@permission_required("admin.users")
def user_reset_totp(user_id: int):
    user = _staff_user(user_id)
    if ActionForm().validate_on_submit():
        users.reset_totp(user, actor=current_user, **audit_context())
        flash(f"Two-factor reset for {user.email}: they enrol again at their next sign-in.", "info")
    return redirect(url_for(".user_edit", user_id=user.id))


@bp.route("/roles", methods=["GET", "POST"])
@permission_required("admin.roles")
def roles():
    all_roles = db.session.scalars(select(Role).order_by(Role.name)).all()
    form = ActionForm()
    if form.validate_on_submit():
        try:
            for role in all_roles:
                chosen = {p for p in PERMISSIONS if request.form.get(f"{role.name}:{p}")}
                users.set_role_permissions(role, chosen, actor=current_user, **audit_context())
        except users.UserError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return render_template("staff/admin/roles.html", roles=all_roles, permissions=PERMISSIONS,
                                   form=form), 400
        flash("Role permissions saved.", "info")
        return redirect(url_for(".roles"))
    return render_template("staff/admin/roles.html", roles=all_roles, permissions=PERMISSIONS, form=form)


@bp.get("/audit")
@permission_required("admin.audit")
def audit_log():
    form = AuditFilterForm(request.args)
    form.validate()
    zone = facility_zone()

    def start_of(day):
        return datetime.combine(day, time.min, zone) if day and not form.errors else None

    until = start_of(form.until.data)
    page = audit.search(
        actor_email=form.actor.data, action=form.action.data,
        account_id=form.account_id.data if not form.account_id.errors else None,
        patient_id=form.patient_id.data if not form.patient_id.errors else None,
        since=start_of(form.since.data), until=until + timedelta(days=1) if until else None,
        page=request.args.get("page", 1, type=db_id),
    )
    return render_template("staff/admin/audit.html", form=form, page=page, zone=zone)


@bp.route("/facility", methods=["GET", "POST"])
@permission_required("admin.settings")
def facility_settings():
    record = facility.current()
    form = FacilityForm(obj=record, data={"statement_minimum": money.format_plain(record.statement_minimum_cents),
                                          "payment_minimum": money.format_plain(record.payment_minimum_cents)})
    if form.validate_on_submit():
        values = dict(form.data)
        for field in ("statement_minimum", "payment_minimum"):
            try:
                values[f"{field}_cents"] = money.parse_cents(values[field]) if values[field] else None
            except ValueError:
                getattr(form, field).errors.append("Enter an amount like 5.00.")
        if not form.errors:
            facility.update(record, values, actor=current_user, **audit_context())
            flash("Facility settings saved.", "info")
            return redirect(url_for(".facility_settings"))
    return render_template("staff/admin/facility.html", form=form), 400 if form.errors else 200


IOP_FIELDS = ("documentation_group_id", "billable_group_id", "unit_threshold", "minimum_minutes",
              "occurrence_minutes", "arrears_days", "catch_up_days", "alert_role", "default_clinician",
              "default_location", "forecast_alert_days")


@bp.route("/iop-settings", methods=["GET", "POST"])
@permission_required("admin.settings")
def iop_settings():
    record = iop.settings()
    form = IopSettingsForm(obj=record)
    groups = [(g.id, g.name) for g in codes.all_groups()]
    form.documentation_group_id.choices = groups
    form.billable_group_id.choices = groups
    form.alert_role.choices = _role_choices()
    if form.validate_on_submit():
        if form.documentation_group_id.data == form.billable_group_id.data:
            form.billable_group_id.errors.append("Choose two different groups.")
        else:
            facility.save_settings(record)  # read as unsaved defaults until the first save
            changes = {}
            for name in IOP_FIELDS:
                value = getattr(form, name).data
                if name in ("arrears_days", "catch_up_days", "forecast_alert_days"):
                    value = value or 0
                if getattr(record, name) != value:
                    changes[name] = [getattr(record, name), value]
                    setattr(record, name, value)
            audit.record("iop_settings.updated", "iop_settings", actor=current_user, object_id=record.id,
                         detail=changes, **audit_context())
            flash("IOP settings saved.", "info")
            return redirect(url_for(".iop_settings"))
    return render_template("staff/admin/iop_settings.html", form=form), 400 if form.errors else 200


@bp.route("/codes", methods=["GET", "POST"])
@permission_required("admin.settings")
def billing_codes():
    form = BillingCodeForm()
    form.groups.choices = [(g.id, g.name) for g in codes.all_groups()]
    if form.validate_on_submit():
        try:
            price = money.parse_cents(form.price.data or "0")
            codes.save_code(code=form.code.data, description=form.description.data, kind=form.kind.data,
                            price_cents=price, revenue_code=form.revenue_code.data, minutes=form.minutes.data,
                            group_ids=form.groups.data or [], actor=current_user, **audit_context())
        except ValueError as exc:
            db.session.rollback()
            form.price.errors.append(str(exc) if isinstance(exc, codes.CodeError) else "Enter a price like 950.00.")
        else:
            flash(f"Saved {form.code.data}.", "info")
            return redirect(url_for(".billing_codes"))
    return _codes_page(form, CodeGroupForm(prefix="group"))


@bp.post("/codes/groups")
@permission_required("admin.settings")
def billing_code_group():
    group_form = CodeGroupForm(prefix="group")
    if group_form.validate_on_submit():
        try:
            codes.save_group(name=group_form.name.data, purpose=group_form.purpose.data, actor=current_user,
                             **audit_context())
        except codes.CodeError as exc:
            db.session.rollback()
            group_form.name.errors.append(str(exc))
        else:
            flash(f"Added the group {group_form.name.data.strip()}.", "info")
            return redirect(url_for(".billing_codes"))
    form = BillingCodeForm(formdata=None)
    form.groups.choices = [(g.id, g.name) for g in codes.all_groups()]
    return _codes_page(form, group_form)


def _codes_page(form: BillingCodeForm, group_form: CodeGroupForm):
    code_groups: dict[int, list[str]] = {}
    for group in codes.all_groups():
        for code in group.codes:
            code_groups.setdefault(code.id, []).append(group.name)
    status = 400 if form.errors or group_form.errors else 200
    return render_template("staff/admin/codes.html", form=form, group_form=group_form, codes=codes.all_codes(),
                           groups=codes.all_groups(), code_groups=code_groups), status


@bp.route("/plan-policy", methods=["GET", "POST"])
@permission_required("admin.settings")
def plan_policy():
    rules = plans.policy()
    form = PlanPolicyForm(data={
        "min_balance": money.format_plain(rules.min_balance_cents),
        "min_installment": money.format_plain(rules.min_installment_cents),
        "max_term_months": rules.max_term_months, "down_payment_bps": rules.down_payment_bps,
        "down_payment": money.format_plain(rules.down_payment_cents),
        "self_service_max_months": rules.self_service_max_months, "retry_days": rules.retry_days,
        "failures_before_default": rules.failures_before_default, "reminder_lead_days": rules.reminder_lead_days,
        "new_charges_join": rules.new_charges_join,
    })
    if form.validate_on_submit():
        values = {}
        for field, column in (("min_balance", "min_balance_cents"), ("min_installment", "min_installment_cents"),
                              ("down_payment", "down_payment_cents")):
            try:
                values[column] = money.parse_cents(getattr(form, field).data or "0")
            except ValueError:
                getattr(form, field).errors.append("Enter an amount like 25.00.")
        if not form.errors:
            values.update(max_term_months=form.max_term_months.data, down_payment_bps=form.down_payment_bps.data or 0,
                          self_service_max_months=form.self_service_max_months.data,
                          retry_days=",".join(d.strip() for d in form.retry_days.data.split(",")),
                          failures_before_default=form.failures_before_default.data,
                          reminder_lead_days=form.reminder_lead_days.data or 0,
                          new_charges_join=form.new_charges_join.data)
            try:
                plans.update_policy(rules, values, actor=current_user, **audit_context())
            except plans.PlanError as exc:
                form.max_term_months.errors.append(str(exc))
            else:
                flash("Payment plan policy saved.", "info")
                return redirect(url_for(".plan_policy"))
    return render_template("staff/admin/plan_policy.html", form=form), 400 if form.errors else 200
