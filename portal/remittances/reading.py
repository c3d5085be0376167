"""Reading remittances back for the staff pages: the list, posted lines, underpaid lines, PLB words."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    EraException,
    Remittance,
    Underpayment,
)

# ---------------------------------------------------------------- remittances

def remittances(page: int = 1, per_page: int = 50):
    stmt = select(Remittance).order_by(Remittance.imported_at.desc(), Remittance.id.desc())
    return db.paginate(stmt, page=page, per_page=per_page, error_out=False)


def posted_line_ids(remittance_id: int, claim_sequence: int | None = None) -> list[int]:
    """The adjudication history rows a remittance (or one of its claims) wrote when it posted."""
    remittance = db.session.get(Remittance, remittance_id)
    prefix = f"{remittance.content_hash}:" + (f"{claim_sequence}:" if claim_sequence is not None else "")
    return list(db.session.scalars(select(AdjudicatedLine.id).where(AdjudicatedLine.source_key.startswith(prefix))))


def underpaid_lines(remittance: Remittance) -> dict[tuple[int, int], Underpayment]:
    """Worklist items for this remittance's lines, keyed by (claim sequence, line sequence)."""
    rows = db.session.execute(select(AdjudicatedLine.source_key, Underpayment)
                              .join(Underpayment, Underpayment.line_id == AdjudicatedLine.id)
                              .where(AdjudicatedLine.source_key.startswith(f"{remittance.content_hash}:")))
    found = {}
    for key, item in rows:
        _, claim_seq, line_seq = key.rsplit(":", 2)
        found[(int(claim_seq), int(line_seq))] = item
    return found


PLB_REASONS = {
    "WO": "Overpayment recovery", "FB": "Forwarding balance", "L6": "Interest owed", "72": "Authorized return",
    "CS": "Adjustment", "B2": "Rebate", "E3": "Withholding", "J1": "Nonreimbursable",
    "IR": "Internal Revenue Service withholding", "AP": "Acceleration of benefits", "BD": "Bad debt adjustment",
    "C5": "Temporary allowance", "IS": "Interim settlement", "LE": "Levy",
}


def plb_words(code: str) -> str:
    return PLB_REASONS.get(code, "Provider-level adjustment")


def exceptions_by_claim(remittance_id: int) -> dict[int, list[EraException]]:
    found: dict[int, list[EraException]] = {}
    for exc in db.session.scalars(select(EraException).where(EraException.remittance_id == remittance_id,
                                                             EraException.state == "open")
                                  .order_by(EraException.id)):
        found.setdefault(exc.remittance_claim_id, []).append(exc)
    return found
