"""Demo underpayments: a payer allowing a little less each month, then the scan."""
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    ContractRate,
    Payer,
)
from portal.remittances.underpayments import ScanResult, add_contract_rate, scan

# ---------------------------------------------------------------- demo

def seed(today: date, *, actor: str) -> ScanResult:
    """A year of Summit Mutual's S9480 history (imported, drifting down) and a Blue Harbor contract rate,
    then a scan, so the worklist shows one line flagged on each basis and the drift page has a chart."""
    payers = {p.x12_payer_id: p for p in db.session.scalars(select(Payer))}
    summit, harbor = payers.get("SMM02"), payers.get("BHH01")
    if summit is None or harbor is None:
        return ScanResult(None, 0, 0, 0)
    for month in range(12, 0, -1):
        for half in (0, 1):
            day = today - timedelta(days=30 * month + 14 * half)
            allowed = 70000 + 400 * month  # the payer has been allowing a little less each month
            key = f"demo:history:SMM02:{month}:{half}"
            if db.session.scalar(select(AdjudicatedLine.id).where(AdjudicatedLine.source_key == key)) is None:
                db.session.add(AdjudicatedLine(
                    source="import", source_key=key, payer_id=summit.id, procedure_code="S9480", revenue_code="0905",
                    level_of_care="iop", service_date=day, paid_on=day + timedelta(days=21), units=1, in_network=True,
                    billed_cents=95000, allowed_cents=allowed, paid_cents=allowed - allowed // 5,
                    patient_resp_cents=allowed // 5, coinsurance_cents=allowed // 5, claim_status="1",
                    adjustments=[{"group": "CO", "carc": "45", "amount_cents": 95000 - allowed},
                                 {"group": "PR", "carc": "2", "amount_cents": allowed // 5}]))
    if not db.session.scalar(select(ContractRate.id).where(ContractRate.payer_id == harbor.id)):
        add_contract_rate(payer_id=harbor.id, plan_id=None, procedure_code="S9480", allowed_cents=70000,
                          effective_from=date(today.year, 1, 1), effective_to=None, actor=actor)
    db.session.flush()
    return scan(actor=actor)
