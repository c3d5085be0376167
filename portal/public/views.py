"""Pay by link: a guarantor pays a statement with its code, the patient's birth date and ZIP, no account."""
import time

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, Length, Regexp

from portal import payments, payments_web, statements
from portal.extensions import db, limiter
from portal.forms import BirthDateField, Form
from portal.models import Payment, Statement
from portal.web import keep_refusal

bp = Blueprint("public", __name__, url_prefix="/pay")
GUEST_MINUTES = 20
# One answer for every mismatch: never say which detail was wrong. (Lazy: flash `str(NO_MATCH)`.)
NO_MATCH = _l("We could not find a statement with those details. Check them against your statement.")


class PayLinkForm(Form):
    code = StringField(_l("Statement code"), validators=[DataRequired(), Length(min=6, max=12)],
                       description=_l("Printed at the top of your statement."),
                       render_kw={"autocomplete": "off", "autocapitalize": "characters"})
    date_of_birth = BirthDateField(_l("Patient's date of birth"), validators=[InputRequired()])  # keeps its own error
    zip_code = StringField(_l("Patient's ZIP code"), validators=[DataRequired(), Regexp(
        r"^\d{5}(-\d{4})?$", message=_l("Enter a 5-digit ZIP."))],
                           render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})


def _code_key() -> str:
    return "paylink-code:" + (request.form.get("code") or "").strip().upper()


def _per_ip() -> str:
    return current_app.config.get("PAY_LINK_IP_LIMIT", "10 per 15 minutes")


def _per_code() -> str:
    return current_app.config.get("PAY_LINK_CODE_LIMIT", "5 per hour")


# One budget per statement code, shared by every page that takes a statement's details (/pay, /register,
# /accounts/add): a guess on one page counts against the others.
per_code_limit = limiter.shared_limit(_per_code, scope="statement-code", key_func=_code_key, methods=["POST"])


def find_statement(form: PayLinkForm) -> Statement | None:
    """The statement the form's details match; a miss counts against the code (and is kept although the
    page answers 404)."""
    config = current_app.config
    found = statements.find_for_pay_link(form.code.data, form.date_of_birth.data, form.zip_code.data,
                                         max_misses=config["PAY_LINK_CODE_MAX_MISSES"],
                                         lock_minutes=config["PAY_LINK_CODE_LOCK_MINUTES"])
    if found is None:
        keep_refusal()
    return found


@bp.route("", methods=["GET", "POST"])
@limiter.limit(_per_ip, methods=["POST"])
@per_code_limit
def find():
    form = PayLinkForm(data={"code": request.args.get("code", "")} if request.method == "GET" else None)
    if form.validate_on_submit():
        found = find_statement(form)
        if found is not None:
            session["pay_statement_id"], session["pay_since"] = found.id, time.time()
            return redirect(url_for(".statement"))
        flash(str(NO_MATCH), "error")
        return render_template("public/pay_find.html", form=form), 404
    return render_template("public/pay_find.html", form=form), 400 if form.is_submitted() else 200


def _guest_statement() -> Statement:
    statement_id, since = session.get("pay_statement_id"), session.get("pay_since", 0)
    if not statement_id or time.time() - since > GUEST_MINUTES * 60:
        abort(403, _("Your session to pay this statement has ended. Please enter the statement details again."))
    return db.session.get(Statement, statement_id) or abort(404)


@bp.get("/statement")
def statement():
    item = _guest_statement()
    context = payments_web.card_page_context(
        item.account, start_url=url_for(".start"), confirm_url=url_for(".confirm"),
        complete_url=url_for(".complete"), show_saved=False)
    return render_template("public/pay_statement.html", statement=item, s=item.snapshot, **context)


@bp.get("/statement/pdf")
def statement_pdf():
    item = _guest_statement()
    name = f"statement-{item.statement_date.isoformat()}.pdf"
    return Response(statements.pdf(item), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.post("/statement/start")
def start():
    item = _guest_statement()
    return payments_web.start(item.account, channel="pay_link", actor="guest:pay-link", statement=item,
                              allow_saved=False)


def _receipt_url(payment_id: int) -> str:
    session["pay_receipts"] = [*session.get("pay_receipts", []), payment_id][-5:]
    return url_for(".receipt", payment_id=payment_id)


@bp.post("/statement/confirm")
def confirm():
    return payments_web.confirm(_guest_statement().account, actor="guest:pay-link", receipt_url=_receipt_url)


@bp.post("/statement/complete")
def complete():
    return payments_web.complete(_guest_statement().account, actor="guest:pay-link", receipt_url=_receipt_url)


@bp.get("/receipt/<int:payment_id>")
def receipt(payment_id: int):
    if payment_id not in session.get("pay_receipts", []):
        abort(404)
    return render_template("public/pay_receipt.html", r=payments.receipt(db.session.get(Payment, payment_id)))
