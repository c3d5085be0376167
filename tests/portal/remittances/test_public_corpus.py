"""Public 835 files from other X12 projects and the implementation guide (tests/fixtures/x12_corpus/<source>/,
each file's source and licence in its SOURCES.md, each source's licence beside its files), imported against
claims built from their own CLP/SVC data. Each must post (with or without warnings, its money as the file
says) or be refused for a reason that names money, version or structure, changing nothing."""
from pathlib import Path

import pytest

from portal import remittances
from portal.extensions import db
from portal.models import Remittance
from portal.remittances import x12
from tests.fixtures.era import claims_from_file, counts, ledger_clean

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "x12_corpus"
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file() and not p.name.startswith("LICENSE"))

# What each file does here, and why (the first finding of the validator or of our checks).
NOT_VALID = "refused: The file is not a valid 005010X221A1 835"
EXPECTED: dict[str, str] = {
    "affect/exhaustive_sample.txt": "refused: The file has no envelope",  # every field written as X's, from ST on
    "affect/nevada_medicaid.txt": "refused: ISA fields are not fixed width",  # ISA06/08 unpadded
    "chs/test.835": NOT_VALID,  # SE counts 17 segments, the set has 16
    "clawdgeorge/sample_835.edi": "refused: ISA fields are not fixed width",  # ISA06/08 one column short each
    "clawdgeorge/sample_835_alt_delimiters.edi": "refused: ISA fields are not fixed width",  # '+' separators
    "clawdgeorge/sample_835_discrepancy.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "clawdgeorge/sample_835_balancing.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "clawdgeorge/sample_835_rich.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "clawdgeorge/sample_835_shifted_elements.edi": "refused: The file has no envelope",  # a bare ST/SE
    "clawdgeorge/sample_multi_transaction.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "edi835/blue_cross_nc_sample.txt": "refused: The file has no envelope",  # a bare ST/SE, no ISA/GS
    "edi835/emedny_sample.txt": "posted",
    "edi835/united_healthcare_legacy_sample.txt": "posted with warnings",
    "gunajii/sample_835.edi": "refused: ISA fields are not fixed width",  # ISA06/08 unpadded
    "lfh/cob-contractural-adjustment.835": NOT_VALID,  # composites written with '>' while ISA16 says ':'
    "lfh/managed-care.835": "posted with warnings",  # BPR16 is not a date; PER*BL missing
    "lfh/medicare-part-a.835": "posted with warnings",  # PER*BL missing; TS3 figures marked not used
    "lfh/secondary-payment.835": NOT_VALID,  # composites with '>' as above
    "lfh/tertiary-payment.835": NOT_VALID,  # SVC01-02 missing: which service was paid is unknown
    "moov/sample1.txt": NOT_VALID,  # SVC with trailing element separators (a syntax error)
    "nididpi/835X221sample": NOT_VALID,  # SE counts 26 segments, the set has 24
    "oopfactory/Example1.txt": "refused: Wrong version: 5010",  # GS08 is not a release
    "oopfactory/Example1_GripElements.txt": "refused: Wrong version: 004010X091A1",
    "pbx12/example835One.txt": "refused: Wrong version: none",  # a GS of seven elements, BPR of random text
    "pbx12/example835SpecialCharsOne.txt": "refused: Wrong version: none",  # the same with '^' as terminator
    "pbx12/example835nonasciielemsep.txt": "refused: ISA fields are not fixed width",  # a multi-byte separator
    "pyx12/835_mult_loops.txt": "posted",
    "pyx12/835_simple.txt": "refused: Wrong version: 004010X091A1",
    "pyx12/bad_header_looping.txt": "refused: Wrong version: 004010X091A1",
    "scribe/sample_835_multi_claim.edi": NOT_VALID,  # claims without the LX loop that holds them
    "stupidedi/1.edi": "refused: ISA fields are not fixed width",  # ISA06 31 columns, 4010
    "stupidedi/3a.edi": "refused: This is not an X12 file",  # the guide's scenario text comes before the ISA
    "stupidedi/multiple-claims-single-check.edi": "posted",
    "tasty/multi-line-not-delimited.edi": "posted",  # the eMedNY example, a line break as terminator
    "tasty/profee-multiple.edi": NOT_VALID,  # one interchange repeated: ISA13 006000600 not unique
    "tasty/profee.edi": "posted",  # the eMedNY example, a segment on each line
}


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_the_corpus_holds_30_files_from_10_sources():
    assert len(FILES) >= 30 and len({p.parent.name for p in FILES}) >= 10


def test_each_corpus_file_has_its_source_and_licence_named():
    sources = (CORPUS / "SOURCES.md").read_text()
    assert [_name(p) for p in FILES if p.name not in sources] == []


@pytest.mark.parametrize("path", FILES, ids=[_name(p) for p in FILES])
def test_a_public_835_posts_its_money_or_is_refused_for_a_reason(app, path, capsys):
    content = path.read_bytes()
    try:
        remits = x12.parse(x12.normalise(content))
        claims_from_file(x12.normalise(content))
    except x12.X12Error:
        remits = []
    before = counts()
    try:
        result = remittances.import_file(content, path.name, actor="test")
    except remittances.EraError as refused:
        outcome = f"refused: {refused.summary}".split(" (")[0]
        assert counts() == before
    else:
        results = [result, *result.further]
        warned = any(db.session.get(Remittance, r.remittance_id).warnings for r in results)
        outcome = "posted with warnings" if warned else "posted"
        lines = sum(r.lines for r in results)
        posted = sum(r.posted_lines for r in results)
        with capsys.disabled():
            print(f"\n{_name(path)}: {posted}/{lines} lines posted automatically")
        if not any(r.exceptions for r in results):
            paid = sum(c.paid_cents for remit in remits for c in remit.claims)
            assert sum(r.posted_paid_cents for r in results) == paid
        assert ledger_clean()
    with capsys.disabled():
        print(f"\n{_name(path)}: {outcome}")
    assert EXPECTED.get(_name(path), outcome) == outcome
