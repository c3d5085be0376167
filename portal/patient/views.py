"""The patient's side: accounts, statements, paying by card, receipts."""
import re
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from portal import accounts, documents, estimates, facility, i18n, money, payments, payments_web, plans, statements
from portal.auth import patient_required
from portal.clock import facility_today
from portal.estimates import gfe as good_faith
from portal.extensions import db
from portal.forms import Form
from portal.models import Payment
from portal.payments import gateway
from portal.web import audit_context, json_object

bp = Blueprint("patient", __name__)


def _account(account_id: int):
    found = accounts.get_for_patient_user(current_user, account_id)
    if found is None:
        abort(404)  # never say whether someone else's account exists
    return found


def _actor() -> str:
    return f"user:{current_user.id}"


@bp.get("/")
@patient_required
def home():
    mine = accounts.accounts_for_patient_user(current_user)
    return render_template("patient/home.html", accounts=mine,
                           standings={a.id: accounts.standing(a, statements.latest(a)) for a in mine})


@bp.get("/accounts/<int:account_id>")
@patient_required
def account(account_id: int):
    found = _account(account_id)
    return render_template("patient/account.html", detail=accounts.detail(found),
                           st=accounts.standing(found, statements.latest(found)),
                           estimates=good_faith.delivered_for_account(found.id),
                           statements=statements.for_account(found), cards=payments.saved_cards(found),
                           remove_form=Form())


@bp.post("/accounts/<int:account_id>/cards/<int:card_id>/remove")
@patient_required
def remove_card(account_id: int, card_id: int):
    found = _account(account_id)
    try:
        card = payments.remove_saved_card(found, card_id, actor=_actor(), **audit_context())
    except (payments.PaymentError, gateway.GatewayError) as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("Your %(brand)s ending %(last4)s is no longer saved.", brand=card.brand.title(), last4=card.last4),
              "info")
    return redirect(url_for(".account", account_id=found.id))


@bp.get("/accounts/<int:account_id>/statements/<int:statement_id>")
@patient_required
def statement(account_id: int, statement_id: int):
    item = statements.get_for_patient_user(current_user, account_id, statement_id) or abort(404)
    return render_template("patient/statement.html", statement=item, s=item.snapshot,
                           paid_after=statements.paid_after(item), now_due=item.account.patient_due_cents)


@bp.get("/accounts/<int:account_id>/statements/<int:statement_id>/pdf")
@patient_required
def statement_pdf(account_id: int, statement_id: int):
    item = statements.get_for_account(_account(account_id), statement_id) or abort(404)
    return _pdf(statements.pdf(item), f"statement-{item.statement_date.isoformat()}.pdf")


def _pdf(data: bytes, name: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.get("/accounts/<int:account_id>/pay")
@patient_required
def pay(account_id: int):
    found = _account(account_id)
    context = payments_web.card_page_context(
        found, start_url=url_for(".pay_start", account_id=found.id),
        confirm_url=url_for(".pay_confirm", account_id=found.id),
        complete_url=url_for(".pay_complete", account_id=found.id), show_saved=True)
    return render_template("patient/pay.html", account=found, **context)


@bp.post("/accounts/<int:account_id>/pay/start")
@patient_required
def pay_start(account_id: int):
    found = _account(account_id)
    return payments_web.start(found, channel="portal", actor=_actor(), statement=statements.latest(found))


@bp.post("/accounts/<int:account_id>/pay/confirm")
@patient_required
def pay_confirm(account_id: int):
    found = _account(account_id)
    return payments_web.confirm(found, actor=_actor(), receipt_url=lambda pid: url_for(
        ".receipt", account_id=found.id, payment_id=pid))


@bp.post("/accounts/<int:account_id>/pay/complete")
@patient_required
def pay_complete(account_id: int):
    found = _account(account_id)
    return payments_web.complete(found, actor=_actor(), receipt_url=lambda pid: url_for(
        ".receipt", account_id=found.id, payment_id=pid))


def _payment(account, payment_id: int) -> Payment:
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id, Payment.account_id == account.id,
                                                      Payment.source == "patient"))
    return payment or abort(404)


