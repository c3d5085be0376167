"""Posting a payer's decision by hand (paper EOB, payer portal, phone), with the rules of an ERA line."""
from datetime import date

from sqlalchemy import select

from portal import ledger
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    ClaimLine,
)
from portal.remittances.codes import GROUPS, EraError
from portal.remittances.matching import _claims_by_id
from portal.remittances.posting import MatchedLine, post_lines

MANUAL_METHODS = ("eft", "insurance_check", "other")


def post_line_by_hand(claim_line_id: int, *, paid_cents: int, adjustments: list[tuple[str, str, int, str | None]],
                      method: str, received_on: date, token: str, actor: str, reference: str | None = None,
                      allowed_cents: int | None = None, authorize=None) -> AdjudicatedLine:
    """Post a payer's decision on one claim line by hand, with the same rules as an ERA line.

    `adjustments` are (CAS group, CARC, cents, RARC or None): CO/PI written off, PR moved to the patient
    (CARC 1 deductible, 2 coinsurance, 3 copay), OA written off up to what insurance still owes. The
    payment (if anything was paid) is an insurance payment with the payer of the claim. `token` makes
    the submission idempotent: the same token posts once. Raises EraError, with nothing written.
    `authorize(cents)`, called under the account lock with what the adjustments write off or move to the
    patient, may refuse the posting (the poster's adjustment right and daily limit).
    """
    claim_line = db.session.get(ClaimLine, claim_line_id)
    if claim_line is None:
        raise EraError("That claim line does not exist")
    key = f"manual:{claim_line.id}:{token}"
    if done := _history(key):
        return done
    if method not in MANUAL_METHODS:
        raise EraError(f"Choose a payment method ({', '.join(MANUAL_METHODS)})")
    if paid_cents < 0:
        raise EraError("The paid amount cannot be negative")
    cas = []
    for group, carc, cents_, rarc in adjustments:
        if group not in GROUPS:
            raise EraError(f"Unknown adjustment group {group!r}: use CO, PR, OA or PI")
        if not (carc or "").strip() or cents_ <= 0:
            raise EraError("Each adjustment needs a reason code (CARC) and an amount above zero")
        cas.append(ledger.CasAdjustment(group, carc.strip().upper(), cents_, (rarc or "").strip().upper() or None))
    if paid_cents == 0 and not cas:
        raise EraError("Enter what the payer paid or adjusted")
    info = _claims_by_id([claim_line.claim_id])[claim_line.claim_id]
    decision = MatchedLine(
        key=key, source="manual", source_key=key, info=info,
        matched=next(ln for ln in info.lines if ln.id == claim_line.id), paid_cents=paid_cents,
        adjustments=tuple(cas), billed_cents=claim_line.charge_cents, units=max(claim_line.units, 1),
        paid_on=received_on, allowed_cents=allowed_cents)
    try:
        uow = ledger.UnitOfWork({info.account_id}, actor=actor)
        if _history(key) is not None:  # posted meanwhile under the same token: nothing more
            uow.release()
        else:
            if authorize is not None and ledger.line_problem(uow, decision.adjudication) is None:
                authorize(sum(adjustment.amount_cents for adjustment in cas))
            post_lines(uow, [decision], payment_key=f"{key}:payment", method=method, received_on=received_on,
                       payer_id=info.payer_id, reference=reference)
            uow.commit()
    except ledger.LedgerError as exc:
        db.session.rollback()
        raise EraError(f"Cannot post: {exc}") from exc
    except Exception:
        db.session.rollback()
        raise
    return _history(key)


def _history(key: str) -> AdjudicatedLine | None:
    return db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.source_key == key))
