"""Claims out on PostgreSQL: build and scrub claims from N released charges, then write and send the 837.

Figures, for 1,000 and 10,000 charges (10 attended weekdays per patient) in fresh databases:
- build: selecting the charges, grouping them by week, writing claims and lines, and every scrubber check;
- write: turning the built claims into the 837 text; pyx12: its bare validation of that text.
Goals: the per-charge cost of building is flat from 1,000 to 10,000 charges (ratio at most 1.2), and
writing the file costs no more than pyx12's validation of it (ratio at most 1.0, same run).

    .venv/bin/python -m bench.claims_out [--charges 1000 10000] [--profile FILE]
"""
import argparse
import json
import time
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from bench.era_posting import bare_pyx12
from bench.iop_nightly import bench_app, drop_database, fresh_database, insert_insured_patients

MONDAY = date(2026, 11, 2)
DAYS_PER_PATIENT = 10


def _weekdays(count: int) -> list[date]:
    found, day = [], MONDAY
    while len(found) < count:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return found


def populate(db, models, patients: int) -> None:
    """A billing-ready facility and `patients` insured patients, each with an episode, an authorization,
    signed attendance and a charge on each of DAYS_PER_PATIENT weekdays (bulk inserts)."""
    from portal import ledger

    facility = models.Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH", npi="1234567893",
                               tin="123456789", phone="973-555-0100", address_line1="1 Main St", city="Newark",
                               state="NJ", zip_code="07102-1234")
    db.session.add(facility)
    db.session.flush()
    billing = models.Provider(facility_id=facility.id, kind="organization", organization_name="Bench Center",
                              npi="1234567893", tin="123456789", taxonomy_code="261QR0405X")
    location = models.Location(facility_id=facility.id, name="Main", place_of_service="57")
    program = models.Program(facility_id=facility.id, name="IOP", level_of_care="iop", location=location,
                             billing_provider=billing, rendering_provider=billing)
    payer = models.Payer(name="Bench Payer", x12_payer_id="87726", payer_type="commercial")
    code = models.BillingCode(code="S9480", description="Per diem", revenue_code="0905", kind="billable",
                              level_of_care="iop", default_price_cents=65000)
    db.session.add_all([billing, program, payer, code])
    db.session.commit()
    insert_insured_patients(db, models, patients, facility_id=facility.id, payer_id=payer.id)
    ids = range(1, patients + 1)
    db.session.execute(sa.update(models.Patient).values(sex="F", address_line1="2 Elm St", city="Newark",
                                                        state="NJ", zip_code="07102"))
    db.session.execute(sa.insert(models.Episode), [
        dict(id=i, patient_id=i, program_id=program.id, admit_date=MONDAY, created_by="bench") for i in ids])
    db.session.execute(sa.insert(models.EpisodeDiagnosis), [
        dict(episode_id=i, position=p, code=c) for i in ids for p, c in ((1, "F1020"), (2, "F331"))])
    db.session.execute(sa.insert(models.Authorization), [
        dict(id=i, patient_id=i, coverage_id=i, billing_code_id=code.id, number=f"A{i}", start_date=MONDAY,
             end_date=MONDAY + timedelta(days=90), units_allotted=30, created_by="bench") for i in ids])
    days = _weekdays(DAYS_PER_PATIENT)
    db.session.execute(sa.insert(models.ClinicalSession), [
        dict(patient_id=i, service_date=day, billing_code_id=code.id, minutes=180, units=3, clinician="Dr. B",
             signed=True, source="bench", created_by="bench") for i in ids for day in days])
    for table in ("episodes", "authorizations"):
        db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {patients})"))
    db.session.commit()
    ledger.post_charges([
        ledger.ChargeRequest(account_id=i, patient_id=i, billing_code_id=code.id, service_date=day,
                             amount_cents=65000, key=f"bench:{i}:{day}", coverage_id=i, source="iop",
                             episode_id=i, authorization_id=i, diagnosis_pointers="1,2")
        for i in ids for day in days], actor="bench")
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def measure(charges: int, profile: str | None = None) -> dict:
    from portal import claims, models
    from portal.claims import batches, x837
    from portal.extensions import db

    patients = charges // DAYS_PER_PATIENT
    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            populate(db, models, patients)
            profiler = None
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            start = time.perf_counter()
            built = claims.build(claims.ChargeFilter(), actor="bench")
            db.session.commit()
            build_seconds = time.perf_counter() - start
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
            assert {c.status for c in built} == {"ready"}, {i.message for c in built for i in c.issues}
            payer = db.session.scalar(sa.select(models.Payer))
            home = db.session.scalar(sa.select(models.Facility))
            start = time.perf_counter()
            ready = batches.ready_claims([c.id for c in built])
            text = x837.write(batches.parts_of(ready), claim_type="professional", control=1, facility=home,
                              payer=payer, sender_id="123456789", now=datetime(2026, 12, 1, 9, 0))
            write_seconds = time.perf_counter() - start
            pyx12_seconds, valid = bare_pyx12(text.encode())
            assert valid, "the written 837 does not validate"
            start = time.perf_counter()
            (batch,) = claims.send(payer, actor="bench").batches
            db.session.commit()
            send_seconds = time.perf_counter() - start
            assert batch.claim_count == len(built)
            db.session.remove()
            db.engine.dispose()
        return {"charges": charges, "claims": len(built), "build_seconds": round(build_seconds, 2),
                "build_ms_per_charge": round(1000 * build_seconds / charges, 3),
                "write_seconds": round(write_seconds, 2), "pyx12_validate_seconds": round(pyx12_seconds, 2),
                "write_to_pyx12_ratio": round(write_seconds / pyx12_seconds, 3),
                "send_seconds": round(send_seconds, 2), "file_bytes": len(text)}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--charges", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--profile", help="write the largest run's build cProfile statistics to this file")
    args = parser.parse_args()
    runs = [measure(n, args.profile if n == max(args.charges) else None) for n in args.charges]
    report = {"runs": runs}
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        report["per_charge_ratio"] = round(large["build_ms_per_charge"] / small["build_ms_per_charge"], 2)
        report["targets"] = {"per_charge_ratio": 1.2, "write_to_pyx12_ratio": 1.0}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
