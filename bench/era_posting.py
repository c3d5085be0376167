"""ERA posting on PostgreSQL: an 835 with N claims against N matching claims in a fresh database.

Figures: pyx12's bare parse/validate of the file, and our end-to-end import of the same file
(envelope, pyx12 validation, parse, balance, duplicate check, match, post, commit).
Goal: the import takes at most 3 times pyx12's own validation with one line per claim, and at most
1.5 times with three (15,000 lines, about 2 MB: the case one line per claim hides).

Within the import, two parts are timed on their own: its pyx12 validation and the bulk insert
(COPY) of the rows it writes; `floor_ratio` is what those two alone take against pyx12's bare
validation, the least any import that validates with pyx12 and writes these rows can reach.

    .venv/bin/python -m bench.era_posting [--claims 5000] [--lines 3]
"""
import argparse
import io
import json
import time
from datetime import date, timedelta

import sqlalchemy as sa

from bench.iop_nightly import bench_app, drop_database, fresh_database, insert_insured_patients

DAY = date(2026, 10, 1)
PAYER_EIN = "1999999999"


def _day(i: int, k: int) -> date:
    return DAY + timedelta(i % 20 + k)


def populate(db, models, n: int, lines: int = 1) -> None:
    """n insured patients, each with `lines` S9480 charges (a day apart) owed by insurance and a claim for them."""
    from portal import ledger

    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
    payer = models.Payer(name="Bench Payer", x12_payer_id=PAYER_EIN, payer_type="commercial")
    code = models.BillingCode(code="S9480", description="Per diem", kind="billable", level_of_care="iop",
                              default_price_cents=90000)
    db.session.add_all([facility, payer, code])
    db.session.commit()
    insert_insured_patients(db, models, n, facility_id=facility.id, payer_id=payer.id)
    ids = range(1, n + 1)
    db.session.commit()
    batch = ledger.post_charges([
        ledger.ChargeRequest(account_id=i, patient_id=i, billing_code_id=code.id, service_date=_day(i, k),
                             amount_cents=90000, key=f"bench:{i}:{k}", coverage_id=i)
        for i in ids for k in range(lines)], actor="bench")
    db.session.execute(sa.insert(models.Claim), [
        dict(id=i, control_number=f"BC{i:07d}", account_id=i, patient_id=i, coverage_id=i, payer_id=payer.id,
             status="submitted", total_cents=90000 * lines) for i in ids])
    db.session.execute(sa.insert(models.ClaimLine), [
        dict(claim_id=i, charge_id=batch.created[f"bench:{i}:{k}"], line_number=k + 1, procedure_code="S9480",
             revenue_code="0905", service_date=_day(i, k), units=1, charge_cents=90000)
        for i in ids for k in range(lines)])
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def remittance_file(n: int, lines: int = 1) -> bytes:
    """Every line: billed 900.00, CO-45 250.00, PR-1 100.00, PR-2 30.00, paid 520.00."""
    from portal.remittances import x12

    claims = []
    for i in range(1, n + 1):
        svc = [x12.Line(k + 1, "S9480", None, None, 90000, 52000, 1, _day(i, k),
                        adjustments=[x12.Cas("CO", "45", 25000), x12.Cas("PR", "1", 10000), x12.Cas("PR", "2", 3000)])
               for k in range(lines)]
        claims.append(x12.ClaimPayment(i, f"BC{i:07d}", "1", 90000 * lines, 52000 * lines, 13000 * lines, f"P{i}", 0,
                                       patient_name="B PATIENT", member_id=f"M{i}", lines=svc))
    remit = x12.Remit(52000 * n * lines, "C", "ACH", date(2026, 11, 2), "BENCHTRACE1", PAYER_EIN, "BENCH PAYER",
                      None, None, claims)
    return x12.write(remit)


def bare_pyx12(content: bytes) -> tuple[float, bool]:
    import pyx12.params
    import pyx12.x12n_document

    start = time.perf_counter()
    ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(content.decode("latin-1")), None,
                                           None, None, io.StringIO())
    return time.perf_counter() - start, ok


class _Timed:
    """Time spent in one function while installed (a context manager that wraps it and puts it back)."""

    def __init__(self, owner, name: str):
        self.owner, self.name, self.seconds = owner, name, 0.0

    def __enter__(self):
        self.original = original = getattr(self.owner, self.name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *_):
        setattr(self.owner, self.name, self.original)


def measure(n: int, lines: int = 1, profile: str | None = None) -> dict:
    from portal import ledger, models, remittances
    from portal.extensions import db
    from portal.remittances import x12

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            populate(db, models, n, lines)
            content = remittance_file(n, lines)
            pyx12_seconds, valid = bare_pyx12(content)
            assert valid, "the generated file does not validate"
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            with _Timed(x12, "validate") as validating, _Timed(ledger.UnitOfWork, "_insert") as inserting:
                start = time.perf_counter()
                result = remittances.import_file(content, "bench.835", actor="bench")
                seconds = time.perf_counter() - start
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            assert result.posted_lines == n * lines and result.exceptions == 0, result.summary()
            assert ledger.check_all()[1] == []
            db.session.remove()
            db.engine.dispose()
        return {"claims": n, "lines_per_claim": lines, "file_bytes": len(content),
                "pyx12_validate_seconds": round(pyx12_seconds, 2),
                "import_seconds": round(seconds, 2), "ratio": round(seconds / pyx12_seconds, 2),
                "import_validate_seconds": round(validating.seconds, 2),
                "import_row_insert_seconds": round(inserting.seconds, 2),
                "floor_ratio": round((validating.seconds + inserting.seconds) / pyx12_seconds, 2),
                "target_ratio": 3 if lines == 1 else 1.5}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=1, help="service lines per claim")
    parser.add_argument("--profile", help="write the import's cProfile statistics to this file")
    args = parser.parse_args()
    print(json.dumps(measure(args.claims, args.lines, args.profile), indent=2))


if __name__ == "__main__":
    main()
