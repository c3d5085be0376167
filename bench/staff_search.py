"""Staff search over 100,000 patients on PostgreSQL: p50/p95 of `portal.search.find` over mixed queries (names,
MRNs, account numbers, dates of birth, phones, member ids, claim numbers), and the same queries with index scans
turned off (every lookup a sequential scan) as the baseline, measured in the same run.

Goal: p95 under 100 ms. Runs in a fresh database on the server BENCH_POSTGRES_URL names (default: the local test
server), dropped afterwards.

    .venv/bin/python -m bench.staff_search [--patients 100000] [--queries 400]
"""
import argparse
import json
import random
import statistics
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench.iop_nightly import bench_app, drop_database, fresh_database

SYLLABLES = ("al", "ber", "cor", "dan", "el", "fer", "gar", "han", "is", "jor", "kel", "lin", "mar", "nor", "o",
             "par", "quin", "ros", "san", "tor", "ul", "ven", "wil", "xan", "yor", "zel")
FIRST_NAMES = ("Maria", "James", "Ana", "John", "Li", "Fatima", "David", "Sofia", "Omar", "Grace", "Luis", "Emma",
               "Noah", "Aisha", "Ivan", "Mei", "Carlos", "Zoe", "Samuel", "Priya")
CHUNK = 10_000


def people(n: int, rng: random.Random) -> list[dict]:
    last_names = sorted({(a + b + c).capitalize() for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:6]})
    born = date(1940, 1, 1)
    return [{"id": i, "last": rng.choice(last_names), "first": rng.choice(FIRST_NAMES),
             "dob": born + timedelta(days=rng.randrange(60 * 365)), "phone": f"{rng.randrange(200, 999)}"
             f"{rng.randrange(200, 999)}{rng.randrange(10000):04d}"} for i in range(1, n + 1)]


def populate(db, models, rows: list[dict]) -> None:
    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
    payer = models.Payer(name="Bench Payer", x12_payer_id="BENCH", payer_type="commercial")
    db.session.add_all([facility, payer])
    db.session.commit()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        db.session.execute(sa.insert(models.Account), [
            dict(id=r["id"], facility_id=facility.id, number=f"A{r['id']:07d}", guarantor_name=f"{r['first']} "
                 f"{r['last']}", statement_day=1, collection_stage="none", insurance_balance_cents=0,
                 patient_balance_cents=0, credit_cents=0, preferred_language="en") for r in chunk])
        db.session.execute(sa.insert(models.Patient), [
            dict(id=r["id"], account_id=r["id"], mrn=f"MRN{r['id']:07d}", first_name=r["first"], last_name=r["last"],
                 date_of_birth=r["dob"], phone=f"({r['phone'][:3]}) {r['phone'][3:6]}-{r['phone'][6:]}",
                 phone_digits=r["phone"], part2=False, relationship_to_guarantor="18", preferred_language="en",
                 consent_email=False, consent_text=False, consent_voicemail=False) for r in chunk])
        db.session.execute(sa.insert(models.Coverage), [
            dict(id=r["id"], patient_id=r["id"], payer_id=payer.id, member_id=f"W{r['id'] * 7919:010d}", priority=1,
                 start_date=date(2026, 1, 1), in_network=True, deductible_cents=0, deductible_met_cents=0,
                 coinsurance_bps=0, copay_cents=0, copay_per="day", oop_max_cents=0, oop_met_cents=0,
                 subscriber_relationship="18") for r in chunk])
        db.session.execute(sa.insert(models.Claim), [
            dict(id=r["id"], control_number=f"C{r['id']:09d}", account_id=r["id"], patient_id=r["id"],
                 coverage_id=r["id"], payer_id=payer.id, status="submitted", total_cents=0)
            for r in chunk if r["id"] % 2 == 0])
    for table in ("accounts", "patients", "coverages", "claims"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {len(rows)})"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


MAKERS = {
    "last_name_prefix": lambda r: r["last"][:4].lower(),
    "last_first_prefix": lambda r: f"{r['last']}, {r['first'][:2]}",
    "first_last": lambda r: f"{r['first']} {r['last']}",
    "mrn": lambda r: f"MRN{r['id']:07d}",
    "account": lambda r: f"A{r['id']:07d}",
    "dob_us": lambda r: r["dob"].strftime("%m/%d/%Y"),
    "dob_iso": lambda r: r["dob"].isoformat(),
    "phone": lambda r: f"{r['phone'][:3]}-{r['phone'][3:6]}-{r['phone'][6:]}",
    "member_id": lambda r: f"W{r['id'] * 7919:010d}",
    "claim": lambda r: f"C{r['id'] - r['id'] % 2:09d}",
}


def queries(rows: list[dict], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """What a front desk types, as (kind, text): name prefixes, whole names and each kind of number, in equal
    shares."""
    kinds = list(MAKERS)
    return [(kinds[i % len(kinds)], MAKERS[kinds[i % len(kinds)]](rng.choice(rows[1:]))) for i in range(count)]


def timed(find, typed: list[tuple[str, str]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for kind, text in typed:
        start = time.perf_counter()
        hits = find(text)
        times.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
        assert hits, text  # every query names someone who exists
    return times


def summary(by_kind: dict[str, list[float]]) -> dict:
    ordered = sorted(t for times in by_kind.values() for t in times)
    return {"queries": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2), "max_ms": round(ordered[-1], 2),
            "p95_ms_by_kind": {kind: round(sorted(times)[max(0, int(len(times) * 0.95) - 1)], 2)
                               for kind, times in by_kind.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=400)
    args = parser.parse_args()
    from portal import models, search
    from portal.extensions import db

    rng = random.Random(17)
    rows = people(args.patients, rng)
    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            start = time.perf_counter()
            populate(db, models, rows)
            loaded = time.perf_counter() - start
            typed = queries(rows, args.queries, rng)
            timed(search.find, typed[:50])  # warm the caches and the connection
            indexed = summary(timed(search.find, typed))
            plan = "\n".join(db.session.execute(sa.text(
                "EXPLAIN SELECT id FROM patients WHERE lower(last_name) LIKE 'berk%' ESCAPE '\\'")).scalars())
            # The baseline: the same queries, the planner told not to use any index.
            for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                db.session.execute(sa.text(f"SET {setting} = off"))
            baseline = summary(timed(search.find, typed[:max(20, args.queries // 10)]))
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()
        print(json.dumps({"patients": args.patients, "load_seconds": round(loaded, 1), "indexed": indexed,
                          "full_scan_baseline": baseline, "goal_p95_ms": 100,
                          "meets_goal": indexed["p95_ms"] < 100, "name_prefix_uses_index": "Index" in plan},
                         indent=2))
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
