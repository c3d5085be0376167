"""A month's journal export against the bare SQL sum of the same ledger entries, on PostgreSQL.

Goal: the export (summing, mapping through the chart, netting, checking the balance and rendering the
CSV) costs at most 1.5 times the plain GROUP BY that sums the month's entries per day and bucket.
The month holds N ledger entries (default 1,000,000) shaped as the ledger writes them: charges owed
by insurance or the patient (gross revenue by level of care), payments by method (unapplied cash),
their allocations (internal), adjustments of every kind, an agency's fee, insurance-to-patient
transfers and refunds, spread over the month's days. Rows are inserted in bulk (INSERT ... SELECT over
generate_series), not through the ledger. Each of the two is timed 5 times, alternating, and the
median taken. Runs in a fresh database created on the server BENCH_POSTGRES_URL names (default: the
local test server), dropped afterwards.

    .venv/bin/python -m bench.gl_export [--entries 1000000] [--runs 5]
"""
import argparse
import json
import statistics
import time
from datetime import date

import sqlalchemy as sa

from bench.iop_nightly import bench_app, drop_database, fresh_database

MONTH = date(2026, 10, 1)
LAST_DAY = date(2026, 10, 31)
ACCOUNTS = 20_000
# Level of care of one charge in twenty: IOP mostly, then outpatient and PHP.
LEVEL_MIX = ["iop"] * 9 + ["php"] * 4 + ["outpatient"] * 5 + ["residential", "detox"]
ENTRIES_PER_CHARGE = 3.353  # what the plan below writes on average (see `plan`)

BASELINE = sa.text("SELECT e.gl_date, e.bucket, sum(e.amount_cents) FROM ledger_entries e "
                   "JOIN accounts a ON a.id = e.account_id "
                   "WHERE a.facility_id = :f AND e.gl_date BETWEEN :start AND :end GROUP BY e.gl_date, e.bucket")

