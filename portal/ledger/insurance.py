"""Insurance adjudication on a unit of work: a payer's payment, its decision on one service line
(CAS write-offs, patient responsibility moved, the paid amount applied), and reversals of what a
payer paid before. Each step checks the running balances before it queues anything, so a caller
(an ERA import, a biller) can route a line that does not fit to a person instead."""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from portal.ledger.engine import UnitOfWork, fingerprint, require_positive
from portal.ledger.errors import LedgerError
from portal.ledger.payments import unapplied_credit
from portal.ledger.records import add_adjustment, add_allocation, add_payment, add_reversal, add_transfer
from portal.models import Charge, Posting
from portal.models.ledger import PAYMENT_METHODS
from portal.money import format_usd

# What each CAS group does to a charge: CO/PI/OA are written off the insurance side, PR moves to the patient.
ADJUSTMENT_KIND_BY_GROUP = {"CO": "contractual", "PI": "payer_reduction", "OA": "other_insurance"}
TRANSFER_REASON_BY_CARC = {"1": "deductible", "2": "coinsurance", "3": "copay", "96": "noncovered",
                           "204": "noncovered", "50": "noncovered"}


@dataclass(frozen=True)
class CasAdjustment:
    group: str  # CO, PR, OA, PI
    carc: str
    amount_cents: int
    rarc: str | None = None


@dataclass(frozen=True)
class LineAdjudication:
    """What a payer decided on one service line, to post against one charge.

    `key` is the line's natural key (e.g. ERA file hash + claim + line); each posting made for
    the line derives its idempotency key from it. With `write_off=False` (a denial being worked)
    CO/PI/OA stay owed by insurance; PR still moves to the patient.
    """

    charge_id: int
    paid_cents: int
    adjustments: tuple[CasAdjustment, ...]
    key: str
    write_off: bool = True


def insurance_payment(uow: UnitOfWork, account_id: int, *, amount_cents: int, method: str, key: str,
                      received_on: date, payer_id: int | None = None, reference: str | None = None) -> int:
    """Receive an insurance payment on a locked account, unapplied until lines are adjudicated; its id."""
    require_positive(amount_cents)
    if method not in PAYMENT_METHODS:
        raise LedgerError(f"unknown payment method {method!r}")
    fp = fingerprint(op="insurance_payment", account=account_id, amount=amount_cents, method=method,
                     reference=reference, payer=payer_id)
    _, payment_id = add_payment(uow, account_id, key=key, fp=fp, amount_cents=amount_cents, source="insurance",
                                method=method, received_on=received_on, payer_id=payer_id, reference=reference)
    return payment_id


def line_problem(uow: UnitOfWork, line: LineAdjudication) -> str | None:
    """Why `line` cannot be posted as it stands (in words), or None."""
    if line.paid_cents < 0:
        return "the payer's paid amount is negative on a line that is not a reversal"
    for adj in line.adjustments:
        if adj.amount_cents < 0:
            return f"adjustment {adj.group}-{adj.carc} is negative on a line that is not a reversal"
        if adj.group not in ADJUSTMENT_KIND_BY_GROUP and adj.group != "PR":
            return f"unknown adjustment group {adj.group!r}"
    uow.charge(line.charge_id)
    owed = uow.balances[line.charge_id]["insurance"]
    needed = sum(a.amount_cents for a in line.adjustments
                 if a.group == "PR" or (line.write_off and a.group in ("CO", "PI")))
    if needed > owed:
        return (f"the charge has {format_usd(owed)} owed by insurance, less than the {format_usd(needed)} "
                "the payer adjusts or moves to the patient")
    return None


