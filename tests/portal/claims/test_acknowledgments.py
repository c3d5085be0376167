"""999 and 277CA acknowledgments of the claim files we send: accepted files keep their claims sent, rejected
files and claims say why in the claim's history, unknown numbers are listed, refusals change nothing, and a
rejected claim is fixed and sent again."""
import json

import pytest
from sqlalchemy import func, select

from portal import claims
from portal.extensions import db
from portal.models import Claim, ClaimAcknowledgment, ClaimAcknowledgmentOutcome, ClaimStatusChange
from portal.remittances import x12
from tests.fixtures import acks
from tests.fixtures import claims as cf

NM1_ERROR = acks.SegmentError("NM1", 12, "2010", "8", element=9, element_code="6", bad_value="MEM#1")
DTP_MISSING = acks.SegmentError("DTP", 30, "2400", "3")


def _sent(clinic, patients: int = 2):
    for _ in range(patients):
        clinic.days(clinic.patient(), 2)
    built = claims.build(claims.ChargeFilter(payer_id=clinic.payer.id), actor="test")
    (batch,) = claims.send(clinic.payer, actor="test").batches
    db.session.commit()
    return batch, built


def _import(kind, content, name="ack.txt", actor="user:4"):
    result = (claims.import_999 if kind == "999" else claims.import_277ca)(content, name, actor=actor)
    db.session.commit()
    return result


def _history(claim):
    db.session.refresh(claim)
    return [(step.status, step.note) for step in claim.history]


def _counts():
    return (db.session.scalar(select(func.count()).select_from(ClaimAcknowledgment)),
            db.session.scalar(select(func.count()).select_from(ClaimStatusChange)),
            sorted(db.session.execute(select(Claim.id, Claim.status, Claim.payer_claim_number)).all()))


def test_an_accepted_999_keeps_the_claims_sent_and_says_the_file_was_accepted(app):
    batch, built = _sent(cf.clinic())
    content = acks.ack_999(batch)
    assert x12.validate(content) == []
    result = _import("999", content)
    assert [o.outcome for o in result.outcomes] == ["received", "received"]
    for claim in built:
        assert _history(claim)[-2:] == [("sent", f"in file {batch.filename}"),
                                        ("sent", "file accepted by the clearinghouse (999)")]
    record = db.session.get(ClaimAcknowledgment, result.acknowledgment_id)
    assert (record.kind, record.batch_id, record.imported_by) == ("999", batch.id, "user:4")
    assert record.summary == f"999: file {batch.filename} accepted (2 claim(s), still sent)"


def test_a_999_accepted_with_errors_keeps_the_claims_sent_and_names_the_errors(app):
    batch, (claim, _) = _sent(cf.clinic())
    content = acks.ack_999(batch, "E", [NM1_ERROR], set_errors=("I5",))
    assert x12.validate(content) == []
    _import("999", content)
    status, note = _history(claim)[-1]
    assert status == "sent"
    assert note.startswith("file accepted by the clearinghouse (999), with errors noted: transaction set 0001 "
                           "accepted but errors were noted (IK5 E)")
    assert "implementation one or more segments in error" in note


def test_a_rejected_999_rejects_every_claim_of_the_file_with_the_errors_in_words(app):
    clinic = cf.clinic()
    batch, built = _sent(clinic)
    _, (other,) = _sent(cf.clinic(x12_payer_id="60054", name="Aetna Better Health"), patients=1)
    content = acks.ack_999(batch, "R", [NM1_ERROR, DTP_MISSING], set_errors=("5",))
    assert x12.validate(content) == []
    result = _import("999", content)
    assert [(o.outcome, o.status) for o in result.outcomes] == [("rejected", "rejected")] * 2
    for claim in built:
        status, note = _history(claim)[-1]
        assert status == "rejected"
        assert note == (f"file {batch.filename} rejected by the clearinghouse (999): transaction set 0001 rejected "
                        "(IK5 R); segment NM1 at position 12 in loop 2010: segment has data element errors; "
                        "NM109: invalid character in data element (bad value 'MEM#1'); segment DTP at position 30 "
                        "in loop 2400: required segment missing; one or more segments in error")
    db.session.refresh(other)
    assert other.status == "sent"  # another file's claims are not this 999's business


