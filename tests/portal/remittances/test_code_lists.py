"""The published CARC and RARC lists: loaded and updated by a command, shown in words, stopped codes marked."""
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AdjustmentCode
from portal.remittances import code_lists, describe

HEADER = "code,description,start_date,last_modified,stop_date\n"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "codes"


def _write(tmp_path, text: str) -> str:
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_loading_a_list_twice_adds_then_changes_nothing_and_an_update_keeps_vanished_codes(app, tmp_path):
    runner = app.test_cli_runner()
    first = _write(tmp_path, HEADER + "45,Charge exceeds the fee schedule,1995-01-01,,\n"
                   'B1,"Non-covered visits, old",1995-01-01,,2020-07-01\n')
    assert json.loads(runner.invoke(args=["codes", "load", "--list", "carc", first]).output) == {
        "list": "carc", "added": 2, "updated": 0, "unchanged": 0}
    assert json.loads(runner.invoke(args=["codes", "load", "--list", "carc", first]).output)["unchanged"] == 2
    second = _write(tmp_path, HEADER + "45,Charge exceeds the contracted fee,1995-01-01,2024-03-01,\n")
    assert json.loads(runner.invoke(args=["codes", "load", "--list", "carc", second]).output)["updated"] == 1
    assert db.session.scalar(select(func.count()).select_from(AdjustmentCode)) == 2  # B1 kept for old files
    assert describe("CO", "45") == "CO-45 Charge exceeds the contracted fee"


def test_a_stopped_code_reads_on_old_remittances_and_is_marked_on_new_ones(app):
    code_lists.load("carc", HEADER + "B1,Non-covered visits,1995-01-01,,2020-07-01\n")
    code_lists.load("rarc", HEADER + "N999,Ask the payer,2010-01-01,,\n")
    assert describe("CO", "B1", date(2019, 5, 1)) == "CO-B1 Non-covered visits"
    assert describe("CO", "B1", date(2026, 11, 2)) == "CO-B1 Non-covered visits (deactivated 2020-07-01)"
    assert describe(None, "N999") == "N999 Ask the payer"
    assert describe("CO", "97").startswith("CO-97 Included in the payment")  # not loaded: built-in words


@pytest.mark.parametrize("text, reason", [
    ("code,words\n45,x\n", "the first line must be"),
    (HEADER + "45,Fine,1995-01-01,,\n45,Again,1995-01-01,,\n", "listed twice"),
    (HEADER + "45,Fine,01/01/1995,,\n", "is not a date"),
    (HEADER + "4 5,Spaces,1995-01-01,,\n", "is not a code"),
    (HEADER + "45,,1995-01-01,,\n", "has no description"),
    (HEADER + "45,NUL\x00,1995-01-01,,\n", "NUL"),
    (HEADER, "lists no codes"),
])
def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(app, tmp_path, text, reason):
    code_lists.load("carc", HEADER + "16,Claim lacks information,1995-01-01,,\n")
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["codes", "load", "--list", "carc", _write(tmp_path, text)])
    assert result.exit_code != 0 and reason in result.output and len(result.output.strip().splitlines()) == 1
    assert db.session.scalar(select(func.count()).select_from(AdjustmentCode)) == 1


@pytest.mark.skipif(not (SHARED / "carc.csv").is_file(),
                    reason="the published code lists (shared/codes) are not on this machine")
def test_the_published_lists_load_whole(app):
    carc = code_lists.load("carc", (SHARED / "carc.csv").read_text(encoding="utf-8"))
    rarc = code_lists.load("rarc", (SHARED / "rarc.csv").read_text(encoding="utf-8"))
    assert carc["added"] > 300 and rarc["added"] > 1000
    assert describe("CO", "45").startswith("CO-45 Charge exceeds fee schedule")