@bp.get("/accounts/<int:account_id>/estimates/<int:gfe_id>")
@patient_required
def good_faith_estimate(account_id: int, gfe_id: int):
    found = _account(account_id)
    item = good_faith.delivered_on_account(found.id, gfe_id) or abort(404)
    return render_template("patient/gfe.html", account=found, gfe=item,
                           threshold_cents=estimates.settings().gfe_dispute_threshold_cents)


@bp.get("/accounts/<int:account_id>/estimates/<int:gfe_id>/pdf")
@patient_required
def good_faith_estimate_pdf(account_id: int, gfe_id: int):
    found = _account(account_id)
    item = good_faith.delivered_on_account(found.id, gfe_id) or abort(404)
    return _pdf(good_faith.pdf(item), f"good-faith-estimate-{item.id}.pdf")


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/receipt")
@patient_required
def receipt(account_id: int, payment_id: int):
    found = _account(account_id)
    return render_template("patient/receipt.html", r=payments.receipt(_payment(found, payment_id)))


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/receipt/pdf")
@patient_required
def receipt_pdf(account_id: int, payment_id: int):
    found = _account(account_id)
    r = payments.receipt(_payment(found, payment_id))
    return _pdf(documents.receipt_pdf(r), f"receipt-{r.number}.pdf")


# ---------------------------------------------------------------- payment plans and saved cards


class PlanForm(Form):
    months = IntegerField(_l("Number of months"), validators=[Optional(), NumberRange(min=1, max=60)])
    monthly = StringField(_l("Or a monthly amount (dollars)"), validators=[Optional(), Length(max=12)])
    card = SelectField(_l("Card for automatic payments"), coerce=int)
    agreement_name = StringField(_l("Type your full name to sign"), validators=[Optional(), Length(max=200)])
    accept = BooleanField(_l("I agree to the payment plan terms above and authorize the automatic payments"))


def _first_due():
    return facility_today() + timedelta(days=7)


def _schedule_from(form: PlanForm, account, rules):
    monthly = money.parse_cents(form.monthly.data) if form.monthly.data else None
    months = form.months.data if monthly is None else None
    return plans.build_schedule(account.patient_due_cents, _first_due(), rules, months=months, monthly_cents=monthly)


def _plan_choice() -> dict:
    """The plan being chosen (months or a monthly amount), carried to the card page and back so that adding a
    card keeps the schedule; anything that is not a short number is dropped."""
    choice = {}
    for name, pattern in (("months", r"\d{1,2}"), ("monthly", r"\d{1,7}(\.\d{1,2})?")):
        value = (request.values.get(name) or "").strip()
        if re.fullmatch(pattern, value):
            choice[name] = value
    return choice


