"""Chargebacks: a disputed card payment is taken back in the ledger while the dispute is open, dunning is held
and staff are alerted with the evidence due date; a won dispute posts the money back, a lost one stays taken
back. Driven by the dispute's own status, so `closed` arriving before `created` comes out the same."""
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import collections, ledger, money, notifications
from portal.clock import facility_today, facility_zone
from portal.extensions import db
from portal.models import Account, Dispute, Payment, Posting, Role, RolePermission, User, utcnow
from portal.payments.stripe_objects import Ignored, our_payment

CLOSED = {"won": "won", "lost": "lost", "warning_closed": "won"}  # Stripe's final statuses, as we count them
ALERTED_PERMISSION = "payments.refund"  # who answers a dispute: the staff who may give card money back


def dispute_changed(obj: dict, *, actor: str) -> None:
    """charge.dispute.created / updated / closed: open our dispute if new, then close it if Stripe has."""
    if not isinstance(obj.get("id"), str) or not obj["id"].startswith("du_"):
        raise Ignored("the object is not a dispute")
    payment, account = our_payment(obj.get("payment_intent"))
    amount = obj.get("amount")
    if not isinstance(amount, int) or amount <= 0:
        raise Ignored("the dispute has no amount")
    dispute = _find(obj["id"]) or _open(obj, payment, account, actor)
    if dispute.state != "open":
        return  # closed already: a late created or updated event changes nothing
    dispute.stripe_status = str(obj.get("status") or dispute.stripe_status)[:30]
    if dispute.hold_id is None and dispute.stripe_status not in CLOSED:  # new, or a crash after the money moved
        _hold_and_alert(dispute, account, actor)
    if dispute.stripe_status in CLOSED:
        _close(dispute, account, CLOSED[dispute.stripe_status], actor)
    db.session.flush()


def disputes_by_urgency(limit: int = 200) -> list[Dispute]:
    """Open disputes first, the nearest evidence due date first; then the closed ones, newest first."""
    return list(db.session.scalars(select(Dispute).order_by(
        (Dispute.state != "open"), Dispute.evidence_due_at.is_(None), Dispute.evidence_due_at,
        Dispute.created_at.desc()).limit(limit)))


def _find(stripe_dispute_id: str) -> Dispute | None:
    return db.session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == stripe_dispute_id))


def _open(obj: dict, payment: Payment, account: Account, actor: str) -> Dispute:
    due = (obj.get("evidence_details") or {}).get("due_by")
    dispute = Dispute(stripe_dispute_id=obj["id"], account_id=account.id, payment_id=payment.id,
                      payment_intent_id=payment.reference, amount_cents=obj["amount"],
                      reason=str(obj.get("reason") or "")[:60] or None, stripe_status=str(obj.get("status"))[:30],
                      evidence_due_at=datetime.fromtimestamp(due, UTC) if isinstance(due, int) else None)
    db.session.add(dispute)
    try:
        db.session.flush()  # the unique dispute id: another worker opening it at once stops here
    except IntegrityError:
        db.session.rollback()
        return _find(obj["id"])
    _take_back(dispute, payment, actor)  # the ledger commits the dispute with the money taken back
    return _find(obj["id"])


def _take_back(dispute: Dispute, payment: Payment, actor: str) -> None:
    """The bank took the money back: the payment is reversed (the whole of it, untouched), or as much of it
    as is left is refunded to the card (part disputed, or part refunded already). The account owes it again."""
    key = f"stripe-dispute:{dispute.stripe_dispute_id}"
    if db.session.scalar(select(Posting.id).where(Posting.idempotency_key == key)):
        return
    reason = f"Card payment disputed ({dispute.reason or 'no reason given'}), {dispute.stripe_dispute_id}"
    ledger.lock_account(payment.account_id)
    left = ledger.refundable_cents(payment.id)
    if left == payment.amount_cents and dispute.amount_cents >= left:
        dispute.taken_back_cents = left
        ledger.reverse(payment.posting_id, key=key, actor=actor, reason=reason)
    elif left > 0:
        dispute.taken_back_cents = min(dispute.amount_cents, left)
        ledger.refund_payment(payment.id, amount_cents=dispute.taken_back_cents, key=key, actor=actor,
                              reason=reason, method="card")
    else:
        current_app.logger.warning("dispute %s: payment %s has nothing left to take back",
                                   dispute.stripe_dispute_id, payment.id)


def _hold_and_alert(dispute: Dispute, account: Account, actor: str) -> None:
    today = facility_today()
    due_day = dispute.evidence_due_at.astimezone(facility_zone()).date() if dispute.evidence_due_at else None
    hold = collections.add_hold(
        account, kind="dispute", reason=f"Card chargeback {dispute.stripe_dispute_id} "
        f"({money.format_usd(dispute.amount_cents)})", ends_on=None,
        review_on=max(due_day, today) if due_day else today, today=today, actor=actor)
    dispute.hold_id = hold.id
    due_words = f"Evidence is due by {due_day:%B %d, %Y}." if due_day else "Stripe gave no evidence due date."
    notifications.notify(
        _alerted_staff(), title=f"Card payment disputed on account {account.number}",
        body=f"The cardholder disputed {money.format_usd(dispute.amount_cents)} "
             f"({dispute.reason or 'no reason given'}). The payment was taken back and dunning is on hold. "
             f"{due_words} Answer the dispute in the Stripe Dashboard ({dispute.stripe_dispute_id}).",
        link=f"/staff/accounts/{account.id}")
    db.session.flush()


def _alerted_staff() -> list[User]:
    return list(db.session.scalars(
        select(User).join(Role, Role.id == User.role_id).join(RolePermission, RolePermission.role_id == Role.id)
        .where(RolePermission.permission == ALERTED_PERMISSION, User.active.is_(True), User.kind == "staff")
        .order_by(User.id)))


def _close(dispute: Dispute, account: Account, outcome: str, actor: str) -> None:
    if outcome == "won" and dispute.taken_back_cents > 0:
        payment = ledger.post_payment(account.id, amount_cents=dispute.taken_back_cents, method="card",
                                      key=f"stripe-dispute-won:{dispute.stripe_dispute_id}", actor=actor,
                                      reference=dispute.payment_intent_id)
        dispute = _find(dispute.stripe_dispute_id)
        dispute.won_payment_id = payment.id
    account = db.session.get(Account, account.id)
    if dispute.hold_id is not None:
        try:
            collections.release_hold(account, dispute.hold_id, actor=actor)
        except collections.CollectionsError:
            pass  # staff released it already
    dispute.state, dispute.closed_at = outcome, utcnow()
    money_words = ("the payment was posted back" if outcome == "won" and dispute.taken_back_cents
                   else "the payment stays taken back, and the account owes it")
    notifications.notify(
        _alerted_staff(), title=f"Card dispute {outcome} on account {account.number}",
        body=f"The dispute of {money.format_usd(dispute.amount_cents)} ({dispute.stripe_dispute_id}) was {outcome}: "
             f"{money_words}. Dunning is no longer held for it.", link=f"/staff/accounts/{account.id}")
