"""The public estimate page: a prospect asks what a stay would cost, and may ask to be called back."""
from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import estimates
from portal.clock import facility_today
from portal.estimate_forms import SELF_PAY, CallbackForm, PublicEstimateForm
from portal.estimates import gfe
from portal.extensions import db, limiter
from portal.models import Payer
from portal.plans.enrolment import policy as plan_policy
from portal.web import audit_context

bp = Blueprint("public_estimate", __name__, url_prefix="/estimate")
# The consent box's words (CallbackForm.consent): kept with the lead in the language they were shown in.
CONSENT_TEXT = _l("You may call, text or email me about this estimate and admission.")


def _limit() -> str:
    return current_app.config["ESTIMATE_PUBLIC_LIMIT"]


def _form() -> PublicEstimateForm:
    form = PublicEstimateForm()
    insurers = [(str(p.id), p.name) for p in db.session.scalars(
        select(Payer).where(Payer.payer_type != "self_pay").order_by(Payer.name))]
    form.payer.choices = [("", _("Choose your insurance")), *insurers,
                          (SELF_PAY, _("I don't have insurance"))]
    form.level.choices = [(level, estimates.LEVEL_NAMES[level]) for level in estimates.offered_levels()]
    return form


def _page(form: PublicEstimateForm, status: int = 200, **context):
    return render_template("public/estimate.html", form=form, level_names=estimates.LEVEL_NAMES, **context), status


@bp.route("", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def estimate():
    form = _form()
    if not form.level.choices:  # nothing to estimate from yet: admissions answers instead
        return _page(form, callback=CallbackForm())
    if not form.validate_on_submit():
        return _page(form, 400 if form.is_submitted() else 200)
    if form.self_pay():  # uninsured: the facility's own prices, a plan to spread them, the right to a GFE
        items = gfe.default_items(form.level.data, form.days.data)
        return _page(form, self_pay=items, self_pay_total=sum(i.total_cents for i in items),
                     plan_months=plan_policy().self_service_max_months, unit=estimates.unit_name(form.level.data),
                     callback=CallbackForm(data={"level": form.level.data}))
    request = estimates.Request(level=form.level.data, days=form.days.data, payer_id=form.payer_id(),
                                benefits=form.benefits())
    try:
        result = estimates.estimate(request, as_of=facility_today())
    except estimates.EstimateError as error:
        form.payer.errors = [str(error)]
        return _page(form, 400)
    return _page(form, r=result.as_dict(),
                 callback=CallbackForm(data={"payer": form.payer.data, "level": form.level.data}))


@bp.post("/callback")
@limiter.limit(_limit)
def callback():
    form = CallbackForm()
    if not form.validate_on_submit():
        return render_template("public/estimate_callback.html", form=form), 400
    payer_id = int(form.payer.data) if (form.payer.data or "").isdigit() else None
    level = form.level.data if form.level.data in estimates.LEVEL_NAMES else None
    if payer_id is not None and db.session.get(Payer, payer_id) is None:
        payer_id = None
    try:
        estimates.create_lead(name=form.name.data, phone=form.phone.data, email=form.email.data, consent=True,
                              consent_text=str(CONSENT_TEXT), payer_id=payer_id, level=level, source="public",
                              actor="guest:estimate", **audit_context())
    except estimates.EstimateError as error:
        form.email.errors = [*form.email.errors, str(error)]
        return render_template("public/estimate_callback.html", form=form), 400
    return render_template("public/estimate_callback.html", form=None)
