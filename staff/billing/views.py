"""Accounts for billing staff: search and the account's financial record (audited)."""
from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from portal.auth import permission_required
from portal.extensions import db
from portal.models import Account
from portal.services import accounts, audit

bp = Blueprint("staff_billing", __name__, url_prefix="/staff/accounts")


@bp.get("/")
@permission_required("accounts.view")
def index():
    query = request.args.get("q", "")
    found = accounts.search(query)
    if query:
        audit.record("account.searched", "account", actor=current_user, detail={"results": len(found)})
    return render_template("staff/billing/accounts.html", accounts=found, query=query)


@bp.get("/<int:account_id>")
@permission_required("accounts.view")
def account(account_id: int):
    found = db.session.get(Account, account_id)
    if found is None:
        abort(404)
    audit.record("account.viewed", "account", actor=current_user, object_id=found.id, account_id=found.id,
                 detail={"patients": [p.id for p in found.patients]})
    return render_template("staff/billing/account.html", detail=accounts.detail(found))
