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
