"""The statement run on PostgreSQL at two sizes, and statement PDFs rendered by worker processes.

Goal: cost per account flat from 10,000 to 100,000 accounts (ratio <= 1.2), and no PDF rendered inside
the run. Every account's statement day is the run's day and every one owes enough for a statement, in
eight shapes written through the ledger itself (self-pay; insurance pending; a coinsurance transfer; a
second statement with a payment since the first; a reversed payment; two patients; a small-balance
write-off; no email, mail by post only). Those eight accounts are then copied with INSERT ... SELECT
(ids, keys and unique numbers moved on per copy), so the copies are the rows the app writes. Each size
runs in a fresh database created on the server BENCH_POSTGRES_URL names (default: the local test
server) and dropped afterwards. Statement notices are queued to the Celery broker REDIS_URL names
(default: none, and the mail tasks run inline to the outbox folder, as `make run` does).

Then the PDF part: K statements of the smaller run rendered to PDF by one worker process per core,
reported as pages per second per core.

    .venv/bin/python -m bench.statement_run [--small 10000] [--large 100000] [--pdfs 200]
"""
import argparse
import json
import multiprocessing
import os
import re
import subprocess
import tempfile
import time
import uuid
from datetime import date, timedelta

import sqlalchemy as sa

from bench.iop_nightly import BASE, bench_app, drop_database

DAY = date(2026, 11, 10)  # the run's day: every account's statement day
EARLIER = DAY - timedelta(days=31)  # the first statement of the accounts on their second one
SHAPES = 8  # accounts in the template block


def create_database() -> str:
    name = f"bench_stmt_{uuid.uuid4().hex[:10]}"
    with sa.create_engine(BASE, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return name


def build_reference(db, models) -> tuple:
    """The facility, a payer and a billing code: there once, never copied."""
    facility = models.Facility(name="Bench", neutral_name="Bench Health", statement_descriptor="BENCH",
                               phone="555-0100", remit_address="Bench Health\nPO Box 1")
    payer = models.Payer(name="Bench Payer", x12_payer_id="BENCH", payer_type="commercial")
    code = models.BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=95000)
    db.session.add_all([facility, payer, code])
    db.session.commit()
    return facility, payer, code


def build_template(db, models, facility, payer, code) -> None:
    """The eight account shapes, written through the ledger and the statement issuing themselves."""
    from portal import ledger, statements

    def account(shape: int, patients: int = 1, email: bool = True):
        acc = models.Account(facility_id=facility.id, number=f"B{shape}", guarantor_name=f"Guarantor {shape}",
                             email=f"g{shape}@example.org" if email else None, address_line1="1 Main St",
                             city="Newark", state="NJ", zip_code="07081", statement_day=DAY.day)
        db.session.add(acc)
        db.session.flush()
        for p in range(patients):
            patient = models.Patient(account_id=acc.id, mrn=f"BM{shape}-{p}", first_name=f"Pat{p}",
                                     last_name=f"Bench{shape}", date_of_birth=date(1990, 1, 1 + p), zip_code="07081")
            db.session.add(patient)
            db.session.flush()
            db.session.add(models.Coverage(patient_id=patient.id, payer_id=payer.id, member_id=f"M{shape}-{p}",
                                           start_date=date(2026, 1, 1)))
        db.session.commit()
        return acc

    def charge(acc, cents: int, day: date, key: str, responsibility: str = "patient", patient: int = 0):
        return ledger.post_charge(acc.id, patient_id=acc.patients[patient].id, billing_code_id=code.id,
                                  service_date=day, amount_cents=cents, responsibility=responsibility,
                                  key=f"bench:{key}", actor="bench")

    october = date(2026, 10, 1)
    a = account(1)  # self-pay, first statement
    charge(a, 15000, october, "1a")
    a = account(2)  # insurance still owes one charge, the patient another
    charge(a, 90000, october, "2a", "insurance")
    charge(a, 12000, october + timedelta(days=1), "2b")
    a = account(3)  # insurance moved the coinsurance to the patient
    c = charge(a, 90000, october, "3a", "insurance")
    ledger.transfer(c.id, amount_cents=18000, to_bucket="patient", reason="coinsurance", key="bench:3t", actor="bench")
    a = account(4)  # second statement: a payment since the first
    charge(a, 40000, date(2026, 9, 15), "4a")
    statements.issue(db.session.get(models.Account, a.id), EARLIER, actor="bench")
    db.session.commit()
    ledger.post_payment(a.id, amount_cents=10000, method="card", key="bench:4p", actor="bench",
                        received_on=EARLIER + timedelta(days=5))
    a = account(5)  # a payment reversed (a bounced check)
    charge(a, 30000, october, "5a")
    paid = ledger.post_payment(a.id, amount_cents=30000, method="check", key="bench:5p", actor="bench")
    ledger.reverse(paid.posting_id, key="bench:5r", actor="bench", reason="returned check")
    a = account(6, patients=2)  # two patients, three visits
    charge(a, 9000, october, "6a")
    charge(a, 9000, october + timedelta(days=7), "6b", patient=1)
    charge(a, 9000, october + timedelta(days=14), "6c")
    a = account(7)  # a small balance written off on one charge
    charge(a, 25000, october, "7a")
    small = charge(a, 400, october + timedelta(days=2), "7b")
    ledger.post_adjustment(small.id, amount_cents=400, kind="small_balance", bucket="patient", key="bench:7w",
                           actor="bench")
    a = account(8, email=False)  # no email: the mailed statement is the only notice
    charge(a, 50000, october, "8a")
    db.session.commit()


