"""Staff dashboard shell and the user's own security settings."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal import dashboard as review_dashboard
from portal import notifications
from portal.auth import permission_required
from staff import auth as staff_auth
from staff.forms import ActionForm

bp = Blueprint("staff_home", __name__, url_prefix="/staff")


@bp.get("/")
@permission_required("dashboard.view")
def dashboard():
    return render_template("staff/dashboard.html", cards=review_dashboard.cards_for(current_user))


@bp.route("/profile/two-factor", methods=["GET", "POST"])
@permission_required("dashboard.view")
def two_factor():
    if current_user.totp_enabled:
        return render_template("staff/two_factor_on.html")
    return staff_auth.enrolment_page(current_user, on_success=lambda: redirect(url_for(".dashboard")))


@bp.get("/notifications")
@permission_required("dashboard.view")
def notifications_list():
    return render_template("staff/notifications.html", notes=notifications.for_user(current_user),
                           action_form=ActionForm())


@bp.post("/notifications/read")
@permission_required("dashboard.view")
def notifications_read():
    if ActionForm().validate_on_submit():
        notifications.mark_all_read(current_user)
    return redirect(url_for(".notifications_list"))
