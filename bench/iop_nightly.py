"""The nightly IOP run on PostgreSQL: time for N patient-days, and cost per patient-day at two sizes.

Goal: 10,000 patient-days in under 30 s; cost per patient-day flat from 1,000 to 10,000 (ratio <= 1.2).
Each size runs in a fresh database created on the server BENCH_POSTGRES_URL names (default: the
local test server) and dropped afterwards.

    .venv/bin/python -m bench.iop_nightly [--sizes 1000 10000]
"""
import argparse
import json
import os
import time
import uuid
from datetime import date, timedelta

import sqlalchemy as sa
from flask_migrate import upgrade

BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DAY = date(2026, 10, 14)


def fresh_database() -> str:
    name = f"parity_bench_{uuid.uuid4().hex[:10]}"
    with sa.create_engine(BASE, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


def drop_database(name: str) -> None:
    with sa.create_engine(BASE, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def bench_app(name: str):
    """A Parity app on the bench database `name`, its schema built by the migrations."""
    from portal import create_app
    from portal.config import TestConfig

    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = sa.engine.make_url(BASE).set(database=name).render_as_string(False)
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


def insert_insured_patients(db, models, n: int, *, facility_id: int, payer_id: int) -> None:
    """Accounts, patients and in-network coverages 1..n, one each per patient (bulk inserts, sequences moved on)."""
    ids = range(1, n + 1)
    db.session.execute(sa.insert(models.Account), [
        dict(id=i, facility_id=facility_id, number=f"B{i}", guarantor_name=f"G{i}", statement_day=1,
             collection_stage="none", insurance_balance_cents=0, patient_balance_cents=0, credit_cents=0)
        for i in ids])
    db.session.execute(sa.insert(models.Patient), [
        dict(id=i, account_id=i, mrn=f"BM{i}", first_name="B", last_name=str(i), date_of_birth=date(1990, 1, 1),
             part2=False) for i in ids])
    db.session.execute(sa.insert(models.Coverage), [
        dict(id=i, patient_id=i, payer_id=payer_id, member_id=f"M{i}", priority=1, start_date=date(2026, 1, 1),
             in_network=True, deductible_cents=0, deductible_met_cents=0, coinsurance_bps=0, copay_cents=0,
             copay_per="day", oop_max_cents=0, oop_met_cents=0) for i in ids])
    for table in ("accounts", "patients", "coverages"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})"))


def populate(db, models, n: int) -> None:
    """n insured patients, each with an authorization and three signed units on DAY (bulk inserts)."""
    from portal import iop
    from portal.facility import save_settings

    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
    payer = models.Payer(name="Bench Payer", x12_payer_id="BENCH", payer_type="commercial")
    group = models.BillingCode(code="90853", description="Group", kind="documentation")
    per_diem = models.BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=95000)
    db.session.add_all([facility, payer, group, per_diem,
                        models.BillingCodeGroup(name="IOP documentation", purpose="documentation", codes=[group]),
                        models.BillingCodeGroup(name="IOP billable", purpose="billable", codes=[per_diem])])
    db.session.commit()
    config = save_settings(iop.settings())  # read as unsaved defaults until stored
    config.catch_up_days = 0
    db.session.commit()
    ids = range(1, n + 1)
    insert_insured_patients(db, models, n, facility_id=facility.id, payer_id=payer.id)
    db.session.execute(sa.insert(models.Authorization), [
        dict(id=i, patient_id=i, coverage_id=i, billing_code_id=per_diem.id, start_date=date(2026, 10, 1),
             end_date=date(2026, 10, 31), units_allotted=20, created_by="bench") for i in ids])
    db.session.execute(sa.insert(models.ClinicalSession), [
        dict(patient_id=i, service_date=DAY, billing_code_id=group.id, minutes=minutes, units=units,
             clinician="Dr. Bench", signed=True, source="bench", created_by="bench")
        for i in ids for units, minutes in ((2, 120), (1, 60))])
    db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('authorizations', 'id'), {n})"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def measure(n: int) -> dict:
    from portal import iop, ledger, models
    from portal.extensions import db

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            populate(db, models, n)
            start = time.perf_counter()
            result = iop.run(DAY + timedelta(days=2), actor="bench")
            seconds = time.perf_counter() - start
            assert len(result.charges) == n, (len(result.charges), result.exceptions[:3])
            rerun_start = time.perf_counter()
            again = iop.run(DAY + timedelta(days=2), actor="bench")
            rerun = time.perf_counter() - rerun_start
            assert again.charges == []
            assert ledger.check_all()[1] == []
            db.session.remove()
            db.engine.dispose()
        return {"patient_days": n, "seconds": round(seconds, 2), "ms_per_patient_day": round(seconds / n * 1000, 3),
                "rerun_seconds": round(rerun, 2)}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    rows = [measure(n) for n in args.sizes]
    report = {"runs": rows}
    if len(rows) >= 2:
        largest, smallest = rows[-1]["ms_per_patient_day"], rows[0]["ms_per_patient_day"]
        report["cost_ratio_largest_over_smallest"] = round(largest / smallest, 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