def clone(db, tables: list[sa.Table], copies: int) -> None:
    """Copy every row of `tables` `copies` - 1 more times (INSERT ... SELECT): ids moved on by the table's
    largest id per copy, foreign keys into copied tables likewise, unique strings given the copy's number."""
    stride = {t.name: db.session.scalar(sa.select(sa.func.max(t.c.id))) for t in tables}
    unique = {c.name for t in tables for c in t.columns if c.unique}
    series = sa.func.generate_series(1, copies - 1).table_valued("k").render_derived(name="copy")
    k = series.c.k
    for table in tables:
        values = []
        for column in table.columns:
            target = next((fk.column.table.name for fk in column.foreign_keys if fk.column.table.name in stride),
                          None)
            if column.name == "id":
                values.append(column + k * stride[table.name])
            elif target is not None:
                values.append(column + k * stride[target])
            elif column.name in unique and isinstance(column.type, sa.String):
                room = (column.type.length or 200) - 7  # "-" and up to six digits
                values.append(sa.func.left(column, room).concat("-").concat(sa.cast(k, sa.String)))
            else:
                values.append(column)
        source = sa.select(*values).select_from(table.join(series, sa.true()))
        db.session.execute(sa.insert(table).from_select([c.name for c in table.columns], source))
        top = stride[table.name] * copies
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {top})"))
    db.session.commit()


