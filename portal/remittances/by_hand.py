"""By hand."""
from collections import defaultdict
from datetime import date

from sqlalchemy import select

from portal import ledger
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    ClaimLine,
)
from portal.remittances.codes import DENIAL_CARCS, GROUPS, EraError
from portal.remittances.matching import _claims_by_id

# ---------------------------------------------------------------- posting by hand (paper EOB, payer portal, phone)


MANUAL_METHODS = ("eft", "insurance_check", "other")


def post_line_by_hand(claim_line_id: int, *, paid_cents: int, adjustments: list[tuple[str, str, int, str | None]],
                      method: str, received_on: date, token: str, actor: str, reference: str | None = None,
                      allowed_cents: int | None = None) -> AdjudicatedLine:
    """Post a payer's decision on one claim line by hand, with the same rules as an ERA line.

    `adjustments` are (CAS group, CARC, cents, RARC or None): CO/PI written off, PR moved to the patient
    (CARC 1 deductible, 2 coinsurance, 3 copay), OA written off up to what insurance still owes. The
    payment (if anything was paid) is an insurance payment with the payer of the claim. `token` makes
    the submission idempotent: the same token posts once. Raises EraError, with nothing written.
    """
    claim_line = db.session.get(ClaimLine, claim_line_id)
    if claim_line is None:
        raise EraError("That claim line does not exist")
    key = f"manual:{claim_line.id}:{token}"
    if done := db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.source_key == key)):
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
    matched = next(ln for ln in info.lines if ln.id == claim_line.id)
    adjustments_json = [{"group": a.group, "carc": a.carc, "amount_cents": a.amount_cents} for a in cas]
    pr = defaultdict(int)
    for a in cas:
        if a.group == "PR":
            pr[a.carc] += a.amount_cents
    denied = paid_cents == 0 and any(a.carc in DENIAL_CARCS and a.group != "PR" for a in cas)
    history = AdjudicatedLine(
        source="manual", source_key=key, payer_id=info.payer_id, plan_id=info.plan_id, patient_id=info.patient_id,
        claim_line_id=matched.id, charge_id=matched.charge_id, episode_key=info.control_number,
        level_of_care=matched.level_of_care, procedure_code=matched.procedure_code, revenue_code=matched.revenue_code,
        service_date=matched.service_date, paid_on=received_on, units=max(matched.units, 1),
        in_network=info.in_network, billed_cents=claim_line.charge_cents,
        allowed_cents=allowed_cents if allowed_cents is not None else claim_line.charge_cents - sum(
            a.amount_cents for a in cas if a.group != "PR"),
        paid_cents=paid_cents, patient_resp_cents=sum(pr.values()), deductible_cents=pr["1"],
        coinsurance_cents=pr["2"], copay_cents=pr["3"], denied=denied, adjustments=adjustments_json)
    adjudication = ledger.LineAdjudication(charge_id=matched.charge_id, paid_cents=paid_cents, adjustments=tuple(cas),
                                           key=key, write_off=not denied)
    try:
        ledger.post_insurance_line(adjudication, actor=actor, method=method, received_on=received_on,
                                   payer_id=info.payer_id, reference=reference,
                                   extra=lambda _batch: db.session.add(history))
    except ledger.LedgerError as exc:
        raise EraError(f"Cannot post: {exc}") from exc
    return db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.source_key == key))
