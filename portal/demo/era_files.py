"""Demo ERA files: remittances written for the demo's claims and imported as a payer's would be."""
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Claim,
    Remittance,
)
from portal.remittances import x12
from portal.remittances.codes import ImportResult
from portal.remittances.posting import import_file

# ---------------------------------------------------------------- demo


def seed(today: date, *, actor: str) -> list[ImportResult]:
    """Import one demo 835 per payer for the demo claims' days not yet adjudicated: paid with CO-45 and
    PR-2, one denial (CO-197) and one claim that is not ours (for the exception queue)."""
    if db.session.scalar(select(Remittance.id).limit(1)) is not None:
        return []
    by_payer = defaultdict(list)
    for claim_ in db.session.scalars(select(Claim).order_by(Claim.id)):
        open_lines = [ln for ln in claim_.lines if ln.charge.insurance_balance_cents == ln.charge_cents]
        if open_lines:
            by_payer[claim_.payer].append((claim_, open_lines))
    results = []
    for n, (payer, claims) in enumerate(by_payer.items(), 1):
        remit = x12.Remit(0, "C", "ACH", today - timedelta(days=2), f"DEMO{today:%y%m%d}{n:02d}", f"1{n:09d}",
                          payer.name.upper(), payer.x12_payer_id, today - timedelta(days=3))
        for claim_, lines in claims:
            out = []
            for ln in lines:
                # Summit Mutual allows less than its own history: the underpayment worklist shows it.
                allowed = min(52000 if payer.x12_payer_id == "SMM02" else 65000, ln.charge_cents)
                if len(out) == 1 and n == len(by_payer):  # the last payer denies one day
                    cas = [x12.Cas("CO", "197", ln.charge_cents)]
                    paid = 0
                else:
                    coinsurance = allowed * 20 // 100
                    cas = [x12.Cas("CO", "45", ln.charge_cents - allowed), x12.Cas("PR", "2", coinsurance)]
                    paid = allowed - coinsurance
                out.append(x12.Line(len(out) + 1, ln.procedure_code, None, None, ln.charge_cents, paid, 1,
                                    ln.service_date, adjustments=[c for c in cas if c.amount_cents]))
            member = claim_.patient.coverages[0].member_id if claim_.patient.coverages else None
            remit.claims.append(x12.ClaimPayment(
                len(remit.claims) + 1, claim_.control_number, "1", sum(ln.charge_cents for ln in out),
                sum(ln.paid_cents for ln in out), sum(c.amount_cents for ln in out for c in ln.adjustments
                                                        if c.group == "PR"),
                f"DEMO{claim_.id:06d}", 0, patient_name=claim_.patient.full_name.upper(), member_id=member, lines=out))
        if n == 1:  # a claim the facility never sent: it waits in the exception queue
            remit.claims.append(x12.ClaimPayment(
                len(remit.claims) + 1, "UNKNOWN-4471", "1", 40000, 30000, 0, "DEMO-X", 0, patient_name="ALEX SMITH",
                member_id="ZZ999", lines=[x12.Line(1, "90791", None, None, 40000, 30000, 1, today - timedelta(days=30),
                                                   adjustments=[x12.Cas("CO", "45", 10000)])]))
        remit.payment_cents = sum(c.paid_cents for c in remit.claims)
        results.append(import_file(x12.write(remit, control=n), f"demo-{payer.name.lower().replace(' ', '-')}.835",
                                   actor=actor))
    return results
