"""The page a billing email's stop link opens, and the one-click stop mail clients send."""
from flask import Blueprint, abort, render_template, request

from portal import facility
from portal.extensions import csrf, limiter
from portal.mail import email_stop
from portal.web import audit_context

bp = Blueprint("email_stop", __name__, url_prefix="/email/stop")


def _account(token: str):
    return email_stop.account_for(token) or abort(404)


@bp.get("/<token>")
def confirm(token: str):
    # Opening the link changes nothing: mail scanners fetch links before anyone reads the email.
    account = _account(token)
    return render_template("public/email_stop.html", token=token, done=email_stop.has_stopped(account),
                           facility=facility.current())


# A mail client's one-click request (RFC 8058) carries no cookie or form token; the signed link is its
# credential. Posts from the page's own form are CSRF-checked as usual.
@bp.post("/<token>")
@csrf.exempt
@limiter.limit("30 per hour")
def stop(token: str):
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        csrf.protect()
    account = _account(token)
    email_stop.stop(account, actor="guarantor:mail-client" if one_click else "guarantor:email-link",
                    **audit_context())
    if one_click:
        return "", 204
    return render_template("public/email_stop.html", token=token, done=True, facility=facility.current())
