"""Claims a previous system sent, imported from its 837 files: the public sample files of another X12
project (professional and institutional, listed with their source in the shared samples), and files we wrote."""
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import claims, remittances
from portal.extensions import db
from portal.models import Charge, Claim, Coverage, Patient, Payer
from tests.fixtures import claims as cf
from tests.fixtures import era, x837_reader

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "x12" / "837"
# file: (claims, lines, total billed in cents), read from each file by hand
EXPECTED = {
    "demo.autoaccident.837": (1, 2, 18500),
    "demo.cob.example3.B.837": (1, 3, 7904),
    "demo.cob.example3.C.837": (1, 3, 7904),
    "demo.cob.example4.837": (1, 1, 12000),
    "demo.drug.example10.1.837": (1, 2, 10337),
    "demo.example1.837": (1, 4, 10000),
    "demo.example2.837": (1, 4, 10000),
    "institutional-claim.837i": (1, 2, 8993),
    "two-claims-single-provider.837i": (2, 3, 13995),
}


# Files whose composites use ">" while their ISA16 declares ":" (their SOURCES entry says so too).
MISWRITTEN = {
    "demo.example12.837": "line 26, CLM: CLM05 (23>B>1)",
    "out-of-network-repriced-claim.837i": "line 20, CLM: CLM05 (13>A>1)",
    "ppo-repriced-claim.837i": "line 26, CLM: CLM05 (13>A>1)",
}


@pytest.mark.parametrize("name", sorted(MISWRITTEN))
def test_a_sample_with_miswritten_composites_is_refused_naming_the_segment(app, name):
    with pytest.raises(claims.ClaimError) as refused:
        claims.import_837((SAMPLES / name).read_bytes(), name, actor="test")
    assert str(refused.value).startswith(MISWRITTEN[name])
    assert "is not written with the file's component separator ':' (ISA16)" in str(refused.value)
    assert db.session.scalar(select(func.count(Claim.id))) == 0


def test_every_public_sample_is_expected_here():
    assert set(EXPECTED) | set(MISWRITTEN) == {p.name for p in SAMPLES.iterdir()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_public_sample_is_recorded_as_sent_with_its_lines_as_charges(app, name):
    claims_count, lines, total = EXPECTED[name]
    content = (SAMPLES / name).read_bytes()
    result = claims.import_837(content, name, actor="test")
    db.session.commit()
    assert len(result.claims) == claims_count
    recorded = list(db.session.scalars(select(Claim)))
    assert sum(len(c.lines) for c in recorded) == lines
    assert sum(c.total_cents for c in recorded) == total
    assert {c.status for c in recorded} == {"sent"}
    assert db.session.scalar(select(func.sum(Charge.insurance_balance_cents))) == total
    assert ("institutional" if name.endswith(".837i") else "professional") in {c.claim_type for c in recorded}
    # The same file again adds nothing.
    again = claims.import_837(content, name, actor="test")
    db.session.commit()
    assert (again.claims, len(again.already_here)) == ([], claims_count)
    assert db.session.scalar(select(func.count(Claim.id))) == claims_count
    assert era.ledger_clean()


def test_a_dependent_is_registered_with_the_subscriber_on_the_coverage(app):
    claims.import_837((SAMPLES / "demo.example1.837").read_bytes(), "demo.example1.837", actor="test")
    db.session.commit()
    patient = db.session.scalar(select(Patient))
    coverage = db.session.scalar(select(Coverage))
    assert (patient.first_name, patient.last_name) == ("Ted", "Smith")
    assert (coverage.member_id, coverage.subscriber_relationship, coverage.subscriber_first_name) == \
        ("JS00111223333", "19", "Jane")
    assert db.session.scalar(select(Payer.x12_payer_id)) == "999996666"


def test_an_imported_claims_remittance_matches_and_posts(app):
    """A claim the previous system sent, paid after the switch: the payer's 835 posts here."""
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 2)
    claims.build(claims.ChargeFilter(), actor="test")
    (batch,) = claims.send(clinic.payer, actor="test").batches
    db.session.commit()
    content = batch.content.replace("PC0000", "OLD0000").encode()
    result = claims.import_837(content, "old-system.837", actor="test")
    db.session.commit()
    (imported,) = result.claims
    assert imported.control_number.startswith("OLD")
    assert imported.patient_id == clinic.patients[0].id  # found by member id, name and date of birth
    answer = x837_reader.answer(x837_reader.read(content.decode()), lambda c, ln: (ln.cents, []),
                                payer_ein=era.PAYER_EIN)
    posted = remittances.import_file(answer, "paid.835", actor="test")
    db.session.commit()
    db.session.refresh(imported)
    assert imported.status == "paid"
    assert (posted.posted_lines, posted.exceptions) == (2, 0)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "not an X12 file"),
    (b"ISA*00*\x00garbage", "ISA"),
    (b"ST*837*0001~BHT*0019~", "no envelope"),
])
def test_a_file_that_is_not_a_claim_file_is_refused_and_nothing_changes(app, content, message):
    with pytest.raises(claims.ClaimError, match=message):
        claims.import_837(content, "bad.837", actor="test")
    assert db.session.scalar(select(func.count(Claim.id))) == 0


def test_a_remittance_or_a_claim_whose_lines_do_not_add_up_is_refused(app):
    remittance = era.file_of(era.claim("X1", era.line("S9480", 65000, 65000)))
    with pytest.raises(claims.ClaimError, match="not a claim file"):
        claims.import_837(remittance, "an.835", actor="test")
    text = (SAMPLES / "demo.example1.837").read_text().replace("CLM*26463774*100.00", "CLM*26463774*100.01")
    with pytest.raises(claims.ClaimError, match=r"lines add up to \$100.00, but the claim says \$100.01"):
        claims.import_837(text.encode(), "bad.837", actor="test")
    assert db.session.scalar(select(func.count(Patient.id))) == 0


@pytest.mark.parametrize("units", ["NaN", "Infinity", "9E+999999999", "-2", "0", "lots"])
def test_units_that_are_not_a_number_of_units_are_refused_naming_the_line(app, units):
    line = "SV1*HC:99213*40.00*UN*"
    text = (SAMPLES / "demo.example1.837").read_text().replace(f"{line}1.00", f"{line}{units}")
    with pytest.raises(claims.ClaimError, match=r"line \d+, SV1: .* is not a number of units"):
        claims.import_837(text.encode(), "bad.837", actor="test")
    assert db.session.scalar(select(func.count(Claim.id))) == 0


def test_the_cli_imports_and_refuses_in_one_line(app, tmp_path):
    runner = app.test_cli_runner()
    done = runner.invoke(args=["claims", "import", str(SAMPLES / "two-claims-single-provider.837i"), "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["claims"] == ["756048Q", "756049Q"]
    bad = tmp_path / "bad.837"
    bad.write_bytes(b"\x00\x01nothing")
    refused = runner.invoke(args=["claims", "import", str(bad)])
    assert refused.exit_code == 1 and refused.output.count("\n") == 1 and "nothing imported" in refused.output
    missing = runner.invoke(args=["claims", "import", str(tmp_path / "none.837")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
