"""Claims to remit against, and 835 files built from plain records (amounts in cents)."""
import itertools
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    Adjustment,
    BalanceTransfer,
    Claim,
    ClaimLine,
    Coverage,
    EraException,
    LedgerEntry,
    Payer,
    Payment,
    Posting,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from portal.remittances import x12
from tests import factories

SAMPLES = Path(__file__).resolve().parents[1] / ".." / "shared" / "samples" / "x12" / "835"
DAY = date(2026, 10, 1)
PAYER_EIN = "1999999999"
_traces = itertools.count(1000)


def payer(x12_id: str = PAYER_EIN) -> Payer:
    found = db.session.scalar(select(Payer).where(Payer.x12_payer_id == x12_id))
    if found is None:
        found = Payer(name=f"Payer {x12_id}", x12_payer_id=x12_id, payer_type="commercial")
        db.session.add(found)
        db.session.commit()
    return found


def make_claim(control_number: str, lines, *, member_id: str | None = None, payer_id: str = PAYER_EIN) -> Claim:
    """An insured patient with one charge per line [(code, day, units, cents)] and a submitted claim."""
    acc = factories.account(with_coverage=False)
    patient = acc.patients[0]
    coverage = Coverage(patient=patient, payer=payer(payer_id), member_id=member_id or f"MEM{uuid.uuid4().hex[:8]}",
                        start_date=date(2020, 1, 1))
    db.session.add(coverage)
    db.session.commit()
    claim = Claim(control_number=control_number, account_id=acc.id, patient_id=patient.id, coverage_id=coverage.id,
                  payer_id=coverage.payer_id, total_cents=sum(ln[3] for ln in lines))
    for n, (code, day, units, cents) in enumerate(lines, 1):
        charge = ledger.post_charge(acc.id, patient_id=patient.id, billing_code_id=factories.code(code).id,
                                    service_date=day, amount_cents=cents, units=units, coverage_id=coverage.id,
                                    responsibility="insurance", key=f"era-test:{control_number}:{n}", actor="test")
        claim.lines.append(ClaimLine(line_number=n, charge_id=charge.id, procedure_code=code, service_date=day,
                                     units=units, charge_cents=cents))
    db.session.add(claim)
    db.session.commit()
    return claim


def cas(group: str, carc: str, cents: int) -> x12.Cas:
    return x12.Cas(group, carc, cents)


def line(code: str, charge: int, paid: int, *adjustments, day: date = DAY, units: int = 1, remarks=(),
         allowed: int | None = None) -> x12.Line:
    return x12.Line(0, code, None, None, charge, paid, units, day, allowed_cents=allowed,
                    adjustments=list(adjustments), remarks=list(remarks))


def claim(control_number: str, *lines, status: str = "1", adjustments=(), member_id: str = "M1",
          payer_claim_number: str | None = None, charge: int | None = None,
          paid: int | None = None) -> x12.ClaimPayment:
    lines = list(lines)
    for n, ln in enumerate(lines, 1):
        ln.sequence = n
    pr = sum(a.amount_cents for ln in lines for a in ln.adjustments if a.group == "PR")
    return x12.ClaimPayment(
        0, control_number, status, charge if charge is not None else sum(ln.charge_cents for ln in lines),
        paid if paid is not None else sum(ln.paid_cents for ln in lines) - sum(a.amount_cents for a in adjustments),
        pr, payer_claim_number or f"PCN-{control_number}-{status}", 0, patient_name="JANE DOE", member_id=member_id,
        adjustments=list(adjustments), lines=lines)


def remit(*claims, trace: str | None = None, plb=(), total: int | None = None, method: str = "ACH",
          payer_ein: str = PAYER_EIN, paid_on: date = date(2026, 11, 2)) -> x12.Remit:
    claims = list(claims)
    for n, c in enumerate(claims, 1):
        c.sequence = n
    plbs = [x12.ProviderAdj("1234567893", date(2026, 12, 31), reason, ref, cents) for reason, ref, cents in plb]
    paid = sum(c.paid_cents for c in claims) - sum(p.amount_cents for p in plbs)
    return x12.Remit(total if total is not None else paid, "C", method, paid_on, trace or f"TRACE{next(_traces)}",
                     payer_ein, "BLUE HARBOR HEALTH", None, None, claims, plbs)


def file_of(*claims, **kwargs) -> bytes:
    return x12.write(remit(*claims, **kwargs))


COUNTED = (Remittance, RemittanceClaim, RemittanceLine, EraException, AdjudicatedLine, Posting, LedgerEntry, Payment,
           Adjustment, BalanceTransfer)


def counts() -> dict[str, int]:
    """Rows of everything an import can write: a refused file must leave these unchanged."""
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def ledger_clean() -> bool:
    _, problems = ledger.check_all()
    return not problems


def claims_from_file(content: bytes, *, payer_id: str | None = None) -> list[Claim]:
    """Our side of a sample file: for each CLP a claim (control number = CLP01) with its SVC lines as charges."""
    remit_ = x12.parse(content)
    made = []
    for c in remit_.claims:
        if c.status_code == "22" or db.session.scalar(select(Claim).where(Claim.control_number == c.control_number)):
            continue
        day = c.statement_from or DAY
        lines = [(ln.procedure_code or "S9480", ln.service_date or day, ln.units, abs(ln.charge_cents))
                 for ln in c.lines] or [("S9480", day, 1, abs(c.charge_cents))]
        made.append(make_claim(c.control_number, lines, member_id=c.member_id,
                               payer_id=payer_id or remit_.payer_identifier or PAYER_EIN))
    return made
