"""Posting by hand at the desk: payments (cash, check, card-present), applying and refunding
unapplied credit, adjustments within the role's limit, and reversals with a reason.

Every operation goes through the ledger with a key built from the form token, so a form
submitted twice posts once. Errors are PostingError with the form field they belong to.
"""
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, select

from portal import audit, ledger, money
from portal.clock import facility_today, facility_zone
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import (
    Account,
    Adjustment,
    AdjustmentLimit,
    BalanceTransfer,
    CardRefund,
    Charge,
    Payment,
    Posting,
    Refund,
    Role,
    User,
)

MANUAL_METHODS = {"cash": "Cash", "check": "Check", "card_present": "Card (terminal)"}
REFUND_METHODS = {"check": "Check", "cash": "Cash"}
MANUAL_ADJUSTMENT_KINDS = {
    "contractual": "Contractual", "small_balance": "Small-balance write-off",
    "charity": "Charity / financial assistance", "bad_debt": "Bad debt", "administrative": "Administrative",
}
# A role without a row in adjustment_limits may post up to this much per adjustment.
DEFAULT_ADJUSTMENT_LIMIT_CENTS = 50_000
# Who can change the limits is never limited by them.
UNLIMITED_PERMISSION = "admin.settings"


class PostingError(ValueError):
    """A posting that cannot be done; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _actor(user: User) -> str:
    return f"user:{user.id}"


def _ledger_call(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except ledger.IdempotencyConflict as exc:
        raise PostingError("This form was already posted with other figures. Reload the page and post again.") from exc
    except ledger.LedgerError as exc:
        raise PostingError(f"Not posted: {exc}.") from exc


def open_patient_lines(account_id: int) -> list[Charge]:
    """Charges with a patient balance, oldest first: the lines a payment can be applied to."""
    return list(db.session.scalars(
        select(Charge).where(Charge.account_id == account_id, Charge.patient_balance_cents > 0)
        .order_by(Charge.service_date, Charge.id)))


def _check_lines(account_id: int, allocate_to: list[tuple[int, int]], available: int) -> None:
    owed = {c.id: c.patient_balance_cents for c in open_patient_lines(account_id)}
    for charge_id, cents in allocate_to:
        if charge_id not in owed:
            raise PostingError("A chosen line has nothing left to pay.", "lines")
        if cents > owed[charge_id]:
            raise PostingError(f"{money.format_usd(cents)} is more than the line's balance "
                               f"{money.format_usd(owed[charge_id])}.", "lines")
    if sum(cents for _, cents in allocate_to) > available:
        raise PostingError(f"The line amounts add up to more than {money.format_usd(available)}.", "lines")


# ---------------------------------------------------------------- payments and credit


def post_payment(account: Account, *, user: User, amount_cents: int, method: str, received_on: date,
                 reference: str | None, batch_id: int, token: str,
                 allocate_to: list[tuple[int, int]] | None = None,
                 ip: str | None = None, user_agent: str | None = None) -> Payment:
    """A patient payment received at the desk or by mail, into an open deposit batch; applied to
    the chosen lines or oldest first, the rest kept as unapplied credit."""
    if method not in MANUAL_METHODS:
        raise PostingError("Choose cash, check or card.", "method")
    reference = (reference or "").strip() or None
    if method == "check" and not reference:
        raise PostingError("Enter the check number.", "reference")
    if method == "card_present" and not reference:
        raise PostingError("Enter the terminal's authorization or reference number.", "reference")
    if received_on > facility_today():
        raise PostingError("The received date cannot be in the future.", "received_on")
    if allocate_to:
        _check_lines(account.id, allocate_to, amount_cents)
    payment = _ledger_call(
        ledger.post_payment, account.id, amount_cents=amount_cents, method=method, key=f"manual-payment:{token}",
        actor=_actor(user), received_on=received_on, reference=reference, allocate_to=allocate_to or None,
        deposit_batch_id=batch_id)
    audit.record("payment.posted", "payment", actor=user, object_id=payment.id, account_id=account.id,
                 detail={"amount_cents": amount_cents, "method": method, "batch_id": batch_id,
                         "allocation": "chosen lines" if allocate_to else "oldest first"},
                 ip=ip, user_agent=user_agent)
    return payment


def credit_payments(account_id: int) -> list[tuple[Payment, int]]:
    """Payments on the account that still hold unapplied credit, oldest first, with the credit."""
    payments = db.session.scalars(
        select(Payment).where(Payment.account_id == account_id).order_by(Payment.received_on, Payment.id))
    found = []
    for payment in payments:
        if not payment.reversed and (credit := ledger.unapplied_credit(payment.id)) > 0:
            found.append((payment, credit))
    return found


def _credit_payment(account: Account, payment_id: int) -> tuple[Payment, int]:
    for payment, credit in credit_payments(account.id):
        if payment.id == payment_id:
            return payment, credit
    raise PostingError("That payment has no unapplied credit.", "payment_id")


def apply_credit(account: Account, *, user: User, payment_id: int, token: str,
                 allocate_to: list[tuple[int, int]] | None = None,
                 ip: str | None = None, user_agent: str | None = None) -> list:
    payment, credit = _credit_payment(account, payment_id)
    if allocate_to:
        _check_lines(account.id, allocate_to, credit)
    elif not open_patient_lines(account.id):
        raise PostingError("Nothing is owed by the patient: there is nothing to apply the credit to.", "payment_id")
    allocations = _ledger_call(ledger.apply_credit, payment.id, key=f"apply-credit:{token}", actor=_actor(user),
                               allocate_to=allocate_to or None)
    audit.record("credit.applied", "payment", actor=user, object_id=payment.id, account_id=account.id,
                 detail={"amount_cents": sum(a.amount_cents for a in allocations)},
                 ip=ip, user_agent=user_agent)
    return allocations


def refund_credit(account: Account, *, user: User, payment_id: int, amount_cents: int, method: str,
                  check_number: str | None, reason: str, token: str,
                  ip: str | None = None, user_agent: str | None = None) -> Refund:
    """Give unapplied credit back by check or cash: a ledger refund that never touches applied money."""
    if method not in REFUND_METHODS:
        raise PostingError("Choose check or cash.", "method")
    check_number = (check_number or "").strip()
    if method == "check" and not check_number:
        raise PostingError("Enter the number of the refund check.", "check_number")
    payment, credit = _credit_payment(account, payment_id)
    if amount_cents > credit:
        raise PostingError(f"This payment has {money.format_usd(credit)} of unapplied credit.", "amount")
    refund = _ledger_call(ledger.refund_payment, payment.id, amount_cents=amount_cents, key=f"refund-credit:{token}",
                          actor=_actor(user), reason=reason.strip(), method=method,
                          check_number=check_number if method == "check" else None, credit_only=True)
    audit.record("credit.refunded", "payment", actor=user, object_id=payment.id, account_id=account.id,
                 detail={"amount_cents": amount_cents, "method": method, "check_number": refund.check_number,
                         "reason": reason.strip()}, ip=ip, user_agent=user_agent)
    return refund


# ---------------------------------------------------------------- adjustments


def limit_for(role: Role) -> int | None:
    """The most the role may adjust on one account in one facility day, in cents; None is unlimited."""
    if UNLIMITED_PERMISSION in role.permission_names:
        return None
    row = db.session.get(AdjustmentLimit, role.id)
    return DEFAULT_ADJUSTMENT_LIMIT_CENTS if row is None else row.max_cents


def adjusted_today(account_id: int, actor: str) -> int:
    """What `actor` wrote off or moved to the patient on the account since the facility day began: adjustments
    (by hand, hand-posted insurance, bad debt, agency fees) and transfers to the patient."""
    zone = facility_zone()
    since = datetime.combine(facility_today(), time.min, tzinfo=zone).astimezone(UTC)
    adjusted = db.session.scalar(select(func.coalesce(func.sum(Adjustment.amount_cents), 0)).where(
        Adjustment.account_id == account_id, Adjustment.created_by == actor, Adjustment.created_at >= since))
    moved = db.session.scalar(select(func.coalesce(func.sum(BalanceTransfer.amount_cents), 0))
                              .join(Charge, Charge.id == BalanceTransfer.charge_id).where(
        Charge.account_id == account_id, BalanceTransfer.created_by == actor, BalanceTransfer.to_bucket == "patient",
        BalanceTransfer.created_at >= since))
    return int(adjusted) + int(moved)


def authorize_adjustment(user: User, account_id: int, amount_cents: int, field: str | None = "amount") -> None:
    """May `user` write off or move `amount_cents` more on this account today? Needs the adjustment permission;
    the role's limit holds per account per facility day, whatever the postings are split into.

    The account row stays locked until the posting commits, so two write-offs at once are counted one after
    the other instead of both passing against the same total."""
    if amount_cents <= 0 or UNLIMITED_PERMISSION in user.role.permission_names:
        return
    if "adjustments.post" not in user.role.permission_names:
        raise PostingError(f"Your role ({user.role.name}) may not post write-offs or adjustments; "
                           "ask a biller to post this.", field)
    lock_rows(Account, [account_id])
    limit = limit_for(user.role)
    used = adjusted_today(account_id, _actor(user))
    if limit is not None and used + amount_cents > limit:
        raise PostingError(f"Your role ({user.role.name}) may post adjustments up to {money.format_usd(limit)} "
                           f"per account a day ({money.format_usd(used)} posted today); "
                           "ask an administrator to post this one.", field)


def limits() -> list[tuple[Role, int | None, bool]]:
    """Roles that may post adjustments: (role, limit, fixed) where fixed means always unlimited."""
    roles = db.session.scalars(select(Role).order_by(Role.name))
    return [(r, limit_for(r), UNLIMITED_PERMISSION in r.permission_names)
            for r in roles if "adjustments.post" in r.permission_names]


def set_limit(role: Role, max_cents: int | None, *, actor: User,
              ip: str | None = None, user_agent: str | None = None) -> None:
    if max_cents is not None and max_cents < 0:
        raise PostingError("A limit cannot be negative.")
    row = db.session.get(AdjustmentLimit, role.id)
    before = limit_for(role)
    if row is None:
        row = AdjustmentLimit(role_id=role.id, max_cents=max_cents, updated_by=_actor(actor))
        db.session.add(row)
    else:
        row.max_cents, row.updated_by = max_cents, _actor(actor)
    if before != max_cents:
        audit.record("adjustment_limit.updated", "role", actor=actor, object_id=role.id,
                     detail={"role": role.name, "from": before, "to": max_cents},
                     ip=ip, user_agent=user_agent)
    db.session.flush()


def post_adjustment(account: Account, *, user: User, charge_id: int, bucket: str, kind: str, amount_cents: int,
                    reason: str, token: str,
                    ip: str | None = None, user_agent: str | None = None) -> Adjustment:
    if kind not in MANUAL_ADJUSTMENT_KINDS:
        raise PostingError("Choose a kind of adjustment.", "kind")
    if bucket not in ("patient", "insurance"):
        raise PostingError("Choose whose balance to adjust.", "bucket")
    if not reason.strip():
        raise PostingError("Say why.", "reason")
    charge = db.session.get(Charge, charge_id)
    if charge is None or charge.account_id != account.id:
        raise PostingError("Choose a charge on this account.", "charge_id")
    authorize_adjustment(user, account.id, amount_cents)
    owed = charge.patient_balance_cents if bucket == "patient" else charge.insurance_balance_cents
    if amount_cents > owed:
        raise PostingError(f"The {bucket} balance of this charge is {money.format_usd(owed)}.", "amount")
    adjustment = _ledger_call(ledger.post_adjustment, charge.id, amount_cents=amount_cents, kind=kind, bucket=bucket,
                              key=f"manual-adjustment:{token}", actor=_actor(user), reason=reason.strip())
    audit.record("adjustment.posted", "adjustment", actor=user, object_id=adjustment.id, account_id=account.id,
                 patient_id=charge.patient_id,
                 detail={"amount_cents": amount_cents, "kind": kind, "bucket": bucket, "reason": reason.strip()},
                 ip=ip, user_agent=user_agent)
    return adjustment


# ---------------------------------------------------------------- reversals and history

REVERSIBLE = ("payment", "adjustment", "charge")  # a charge is corrected only by reversing it


def reversible_posting(account: Account, posting_id: int) -> Posting | None:
    posting = db.session.get(Posting, posting_id)
    if posting is None or posting.account_id != account.id or posting.kind not in REVERSIBLE:
        return None
    return posting


def reverse(account: Account, posting: Posting, *, user: User, reason: str,
            ip: str | None = None, user_agent: str | None = None) -> Posting:
    """Undo a payment or an adjustment; the reversal keeps who, when and why."""
    if not reason.strip():
        raise PostingError("Say why this is reversed.", "reason")
    if posting.kind == "payment" and db.session.scalar(
            select(Refund.id).join(Payment, Payment.id == Refund.payment_id).where(Payment.posting_id == posting.id)):
        raise PostingError("Part of this payment was refunded, so it cannot be reversed.")
    if posting.kind == "payment" and db.session.scalar(
            select(CardRefund.id).join(Payment, Payment.id == CardRefund.payment_id)
            .where(Payment.posting_id == posting.id, CardRefund.status == "pending")):
        raise PostingError("A refund of this payment to the card is in progress, so it cannot be reversed.")
    # A posting is reversed once: its id is the natural key, so a double submit is a replay.
    reversal = _ledger_call(ledger.reverse, posting.id, key=f"reversal:{posting.id}", actor=_actor(user),
                            reason=reason.strip())
    audit.record(f"{posting.kind}.reversed", posting.kind, actor=user, object_id=posting.id, account_id=account.id,
                 detail={"reversal_posting_id": reversal.id, "reason": reason.strip()},
                 ip=ip, user_agent=user_agent)
    return reversal


@dataclass
class HistoryItem:
    posting: Posting
    when: datetime
    what: str
    amount_cents: int
    who: str
    why: str | None
    payment: Payment | None = None
    reversal: Posting | None = None
    reversal_who: str | None = None


def actor_names(actors: set[str]) -> dict[str, str]:
    """'user:<id>' labels to the staff member's name; other actors (tasks, cli) as they are."""
    ids = {int(a.split(":", 1)[1]) for a in actors if a.startswith("user:") and a.split(":", 1)[1].isdigit()}
    users = {f"user:{u.id}": u.full_name for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return {a: users.get(a, a) for a in actors}


def history(account_id: int, limit: int = 200) -> list[HistoryItem]:
    """Payments, adjustments and refunds on the account, newest first, each with who did it and
    any reversal (who, when, why)."""
    postings = db.session.scalars(
        select(Posting).where(Posting.account_id == account_id, Posting.kind.in_(("payment", "adjustment", "refund")))
        .order_by(Posting.created_at.desc(), Posting.id.desc()).limit(limit)).all()
    ids = [p.id for p in postings]
    payments = {p.posting_id: p for p in db.session.scalars(select(Payment).where(Payment.posting_id.in_(ids)))}
    adjustments = {a.posting_id: a for a in db.session.scalars(
        select(Adjustment).where(Adjustment.posting_id.in_(ids)))}
    refunds = {r.posting_id: r for r in db.session.scalars(select(Refund).where(Refund.posting_id.in_(ids)))}
    names = actor_names({p.actor for p in postings} | {p.reversed_by.actor for p in postings if p.reversed_by})
    items = []
    for posting in postings:
        if payment := payments.get(posting.id):
            method = MANUAL_METHODS.get(payment.method, payment.method.replace("_", " ").capitalize())
            what = f"Payment R{payment.id:08d} · {method}" + (f" {payment.reference}" if payment.reference else "")
            amount, why = payment.amount_cents, None
        elif adjustment := adjustments.get(posting.id):
            kind = MANUAL_ADJUSTMENT_KINDS.get(adjustment.kind, adjustment.kind.replace("_", " ").capitalize())
            what = f"Adjustment · {kind} · {adjustment.bucket} · {adjustment.charge.service_date.isoformat()}"
            amount, why = adjustment.amount_cents, adjustment.reason
        elif refund := refunds.get(posting.id):
            what = f"Refund of payment R{refund.payment_id:08d} {_refund_means(refund)}"
            amount, why = refund.amount_cents, refund.reason
        else:
            continue
        reversal = posting.reversed_by
        items.append(HistoryItem(posting, posting.created_at, what, amount, names[posting.actor], why, payment,
                                 reversal, names[reversal.actor] if reversal else None))
    return items


def _refund_means(refund: Refund) -> str:
    return {"card": "to the card", "check": f"by check {refund.check_number}", "cash": "in cash"}[refund.method]