def test_a_999_for_a_file_we_never_sent_is_listed_as_unmatched_and_changes_no_claim(app):
    _sent(cf.clinic())
    before = _counts()
    result = _import("999", acks.ack_999(987654, "R"))
    assert result.unmatched == ["987654"]
    assert "group 987654: not a file we sent" in result.summary
    assert _counts()[1:] == before[1:]


def test_a_277ca_accepts_and_rejects_claims_and_lists_numbers_it_does_not_know(app):
    _, (first, second) = _sent(cf.clinic())
    content = acks.ack_277ca([
        acks.for_claim(first, "A2:20:PR", payer_claim_number="ICN-2026-0001"),
        acks.for_claim(second, "A7:21:85", message="BILLING PROVIDER NPI NOT ON FILE"),
        acks.ClaimAnswer("NOT-OURS-1", "A2:20:PR"),
    ])
    assert x12.validate(content) == []
    result = _import("277CA", content, name="harbor.277")
    assert result.summary == "277CA: 1 accepted, 1 rejected, 0 acknowledged, 1 unmatched"
    assert result.unmatched == ["NOT-OURS-1"]
    db.session.refresh(first)
    assert (first.status, first.payer_claim_number) == ("accepted", "ICN-2026-0001")
    assert _history(first)[-1] == ("accepted", "accepted by the payer (277CA): A2 accepted into the adjudication "
                                               "system; 20 accepted for processing (payer); payer claim number "
                                               "ICN-2026-0001")
    assert _history(second)[-1] == ("rejected", "rejected by the payer (277CA): A7 rejected for invalid information; "
                                                "21 missing or invalid information (billing provider); "
                                                '"BILLING PROVIDER NPI NOT ON FILE"')
    rows = db.session.scalars(select(ClaimAcknowledgmentOutcome).order_by(ClaimAcknowledgmentOutcome.id)).all()
    assert [(r.claim_id, r.outcome, r.codes) for r in rows] == [
        (first.id, "accepted", "A2:20:PR"), (second.id, "rejected", "A7:21:85"), (None, "unmatched", "A2:20:PR")]


def test_a_277ca_that_only_forwards_a_claim_notes_it_and_leaves_it_sent(app):
    _, (claim, _) = _sent(cf.clinic())
    _import("277CA", acks.ack_277ca([acks.for_claim(claim, "A0:16:PR")]))
    assert _history(claim)[-1] == ("sent", "acknowledged by the payer (277CA): A0 forwarded: the claim has been "
                                           "forwarded to another entity; 16 claim has been forwarded to entity "
                                           "(payer)")


def test_an_acknowledgment_leaves_a_claim_the_payer_has_already_paid_alone(app):
    _, (claim, _) = _sent(cf.clinic())
    claims.change(claim, "paid", actor="test")
    db.session.commit()
    result = _import("277CA", acks.ack_277ca([acks.for_claim(claim, "A7:21:85")]))
    assert [(o.outcome, o.status) for o in result.outcomes] == [("rejected", "paid")]
    assert _history(claim)[-1][0] == "paid"


def test_the_same_file_twice_is_refused_and_changes_nothing(app):
    _, (claim, _) = _sent(cf.clinic())
    content = acks.ack_277ca([acks.for_claim(claim, "A2:20:PR", payer_claim_number="ICN-1")])
    _import("277CA", content, name="first.277")
    before = _counts()
    with pytest.raises(claims.AcknowledgmentError, match=r"already imported on \d{4}-\d\d-\d\d .*first\.277"):
        claims.import_277ca(content, "again.277", actor="test")
    db.session.rollback()
    # Wrapped at 80 columns it is the same file still.
    wrapped = b"\r\n".join(content[i:i + 80] for i in range(0, len(content), 80))
    with pytest.raises(claims.AcknowledgmentError, match="already imported"):
        claims.import_acknowledgment(wrapped, "wrapped.277", actor="test")
    db.session.rollback()
    assert _counts() == before


@pytest.mark.parametrize(("content", "says"), [
    (b"", "The file is empty"),
    (b"hello, this is not a claim acknowledgment", "This is not an X12 file"),
    (b"ISA*00*\x00\x00\x00", "NUL bytes"),
    (b"ST*999*0001*005010X231A1~AK1*HC*1*005010X222A1~", "The file has no envelope"),
    (x12.write(x12.Remit(0, "C", "NON", None, "TRACE1", "1512345678", "HARBOR HEALTH", None, None)),
     "This is not an acknowledgment: ST01 is 835"),
])
def test_files_that_are_not_acknowledgments_are_refused_with_one_line(app, content, says):
    _sent(cf.clinic())
    before = _counts()
    with pytest.raises(claims.AcknowledgmentError) as refused:
        claims.import_acknowledgment(content, "odd.txt", actor="test")
    db.session.rollback()
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert _counts() == before


