"""A line matched by hand from the exception queue posts exactly what the import posts for a line it matches."""
import pytest
from sqlalchemy import select

from portal import remittances
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    Adjustment,
    Allocation,
    BalanceTransfer,
    Charge,
    Payment,
    RemittanceLine,
)
from tests.fixtures.era import DAY, cas, claim, file_of, ledger_clean, line, make_claim

CASES = {
    # Paid 300.00 on the line, but a claim-level CO-50 takes all of it back and nothing is the
    # patient's: a denial, nothing written off.
    "denied": dict(paid=30000, adjustments=(cas("CO", "45", 70000),),
                   claim_level=(cas("CO", "50", 30000),)),
    # Paid, with a claim-level sequestration taken out of the line's payment and written off.
    "paid": dict(paid=60000, adjustments=(cas("CO", "45", 20000), cas("PR", "2", 20000)),
                 claim_level=(cas("CO", "253", 1000),)),
}


def posted_on(charge_id: int) -> dict:
    """Everything the ledger and the remittance wrote for one charge, without ids and keys."""
    charge = db.session.get(Charge, charge_id)
    db.session.refresh(charge)
    allocations = db.session.scalars(select(Allocation).where(Allocation.charge_id == charge_id)).all()
    history = db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.charge_id == charge_id))
    era_line = db.session.scalar(select(RemittanceLine).where(RemittanceLine.charge_id == charge_id))
    return {
        "balances": (charge.insurance_balance_cents, charge.patient_balance_cents),
        "adjustments": sorted((a.kind, a.bucket, a.amount_cents, a.group_code, a.carc, a.rarc)
                              for a in db.session.scalars(
            select(Adjustment).where(Adjustment.charge_id == charge_id))),
        "transfers": sorted((t.from_bucket, t.to_bucket, t.amount_cents, t.reason, t.carc) for t in db.session.scalars(
            select(BalanceTransfer).where(BalanceTransfer.charge_id == charge_id))),
        "allocations": sorted((a.bucket, a.amount_cents) for a in allocations),
        "payments": sorted((p.source, p.method, p.amount_cents, p.payer_id, p.reference) for p in db.session.scalars(
            select(Payment).where(Payment.id.in_([a.payment_id for a in allocations])))),
        "line": (era_line.posted, era_line.denied, era_line.denial_codes, era_line.denial_reason,
                 era_line.allowed_cents),
        "history": (history.source, history.billed_cents, history.allowed_cents, history.paid_cents,
                    history.patient_resp_cents, history.deductible_cents, history.coinsurance_cents,
                    history.claim_status, history.denied, history.adjustments, history.units),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_a_line_matched_by_hand_posts_what_the_import_posts(app, case):
    figures = CASES[case]
    recoded = make_claim("HM100", [("S9480", DAY, 1, 100000)])
    matching = make_claim("HM101", [("S9480", DAY, 1, 100000)])

    def remit_line(code):
        return line(code, 100000, figures["paid"], *figures["adjustments"], remarks=["N115"])

    content = file_of(claim("HM100", remit_line("H0015"), adjustments=figures["claim_level"]),
                      claim("HM101", remit_line("S9480"), adjustments=figures["claim_level"]))
    result = remittances.import_file(content, f"{case}.835", actor="user:1")
    assert (result.posted_lines, result.exceptions) == (1, 1)
    [waiting] = remittances.open_exceptions()
    assert waiting.remittance_line.procedure_code == "H0015"

    remittances.resolve_exception(waiting.id, recoded.id, actor="user:2", claim_line_id=recoded.lines[0].id)

    by_hand, imported = posted_on(recoded.lines[0].charge_id), posted_on(matching.lines[0].charge_id)
    assert by_hand == imported
    if case == "denied":
        assert by_hand["line"][:3] == (True, True, "CO-45 CO-50 N115")
        assert "medical necessity" in by_hand["line"][3] and by_hand["adjustments"] == []
        assert by_hand["transfers"] == []
        assert by_hand["balances"] == (100000, 0) and by_hand["payments"] == []
    else:
        assert by_hand["adjustments"] == [("contractual", "insurance", 1000, "CO", "253", "N115"),
                                          ("contractual", "insurance", 20000, "CO", "45", "N115")]
        assert by_hand["payments"][0][2] == 59000 and by_hand["balances"] == (0, 20000)
        assert by_hand["line"][:2] == (True, False) and by_hand["history"][3] == 59000
    assert remittances.open_exceptions() == [] and ledger_clean()
