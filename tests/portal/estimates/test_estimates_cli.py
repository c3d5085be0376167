"""`flask --app portal history import`, `estimate` and `estimate backtest`, `gfe check`."""
import json
from datetime import timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AdjudicatedLine, InsurancePlan
from tests.fixtures.estimates import TODAY, add_lines

HEADER = "line_id,payer,plan,episode,level_of_care,procedure_code,service_date,paid_on,units,billed,allowed,paid," \
         "patient_resp,in_network,claim_status\n"
GOOD = "A1,ACME1,Acme PPO,E1,iop,S9480,2026-09-01,2026-09-20,1,950.00,650.00,520.00,130.00,yes,1\n" \
       "A2,Acme Health,,E1,iop,S9480,2026-09-02,2026-09-20,1,950.00,650.00,520.00,130.00,yes,1\n"


def write(tmp_path, text):
    path = tmp_path / "history.csv"
    path.write_text(text)
    return str(path)


def lines():
    return db.session.scalar(select(func.count(AdjudicatedLine.id)))


def test_history_import_by_name_or_x12_id_and_creates_the_plan(app, payer, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["history", "import", write(tmp_path, HEADER + GOOD), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"imported": 2, "errors": [], "ok": True}
    rows = db.session.scalars(select(AdjudicatedLine).order_by(AdjudicatedLine.source_key)).all()
    assert [(r.payer_id, r.allowed_cents, r.paid_cents, r.patient_resp_cents, r.episode_key, r.source) for r in rows] \
        == [(payer.id, 65000, 52000, 13000, "E1", "import")] * 2
    plan = db.session.scalar(select(InsurancePlan).where(InsurancePlan.name == "Acme PPO"))
    assert rows[0].plan_id == plan.id and rows[1].plan_id is None
    again = runner.invoke(args=["history", "import", write(tmp_path, HEADER + GOOD)])
    assert again.exit_code == 1 and "line 2: already imported" in again.output and lines() == 2


def test_history_import_reports_bad_rows_by_line_and_imports_nothing(app, payer, tmp_path):
    bad = (HEADER + GOOD
           + "B1,Nobody,,,iop,S9480,2026-09-01,2026-09-20,1,950.00,650.00,520.00,0,yes,1\n"
           + "B2,ACME1,,,spa,S9480,2026-13-01,2026-09-20,0,950.00,1000.00,1200.00,0,maybe,99\n"
           + "A1,ACME1,,,iop,S9480,2026-09-01,2026-08-20,1,9.5O,650.00,520.00,0,yes,1\n")
    result = app.test_cli_runner().invoke(args=["history", "import", write(tmp_path, bad), "--json"])
    assert result.exit_code == 1
    errors = json.loads(result.output[:result.output.rindex("}") + 1])["errors"]
    assert "line 4: unknown payer 'Nobody' (use its name or X12 payer id)" in errors
    assert any(e.startswith("line 5: level_of_care 'spa'") for e in errors)
    assert "line 5: service_date '2026-13-01' is not a date like 2025-03-14" in errors
    assert "line 5: units '0' should be a whole number of at least 1" in errors
    assert "line 5: allowed is more than billed" in errors and "line 5: paid is more than allowed" in errors
    assert "line 5: in_network 'maybe' should be yes or no" in errors
    assert "line 5: claim_status '99' is not a CLP02 code" in errors
    assert "line 6: line_id 'A1' repeats line 2" in errors and "line 6: paid_on is before service_date" in errors
    assert "line 6: billed '9.5O' is not an amount like 650.00" in errors
    assert "nothing was imported" in result.output
    assert lines() == 0 and db.session.scalar(select(func.count(InsurancePlan.id))) == 0


def test_history_import_needs_the_required_columns(app, payer, tmp_path):
    result = app.test_cli_runner().invoke(args=["history", "import", write(tmp_path, "payer,allowed\nACME1,1\n")])
    assert result.exit_code == 1 and "line 1: missing column(s) level_of_care" in result.output


def test_estimate_command_json_and_errors(app, payer):
    add_lines(payer, [65000] * 20, paid_on=TODAY - timedelta(days=3))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["estimate", "--payer", "ACME1", "--level", "iop", "--days", "3", "--deductible",
                                 "500", "--coinsurance", "20", "--oop", "600", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["patient_total_cents"] == {"low": 60000, "mid": 60000, "high": 60000}
    assert data["evidence"]["n"] == 20 and data["fallback"][0]["level"] == "payer"
    assert [d["patient"] for d in data["arithmetic"]["mid"]] == [53000, 7000, 0]

    text = runner.invoke(args=["estimate", "--payer", "Acme Health", "--level", "iop", "--days", "10"])
    assert "allowed per day: $650.00 / $650.00 / $650.00" in text.output

    missing = runner.invoke(args=["estimate", "--payer", "Nobody", "--level", "iop", "--days", "3"])
    assert missing.exit_code == 1 and "no payer 'Nobody'" in missing.output
    none = runner.invoke(args=["estimate", "--payer", "ACME1", "--level", "php", "--days", "3", "--json"])
    assert none.exit_code == 0 and json.loads(none.output)["has_data"] is False


def test_backtest_command(app, payer):
    first_day = TODAY - timedelta(days=40)
    add_lines(payer, [50000] * 20, paid_on=first_day - timedelta(days=2))
    add_lines(payer, [52000] * 4, paid_on=first_day + timedelta(days=20), service_date=first_day, episode="S1")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["estimate", "backtest", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["episodes_scored"] == 1 and report["overall"]["paid"]["within_10_bps"] == 10000
    assert report["by_payer"]["Acme Health"]["paid"]["median_abs_error_cents"] == 8000
    later = runner.invoke(args=["estimate", "backtest", "--since", TODAY.isoformat(), "--json"])
    assert json.loads(later.output)["episodes_scored"] == 0
    assert "within ±10%: 100.0%" in runner.invoke(args=["estimate", "backtest"]).output


REVERSING = "line_id,payer,level_of_care,procedure_code,service_date,paid_on,units,billed,allowed,paid,claim_status," \
            "reverses\n"


def test_a_reversed_payment_stops_being_evidence_from_the_day_it_was_reversed(app, payer, tmp_path):
    rows = [f"P{i},ACME1,iop,S9480,2026-08-{i:02d},2026-09-01,1,950.00,650.00,650.00,1,\n" for i in range(1, 21)]
    rows += [f"R{i},ACME1,iop,S9480,2026-08-{i:02d},2026-09-20,1,-950.00,-650.00,-650.00,22,P{i}\n"
             for i in range(1, 3)]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["history", "import", write(tmp_path, REVERSING + "".join(rows)), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 22
    # A reversal in a later file, found by payer, procedure, date, units and amount (no `reverses`).
    later = REVERSING + "R3,ACME1,iop,S9480,2026-08-03,2026-09-25,1,-950.00,-650.00,-650.00,22,\n"
    assert runner.invoke(args=["history", "import", write(tmp_path, later)]).exit_code == 0
    reversed_on = dict(db.session.execute(select(AdjudicatedLine.source_key, AdjudicatedLine.reversed_on)
                                          .where(AdjudicatedLine.reversed_on.is_not(None))).all())
    assert {k: str(v) for k, v in reversed_on.items()} == {"import:P1": "2026-09-20", "import:P2": "2026-09-20",
                                                           "import:P3": "2026-09-25"}

    def n(as_of):
        out = runner.invoke(args=["estimate", "--payer", "ACME1", "--level", "iop", "--days", "1",
                                  "--as-of", as_of, "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)["evidence"]["n"]

    # Before the reversals were known all 20 count; after, 17; the reversal rows themselves never do.
    assert (n("2026-09-10"), n("2026-09-21"), n("2026-10-01")) == (20, 18, 17)


def test_a_reversal_that_matches_nothing_or_the_wrong_amount_refuses_the_file(app, payer, tmp_path):
    good = REVERSING + "P1,ACME1,iop,S9480,2026-08-01,2026-09-01,1,950.00,650.00,650.00,1,\n" \
                       "P2,ACME1,iop,S9480,2026-08-01,2026-09-01,1,950.00,650.00,650.00,1,\n"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["history", "import", write(tmp_path, good)]).exit_code == 0
    bad = (REVERSING
           + "R1,ACME1,iop,S9480,2026-08-01,2026-09-20,1,-950.00,-650.00,-600.00,22,P1\n"
           + "R2,ACME1,iop,S9480,2026-08-01,2026-09-20,1,-950.00,-650.00,-650.00,22,NOPE\n"
           + "R3,ACME1,iop,S9480,2026-08-01,2026-09-20,1,-950.00,-650.00,-650.00,22,\n"
           + "R4,ACME1,iop,S9480,2026-08-01,2026-09-20,1,950.00,650.00,650.00,22,P2\n"
           + "R5,ACME1,iop,S9480,2026-08-01,2026-08-20,1,-950.00,-650.00,-650.00,22,P2\n"
           + "N1,ACME1,iop,S9480,2026-08-01,2026-09-20,1,-950.00,-650.00,-650.00,1,\n")
    result = runner.invoke(args=["history", "import", write(tmp_path, bad), "--json"])
    assert result.exit_code == 1
    errors = json.loads(result.output[:result.output.rindex("}") + 1])["errors"]
    assert "line 2: the reversal takes back $600.00 but the line it reverses was paid $650.00" in errors
    assert "line 3: reverses line_id 'NOPE', which is neither in this file nor imported before" in errors
    assert any(e.startswith("line 4: a reversal (claim_status 22) without `reverses` must match exactly one")
               and e.endswith("2 match") for e in errors)
    assert any(e.startswith("line 5: paid '650.00' is not a negative amount") for e in errors)
    assert "line 6: the reversal is dated before the payment it reverses" in errors
    assert any(e.startswith("line 7: paid '-650.00' is not an amount like 650.00") for e in errors)
    assert lines() == 2 and db.session.scalar(select(func.count(AdjudicatedLine.id))
                                              .where(AdjudicatedLine.reversed_on.is_not(None))) == 0
    twice = REVERSING + "R1,ACME1,iop,S9480,2026-08-01,2026-09-20,1,-950.00,-650.00,-650.00,22,P1\n" \
                        "R2,ACME1,iop,S9480,2026-08-01,2026-09-21,1,-950.00,-650.00,-650.00,22,P1\n"
    result = runner.invoke(args=["history", "import", write(tmp_path, twice)])
    assert result.exit_code == 1 and "line 3: the line it reverses is already reversed on line 2" in result.output


def test_estimate_takes_the_plan_by_name_and_a_day_to_estimate_as_of(app, payer, tmp_path):
    plan = InsurancePlan(payer=payer, name="Acme PPO")
    db.session.add(plan)
    db.session.commit()
    add_lines(payer, [60000] * 20, plan=plan, paid_on=TODAY - timedelta(days=60))
    add_lines(payer, [70000] * 20, plan=plan, paid_on=TODAY - timedelta(days=3))
    runner = app.test_cli_runner()

    def run(*args):
        out = runner.invoke(args=["estimate", "--level", "iop", "--days", "1", *args])
        return out

    by_name = run("--payer", "ACME1", "--plan", "acme ppo", "--json")
    assert by_name.exit_code == 0, by_name.output
    data = json.loads(by_name.output)
    assert data["request"]["plan_id"] == plan.id and data["fallback"][0]["level"] == "plan"
    assert json.loads(run("--plan", "Acme PPO", "--json").output)["request"]["payer_id"] == payer.id
    assert json.loads(run("--plan", str(plan.id), "--payer", "ACME1", "--json").output)["evidence"]["n"] == 40
    earlier = json.loads(run("--payer", "ACME1", "--as-of", (TODAY - timedelta(days=30)).isoformat(), "--json").output)
    assert earlier["evidence"]["n"] == 20 and earlier["evidence"]["allowed"]["mid"] == 60000
    text = run("--payer", "ACME1").output
    assert "patient's share for 1 day (history)" in text and "1 days" not in text
    missing = run("--payer", "ACME1", "--plan", "Gold HMO")
    assert missing.exit_code == 1 and "no plan 'Gold HMO' under that payer" in missing.output
    bad_day = run("--payer", "ACME1", "--as-of", "2026-02-30")
    assert bad_day.exit_code == 2 and "Traceback" not in bad_day.output


def test_backtest_as_of_leaves_out_what_was_not_known_yet(app, payer):
    first_day = TODAY - timedelta(days=40)
    add_lines(payer, [50000] * 20, paid_on=first_day - timedelta(days=2))
    add_lines(payer, [52000] * 4, paid_on=first_day + timedelta(days=20), service_date=first_day, episode="S1")
    runner = app.test_cli_runner()
    before_paid = (first_day + timedelta(days=10)).isoformat()
    report = json.loads(runner.invoke(args=["estimate", "backtest", "--as-of", before_paid, "--json"]).output)
    assert report["episodes_scored"] == 0
    report = json.loads(runner.invoke(args=["estimate", "backtest", "--as-of", TODAY.isoformat(), "--json"]).output)
    assert report["episodes_scored"] == 1
