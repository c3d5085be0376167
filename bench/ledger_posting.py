"""Does a posting cost the same on a fresh account as on one with a long history?

Balances are recomputed from entries inside the posting transaction, so the worry is cost growing
with history. Posts N payments into an account with a short history and into one with a long
history, on the database DATABASE_URL names (default: a temporary SQLite file), and prints the
cost per posting and the ratio long/short (flat is <= 1.2).

    .venv/bin/python -m bench.ledger_posting [--postings 200] [--history 3000]
"""
import argparse
import json
import os
import tempfile
import time
from datetime import date, timedelta

from flask_migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postings", type=int, default=200)
    parser.add_argument("--history", type=int, default=3000, help="charges already on the long account")
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    os.environ["PARITY_ENV"] = "development"

    from portal import create_app, ledger
    from portal.extensions import db
    from portal.models import Account, BillingCode, Facility, Patient

    app = create_app()
    with app.app_context():
        upgrade()
        facility = Facility(name="Bench", neutral_name="Bench", statement_descriptor="BENCH")
        code = BillingCode(code="S9480", description="Per diem", kind="billable", default_price_cents=90000)
        db.session.add_all([facility, code])
        db.session.flush()
        accounts = {}
        for label in ("short", "long"):
            account = Account(facility_id=facility.id, number=f"B-{label}", guarantor_name=label)
            patient = Patient(account=account, mrn=f"BM-{label}", first_name="B", last_name=label,
                              date_of_birth=date(1990, 1, 1))
            db.session.add_all([account, patient])
            db.session.commit()
            accounts[label] = (account.id, patient.id)
        day0 = date(2020, 1, 1)

        def charges(label, count):
            account_id, patient_id = accounts[label]
            for i in range(count):
                ledger.post_charge(account_id, patient_id=patient_id, billing_code_id=code.id,
                                   service_date=day0 + timedelta(days=i % 2000), amount_cents=90000,
                                   responsibility="patient", key=f"bench:{label}:c{i}", actor="bench")

        charges("short", 10)
        charges("long", args.history)

        def timed(label):
            account_id, _ = accounts[label]
            start = time.perf_counter()
            for i in range(args.postings):
                ledger.post_payment(account_id, amount_cents=100, method="cash", key=f"bench:{label}:p{i}",
                                    actor="bench")
            return (time.perf_counter() - start) / args.postings

        short, long = timed("short"), timed("long")
        problems = ledger.check_all()[1]
        result = {
            "database": db.engine.dialect.name, "postings": args.postings, "history_charges": args.history,
            "ms_per_posting_short_history": round(short * 1000, 2),
            "ms_per_posting_long_history": round(long * 1000, 2), "ratio_long_over_short": round(long / short, 2),
            "ledger_check_clean": not problems,
        }
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
