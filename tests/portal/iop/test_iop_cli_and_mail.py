"""IOP from the command line, and the alert mail through a real SMTP server."""
import json
from datetime import timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.models import Charge
from tests.fixtures.iop import DAY, make_patient


def test_iop_run_json_lists_charges_and_exceptions(app, program):
    program.attend()
    uninsured, _coverage = make_patient()
    program.attend(patient=uninsured)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["iop", "run", "--as-of", (DAY + timedelta(days=2)).isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["service_dates"] == [DAY.isoformat()]
    assert [c["mrn"] for c in data["charges_created"]] == [program.patient.mrn]
    assert [(e["mrn"], e["reason"]) for e in data["exceptions"]] == [(uninsured.mrn, "no_authorization")]
    again = json.loads(runner.invoke(args=["iop", "run", "--as-of", (DAY + timedelta(days=2)).isoformat(),
                                           "--json"]).output)
    assert again["charges_created"] == [] and again["already_charged"] == 1 and again["new_exceptions"] == 0


def test_imports_exit_non_zero_with_one_line_and_add_nothing(app, program, tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text("patient_mrn,service_date,code,minutes,units,clinician,signed\nX,2026-10-14,90853,60,1,Dr,true\n")
    result = app.test_cli_runner().invoke(args=["sessions", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: unknown patient MRN 'X'" in result.output
    missing = app.test_cli_runner().invoke(args=["auths", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    good = tmp_path / "auths.csv"
    patient, _ = make_patient()
    good.write_text(f"patient_mrn,payer,code,start,end,units\n{patient.mrn},Test Payer,S9480,2026-11-01,2026-11-30,8\n")
    ok = app.test_cli_runner().invoke(args=["auths", "import", str(good), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["imported"] == 1


def test_exceptions_alert_the_user_group_by_mail_without_clinical_detail(app, program, make_staff, smtp_server):
    biller = make_staff("biller")
    make_staff("collector")  # not in the alert group
    uninsured, _ = make_patient()
    program.attend(patient=uninsured)
    app.test_cli_runner().invoke(args=["iop", "run", "--as-of", (DAY + timedelta(days=2)).isoformat()])
    [message] = smtp_server.messages
    assert message["To"] == biller.email
    body = message.get_payload()
    assert "1 x No authorization for the date of service" in body and "/staff/iop/" in body
    assert uninsured.mrn not in body and uninsured.last_name not in body and "S9480" not in body
    assert db.session.scalar(select(Charge.id)) is None
