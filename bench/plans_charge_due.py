"""`plans charge-due` over many due installments: cost per installment at two sizes, and how much of it
is the card processor's round trip (the local Stripe emulator here).

Goal: the cost per installment at 10,000 stays within 1.2 times the cost at 1,000.

    .venv/bin/python -m bench.plans_charge_due [--sizes 1000 10000]
"""
import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date

import sqlalchemy as sa

from bench.iop_nightly import BASE, drop_database, fresh_database

DUE = date(2026, 12, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(n: int, emulator: str) -> dict:
    from flask_migrate import upgrade

    from portal import create_app, ledger, models, plans
    from portal.config import TestConfig
    from portal.extensions import db
    from portal.payments import gateway

    name = fresh_database()
    try:
        config = TestConfig()
        config.SQLALCHEMY_DATABASE_URI = sa.engine.make_url(BASE).set(database=name).render_as_string(False)
        config.STRIPE_API_BASE, config.STRIPE_SECRET_KEY = emulator, "sk_test_bench"
        config.MAIL_OUTBOX = tempfile.mkdtemp()
        app = create_app(config)
        with app.app_context():
            upgrade()
            facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
            code = models.BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=1)
            db.session.add_all([facility, code])
            db.session.commit()
            ids = range(1, n + 1)
            client = gateway._client()
            customers, methods = {}, {}
            for i in ids:  # each guarantor has its own emulator customer and card
                customers[i] = gateway.create_customer(i)
                methods[i] = client.v1.payment_methods.create(params={
                    "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031,
                                             "cvc": "123"}}).id
            db.session.execute(sa.insert(models.Account), [dict(
                id=i, facility_id=facility.id, number=f"P{i}", guarantor_name=f"G{i}", statement_day=1,
                collection_stage="none", insurance_balance_cents=0, patient_balance_cents=0, credit_cents=0,
                stripe_customer_id=customers[i]) for i in ids])
            db.session.execute(sa.insert(models.Patient), [dict(id=i, account_id=i, mrn=f"PM{i}", first_name="P",
                                                                last_name=str(i), date_of_birth=date(1990, 1, 1),
                                                                part2=False) for i in ids])
            db.session.commit()
            requests = [ledger.ChargeRequest(i, i, code.id, date(2026, 9, 1), 60000, f"bench:{i}",
                                             responsibility="patient") for i in ids]
            for start in range(0, n, 500):
                ledger.post_charges(requests[start:start + 500], actor="bench")
            db.session.execute(sa.insert(models.SavedCard), [dict(
                id=i, account_id=i, payment_method_id=methods[i], brand="visa", last4="4242", exp_month=12,
                exp_year=2031) for i in ids])
            db.session.execute(sa.insert(models.PaymentPlan), [dict(
                id=i, account_id=i, status="active", balance_cents=60000, down_payment_cents=0, months=3,
                first_due_date=DUE, saved_card_id=i, created_by="bench") for i in ids])
            db.session.execute(sa.insert(models.PlanInstallment), [dict(
                plan_id=i, sequence=k, due_date=plans.add_months(DUE, k - 1), amount_cents=20000, status="scheduled",
                failures=0, next_attempt_on=plans.add_months(DUE, k - 1)) for i in ids for k in (1, 2, 3)])
            for table in ("accounts", "patients", "saved_cards", "payment_plans"):
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"))
            db.session.commit()
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()

            spent = {"seconds": 0.0}
            for fn_name in ("create_payment_intent", "card_details"):
                original = getattr(gateway, fn_name)

                def timed(*args, _original=original, **kwargs):
                    start = time.perf_counter()
                    try:
                        return _original(*args, **kwargs)
                    finally:
                        spent["seconds"] += time.perf_counter() - start

                setattr(gateway, fn_name, timed)
            start = time.perf_counter()
            outcomes = plans.charge_due(DUE, actor="bench")
            seconds = time.perf_counter() - start
            assert len(outcomes) == n and {o.result for o in outcomes} == {"paid"}, outcomes[:3]
            assert plans.charge_due(DUE, actor="bench") == []
            db.session.remove()
            db.engine.dispose()
        own = seconds - spent["seconds"]
        return {"installments": n, "seconds": round(seconds, 2), "ms_per_installment": round(seconds / n * 1000, 2),
                "processor_share": round(spent["seconds"] / seconds, 3),
                "ms_per_installment_without_processor": round(own / n * 1000, 2)}
    finally:
        drop_database(name)


def with_emulator(n: int) -> dict:
    """Each size gets a fresh emulator: it keeps everything in memory and slows as it fills."""
    port = free_port()
    emulator = subprocess.Popen([sys.executable, "-m", "portal.stripe_emulator", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        return measure(n, f"http://127.0.0.1:{port}")
    finally:
        emulator.terminate()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    rows = []
    for n in args.sizes:  # printed as each size finishes: large sizes take a while against the emulator
        rows.append(with_emulator(n))
        print(json.dumps(rows[-1]), flush=True)
    report = {"runs": rows}
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        report["cost_ratio_largest_over_smallest"] = round(last["ms_per_installment"] / first["ms_per_installment"], 2)
        report["cost_ratio_without_processor"] = round(
            last["ms_per_installment_without_processor"] / first["ms_per_installment_without_processor"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