def test_a_claim_file_an_invalid_999_and_the_wrong_kind_are_refused(app):
    batch, _ = _sent(cf.clinic())
    before = _counts()
    refusals = {
        "an 837": (claims.import_acknowledgment, batch.content.encode(), "This is not an acknowledgment: ST01 is 837"),
        "no AK9": (claims.import_999, acks.ack_999(batch).replace(b"AK9*A*1*1*1~\n", b""), "is not valid"),
        "a 999 as 277CA": (claims.import_277ca, acks.ack_999(batch), "This is a 999 file, not a 277CA"),
        "claim status": (claims.import_277ca, acks.ack_277ca([]).replace(b"005010X214", b"005010X212"),
                         "Wrong version for a 277CA: GS08 is 005010X212"),
    }
    for name, (importer, content, says) in refusals.items():
        with pytest.raises(claims.AcknowledgmentError, match=says) as refused:
            importer(content, "odd.txt", actor="test")
        db.session.rollback()
        assert "\n" not in str(refused.value), name
    assert _counts() == before


def test_a_rejected_claim_is_fixed_scrubbed_and_sent_again(app):
    clinic = cf.clinic()
    batch, (claim,) = _sent(clinic, patients=1)
    _import("277CA", acks.ack_277ca([acks.for_claim(claim, "A7:97:IL", message="SUBSCRIBER ID NOT FOUND")]))
    assert claim.status == "rejected"
    assert claims.claims_with("rejected") == [claim]
    # The biller corrects the member id, scrubs the claim again, and it goes out in the next file.
    claim.coverage.member_id = "HRB-778812"
    claims.scrub([claim], actor="user:4")
    db.session.commit()
    assert claim.status == "ready"
    (second,) = claims.send(clinic.payer, actor="user:4").batches
    db.session.commit()
    assert second.id != batch.id and claim.batch_id == second.id
    assert x12.validate(second.content.encode()) == []
    assert f"CLM*{claim.control_number}*" in second.content and "*MI*HRB-778812~" in second.content
    assert [s for s, _ in _history(claim)] == ["built", "ready", "sent", "rejected", "ready", "sent"]
    # The next 999 answers the new file; the old file's acknowledgments no longer reach the claim.
    _import("999", acks.ack_999(batch, "R", [DTP_MISSING], control=7002))
    assert claim.status == "sent"
    _import("277CA", acks.ack_277ca([acks.for_claim(claim, "A2:20:PR", payer_claim_number="ICN-9")], control=8002))
    assert (claim.status, claim.payer_claim_number) == ("accepted", "ICN-9")


def test_the_cli_imports_either_kind_and_refuses_with_one_line(app, tmp_path):
    batch, (first, second) = _sent(cf.clinic())
    runner = app.test_cli_runner()
    ack999 = tmp_path / "batch.999"
    ack999.write_bytes(acks.ack_999(batch))
    done = runner.invoke(args=["claims", "ack", str(ack999)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"999: file {batch.filename} accepted (2 claim(s), still sent)")
    ack277 = tmp_path / "payer.277"
    ack277.write_bytes(acks.ack_277ca([acks.for_claim(first), acks.for_claim(second, "A6:21:85"),
                                       acks.ClaimAnswer("ZZ-404")]))
    done = runner.invoke(args=["claims", "ack", str(ack277), "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert (payload["kind"], payload["unmatched"]) == ("277CA", ["ZZ-404"])
    assert [c["status"] for c in payload["claims"]] == ["accepted", "rejected", None]
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 not x12")
    for path, says in ((ack277, "already imported"), (garbage, "NUL bytes"), (tmp_path / "missing.999", "")):
        refused = runner.invoke(args=["claims", "ack", str(path)])
        assert refused.exit_code != 0
        errors = [line for line in refused.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and says in errors[0] and "Traceback" not in refused.output, refused.output
    assert db.session.scalar(select(func.count()).select_from(ClaimAcknowledgment)) == 2
