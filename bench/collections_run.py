"""The nightly collections run and the aging report on PostgreSQL, at two sizes.

Goal: cost per account flat from 10,000 to 100,000 accounts (ratio <= 1.2). Accounts owe a patient
balance that became theirs 0-179 days before the run, each has had its first statement; one in ten
has a promise to pay, one in twenty a staff hold, one in ten insurance still pending. Each size runs
in a fresh database created on the server BENCH_POSTGRES_URL names (default: the local test server)
and dropped afterwards. Rows are bulk-inserted (executemany), not built one by one with the ORM.

    .venv/bin/python -m bench.collections_run [--sizes 10000 100000]
"""
import argparse
import json
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench.iop_nightly import bench_app, drop_database, fresh_database

DAY = date(2026, 10, 14)


def populate(db, models, n: int) -> None:
    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
    payer = models.Payer(name="Bench Payer", x12_payer_id="BENCH", payer_type="commercial")
    code = models.BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=95000)
    db.session.add_all([facility, payer, code])
    db.session.commit()
    ids = range(1, n + 1)

    def since(i: int) -> date:
        return DAY - timedelta(days=i % 180)

    def owed(i: int) -> int:
        return 2000 + (i * 7919) % 400000

    def insurance(i: int) -> int:
        return 50000 if i % 10 == 3 else 0

    db.session.execute(sa.insert(models.Account), [
        dict(id=i, facility_id=facility.id, number=f"B{i}", guarantor_name=f"G{i}", statement_day=1, state="NJ",
             collection_stage="none", insurance_balance_cents=insurance(i), patient_balance_cents=owed(i),
             credit_cents=0) for i in ids])
    db.session.execute(sa.insert(models.Patient), [
        dict(id=i, account_id=i, mrn=f"BM{i}", first_name="B", last_name=str(i), date_of_birth=date(1990, 1, 1),
             part2=False) for i in ids])
    db.session.execute(sa.insert(models.Posting), [
        dict(id=i, account_id=i, kind="charge", idempotency_key=f"bench:{i}", fingerprint="bench", actor="bench")
        for i in ids])
    db.session.execute(sa.insert(models.Charge), [
        dict(id=i, account_id=i, patient_id=i, billing_code_id=code.id, posting_id=i,
             service_date=since(i) - timedelta(days=20), units=1, amount_cents=owed(i) + insurance(i), source="bench",
             created_by="bench", insurance_balance_cents=insurance(i), patient_balance_cents=owed(i),
             patient_responsible_since=since(i)) for i in ids])
    db.session.execute(sa.insert(models.Statement), [
        dict(account_id=i, statement_date=since(i), due_date=since(i) + timedelta(days=25), cycle_number=1,
             code=f"S{i:011d}", amount_due_cents=owed(i), snapshot={}, created_by="bench") for i in ids])
    db.session.execute(sa.insert(models.PromiseToPay), [
        dict(account_id=i, amount_cents=1000, made_on=DAY - timedelta(days=10), due_on=DAY - timedelta(days=i % 3),
             status="open", created_by="bench") for i in ids if i % 10 == 1])
    db.session.execute(sa.insert(models.CollectionHold), [
        dict(account_id=i, kind="dispute", reason="bench", starts_on=DAY - timedelta(days=5),
             review_on=DAY + timedelta(days=30), created_by="bench") for i in ids if i % 20 == 7])
    for table in ("accounts", "patients", "postings", "charges"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def measure(n: int) -> dict:
    from portal import collections, models
    from portal.extensions import db

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            populate(db, models, n)
            first, first_s = timed(lambda: collections.run(DAY, actor="bench"))
            assert first.cases_opened == n, first.cases_opened
            nightly, nightly_s = timed(lambda: collections.run(DAY + timedelta(days=1), actor="bench"))
            rerun, rerun_s = timed(lambda: collections.run(DAY + timedelta(days=1), actor="bench"))
            assert rerun.cases_opened == 0 and not any(rerun.advanced.values())
            report, aging_s = timed(lambda: collections.aging(DAY + timedelta(days=1)))
            assert report.accounts == n
            _queue, queue_s = timed(lambda: collections.queue(DAY + timedelta(days=1)))
            db.session.remove()
            db.engine.dispose()
        return {"accounts": n, "first_run_seconds": round(first_s, 2), "nightly_run_seconds": round(nightly_s, 2),
                "rerun_seconds": round(rerun_s, 2), "aging_report_seconds": round(aging_s, 2),
                "queue_seconds": round(queue_s, 3), "advanced": nightly.advanced,
                "ms_per_account_run": round(nightly_s / n * 1000, 4),
                "ms_per_account_aging": round(aging_s / n * 1000, 4)}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    report = {"runs": rows}
    if len(rows) >= 2:
        for part in ("run", "aging"):
            report[f"cost_ratio_{part}_largest_over_smallest"] = round(
                rows[-1][f"ms_per_account_{part}"] / rows[0][f"ms_per_account_{part}"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
