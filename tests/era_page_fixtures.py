"""A posted remittance with something in every queue: a posted claim (underpaid against its contract
rate), a claim the payer sent under a number we never issued (exception), and a denied claim."""
from dataclasses import dataclass
from datetime import date

import pytest

from portal import remittances
from portal.extensions import db
from portal.models import Claim, EraException, EraUpload, Remittance, RemittanceLine, Underpayment
from portal.remittances import underpayments
from tests import era_fixtures as ef
from tests import factories

RATE_CENTS = 100000


@dataclass
class RemittanceWorld:
    remittance: Remittance
    upload: EraUpload
    paid_claim: Claim
    lost_claim: Claim  # ours, but the payer echoed a wrong control number
    denied_claim: Claim
    exception: EraException
    denied_line: RemittanceLine
    underpayment: Underpayment


def remittance_file(trace: str = "TRC-PAGES-1") -> bytes:
    return ef.file_of(
        ef.claim("CLM-PAID-1", ef.line("S9480", 100000, 48000, ef.cas("CO", "45", 40000), ef.cas("PR", "2", 12000),
                                       allowed=60000), member_id="MEMPAID"),
        ef.claim("CLM-TYPO-9", ef.line("S9480", 95000, 95000, allowed=95000), member_id="XQ0000001"),
        ef.claim("CLM-DENY-1", ef.line("S9480", 90000, 0, ef.cas("CO", "50", 90000), remarks=["N115"]),
                 status="4", member_id="MEMDENY"),
        trace=trace)


def make_claims() -> tuple[Claim, Claim, Claim]:
    paid = ef.make_claim("CLM-PAID-1", [("S9480", ef.DAY, 1, 100000)], member_id="MEMPAID")
    lost = ef.make_claim("CLM-LOST-1", [("S9480", ef.DAY, 1, 95000)], member_id="MEMLOST")
    denied = ef.make_claim("CLM-DENY-1", [("S9480", ef.DAY, 1, 90000)], member_id="MEMDENY")
    return paid, lost, denied


def contract_rate() -> None:
    underpayments.add_contract_rate(payer_id=ef.payer().id, plan_id=None, procedure_code="S9480",
                                    allowed_cents=RATE_CENTS, effective_from=date(2026, 1, 1), effective_to=None,
                                    actor="test")


@pytest.fixture
def remittance_world(app) -> RemittanceWorld:
    factories.facility()
    paid, lost, denied = make_claims()
    contract_rate()
    upload = remittances.create_upload(remittance_file(), "harbor-1102.835", actor="test")
    upload = remittances.run_upload(upload.id, actor="test")
    assert upload.status == "posted", upload.problems
    remittance = db.session.get(Remittance, upload.remittance_id)
    exception = db.session.scalar(db.select(EraException))
    denied_line = db.session.scalar(db.select(RemittanceLine).where(RemittanceLine.denied.is_(True)))
    item = db.session.scalar(db.select(Underpayment))
    return RemittanceWorld(remittance, upload, paid, lost, denied, exception, denied_line, item)
