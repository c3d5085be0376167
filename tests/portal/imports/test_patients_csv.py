"""Patients, guarantors and coverages from a CSV file."""
import json
from datetime import date

from sqlalchemy import func, select

from portal import imports
from portal.extensions import db
from portal.models import Account, Coverage, InsurancePlan, Patient, Payer
from tests.fixtures import factories

HEADER = ("mrn,first_name,last_name,date_of_birth,sex,address_line1,city,state,zip_code,phone,email,"
          "guarantor_relationship,guarantor_id,guarantor_first_name,guarantor_last_name,guarantor_date_of_birth,"
          "guarantor_email,payer_x12_id,payer_name,plan_name,member_id,group_number,coverage_priority,"
          "coverage_start,coverage_end,subscriber_relationship,subscriber_first_name,subscriber_last_name")
ROWS = [
    "C-1,Avery,Brooks,2009-01-22,F,1 Elm Street,Springfield,NJ,07081,973-555-0110,,child,FAM-1,Casey,Brooks,"
    "1975-06-01,casey@example.org,SUM01,Summit Mutual,Summit Gold,SM-1,G-9,primary,2026-01-01,,child,Casey,Brooks",
    "C-2,Jordan,Brooks,2007-09-03,M,1 Elm Street,Springfield,NJ,07081,,,child,FAM-1,Casey,Brooks,1975-06-01,"
    "casey@example.org,SUM01,Summit Mutual,Summit Gold,SM-2,G-9,1,2026-01-01,,child,Casey,Brooks",
    "C-2,,,,,,,,,,,,,,,,,,State Medicaid,,MCD-2,,secondary,2026-03-01,2026-12-31,,,",
    "C-3,Riley,Patel,1995-06-18,U,9 Oak Avenue,Trenton,New Jersey,08601,,riley@example.org,,,,,,,,,,,,,,,,,",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run(text: str) -> imports.ImportResult:
    result = imports.import_patients(text, actor="test")
    db.session.commit()
    return result


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def patient(mrn: str) -> Patient:
    return db.session.scalar(select(Patient).where(Patient.mrn == mrn))


def test_a_file_lands_as_patients_sharing_a_guarantor_with_their_coverages(app):
    result = run(csv_text(*ROWS))
    assert result.errors == []
    avery, jordan, riley = patient("C-1"), patient("C-2"), patient("C-3")
    # One guarantor id, one account for both children.
    assert avery.account_id == jordan.account_id != riley.account_id
    account = avery.account
    assert (account.guarantor_name, account.guarantor_date_of_birth, account.email) == \
        ("Casey Brooks", date(1975, 6, 1), "casey@example.org")
    assert account.number == f"A-{20000 + account.id}" and avery.relationship_to_guarantor == "19"
    assert (avery.sex, avery.phone, avery.address_line1) == ("F", "973-555-0110", "1 Elm Street")
    assert (riley.state, riley.account.guarantor_name, riley.relationship_to_guarantor) == ("NJ", "Riley Patel", "18")
    assert [(c.payer.name, c.member_id, c.priority, c.end_date) for c in jordan.coverages] == [
        ("Summit Mutual", "SM-2", 1, None), ("State Medicaid", "MCD-2", 2, date(2026, 12, 31))]
    assert (avery.coverages[0].plan.name, avery.coverages[0].group_number,
            avery.coverages[0].subscriber_first_name) == ("Summit Gold", "G-9", "Casey")
    assert (count(Payer), count(InsurancePlan), count(Account)) == (2, 1, 2)
    assert result.created == {"accounts": 2, "patients": 3, "payers": 2, "plans": 1, "coverages": 3}


def test_a_second_import_updates_by_mrn_and_adds_nothing(app):
    run(csv_text(*ROWS))
    before = (count(Account), count(Patient), count(Coverage), count(Payer))
    changed = [ROWS[0].replace("973-555-0110", "973-555-0999"), *ROWS[1:3], ROWS[3].replace("9 Oak Avenue", "10 Pine")]
    result = run(csv_text(*changed))
    assert result.errors == [] and result.created == {}
    assert (count(Account), count(Patient), count(Coverage), count(Payer)) == before
    assert result.updated == {"patients": 2}
    assert patient("C-1").phone == "973-555-0999" and patient("C-3").address_line1 == "10 Pine"


def test_an_existing_payer_is_found_by_x12_id_or_name(app):
    known = factories.payer()
    row = f"C-9,Sam,Lee,1990-01-01,,,,,,,,,,,,,,{known.x12_payer_id},,,M-9,,,2026-01-01,,,,"
    assert run(csv_text(row)).errors == []
    assert patient("C-9").coverages[0].payer_id == known.id and count(Payer) == 1


def test_bad_rows_refuse_the_file_with_every_problem_by_line_and_nothing_is_saved(app):
    rows = [
        ROWS[0],
        "C-5,,Nobody,1990-02-30,X,,,Atlantis,,,not-an-email,,,,,,,,,,,,,,,,,",
        "C-6,Pat,Kim,1990-01-01,F,,,,,,,spouse,,,,,,,Acme,,,,4,2026-05-01,2026-04-01,,,",
        "C-1,Avery,Brooks,2010-01-01,F,,,,,,,,,,,,,,,,,,,,,,,",
    ]
    result = run(csv_text(*rows))
    assert result.errors == [
        "line 3: date_of_birth '1990-02-30' is not a date like 2026-10-01",
        "line 3: sex 'X' should be F, M or U",
        "line 3: state 'Atlantis' is not a US state",
        "line 3: email 'not-an-email' is not one valid email address",
        "line 3: first_name is empty",
        "line 4: a guarantor other than the patient needs guarantor_first_name and guarantor_last_name",
        "line 4: member_id is empty",
        "line 4: coverage_priority '4' should be 1, 2 or 3",
        "line 5: MRN C-1 repeats line 2 with other details",
    ]
    assert count(Patient) == 0 and count(Account) == 0


def test_overlapping_primary_coverages_are_refused(app):
    header = "mrn,first_name,last_name,date_of_birth,payer_name,member_id,coverage_priority,coverage_start"
    rows = ["C-3,Riley,Patel,1995-06-18,Acme,M-1,1,2026-01-01", "C-3,,,,Bolt,M-2,1,2026-06-01"]
    result = run(csv_text(*rows, header=header))
    assert result.errors == ["line 3: a second priority-1 coverage for the same dates as line 2"]
    assert count(Patient) == 0


def test_untrusted_cells_are_refused_with_their_line(app):
    for text, expected in [
        ("first_name,last_name\nA,B\n", "line 1: missing column(s) mrn, date_of_birth"),
        (csv_text("X-1,Ann,Lee,1990-01-01"), None),  # short rows are fine: missing cells are empty
        ("mrn,first_name,last_name,date_of_birth,shoe_size\n", "line 1: unknown column(s) shoe_size"),
        (csv_text("X-1,Ann\x00,Lee,1990-01-01"), "line 2: first_name: contains a NUL byte"),
        (csv_text("X-" + "9" * 40 + ",Ann,Lee,1990-01-01"), "line 2: mrn: longer than 32 characters"),
        (csv_text("X-1,Ann,Lee,1990-01-01,F,a,b,NJ,07081,1,2,3,4,5,6,7,8,9,0,1,2,3,4,5,6,7,8,9,10"),
         "line 2: more cells than the header has columns"),
        (csv_text("X-1,Ann,Lee," + "9" * 200000), "cannot be read as CSV"),
        (HEADER + "\n", "line 2: the file has no rows"),
    ]:
        result = imports.import_patients(text, actor="test")
        db.session.rollback()
        if expected is None:
            assert result.errors == []
        else:
            assert any(expected in e for e in result.errors), (expected, result.errors)
    assert count(Patient) == 0


def test_the_cli_imports_a_file_with_a_byte_order_mark_and_refuses_a_bad_one(app, tmp_path):
    good = tmp_path / "patients.csv"
    good.write_bytes(("\ufeff" + csv_text(*ROWS)).encode())
    ok = app.test_cli_runner().invoke(args=["import", "patients", str(good), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["created"]["patients"] == 3
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text("C-7,Ann,Lee,yesterday"))
    refused = app.test_cli_runner().invoke(args=["import", "patients", str(bad)])
    assert refused.exit_code == 1
    assert "line 2: date_of_birth 'yesterday' is not a date" in refused.output
    assert f"{bad} refused: 1 problem(s); nothing was imported" in refused.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes(csv_text("C-8,Zoë,Lee,1990-01-01").encode("latin-1"))
    unreadable = app.test_cli_runner().invoke(args=["import", "patients", str(latin)])
    assert unreadable.exit_code == 1 and "cannot read" in unreadable.output
