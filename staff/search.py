"""Search from every staff page: the header's box posts here and the results render in place.

POST with CSRF, answered without a redirect: a patient's name or date of birth in a URL would land in server and
proxy logs and in browser history, so the query travels only in the body. The audit trail records who searched,
for which kinds of key and how many patients they saw, never the text they typed.
"""
from flask import Blueprint, render_template
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from portal import audit, search
from portal.auth import permission_required
from portal.forms import Form
from portal.web import audit_context

bp = Blueprint("staff_search", __name__, url_prefix="/staff/search")


class SearchForm(Form):
    q = StringField("Search", validators=[
        DataRequired(message="Type a name, MRN, account number, date of birth, phone, member id or claim number."),
        Length(max=100)])


@bp.get("/")
@permission_required("accounts.view")
def page():
    return render_template("staff/search.html", form=SearchForm(), hits=None)


@bp.post("/")
@permission_required("accounts.view")
def results():
    form = SearchForm()
    if not form.validate_on_submit():
        return render_template("staff/search.html", form=form, hits=None), 400
    hits = search.find(form.q.data)
    audit.record("patients.searched", "patient", actor=current_user,
                 detail={"keys": search.kinds(form.q.data), "results": len(hits),
                         "patients": [hit.patient.id for hit in hits]}, **audit_context())
    return render_template("staff/search.html", form=form, hits=hits)
