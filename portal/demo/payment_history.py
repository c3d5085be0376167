"""Demo payment history: two years of adjudicated lines per payer and level, the estimator's evidence."""
from datetime import date, timedelta

from sqlalchemy import select

from portal import money
from portal.estimates.share import Benefits, apply_benefits
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    InsurancePlan,
    Payer,
)

# ---------------------------------------------------------------- demo history


DEMO_RATES = {  # payer x12 id -> level -> allowed per unit two years ago, cents
    "BHH01": {"iop": 62000, "php": 98000, "outpatient": 14500},
    "SMM02": {"iop": 54000, "php": 88000, "outpatient": 12000},
    "SMP03": {"iop": 31000, "php": 52000, "outpatient": 8200},
    "KSC04": {"iop": 70000, "php": 110000, "outpatient": 16000},
}
DEMO_LEVELS = {"iop": ("S9480", "0905", 95000, (10, 30)), "php": ("H0035", "0913", 140000, (5, 15)),
               "outpatient": ("90837", "0914", 25000, (4, 12))}
DEMO_EPISODES = {"iop": 45, "php": 20, "outpatient": 35}  # per payer


def seed(today: date, *, seed: int = 2026) -> int:
    """Two years of adjudicated history for the demo payers (deterministic); returns the lines added."""
    import random

    from sqlalchemy import insert

    from portal.models import BillingCode

    if db.session.scalar(select(AdjudicatedLine.id).where(AdjudicatedLine.source_key.like("demo:%")).limit(1)):
        return 0
    if db.session.scalar(select(Payer).where(Payer.x12_payer_id == "KSC04")) is None:
        keystone = Payer(name="Keystone Care", x12_payer_id="KSC04", payer_type="commercial")
        db.session.add_all([keystone, InsurancePlan(payer=keystone, name="Keystone Gold PPO")])
    if db.session.scalar(select(BillingCode).where(BillingCode.code == "H0035")) is None:
        db.session.add(BillingCode(code="H0035", description="Mental health partial hospitalization, per diem",
                                   revenue_code="0913", kind="billable", level_of_care="php",
                                   default_price_cents=140000))
    db.session.flush()
    rng = random.Random(seed)
    rows = []
    for payer in db.session.scalars(select(Payer).where(Payer.x12_payer_id.in_(DEMO_RATES)).order_by(Payer.id)):
        plan_ids = [p.id for p in payer.plans] or [None]
        in_network = payer.x12_payer_id != "SMM02"
        for level, count in DEMO_EPISODES.items():
            code, revenue, price, (shortest, longest) = DEMO_LEVELS[level]
            for number in range(count):
                start = today - timedelta(days=rng.randint(60, 730))
                days = rng.randint(shortest, longest)
                plan_id = rng.choice(plan_ids)
                benefits = Benefits(in_network=in_network, copay_cents=rng.choice([0, 0, 0, 3000, 5000]),
                                    deductible_remaining_cents=rng.choice([0, 25000, 50000, 150000]),
                                    coinsurance_bps=rng.choice([1000, 2000, 2000, 3000]),
                                    oop_remaining_cents=rng.choice([200000, 400000, 600000]),
                                    copay_waives_deductible=True)
                if payer.payer_type == "medicaid":
                    benefits = Benefits(copay_cents=rng.choice([0, 300]))
                # Rates rise about 4% a year; each stay's allowed varies a little around the contract.
                base = DEMO_RATES[payer.x12_payer_id][level]
                drift_bps = 400 * (730 - (today - start).days) // 365 + rng.randint(-700, 700)
                allowed = base + money.pct(base, drift_bps)
                shares = apply_benefits(allowed, days, benefits)
                episode = f"demo-{payer.x12_payer_id}-{level}-{number}"
                for day, share in enumerate(shares):
                    service_date = start + timedelta(days=day + day // 5 * 2)  # five days a week
                    paid_on = service_date + timedelta(days=rng.randint(14, 45))
                    if paid_on > today:  # the rest of this stay is still with the payer
                        break
                    denied = rng.random() < 0.04
                    rows.append(dict(
                        source="import", source_key=f"demo:{episode}:{day}", payer_id=payer.id, plan_id=plan_id,
                        episode_key=episode, level_of_care=level, procedure_code=code, revenue_code=revenue,
                        service_date=service_date, paid_on=paid_on,
                        units=1, in_network=in_network, billed_cents=price, allowed_cents=0 if denied else allowed,
                        paid_cents=0 if denied else share.payer, patient_resp_cents=0 if denied else share.patient,
                        deductible_cents=0 if denied else share.deductible,
                        coinsurance_cents=0 if denied else share.coinsurance, copay_cents=0 if denied else share.copay,
                        claim_status="4" if denied else "1", denied=denied,
                        adjustments=[{"group": "CO", "carc": "50", "amount_cents": price}] if denied else
                        [{"group": "CO" if in_network else "PR", "carc": "45", "amount_cents": price - allowed}]))
    db.session.execute(insert(AdjudicatedLine), rows)
    db.session.flush()
    return len(rows)
