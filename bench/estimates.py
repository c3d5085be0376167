"""One estimate against 1,000,000 historical payment lines on PostgreSQL: p50 / p95 latency.

Goal: p95 under 100 ms. Baseline: the same estimates with index scans switched off (a plain full scan).
Each estimate is a patient-share estimate for a plan with enough history (the common case): one query.
The lines are loaded with COPY into a fresh database on the server BENCH_POSTGRES_URL names (default:
the local test server), dropped afterwards.

    .venv/bin/python -m bench.estimates [--lines 1000000] [--runs 200]
"""
import argparse
import json
import random
import statistics
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench.iop_nightly import bench_app, drop_database, fresh_database

TODAY = date(2026, 10, 14)
LEVELS = (("iop", "S9480", 5), ("php", "H0035", 2), ("outpatient", "90837", 3))  # weights of the mix
PAYERS, PLANS_PER_PAYER = 20, 5


def populate(db, models, lines: int) -> list[tuple[int, int, str]]:
    """Payers, plans and `lines` adjudicated lines over three years, bulk-loaded with COPY."""
    rng = random.Random(7)
    payers = [models.Payer(name=f"Payer {i}", x12_payer_id=f"P{i:03d}",
                           payer_type="commercial" if i < 14 else ("medicaid" if i < 18 else "medicare"))
              for i in range(PAYERS)]
    db.session.add(models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH"))
    db.session.add_all(payers)
    db.session.flush()
    plans = [models.InsurancePlan(payer_id=p.id, name=f"Plan {j}") for p in payers for j in range(PLANS_PER_PAYER)]
    db.session.add_all(plans)
    db.session.commit()
    plan_ids = [(p.payer_id, p.id) for p in plans]
    levels = [level for level, _, weight in LEVELS for _ in range(weight)]
    codes = {level: code for level, code, _ in LEVELS}
    rates = {(payer.id, level): rng.randint(20000, 90000) for payer in payers for level, _, _ in LEVELS}
    columns = ("source", "source_key", "payer_id", "plan_id", "episode_key", "level_of_care", "procedure_code",
               "service_date", "paid_on", "units", "billed_cents", "allowed_cents", "paid_cents",
               "patient_resp_cents", "deductible_cents", "coinsurance_cents", "copay_cents", "claim_status", "denied",
               "adjustments", "created_at")
    connection = db.session.connection().connection.driver_connection  # psycopg 3
    copy_sql = f"COPY adjudicated_lines ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for n in range(lines):
            payer_id, plan_id = plan_ids[rng.randrange(len(plan_ids))]
            level = levels[rng.randrange(len(levels))]
            service = TODAY - timedelta(days=rng.randint(30, 1100))
            denied = rng.random() < 0.04
            allowed = 0 if denied else rates[(payer_id, level)] + rng.randint(-3000, 3000)
            patient = allowed // 5
            copy.write_row(("import", f"b{n}", payer_id, plan_id, f"e{n // 15}", level, codes[level], service,
                            service + timedelta(days=rng.randint(14, 45)), 1, 95000, allowed, allowed - patient,
                            patient, 0, patient, 0, "4" if denied else "1", denied, "[]", "2026-10-14 00:00+00"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE adjudicated_lines"))  # as autovacuum would after a bulk load
    return [(payer_id, plan_id, level) for payer_id, plan_id in plan_ids for level, _, _ in LEVELS]


def timings(estimates, requests, runs: int, rng) -> list[float]:
    times = []
    for _ in range(runs):
        payer_id, plan_id, level = requests[rng.randrange(len(requests))]
        request = estimates.Request(level=level, days=20, payer_id=payer_id, plan_id=plan_id,
                                    benefits=estimates.Benefits(deductible_remaining_cents=50000,
                                                                coinsurance_bps=2000, oop_remaining_cents=400000))
        start = time.perf_counter()
        result = estimates.estimate(request, as_of=TODAY)
        times.append((time.perf_counter() - start) * 1000)
        assert result.has_data and result.evidence.level == "plan"
    return times


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"runs": len(times), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 1), "max_ms": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    from portal import estimates, models
    from portal.extensions import db

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            start = time.perf_counter()
            requests = populate(db, models, args.lines)
            load_seconds = time.perf_counter() - start
            rng = random.Random(11)
            estimates.settings()
            timings(estimates, requests, 10, rng)  # warm the cache
            indexed = summary(timings(estimates, requests, args.runs, rng))
            # Baseline: the same estimates on a plain full scan (every new connection has index scans off).
            db.session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                    conn.execute(sa.text(f'ALTER DATABASE "{name}" SET {setting} = off'))
            db.engine.dispose()
            assert db.session.execute(sa.text("SHOW enable_indexonlyscan")).scalar() == "off"
            full_scan = summary(timings(estimates, requests, max(args.runs // 10, 10), rng))
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
        print(json.dumps({"lines": args.lines, "load_seconds": round(load_seconds, 1), "estimate": indexed,
                          "baseline_full_scan": full_scan, "goal_p95_ms": 100}, indent=2))
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