# One row per charge i, with what follows it (r = i % 10): a payment when r < 6 (a tenth of them pay
# 10.00 more than they apply, which stays unapplied; one in five of those is refunded), an adjustment
# when r is 0, 1, 2 or 6, and, on an insurance charge with r = 7, a tenth moved to the patient.
PLAN = """
CREATE UNLOGGED TABLE bench_plan AS
SELECT i, (i % :accounts) + 1 AS account_id, i + 1 AS charge_id, i * 8 AS base,
       CAST(:first AS date) + (i % :days) AS day,
       least(CAST(:first AS date) + (i % :days) + (i % 4), CAST(:last AS date)) AS paid_on,
       10000 + (i::bigint * 7919) % 90000 AS amount, (:codes)[1 + (i * 13) % 20] AS code_id,
       (:levels)[1 + (i * 13) % 20] AS level,
       CASE WHEN i % 3 = 0 THEN 'patient' ELSE 'insurance' END AS bucket, i % 10 AS r
FROM generate_series(0, :charges - 1) AS i
"""
DERIVED = """
CREATE UNLOGGED TABLE bench_detail AS
SELECT p.*, (amount * 4 / 10) AS applied, (amount * 4 / 10) + CASE WHEN r = 0 THEN 1000 ELSE 0 END AS paid,
       CASE WHEN bucket = 'patient' THEN (ARRAY['card', 'cash', 'check', 'card_present'])[1 + i % 4]
            ELSE (ARRAY['eft', 'eft', 'insurance_check'])[1 + i % 3] END AS method,
       amount * 3 / 10 AS adjusted,
       CASE WHEN bucket = 'insurance'
            THEN (ARRAY['contractual', 'contractual', 'contractual', 'payer_reduction', 'other_insurance'])[1 + i % 5]
            ELSE (ARRAY['small_balance', 'charity', 'bad_debt', 'administrative'])[1 + i % 4] END AS kind,
       (ARRAY['card', 'check', 'cash'])[1 + (i / 50) % 3] AS refund_method
FROM bench_plan p
"""
ENTRIES = """
CREATE UNLOGGED TABLE bench_entries AS
SELECT base + 1 AS posting_id, account_id, charge_id, NULL::int AS payment_id, bucket, amount::bigint AS amount_cents,
       day AS gl_date, 'revenue:' || level AS gl_source FROM bench_detail
UNION ALL
SELECT base + 2, account_id, NULL, charge_id, 'unapplied', -paid, paid_on, 'cash:' || method
FROM bench_detail WHERE r < 6
UNION ALL
SELECT base + 3, account_id, NULL, charge_id, 'unapplied', applied, paid_on, 'internal' FROM bench_detail WHERE r < 6
UNION ALL
SELECT base + 3, account_id, charge_id, NULL, bucket, -applied, paid_on, 'internal' FROM bench_detail WHERE r < 6
UNION ALL
SELECT base + 4, account_id, charge_id, NULL, bucket, -adjusted, paid_on,
       CASE WHEN bucket = 'patient' AND i % 8 = 7 THEN 'agency_fee' ELSE 'adjustment:' || kind END
FROM bench_detail WHERE r IN (0, 1, 2, 6)
UNION ALL
SELECT base + 5, account_id, charge_id, NULL, 'insurance', -(amount / 10), paid_on, 'internal'
FROM bench_detail WHERE r = 7 AND bucket = 'insurance'
UNION ALL
SELECT base + 5, account_id, charge_id, NULL, 'patient', amount / 10, paid_on, 'internal'
FROM bench_detail WHERE r = 7 AND bucket = 'insurance'
UNION ALL
SELECT base + 6, account_id, NULL, charge_id, 'unapplied', 1000, paid_on, 'refund:' || refund_method
FROM bench_detail WHERE i % 50 = 0
"""
POSTINGS = """
INSERT INTO postings (id, account_id, kind, idempotency_key, fingerprint, actor, created_at)
SELECT DISTINCT posting_id, account_id,
       (ARRAY['charge', 'payment', 'allocation', 'adjustment', 'transfer', 'refund'])[posting_id % 8],
       'bench:' || posting_id, 'bench', 'bench', now()
FROM bench_entries
"""
ROWS = [
    """INSERT INTO charges (id, account_id, patient_id, billing_code_id, posting_id, service_date, units, amount_cents,
                            source, created_by, created_at, insurance_balance_cents, patient_balance_cents,
                            review_status)
       SELECT charge_id, account_id, account_id, code_id, base + 1, day, 1, amount, 'bench', 'bench', now(), 0, 0,
              'released' FROM bench_detail""",
    """INSERT INTO payments (id, account_id, posting_id, source, method, amount_cents, received_on, created_by,
                             created_at)
       SELECT charge_id, account_id, base + 2, CASE WHEN bucket = 'patient' THEN 'patient' ELSE 'insurance' END,
              method, paid, paid_on, 'bench', now() FROM bench_detail WHERE r < 6""",
    """INSERT INTO allocations (posting_id, payment_id, charge_id, bucket, amount_cents)
       SELECT base + 3, charge_id, charge_id, bucket, applied FROM bench_detail WHERE r < 6""",
    """INSERT INTO adjustments (posting_id, account_id, charge_id, bucket, kind, amount_cents, created_by, created_at)
       SELECT base + 4, account_id, charge_id, bucket,
              CASE WHEN bucket = 'patient' AND i % 8 = 7 THEN 'administrative' ELSE kind END, adjusted, 'bench', now()
       FROM bench_detail WHERE r IN (0, 1, 2, 6)""",
    """INSERT INTO balance_transfers (posting_id, charge_id, from_bucket, to_bucket, amount_cents, reason, created_by,
                                      created_at)
       SELECT base + 5, charge_id, 'insurance', 'patient', amount / 10,
              (ARRAY['deductible', 'coinsurance', 'copay'])[1 + i % 3], 'bench', now()
       FROM bench_detail WHERE r = 7 AND bucket = 'insurance'""",
    """INSERT INTO refunds (payment_id, posting_id, amount_cents, method, check_number, reason, created_by, created_at)
       SELECT charge_id, base + 6, 1000, refund_method, CASE WHEN refund_method = 'check' THEN '1001' END,
              'overpaid', 'bench', now() FROM bench_detail WHERE i % 50 = 0""",
    # In the order the ledger would have written them: day by day.
    """INSERT INTO ledger_entries (posting_id, account_id, charge_id, payment_id, bucket, amount_cents, created_at,
                                   gl_date, gl_source)
       SELECT posting_id, account_id, charge_id, payment_id, bucket, amount_cents, now(), gl_date, gl_source
       FROM bench_entries ORDER BY gl_date, posting_id, bucket""",
    # The cached balances, as the ledger keeps them.
    """UPDATE charges c SET insurance_balance_cents = s.insurance, patient_balance_cents = s.patient
       FROM (SELECT charge_id, coalesce(sum(amount_cents) FILTER (WHERE bucket = 'insurance'), 0) AS insurance,
                    coalesce(sum(amount_cents) FILTER (WHERE bucket = 'patient'), 0) AS patient
             FROM bench_entries WHERE charge_id IS NOT NULL GROUP BY charge_id) s
       WHERE c.id = s.charge_id""",
    """UPDATE accounts a SET insurance_balance_cents = s.insurance, patient_balance_cents = s.patient,
                             credit_cents = -s.unapplied
       FROM (SELECT account_id, coalesce(sum(amount_cents) FILTER (WHERE bucket = 'insurance'), 0) AS insurance,
                    coalesce(sum(amount_cents) FILTER (WHERE bucket = 'patient'), 0) AS patient,
                    coalesce(sum(amount_cents) FILTER (WHERE bucket = 'unapplied'), 0) AS unapplied
             FROM bench_entries GROUP BY account_id) s
       WHERE a.id = s.account_id""",
]


