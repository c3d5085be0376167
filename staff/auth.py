"""Staff sign-in: password, then TOTP (enrolment first where the role requires it)."""
import time

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user

from portal import facility
from portal.auth import check_password, end_session, login_rate_limit, safe_next, start_session
from portal.extensions import db, limiter
from portal.forms import LoginForm, TotpForm
from portal.models import User
from portal.people import users
from portal.web import audit_context, keep_refusal

bp = Blueprint("staff_auth", __name__, url_prefix="/staff")
PENDING_SECONDS = 300


def _pending_user() -> User | None:
    """The staff user who gave the right password but has not finished two-factor yet."""
    user_id, since = session.get("pending_user_id"), session.get("pending_since", 0)
    if not user_id or time.time() - since > PENDING_SECONDS:
        return None
    return db.session.get(User, user_id)


def _finish(user: User):
    next_url = session.get("pending_next") or url_for("staff_home.dashboard")
    start_session(user)
    session["last_seen"] = time.time()
    return redirect(next_url)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("staff_home.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        result = check_password(form, kind="staff")
        if result.user is None:
            flash(str(result.error), "error")
            return render_template("login.html", form=form, side="staff"), 401
        if not (result.needs_totp or result.needs_totp_enrolment):
            session["pending_next"] = safe_next("")
            return _finish(result.user)
        next_url = safe_next("")
        session.clear()
        session.update(pending_user_id=result.user.id, pending_since=time.time(), pending_next=next_url)
        return redirect(url_for(".totp" if result.needs_totp else ".enrol"))
    return render_template("login.html", form=form, side="staff"), 400 if form.is_submitted() else 200


@bp.route("/login/totp", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def totp():
    user = _pending_user()
    if user is None:
        flash("Please sign in again.", "info")
        return redirect(url_for(".login"))
    form = TotpForm()
    if form.validate_on_submit():
        config = current_app.config
        if users.verify_totp(user, form.code.data, max_failures=config["LOGIN_MAX_FAILURES"],
                             lockout_minutes=config["LOGIN_LOCKOUT_MINUTES"], **audit_context()):
            return _finish(user)
        form.code.errors.append("That code is not valid. Enter the current code from your app.")
        keep_refusal()  # the failed code is audited although the page answers 401
        return render_template("staff/totp.html", form=form), 401
    return render_template("staff/totp.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/login/enrol", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def enrol():
    """Required two-factor enrolment before the first sign-in completes."""
    user = _pending_user()
    if user is None:
        flash("Please sign in again.", "info")
        return redirect(url_for(".login"))
    return enrolment_page(user, on_success=lambda: _finish(user))


def enrolment_page(user: User, on_success):
    """The secret stays on the server (a pending-enrolment row); the session holds only its random id."""
    pending = users.pending_enrolment(user, session.get("enrol_id"))
    session["enrol_id"], secret = pending.id, pending.secret
    form = TotpForm()
    if form.validate_on_submit():
        if users.enrol_totp(user, pending, form.code.data, **audit_context()):
            session.pop("enrol_id", None)
            flash("Two-factor sign-in is on.", "info")
            return on_success()
        form.code.errors.append("That code does not match. Check the time on your phone and try again.")
    if form.is_submitted():
        keep_refusal()  # the page answers 400 but keeps the pending secret it shows
    uri = users.totp_uri(user, secret, issuer=facility.current().name)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/enrol_totp.html", form=form, secret=secret,
                           qr_svg=users.totp_qr_svg(uri)), status


@bp.post("/logout")
def logout():
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for(".login"))
