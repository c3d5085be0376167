"""The staff side. Loaded by name from create_app (portal never imports staff)."""
import time
from importlib import import_module

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

# Each area's blueprint, in the order the staff menu lists them.
AREAS = (
    "staff.home",
    "staff.accounts.views",
    "staff.payments.views",
    "staff.payments.card_events",
    "staff.plans.views",
    "staff.claims.views",
    "staff.invoices.views",
    "staff.remittances.views",
    "staff.remittances.by_hand",
    "staff.remittances.denials",
    "staff.underpayments.views",
    "staff.collections.views",
    "staff.iop.views",
    "staff.admissions.views",
    "staff.finance.views",
    "staff.finance.reconciliation",
    "staff.admin.views",
    "staff.admin.setup",
    "staff.admin.payers",
    "staff.patients.views",
    "staff.charges.views",
    "staff.search",
)


def init_app(app: Flask) -> None:
    from staff.auth import bp as auth_bp

    app.register_blueprint(auth_bp)
    for name in AREAS:
        bp = import_module(name).bp
        app.register_blueprint(bp)
        # Registered on the app, keyed by blueprint, so every app built gets its own guard.
        app.before_request_funcs.setdefault(bp.name, []).append(require_staff_session)
        app.template_context_processors.setdefault(bp.name, []).append(_staff_context)


def _staff_context() -> dict:
    from portal import notifications

    if current_user.is_authenticated and current_user.is_staff:
        return {"unread_alerts": notifications.unread_count(current_user)}
    return {}


def require_staff_session():
    """Every staff page: a staff login whose session has not idled out (HIPAA automatic logoff) nor outlived
    STAFF_SESSION_HOURS since sign-in, however busy."""
    if not current_user.is_authenticated:
        return redirect(url_for("staff_auth.login", next=request.full_path))
    if not current_user.is_staff:
        abort(403)
    now = time.time()
    idle_limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
    last_seen = session.get("last_seen", now)
    if now - last_seen > idle_limit:
        return _signed_out("You were signed out after a period of inactivity.")
    if now - session.get("signed_in_at", 0) > current_app.config["STAFF_SESSION_HOURS"] * 3600:
        return _signed_out("Your session has ended. Please sign in again.")
    session["last_seen"] = now
    return None


def _signed_out(message: str):
    logout_user()
    session.clear()
    flash(message, "info")
    return redirect(url_for("staff_auth.login", next=request.full_path))