def adjudicate(uow: UnitOfWork, payment_id: int | None, line: LineAdjudication) -> None:
    """Post one adjudicated line: CO/PI written off (contractual / payer reduction), PR moved to the
    patient with its reason, the paid amount applied to the charge's insurance side (what exceeds
    it stays as unapplied credit on the payment), then OA written off (other_insurance) up to what
    insurance still owes."""
    if problem := line_problem(uow, line):
        raise LedgerError(problem)
    if line.paid_cents and payment_id is None:
        raise LedgerError("a paid line needs a payment")
    charge = uow.charge(line.charge_id)
    for n, adj in enumerate(line.adjustments, 1):
        if adj.amount_cents == 0 or adj.group == "OA":
            continue
        key = f"{line.key}:{adj.group}{adj.carc}:{n}"
        if adj.group == "PR":
            reason = TRANSFER_REASON_BY_CARC.get(adj.carc, "other")
            add_transfer(uow, charge.account_id, charge.id, adj.amount_cents, to_bucket="patient", reason=reason,
                         key=key, carc=adj.carc, fp=fingerprint(
                             op="transfer", charge=charge.id, amount=adj.amount_cents, to="patient", reason=reason,
                             carc=adj.carc))
        elif line.write_off:
            _write_off(uow, charge, adj, adj.amount_cents, key)
    if line.paid_cents:
        applied = min(line.paid_cents, uow.balances[charge.id]["insurance"])
        if applied:
            posting_id = uow.posting(charge.account_id, "allocation", f"{line.key}:paid", fingerprint(
                op="allocation", payment=payment_id, charge=charge.id, amount=applied))
            add_allocation(uow, posting_id, payment_id, charge.id, "insurance", applied)
    if line.write_off:
        for n, adj in enumerate(line.adjustments, 1):
            left = uow.balances[charge.id]["insurance"]
            if adj.group == "OA" and adj.amount_cents and left:
                _write_off(uow, charge, adj, min(adj.amount_cents, left), f"{line.key}:{adj.group}{adj.carc}:{n}")


def _write_off(uow: UnitOfWork, charge: Charge, adj: CasAdjustment, amount: int, key: str) -> None:
    kind = ADJUSTMENT_KIND_BY_GROUP[adj.group]
    add_adjustment(uow, charge.account_id, charge.id, amount, kind=kind, bucket="insurance", key=key,
                   group_code=adj.group, carc=adj.carc, rarc=adj.rarc, fp=fingerprint(
                       op="adjustment", charge=charge.id, amount=amount, kind=kind, bucket="insurance",
                       group=adj.group, carc=adj.carc, rarc=adj.rarc))


def reversal_problem(uow: UnitOfWork, postings: list[Posting]) -> str | None:
    """Why negating these postings together would break a money rule (in words), or None."""
    after = defaultdict(int)
    negated = defaultdict(int)
    for posting in postings:
        if posting.account_id not in uow.accounts:
            return f"posting {posting.id}: its account is not locked by this unit of work"
        if posting.reversed_by is not None or posting.kind in ("reversal", "unallocation"):
            return f"posting {posting.id} was already reversed"
        for e in posting.entries:
            if e.charge_id is not None:
                uow.charge(e.charge_id)
                after[(e.charge_id, e.bucket)] -= e.amount_cents
            if e.payment_id is not None:
                negated[e.payment_id] -= e.amount_cents if e.bucket == "unapplied" else 0
    for (charge_id, bucket), delta in after.items():
        if uow.balances[charge_id][bucket] + delta < 0:
            return (f"the {bucket} side of charge {charge_id} was paid or adjusted since; "
                    "undo that first")
    for payment_id, delta in negated.items():
        if unapplied_credit(payment_id) + delta != 0:
            return f"payment {payment_id} was applied or refunded elsewhere since; undo that first"
    return None


def reverse_postings(uow: UnitOfWork, postings: list[Posting], *, key: str, reason: str) -> None:
    """Negate postings (newest first), each with a reversal posting that points at it."""
    if problem := reversal_problem(uow, postings):
        raise LedgerError(problem)
    for original in sorted(postings, key=lambda p: p.id, reverse=True):
        add_reversal(uow, original, key=f"{key}:{original.id}", fp=fingerprint(op="reverse", posting=original.id),
                     reason=reason)
