"""`flask gl ...`: the journal to a file, closing a month, the month-end report; bad input exits with one line."""
import json
from datetime import timedelta

from portal import ledger
from portal.clock import facility_today
from tests.fixtures import factories


def test_export_close_and_report_from_the_command_line(app, tmp_path):
    acc = factories.account()
    today = facility_today()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    ledger.post_payment(acc.id, amount_cents=12345, method="check", key="cli:check", actor="test",
                        received_on=last_month + timedelta(days=1))
    runner = app.test_cli_runner()
    out = tmp_path / "journal.csv"
    day = (last_month + timedelta(days=1)).isoformat()
    made = runner.invoke(args=["gl", "export", "--from", day, "--to", day, "--out", str(out), "--json"])
    assert made.exit_code == 0, made.output
    payload = json.loads(made.output)
    assert (payload["lines"], payload["debit_cents"], payload["credit_cents"]) == (2, 12345, 12345)
    assert "Undeposited funds" in out.read_text()

    closed = runner.invoke(args=["gl", "close", last_month.strftime("%Y-%m"), "--json"])
    assert closed.exit_code == 0, closed.output
    assert json.loads(closed.output)["debit_cents"] == 12345
    listed = json.loads(runner.invoke(args=["gl", "periods", "--json"]).output)
    assert listed["closed"][0]["month"] == last_month.strftime("%Y-%m")
    assert listed["first_open"] == today.strftime("%Y-%m")

    report = runner.invoke(args=["gl", "month-end", last_month.strftime("%Y-%m"), "--json"])
    assert json.loads(report.output)["cash"] == {"Patient — Check": 12345}


def test_bad_input_exits_non_zero_with_one_line(app, tmp_path):
    runner = app.test_cli_runner()
    cases = [
        ["gl", "export", "--from", "2026-13-01", "--to", "2026-12-01"],
        ["gl", "export", "--from", "2026-12-02", "--to", "2026-12-01"],
        ["gl", "export", "--from", "2026-12-01\x00", "--to", "2026-12-01"],
        ["gl", "export", "--from", "2026-12-01", "--to", "2026-12-01", "--json"],
        ["gl", "export", "--from", "2026-12-01", "--to", "2026-12-01", "--out", str(tmp_path / "no" / "such.csv")],
        ["gl", "close", "November"],
        ["gl", "close", "2999-01"],
        ["gl", "month-end", "99999999999999999999-01"],
    ]
    for args in cases:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        assert result.output.count("\n") == 1 and result.output.startswith("Error: "), (args, result.output)
