"""The language switch on every patient and public page: it sticks (a cookie, and a signed-in guarantor's
preferred language, which mail and statements use too)."""
from flask import Blueprint, abort, redirect, request
from flask_login import current_user

from portal import audit
from portal.auth import safe_next
from portal.extensions import db
from portal.i18n import COOKIE, LANGUAGES, signed_in_accounts
from portal.web import audit_context

bp = Blueprint("language", __name__)
ONE_YEAR = 365 * 24 * 3600


@bp.post("/language")
def switch():
    language = request.form.get("lang", "")
    if language not in LANGUAGES:
        abort(400, description="Choose English or Español.")
    accounts = signed_in_accounts()
    if accounts is not None:
        for account in db.session.scalars(accounts):
            if account.preferred_language != language:
                audit.record("account.language_changed", "account", actor=current_user, object_id=account.id,
                             account_id=account.id, detail={"from": account.preferred_language, "to": language},
                             **audit_context())
                account.preferred_language = language
    response = redirect(safe_next("/"))
    response.set_cookie(COOKIE, language, max_age=ONE_YEAR, samesite="Lax", secure=request.is_secure, httponly=True)
    return response