def populate(db, models, entries: int) -> int:
    """The facility, its accounts and codes, and a month of ledger rows; the facility's id."""
    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
    levels = sorted(set(LEVEL_MIX))
    codes = {level: models.BillingCode(code=f"B-{level[:8]}", description=level, kind="billable",
                                       level_of_care=level, default_price_cents=50000) for level in levels}
    db.session.add_all([facility, *codes.values()])
    db.session.commit()
    accounts = ACCOUNTS if entries >= 200_000 else max(entries // 50, 10)
    db.session.execute(sa.text(
        "INSERT INTO accounts (id, facility_id, number, guarantor_name, preferred_language, statement_day,"
        " collection_stage, created_at, insurance_balance_cents, patient_balance_cents, credit_cents)"
        " SELECT i, :f, 'B' || i, 'G' || i, 'en', 1, 'none', now(), 0, 0, 0 FROM generate_series(1, :n) AS i"),
        {"f": facility.id, "n": accounts})
    db.session.execute(sa.text(
        "INSERT INTO patients (id, account_id, mrn, first_name, last_name, date_of_birth, part2)"
        " SELECT i, i, 'BM' || i, 'B', 'P' || i, date '1990-01-01', false FROM generate_series(1, :n) AS i"),
        {"n": accounts})
    charges = max(round(entries / ENTRIES_PER_CHARGE), 1)
    db.session.execute(sa.text(PLAN).bindparams(
        sa.bindparam("codes", type_=sa.ARRAY(sa.Integer)), sa.bindparam("levels", type_=sa.ARRAY(sa.String))), {
        "accounts": accounts, "first": MONTH, "last": LAST_DAY, "days": (LAST_DAY - MONTH).days + 1,
        "codes": [codes[level].id for level in LEVEL_MIX], "levels": LEVEL_MIX, "charges": charges})
    for statement in (DERIVED, ENTRIES, POSTINGS, *ROWS):
        db.session.execute(sa.text(statement))
    for table in ("accounts", "patients", "charges", "postings", "payments"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"))
    db.session.execute(sa.text("DROP TABLE bench_plan, bench_detail, bench_entries"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # as autovacuum would after a bulk load
        conn.execute(sa.text("CHECKPOINT"))  # the load's writes flushed now, not during the timings
    return facility.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from portal import models
    from portal.extensions import db
    from portal.finance import journal
    from portal.finance.chart import ensure_chart

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            start = time.perf_counter()
            facility_id = populate(db, models, args.entries)
            load_seconds = time.perf_counter() - start
            entries = db.session.scalar(sa.text("SELECT count(*) FROM ledger_entries"))
            ensure_chart(facility_id, actor="bench")  # a facility's books are set up once, before any export
            db.session.commit()
            window = {"f": facility_id, "start": MONTH, "end": LAST_DAY}

            def baseline() -> list:
                rows = db.session.execute(BASELINE, window).all()
                db.session.rollback()
                return rows

            def export() -> journal.Export:
                result = journal.export(facility_id, MONTH, LAST_DAY, "parity", actor="bench")
                db.session.rollback()  # no export records pile up between runs
                return result

            baseline(), export()  # warm the caches
            baseline_times, export_times = [], []
            for _ in range(args.runs):
                for run, times in ((baseline, baseline_times), (export, export_times)):
                    began = time.perf_counter()
                    result = run()
                    times.append(time.perf_counter() - began)
            lines = result.lines
            debits, credits = sum(x.debit_cents for x in lines), sum(x.credit_cents for x in lines)
            receivable = db.session.scalar(sa.text(
                "SELECT sum(insurance_balance_cents + patient_balance_cents) FROM charges"))
            ar = sum(x.debit_cents - x.credit_cents for x in lines if x.account_number in ("1200", "1210"))
            assert debits == credits and ar == receivable, (debits, credits, ar, receivable)
            assert db.session.scalar(sa.text("SELECT count(*) FROM gl_exports")) == 0
            base_s, export_s = statistics.median(baseline_times), statistics.median(export_times)
            db.session.remove()
            db.engine.dispose()
        print(json.dumps({
            "database": "postgresql", "entries": entries, "days": (LAST_DAY - MONTH).days + 1,
            "load_seconds": round(load_seconds, 1), "runs": args.runs, "baseline_s": round(base_s, 3),
            "export_s": round(export_s, 3), "ratio": round(export_s / base_s, 2), "goal_ratio": 1.5,
            "journal_lines": len(lines), "csv_bytes": len(result.content), "debits_cents": debits,
            "balanced": debits == credits, "receivables_match_charges": ar == receivable,
        }, indent=2))
    finally:
        drop_database(name)


if __name__ == "__main__":
    main()
