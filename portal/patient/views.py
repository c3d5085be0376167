"""The patient's side: accounts, statements, paying by card, receipts."""
from flask import Blueprint, Response, abort, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import payments_web
from portal.auth import patient_required
from portal.extensions import db
from portal.models import Payment
from portal.services import accounts, card_payments, documents, statements

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
                           latest={a.id: statements.latest(a) for a in mine})


@bp.get("/accounts/<int:account_id>")
@patient_required
def account(account_id: int):
    found = _account(account_id)
    return render_template("patient/account.html", detail=accounts.detail(found),
                           statements=statements.for_account(found))


@bp.get("/accounts/<int:account_id>/statements/<int:statement_id>")
@patient_required
def statement(account_id: int, statement_id: int):
    item = statements.get_for_patient_user(current_user, account_id, statement_id) or abort(404)
    return render_template("patient/statement.html", statement=item,
                           body=statements.body_html(item.id, item.code))


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


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/receipt")
@patient_required
def receipt(account_id: int, payment_id: int):
    found = _account(account_id)
    return render_template("patient/receipt.html", r=card_payments.receipt(_payment(found, payment_id)))


@bp.get("/accounts/<int:account_id>/payments/<int:payment_id>/receipt/pdf")
@patient_required
def receipt_pdf(account_id: int, payment_id: int):
    found = _account(account_id)
    r = card_payments.receipt(_payment(found, payment_id))
    return _pdf(documents.receipt_pdf(r), f"receipt-{r.number}.pdf")