def populate(db, models, n: int) -> None:
    """n accounts in the eight shapes (n a multiple of eight)."""
    made = build_reference(db, models)
    reference = {t.name for t in db.metadata.sorted_tables
                 if db.session.scalar(sa.select(sa.func.count()).select_from(t))}
    build_template(db, models, *made)
    written = [t for t in db.metadata.sorted_tables if t.name not in reference and t.name != "alembic_version"
               and db.session.scalar(sa.select(sa.func.count()).select_from(t))]
    clone(db, written, n // SHAPES)
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def mail_to_broker(app) -> None:
    """Notices queued to REDIS_URL's broker as in production; without one, sent inline to a scratch outbox."""
    app.config["MAIL_OUTBOX"] = tempfile.mkdtemp(prefix="statement-outbox-")
    app.config["DOCUMENT_STORE"] = tempfile.mkdtemp(prefix="statement-pdfs-")
    if broker := os.environ.get("REDIS_URL"):
        app.extensions["celery"].conf.update(broker_url=broker, task_always_eager=False)


def forget_queued_mail() -> None:
    """The bench's notices are never sent: the queue they went to is emptied."""
    if broker := os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(broker).delete("celery")


def count_queries(engine) -> list[int]:
    counter = [0]
    sa.event.listen(engine, "before_cursor_execute", lambda *args: counter.__setitem__(0, counter[0] + 1))
    return counter


def measure(n: int, keep_for_pdfs: int = 0) -> tuple[dict, list[int], str | None]:
    """One size: the run timed, then run again (it must issue nothing). With `keep_for_pdfs`, the
    database is kept and the ids of that many new statements returned."""
    from portal import ledger, models, statements
    from portal.extensions import db

    name = create_database()
    keep = False
    try:
        app = bench_app(name)
        mail_to_broker(app)
        with app.app_context():
            build_start = time.perf_counter()
            populate(db, models, n)
            build_seconds = time.perf_counter() - build_start
            assert db.session.scalar(sa.select(sa.func.count(models.Account.id))) == n
            queries = count_queries(db.engine)
            start = time.perf_counter()
            result = statements.run(DAY, actor="bench")
            db.session.commit()
            seconds = time.perf_counter() - start
            run_queries = queries[0]
            assert len(result.issued) == n, (len(result.issued), result.skipped[:3])
            pdfs_before = len(list(_pdf_files(app)))
            assert pdfs_before == 0, f"the run rendered {pdfs_before} PDFs"
            rerun_start = time.perf_counter()
            again = statements.run(DAY, actor="bench")
            db.session.commit()
            rerun = time.perf_counter() - rerun_start
            assert again.issued == [] and len(again.skipped) == n
            if n <= 20000:
                assert ledger.check_all()[1] == []
            forget_queued_mail()
            ids = [row["statement_id"] for row in result.issued[:keep_for_pdfs]]
            db.session.remove()
            db.engine.dispose()
        keep = bool(keep_for_pdfs)
        row = {"accounts": n, "build_seconds": round(build_seconds, 1), "seconds": round(seconds, 2),
               "ms_per_account": round(seconds / n * 1000, 3), "queries_per_account": round(run_queries / n, 2),
               "rerun_seconds": round(rerun, 2)}
        return row, ids, name if keep else None
    finally:
        if not keep:
            drop_database(name)


def _pdf_files(app):
    store = app.config["DOCUMENT_STORE"]
    return os.scandir(store) if store and os.path.isdir(store) else iter(())


# ---------------------------------------------------------------- PDFs by worker processes

_worker_app = None


def _start_worker(database: str, store: str) -> None:
    global _worker_app
    _worker_app = _app_for(database, store)


def _app_for(database: str, store: str):
    from portal import create_app
    from portal.config import TestConfig

    config = TestConfig()
    config.SQLALCHEMY_DATABASE_URI = sa.engine.make_url(BASE).set(database=database).render_as_string(False)
    config.DOCUMENT_STORE = store
    return create_app(config)


def _render_pages(statement_id: int) -> int:
    from portal import statements
    from portal.extensions import db
    from portal.models import Statement

    with _worker_app.app_context(), _worker_app.test_request_context():
        data = statements.pdf(db.session.get(Statement, statement_id))
        db.session.remove()
    info = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True, text=False).stdout
    return int(re.search(rb"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def pdf_rate(database: str, ids: list[int]) -> dict:
    cores = os.cpu_count() or 1
    store = tempfile.mkdtemp(prefix="statement-pdfs-")
    context = multiprocessing.get_context("spawn")
    with context.Pool(cores, initializer=_start_worker, initargs=(database, store)) as pool:
        pool.map(_render_pages, ids[:cores])  # warm up: templates, fonts (these few are timed again below)
        for entry in os.scandir(store):
            os.unlink(entry.path)
        start = time.perf_counter()
        pages = sum(pool.map(_render_pages, ids, chunksize=1))
        seconds = time.perf_counter() - start
    return {"statements": len(ids), "pages": pages, "workers": cores, "seconds": round(seconds, 2),
            "pages_per_second": round(pages / seconds, 2),
            "pages_per_second_per_core": round(pages / seconds / cores, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=100000)
    parser.add_argument("--pdfs", type=int, default=200)
    args = parser.parse_args()
    small, ids, kept = measure(args.small - args.small % SHAPES, keep_for_pdfs=args.pdfs)
    try:
        pdfs = pdf_rate(kept, ids) if ids else None
    finally:
        if kept:
            drop_database(kept)
    large, _ids, _ = measure(args.large - args.large % SHAPES)
    ratio = round(large["ms_per_account"] / small["ms_per_account"], 2)
    print(json.dumps({"runs": [small, large], "cost_ratio_largest_over_smallest": ratio, "goal_ratio": 1.2,
                      "flat": ratio <= 1.2, "pdf": pdfs}, indent=2))


if __name__ == "__main__":
    main()
