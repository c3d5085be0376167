"""Card disputes and the Stripe events that need a person: what the worker could not process, processed again."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal import payments
from portal.auth import permission_required
from portal.extensions import db
from portal.models import Account
from portal.transaction import commit_before_outside_call
from portal.web import audit_context
from staff.forms import ActionForm

bp = Blueprint("staff_card_events", __name__, url_prefix="/staff/card-events")


@bp.get("/")
@permission_required("payments.refund")
def index():
    disputes = payments.disputes_by_urgency()
    accounts = {a.id: a for a in db.session.query(Account).filter(Account.id.in_({d.account_id for d in disputes}))}
    return render_template("staff/payments/card_events.html", disputes=disputes, accounts=accounts,
                           events=payments.events_needing_attention(), action_form=ActionForm())


@bp.post("/<int:event_row_id>/again")
@permission_required("payments.refund")
def process_again(event_row_id: int):
    from portal.tasks import process_stripe_event

    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        row = payments.process_again(event_row_id, actor=current_user, **audit_context())
    except payments.PaymentError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    row_id, event_id = row.id, row.event_id
    commit_before_outside_call()  # the worker reads the event on its own connection
    process_stripe_event.delay(row_id)
    flash(f"Event {event_id} was queued to be processed again.", "info")
    return redirect(url_for(".index"))
