"""FHIR bundle import on PostgreSQL: bundles of 1,000 and 10,000 patients, each with a guarantor (RelatedPerson) and a
coverage with one of five payers, imported into a fresh database each (JSON in hand; reading, validation, matching,
writing and the commit are timed). Goal: the cost per patient stays flat, 10k / 1k at most 1.2.

    .venv/bin/python -m bench.fhir_import [--sizes 1000,10000]
"""
import argparse
import json
import time

from bench.iop_nightly import bench_app, drop_database, fresh_database

PAYERS = 5
TARGET_RATIO = 1.2


def bundle(n: int) -> str:
    """n patients (MRN, address, phone), their mothers as guarantors and subscribers, a coverage each."""
    entries = []
    for p in range(PAYERS):
        entries.append({"fullUrl": f"urn:uuid:payer-{p}", "resource": {
            "resourceType": "Organization", "id": f"payer-{p}", "name": f"Bench Payer {p}",
            "identifier": [{"type": {"coding": [{"code": "NIIP"}]}, "system": "urn:x12", "value": f"BP{p:03d}"}],
            "type": [{"coding": [{"code": "ins"}]}]}})
    for i in range(n):
        entries += [
            {"fullUrl": f"urn:uuid:patient-{i}", "resource": {
                "resourceType": "Patient", "id": f"patient-{i}",
                "identifier": [{"type": {"coding": [{"code": "MR"}]}, "system": "urn:bench:mrn", "value": f"B{i:07d}"}],
                "name": [{"family": f"Family{i}", "given": ["Pat", "Middle"]}], "gender": "female",
                "birthDate": f"{2000 + i % 20}-0{1 + i % 9}-1{i % 10}",
                "address": [{"line": [f"{i} Main Street"], "city": "Springfield", "state": "NJ",
                             "postalCode": "07081"}],
                "telecom": [{"system": "phone", "value": f"973-555-{i % 10000:04d}"}]}},
            {"fullUrl": f"urn:uuid:guarantor-{i}", "resource": {
                "resourceType": "RelatedPerson", "id": f"guarantor-{i}",
                "patient": {"reference": f"Patient/patient-{i}"},
                "identifier": [{"system": "urn:bench:person", "value": f"G{i:07d}"}],
                "relationship": [{"coding": [{"code": "MTH"}]}, {"coding": [{"code": "GUAR"}]}],
                "name": [{"family": f"Family{i}", "given": ["Parent"]}], "birthDate": "1975-05-05",
                "telecom": [{"system": "email", "value": f"parent{i}@example.org"}]}},
            {"fullUrl": f"urn:uuid:coverage-{i}", "resource": {
                "resourceType": "Coverage", "id": f"coverage-{i}", "status": "active",
                "identifier": [{"system": "urn:bench:coverage", "value": f"C{i:07d}"}],
                "subscriberId": f"M{i:08d}", "beneficiary": {"reference": f"Patient/patient-{i}"},
                "subscriber": {"reference": f"RelatedPerson/guarantor-{i}"},
                "relationship": {"coding": [{"code": "child"}]}, "period": {"start": "2026-01-01"},
                "payor": [{"reference": f"Organization/payer-{i % PAYERS}"}],
                "class": [{"type": {"coding": [{"code": "plan"}]}, "value": "P", "name": "Bench PPO"}]}},
        ]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def measure(n: int) -> dict:
    from portal import imports
    from portal.extensions import db

    name = fresh_database()
    try:
        app = bench_app(name)
        with app.app_context():
            text = bundle(n)
            start, cpu = time.perf_counter(), time.process_time()
            result = imports.import_bundle(text, actor="bench")
            db.session.commit()
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            assert not result.errors and result.created["patients"] == n, result.summary()
            again = time.perf_counter()
            second = imports.import_bundle(text, actor="bench")
            db.session.commit()
            reimport = time.perf_counter() - again
            assert not second.errors and not second.created, second.summary()
            db.session.remove()
            db.engine.dispose()
        return {"patients": n, "bundle_bytes": len(text), "import_seconds": round(seconds, 2),
                "per_patient_ms": round(seconds * 1000 / n, 3), "importer_cpu_seconds": round(cpu_seconds, 2),
                "per_patient_cpu_ms": round(cpu_seconds * 1000 / n, 3), "reimport_seconds": round(reimport, 2)}
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    runs = [measure(int(size)) for size in args.sizes.split(",")]
    report = {"runs": runs, "target_ratio": TARGET_RATIO}
    if len(runs) > 1:
        # Wall time includes PostgreSQL's share; the importer's own CPU time is steadier on a shared machine.
        report["per_patient_ratio"] = round(runs[-1]["per_patient_ms"] / runs[0]["per_patient_ms"], 2)
        report["per_patient_cpu_ratio"] = round(runs[-1]["per_patient_cpu_ms"] / runs[0]["per_patient_cpu_ms"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
