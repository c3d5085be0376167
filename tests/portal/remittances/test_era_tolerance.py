"""Strict on money, tolerant of the rest: validator findings that change no amount post with warnings
(unless the facility asks for strict files), framing is made plain first, and refusals say what is wrong."""
import pytest

from portal import facility, remittances
from portal.extensions import db
from portal.models import Remittance
from portal.remittances import x12
from tests.fixtures.era import (
    DAY,
    SAMPLES,
    cas,
    claim,
    claims_from_file,
    counts,
    file_of,
    ledger_clean,
    line,
    make_claim,
)

CLAIM_SAMPLES = SAMPLES.parent / "837"


def test_a_file_missing_the_payer_contact_posts_with_warnings_and_the_amounts_of_the_file(app, login_as):
    content = (SAMPLES / "managed-care.835").read_bytes()
    claims_from_file(content)
    remits = x12.parse(content)
    paid = sum(c.paid_cents for remit in remits for c in remit.claims)
    result = remittances.import_file(content, "managed-care.835", actor="test")

    remittance = db.session.get(Remittance, result.remittance_id)
    assert remittance.status == "posted" and result.exceptions == 0
    assert result.posted_paid_cents == paid and remittance.payment_cents == remits[0].payment_cents
    assert "PER" in remittance.warnings and "BPR16" in remittance.warnings
    assert ledger_clean()
    page = login_as("biller").get(f"/staff/remittances/{remittance.id}").get_data(as_text=True)
    assert "Posted with warnings" in page and "Payer Technical Contact" in page


def test_the_guides_medicare_part_a_example_posts_its_149_998_73_with_warnings(app):
    content = (SAMPLES / "medicare-part-a.835").read_bytes()
    claims_from_file(content)
    result = remittances.import_file(content, "medicare-part-a.835", actor="test")

    assert (result.exceptions, result.posted_paid_cents) == (0, 14999873)
    assert "TS3" in db.session.get(Remittance, result.remittance_id).warnings


def test_a_strict_facility_refuses_the_same_file_and_nothing_changes(app):
    facility.saved().era_strict = True
    db.session.commit()
    content = (SAMPLES / "managed-care.835").read_bytes()
    claims_from_file(content)
    before = counts()
    with pytest.raises(remittances.EraError, match="not a valid") as refused:
        remittances.import_file(content, "managed-care.835", actor="test")
    assert any("PER" in p for p in refused.value.problems)
    assert counts() == before


def test_a_payment_with_more_than_six_provider_adjustments_from_our_own_writer_posts(app):
    make_claim("PLB7", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("PLB7", line("S9480", 90000, 90000)), plb=[("WO", f"R{n}", 1000) for n in range(7)])
    assert content.count(b"PLB*") == 2
    result = remittances.import_file(content, "plb.835", actor="test")

    remittance = db.session.get(Remittance, result.remittance_id)
    assert (remittance.payment_cents, remittance.provider_adjustment_cents) == (83000, 7000)
    assert "Loop FOOTER" in remittance.warnings
    assert result.posted_lines == 1 and ledger_clean()


def _wrapped(content: bytes, width: int = 80) -> bytes:
    flat = content.replace(b"\n", b"")
    return b"\r\n".join(flat[i:i + width] for i in range(0, len(flat), width)) + b"\r\n"


@pytest.mark.parametrize("framing", ["byte-order mark", "CRLF after each segment", "wrapped at 80 columns"])
def test_framing_is_made_plain_before_the_file_is_read(app, framing):
    make_claim("FR1", [("S9480", DAY, 1, 90000)])
    plain = file_of(claim("FR1", line("S9480", 90000, 60000, cas("CO", "45", 30000))))
    content = {"byte-order mark": b"\xef\xbb\xbf" + plain,
               "CRLF after each segment": plain.replace(b"~\n", b"~\r\n"),
               "wrapped at 80 columns": b"\xef\xbb\xbf" + _wrapped(plain)}[framing]
    result = remittances.import_file(content, "framed.835", actor="test")
    assert (result.posted_lines, result.posted_paid_cents) == (1, 60000)
    assert db.session.get(Remittance, result.remittance_id).warnings is None


def test_an_unpadded_isa_says_its_fields_are_not_fixed_width(app):
    paid = claim("UP1", line("S9480", 90000, 60000, cas("CO", "45", 30000)))
    content = file_of(paid).replace(b"*          *", b"**", 2)
    with pytest.raises(remittances.EraError, match="ISA fields are not fixed width"):
        remittances.import_file(content, "unpadded.835", actor="test")


def test_a_claim_file_is_named_as_one(app):
    content = (CLAIM_SAMPLES / "demo.example1.837").read_bytes()
    with pytest.raises(remittances.EraError, match=r"This is a claim file \(837\), not a remittance"):
        remittances.import_file(content, "claims.837", actor="test")


def test_a_segment_the_validator_cannot_read_is_named_with_its_line(app):
    make_claim("CR1", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("CR1", line("S9480", 90000, 90000)), plb=[("WO", "123:X", 1000)])
    before = counts()
    with pytest.raises(remittances.EraError) as refused:
        remittances.import_file(content, "crash.835", actor="test")
    assert refused.value.problems[0].startswith("line ") and "PLB" in refused.value.problems[0]
    assert "could not read this segment" in refused.value.problems[0]
    assert counts() == before


def test_a_finding_in_a_money_field_still_refuses(app):
    make_claim("MN1", [("S9480", DAY, 1, 90000)])
    paid = claim("MN1", line("S9480", 90000, 60000, cas("CO", "45", 30000)))
    content = file_of(paid).replace(b"SVC*HC:S9480", b"SVC*XX:S9480")
    with pytest.raises(remittances.EraError, match="not a valid"):
        remittances.import_file(content, "money.835", actor="test")


def test_an_isa_two_columns_short_with_a_segment_on_each_line_says_its_fields_are_not_fixed_width(app):
    """Its terminator is not where the ISA says it is, so nothing is reflowed by guessing one: the refusal
    names the short ISA, not "not an X12 file"."""
    make_claim("UP2", [("S9480", DAY, 1, 90000)])
    plain = file_of(claim("UP2", line("S9480", 90000, 60000, cas("CO", "45", 30000))))
    isa, rest = plain.split(b"\n", 1)
    sender_two_short = isa[:35] + isa[37:]
    before = counts()
    with pytest.raises(remittances.EraError, match="ISA fields are not fixed width") as refused:
        remittances.import_file(sender_two_short + b"\n" + rest, "short-isa.835", actor="test")
    assert "column 103" in refused.value.problems[0]
    assert counts() == before
