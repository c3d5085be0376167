"""The patient's side: accounts and balances."""
from flask import Blueprint, abort, render_template
from flask_login import current_user

from portal.auth import patient_required
from portal.services import accounts

bp = Blueprint("patient", __name__)


@bp.get("/")
@patient_required
def home():
    return render_template("patient/home.html", accounts=accounts.accounts_for_patient_user(current_user))


@bp.get("/accounts/<int:account_id>")
@patient_required
def account(account_id: int):
    found = accounts.get_for_patient_user(current_user, account_id)
    if found is None:
        abort(404)
    return render_template("patient/account.html", detail=accounts.detail(found))
