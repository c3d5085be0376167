"""`claims build`, `claims batch` and `claims list`: JSON for scripts, one readable line for every refusal."""
import json

from portal.extensions import db
from portal.remittances import x12
from tests.fixtures import claims as cf


def test_build_then_batch_writes_a_valid_file_and_lists_the_claims_as_sent(app, tmp_path):
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 6)
    runner = app.test_cli_runner()
    built = runner.invoke(args=["claims", "build", "--payer", clinic.payer.x12_payer_id, "--json"])
    assert built.exit_code == 0, built.output
    payload = json.loads(built.output)
    assert (payload["ready"], payload["held"], len(payload["built"])) == (2, 0, 2)
    out = tmp_path / "harbor.837"
    sent = runner.invoke(args=["claims", "batch", "--payer", clinic.payer.name, "--out", str(out), "--json"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output)["batches"][0]["claims"] == 2
    assert x12.validate(out.read_bytes()) == []
    listed = runner.invoke(args=["claims", "list", "--status", "sent", "--json"])
    assert [c["status"] for c in json.loads(listed.output)["claims"]] == ["sent", "sent"]
    assert "No claims." in runner.invoke(args=["claims", "list", "--status", "held"]).output


def test_build_through_a_date_leaves_later_charges_for_later(app):
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 5)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["claims", "build", "--through", f"{cf.MONDAY:%Y-%m-%d}", "--json"])
    assert [len_lines["lines"] for len_lines in json.loads(result.output)["built"]] == [1]
    assert "built 1 claim(s): 1 ready" in runner.invoke(args=["claims", "build"]).output


def test_refusals_exit_non_zero_with_one_line(app, tmp_path):
    clinic = cf.clinic()
    runner = app.test_cli_runner()
    for args in (["claims", "build", "--payer", "nobody\x00"],
                 ["claims", "batch", "--payer", "99999999999999999999", "--out", str(tmp_path / "x")],
                 ["claims", "batch", "--payer", clinic.payer.name, "--out", str(tmp_path / "x")],
                 ["claims", "build", "--through", "2026-13-40"],
                 ["claims", "list", "--status", "lost"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert "no claims ready to send" in runner.invoke(
        args=["claims", "batch", "--payer", clinic.payer.name, "--out", str(tmp_path / "x")]).output
    clinic.payer.x12_payer_id = None
    db.session.commit()
    clinic.days(clinic.patient(), 1)
    runner.invoke(args=["claims", "build"])
    refused = runner.invoke(args=["claims", "batch", "--payer", clinic.payer.name, "--out", str(tmp_path / "x")])
    assert refused.exit_code == 1 and "no electronic payer id" in refused.output
    assert not (tmp_path / "x").exists()
