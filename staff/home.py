"""Staff dashboard shell and the user's own security settings."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal import claims, notifications
from portal import dashboard as review_dashboard
from portal.auth import permission_required
from staff import auth as staff_auth
from staff.forms import ActionForm

bp = Blueprint("staff_home", __name__, url_prefix="/staff")

# The page each dashboard worklist opens.
WORKLIST_PAGES = {
    "accounts": "staff_accounts.index", "aging": "staff_collections.aging",
    "collections_queue": "staff_collections.queue", "era_exceptions": "staff_remittances.exceptions",
    "denials": "staff_denials.worklist", "underpayments": "staff_underpayments.underpayment_list",
    "iop_review": "staff_iop.review", "leads": "staff_admissions.leads", "gfes": "staff_admissions.gfe_list",
    "staff_logins": "staff_admin.users_list", "card_events": "staff_card_events.index",
    "claims": "staff_claims.index",
}


@bp.get("/")
@permission_required("dashboard.view")
def dashboard():
    cards = review_dashboard.cards_for(current_user)
    links = {card.title: url_for(WORKLIST_PAGES[card.worklist]) for card in cards if card.worklist}
    denials = claims.denial_figures() if current_user.can("claims.view") else None
    return render_template("staff/dashboard.html", cards=cards, links=links, denials=denials)


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