@bp.route("/accounts/<int:account_id>/plan", methods=["GET", "POST"])
@patient_required
def plan(account_id: int):
    found = _account(account_id)
    existing = plans.active_plan(found)
    if existing is not None:
        return render_template("patient/plan.html", account=found, plan=existing, cards=payments.saved_cards(found),
                               card_form=ChangeCardForm(data={"card": existing.saved_card_id}),
                               remaining=plans.remaining_cents(existing))
    rules = plans.policy()
    cards = payments.saved_cards(found)
    form = PlanForm(request.form if request.method == "POST" else request.args)  # GET only previews
    form.card.choices = [(c.id, _("%(brand)s ending %(last4)s", brand=c.brand.title(), last4=c.last4)) for c in cards]
    schedule, error = None, None
    if form.months.data or form.monthly.data:
        try:
            schedule = _schedule_from(form, found, rules)
        except ValueError as exc:
            error = str(exc) if isinstance(exc, plans.PlanError) else _("Enter an amount like 50.00.")
    if request.method == "POST":  # every field's error at once, the schedule's included
        valid = form.validate()
        if not form.accept.data:
            form.accept.errors.append(_("Tick the box to accept the agreement."))
            valid = False
        if schedule is not None and valid:
            card = next((c for c in cards if c.id == form.card.data), None)
            try:
                made = plans.create(found, schedule, card=card, actor=_actor(), by_patient=True,
                                    agreement_name=form.agreement_name.data, agreement_ip=request.remote_addr)
            except plans.PlanError as exc:
                error = str(exc)
            else:
                flash(_("Your payment plan is set up.") if made.status == "active" else
                      _("Thanks. A member of our billing team will review your plan and confirm it by email."), "info")
                return redirect(url_for(".plan", account_id=found.id))
    status = 400 if request.method == "POST" else 200
    g.stripe_page = schedule is not None and not cards  # the card is saved on this page
    return render_template("patient/plan_enrol.html", account=found, form=form, schedule=schedule, error=error,
                           rules=rules, cards=cards, choice=_plan_choice(), **_card_form_context(),
                           presets=plans.presets(found.patient_due_cents, _first_due(), rules),
                           needs_approval=schedule is not None and plans.needs_approval(schedule, rules)), status


class ChangeCardForm(Form):
    card = SelectField(_l("Card for automatic payments"), coerce=int)


@bp.post("/accounts/<int:account_id>/plan/card")
@patient_required
def plan_card(account_id: int):
    found = _account(account_id)
    existing = plans.active_plan(found) or abort(404)
    form = ChangeCardForm()
    form.card.choices = [(c.id, c.last4) for c in payments.saved_cards(found)]
    if form.validate_on_submit():
        plans.change_card(existing, form.card.data, actor=_actor())
        flash(_("Future payments will use the card you chose."), "info")
    return redirect(url_for(".plan", account_id=found.id))


@bp.get("/accounts/<int:account_id>/plan/agreement")
@patient_required
def plan_agreement(account_id: int):
    found = _account(account_id)
    existing = plans.active_plan(found) or abort(404)
    with i18n.for_account(found):  # the guarantor's agreement, in the guarantor's language
        data = documents.render_pdf("pdf/plan_agreement.html", plan=existing, account=found,
                                    facility=facility.current())
    return _pdf(data, f"payment-plan-{existing.id}.pdf")


@bp.get("/accounts/<int:account_id>/cards/new")
@patient_required
def card_new(account_id: int):
    found = _account(account_id)
    g.stripe_page = True
    return render_template("patient/card_new.html", account=found, choice=_plan_choice(), **_card_form_context())


def _card_form_context() -> dict:
    return {"stripe_js": gateway.js_url(), "stripe_key": current_app.config.get("STRIPE_PUBLISHABLE_KEY") or "",
            "card_ready": gateway.configured()}


@bp.post("/accounts/<int:account_id>/cards/start")
@patient_required
def card_start(account_id: int):
    found = _account(account_id)
    try:
        setup_id, secret = payments.start_card_setup(found)
    except gateway.GatewayError as exc:
        return jsonify(message=exc.message), 400
    return jsonify(setup_intent_id=setup_id, setup_client_secret=secret)


@bp.post("/accounts/<int:account_id>/cards/finish")
@patient_required
def card_finish(account_id: int):
    found = _account(account_id)
    setup_id = str(json_object().get("setup_intent_id", ""))[:100]
    try:
        card = payments.finish_card_setup(found, setup_id)
    except (payments.PaymentError, gateway.GatewayError) as exc:
        return jsonify(message=getattr(exc, "message", None) or str(exc)), 400
    flash(_("Saved your %(brand)s ending %(last4)s.", brand=card.brand.title(), last4=card.last4), "info")
    return jsonify(redirect=url_for(".plan", account_id=found.id, **_plan_choice()))
