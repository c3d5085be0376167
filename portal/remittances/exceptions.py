"""The exception queue: a claim or line the import could not match, matched by a biller and posted
with the same rules as the import."""

from portal import ledger
from portal.extensions import db
from portal.models import (
    EraException,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    utcnow,
)
from portal.remittances.codes import EraError
from portal.remittances.matching import _ClaimInfo, _claims_by_id, _match_line
from portal.remittances.posting import (
    _claim_level_shares,
    _post_claim,
    _posted_before,
    _totals,
    era_line,
    era_payment,
    post_lines,
)


def resolve_exception(exception_id: int, claim_id: int, *, actor: str,
                      claim_line_id: int | None = None) -> EraException:
    """Match an open exception to our claim by hand and post it with the same rules as an import.

    A whole-claim exception posts the remittance claim against `claim_id` (lines that still do not
    match, or do not fit, become new line exceptions); a line exception posts that line against
    `claim_line_id` (a line of `claim_id`), or else the line of `claim_id` with the same code and date.
    Raises EraError (nothing changed) if it cannot be posted.
    """
    exc = db.session.get(EraException, exception_id)
    if exc is None or exc.state != "open":
        raise EraError("This exception is not open")
    info = _claims_by_id([claim_id]).get(claim_id)
    if info is None:
        raise EraError(f"Claim {claim_id} does not exist")
    remittance_id, rc_id, line_id = exc.remittance_id, exc.remittance_claim_id, exc.remittance_line_id
    try:
        uow = ledger.UnitOfWork({info.account_id}, actor=actor)
        exc = db.session.get(EraException, exception_id, populate_existing=True)
        if exc.state != "open":
            raise EraError("This exception was resolved by someone else meanwhile")
        remittance = db.session.get(Remittance, remittance_id)
        rc = db.session.get(RemittanceClaim, rc_id)
        uow.effective_date = remittance.payment_date
        uow.load_charges(line.charge_id for line in info.lines)
        posted_before = _posted_before([rc.payer_claim_number])
        with db.session.no_autoflush:  # rows point at payments the unit of work writes at commit
            if line_id is None:
                if rc.claim_id is not None and rc.claim_id != claim_id and rc.posted:
                    raise EraError("This remittance claim already posted against another claim")
                rc.claim_id, rc.match_method = claim_id, "manual"
                _post_claim(uow, remittance, rc, info, posted_before)
                if not rc.posted:
                    raise EraError(_why_not(rc, exc) or "Nothing could be posted against that claim")
            else:
                _post_one_line(uow, remittance, rc, db.session.get(RemittanceLine, line_id), info, claim_line_id)
            exc.state, exc.claim_id, exc.resolved_by, exc.resolved_at = "matched", claim_id, actor, utcnow()
        uow.commit(before_commit=lambda: _totals(remittance))
    except ledger.LedgerError as exc:
        db.session.rollback()
        raise EraError(f"Cannot post: {exc}") from exc
    except Exception:
        db.session.rollback()
        raise
    return db.session.get(EraException, exception_id)


def _why_not(rc: RemittanceClaim, exc: EraException) -> str | None:
    reasons = [e.reason for e in db.session.new if isinstance(e, EraException) and e is not exc]
    return "; ".join(reasons) or None


def _post_one_line(uow: ledger.UnitOfWork, remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine,
                   info: _ClaimInfo, claim_line_id: int | None) -> None:
    """Post one waiting line of a claim, with its share of the claim-level adjustments, as the import would."""
    if line.posted:
        raise EraError("This line was already posted")
    posted_ids = {ln.claim_line_id for ln in rc.lines if ln.posted}
    if claim_line_id is not None:
        matched = next((c for c in info.lines if c.id == claim_line_id and c.id not in posted_ids),
                       "That line is not an unposted line of the claim")
    else:
        matched = _match_line(line, rc.statement_from, info.lines, posted_ids)
    if isinstance(matched, str):
        raise EraError(matched)
    shares = _claim_level_shares(rc)
    if isinstance(shares, str):
        raise EraError(shares)
    decision = era_line(remittance, rc, line, matched, info, shares[line.sequence])
    if problem := ledger.line_problem(uow, decision.adjudication):
        raise EraError(f"Cannot post this line: {problem}")
    post_lines(uow, [decision], **era_payment(
        remittance, info, f"era:{remittance.content_hash}:{rc.sequence}:{line.sequence}:payment"))
    rc.posted = True
