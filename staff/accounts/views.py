"""Accounts for billing staff: search and the account's financial record (audited)."""
import uuid

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from portal import accounts, audit, claims, estimates, invoices, money, payments, payments_web
from portal.auth import permission_required
from portal.estimates import gfe
from portal.extensions import db
from portal.forms import Form
from portal.models import STATUS_WORDS, Account, Payment
from portal.payments import desk, gateway
from portal.web import audit_context

bp = Blueprint("staff_accounts", __name__, url_prefix="/staff/accounts")


class RefundForm(Form):
    amount = StringField("Amount to refund", validators=[DataRequired(), Length(max=12)])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=300)])
    token = HiddenField(validators=[DataRequired(), Length(max=64)])  # one refund per form shown


@bp.get("/")
@permission_required("accounts.view")
def index():
    query = request.args.get("q", "")
    found = accounts.search(query)
    if query:
        audit.record("account.searched", "account", actor=current_user, detail={"results": len(found)},
                     **audit_context())
    return render_template("staff/billing/accounts.html", accounts=found, query=query)


@bp.get("/<int:account_id>")
@permission_required("accounts.view")
def account(account_id: int):
    found = db.session.get(Account, account_id)
    if found is None:
        abort(404)
    audit.record("account.viewed", "account", actor=current_user, object_id=found.id, account_id=found.id,
                 detail={"patients": [p.id for p in found.patients]}, **audit_context())
    hub = accounts.hub(found)
    return render_template("staff/billing/account.html", hub=hub, detail=hub.detail,
                           refund_form=RefundForm(data={"token": uuid.uuid4().hex}), history=desk.history(found.id),
                           saved_estimates=estimates.for_account(found.id), gfes=gfe.for_account(found.id),
                           claims=claims.claims_with(account_id=found.id), claim_words=STATUS_WORDS,
                           invoices=invoices.for_account(found), invoice_words=invoices.STATUS_WORDS)


def _account(account_id: int) -> Account:
    return db.session.get(Account, account_id) or abort(404)


def _actor() -> str:
    return f"user:{current_user.id}"


def _done_url(account_id: int):
    def url(payment_id: int) -> str:
        flash(f"Card payment received (receipt R{payment_id:08d}).", "info")
        return url_for(".account", account_id=account_id)

    return url


@bp.get("/<int:account_id>/card-payment")
@permission_required("payments.post")
def card_payment(account_id: int):
    found = _account(account_id)
    audit.record("card_payment.page_viewed", "account", actor=current_user, object_id=found.id, account_id=found.id,
                 **audit_context())
    context = payments_web.card_page_context(
        found, start_url=url_for(".card_start", account_id=found.id),
        confirm_url=url_for(".card_confirm", account_id=found.id),
        complete_url=url_for(".card_complete", account_id=found.id), show_saved=True)
    return render_template("staff/billing/card_payment.html", account=found, **context)


@bp.post("/<int:account_id>/card-payment/start")
@permission_required("payments.post")
def card_start(account_id: int):
    found = _account(account_id)
    audit.record("card_payment.started", "account", actor=current_user, object_id=found.id, account_id=found.id,
                 **audit_context())
    return payments_web.start(found, channel="staff", actor=_actor())


@bp.post("/<int:account_id>/card-payment/confirm")
@permission_required("payments.post")
def card_confirm(account_id: int):
    return payments_web.confirm(_account(account_id), actor=_actor(), receipt_url=_done_url(account_id))


@bp.post("/<int:account_id>/card-payment/complete")
@permission_required("payments.post")
def card_complete(account_id: int):
    return payments_web.complete(_account(account_id), actor=_actor(), receipt_url=_done_url(account_id))


@bp.post("/<int:account_id>/payments/<int:payment_id>/refund")
@permission_required("payments.refund")
def refund(account_id: int, payment_id: int):
    found = _account(account_id)
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id, Payment.account_id == found.id))
    if payment is None:
        abort(404)
    form = RefundForm()
    if not form.validate_on_submit():
        # The refund form sits on the account page: its field errors travel there as one message.
        problems = [f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()
                    if name != "csrf_token" and errors]
        flash(" ".join(problems) or "Enter the amount to refund and the reason.", "error")
        return redirect(url_for(".account", account_id=found.id))
    try:
        amount = money.parse_cents(form.amount.data)
        payments.refund(payment, amount, reason=form.reason.data, actor=_actor(),
                             key=f"refund:{payment.id}:{form.token.data}")
    except (ValueError, gateway.GatewayError) as exc:
        db.session.rollback()
        flash(getattr(exc, "message", None) or str(exc), "error")
    else:
        audit.record("payment.refunded", "payment", actor=current_user, object_id=payment.id, account_id=found.id,
                     detail={"amount_cents": amount, "reason": form.reason.data}, **audit_context())
        flash(f"Refunded {money.format_usd(amount)}.", "info")
    return redirect(url_for(".account", account_id=found.id))
