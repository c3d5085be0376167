import gc, sys, time
from bench.fhir_import import bundle
from bench.iop_nightly import bench_app, drop_database, fresh_database
from portal.extensions import db
from portal.imports import fhir, fhir_bundle, records
n = int(sys.argv[1])
name = fresh_database()
try:
    app = bench_app(name)
    with app.app_context():
        text = bundle(n); gc.disable() if "nogc" in sys.argv else None
        t = time.perf_counter(); r = records.ImportResult(); p = records.Problems(r.errors)
        e = fhir_bundle.entries(text, p, r); t1 = time.perf_counter(); print("entries", round(t1-t, 2))
        rd = fhir._Reading(e, p, r); rd.map(); t2 = time.perf_counter(); print("map", round(t2-t1, 2))
        ext = records.save_people(rd.patients, rd.coverages, r, actor="b", source="fhir"); t3 = time.perf_counter(); print("save_people", round(t3-t2, 2))
        ext.write(); db.session.flush(); t4 = time.perf_counter(); print("ext write", round(t4-t3, 2))
        db.session.commit(); t5 = time.perf_counter(); print("commit", round(t5-t4, 2), "total", round(t5-t, 2), "gc", gc.get_count(), gc.get_stats()[2])
        db.session.remove(); db.engine.dispose()
finally:
    drop_database(name)
