"""Login for patients, the user loader, and the guards every view uses."""
import functools
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from portal.extensions import db, limiter, login_manager
from portal.forms import ForgotPasswordForm, LoginForm, NewPasswordForm
from portal.models import User
from portal.people import password_reset, users
from portal.web import audit_context, keep_refusal

bp = Blueprint("auth", __name__)


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.localize_callback = str  # the lazy message in the language of the request, flashed as text
    login_manager.session_protection = "strong"
    app.before_request(_end_idle_patient_session)
    app.register_blueprint(bp)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The login row, read on every request (one primary-key query): a deactivated login, a changed
    password or a logout anywhere ends the session at its next request (the session carries the login's
    session version from sign-in; each of those bumps it)."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or session.get("session_version") != user.session_version:
        return None
    return user if _same_password(users.password_fingerprint(user)) else None


def _end_idle_patient_session():
    """A patient session ends after PATIENT_IDLE_MINUTES without a request (staff: see staff.require_staff_session)."""
    if session.get("kind") != "patient" or "_user_id" not in session:
        return None
    now = time.time()
    if now - session.get("last_seen", 0) > current_app.config["PATIENT_IDLE_MINUTES"] * 60:
        logout_user()
        session.clear()
        flash(_("You were signed out after a period of inactivity."), "info")
        return None  # the page's own guard sends the visitor to sign in
    session["last_seen"] = now
    return None


def _same_password(fingerprint: str) -> bool:
    """A session opened before the password changed ends (sessions from before this check carry none)."""
    return session.get("pw_fingerprint", fingerprint) == fingerprint


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def safe_next(default: str) -> str:
    """Only follow a ?next= that stays on this site."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc and not parts.scheme:
        return target
    return default


def check_password(form: LoginForm, kind: str) -> users.LoginResult:
    config = current_app.config
    result = users.authenticate(
        form.email.data, form.password.data, kind=kind, max_failures=config["LOGIN_MAX_FAILURES"],
        lockout_minutes=config["LOGIN_LOCKOUT_MINUTES"], totp_required_roles=config["TOTP_REQUIRED_ROLES"],
        **audit_context(),
    )
    if result.user is None:
        keep_refusal()  # the page answers 401, but the failure counts toward the lockout and is audited
    return result


def start_session(user: User) -> None:
    session.clear()  # a fresh session id at every login (no fixation)
    login_user(user)
    session["kind"] = user.kind
    session["pw_fingerprint"] = users.password_fingerprint(user)
    session["session_version"] = user.session_version
    session["signed_in_at"] = session["last_seen"] = time.time()
    users.record_login(user, **audit_context())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("patient.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = check_password(form, kind="patient")
        if result.user:
            start_session(result.user)
            return redirect(safe_next(url_for("patient.home")))
        flash(str(result.error), "error")
        return render_template("login.html", form=form, side="patient"), 401
    status = 400 if form.is_submitted() else 200
    return render_template("login.html", form=form, side="patient"), status


def reset_rate_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


def _reset_email_key() -> str:
    return "password-reset:" + (request.form.get("email") or "").strip().lower()


@bp.route("/login/forgot", methods=["GET", "POST"])
@limiter.limit(reset_rate_limit, methods=["POST"])
@limiter.limit(reset_rate_limit, key_func=_reset_email_key, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same answer whether or not the email has a login.
        password_reset.request_link(form.email.data, **audit_context())
        return render_template("login_forgot.html", form=form, sent=True)
    return render_template("login_forgot.html", form=form, sent=False), 400 if form.is_submitted() else 200


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
@limiter.limit(reset_rate_limit, methods=["POST"])
def reset_password(token: str):
    user = password_reset.user_for(token)
    if user is None:
        return render_template("login_reset.html", form=None), 404

    def save(password: str):
        try:
            password_reset.set_new_password(user, password, **audit_context())
        except password_reset.LinkUsed:  # another tab or device used this link a moment ago
            return render_template("login_reset.html", form=None), 409
        flash(_("Your password is changed. Sign in with the new one."), "info")
        return redirect(url_for(".login"))

    return choose_password("login_reset.html", save)


def choose_password(template: str, save, **context):
    """The page where the owner of a mailed link chooses a password; `save(password)` keeps it and
    answers, or raises UserError for the field."""
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            return save(form.password.data)
        except users.UserError as exc:
            form.password.errors.append(str(exc))
    return render_template(template, form=form, **context), 400 if form.is_submitted() else 200


def end_session() -> None:
    """Sign out here and everywhere this login is signed in: a copy of the cookie no longer works."""
    if current_user.is_authenticated:
        users.end_sessions(current_user)
    logout_user()
    session.clear()


@bp.post("/logout")
def logout():
    end_session()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


def patient_required(view):
    """Patient pages: a signed-in patient login. Objects are then checked in services."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def permission_required(permission: str):
    """Staff views: the user's role must grant `permission`."""

    def deco(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("staff_auth.login", next=request.full_path))
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission
        return wrapped

    return deco
