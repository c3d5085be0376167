"""Public 835 files from other X12 projects and the implementation guide, kept beside the repository
(shared/samples/x12/corpus/<source>/, each file's source and licence in its SOURCES.md), imported against
claims built from their own CLP/SVC data. Each must post (with or without warnings, its money as the file
says) or be refused for a reason that names money, version or structure, changing nothing."""
from pathlib import Path

import pytest

from portal import remittances
from portal.extensions import db
from portal.models import Remittance
from portal.remittances import x12
from tests.fixtures.era import claims_from_file, counts, ledger_clean

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "samples" / "x12" / "corpus"
FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []
ABSENT = pytest.mark.skipif(not FILES,
                            reason="the public 835 corpus (shared/samples/x12/corpus) is not on this machine")

# What each file does here, and why (the first finding of the validator or of our checks).
NOT_VALID = "refused: The file is not a valid 005010X221A1 835"
EXPECTED: dict[str, str] = {
    "affect/exhaustive_sample.txt": "refused: The file has no envelope",  # every field written as X's, from ST on
    "affect/nevada_medicaid.txt": "refused: ISA fields are not fixed width",  # ISA06/08 unpadded
    "chs/test.835": NOT_VALID,  # SE counts 17 segments, the set has 16
    "clawdgeorge/sample_835.edi": "refused: ISA fields are not fixed width",  # ISA06/08 one column short each
    "clawdgeorge/sample_835_alt_delimiters.edi": "refused: ISA fields are not fixed width",  # '+' separators
    "clawdgeorge/sample_835_balancing.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "clawdgeorge/sample_835_rich.edi": "refused: ISA fields are not fixed width",  # ISA08 one column short
    "databricks/no_plb_sample.txt": NOT_VALID,  # IEA and SE control numbers do not match ISA and ST
    "databricks/plb_sample.txt": NOT_VALID,  # the same envelope, and N1*PE after a claim's DTM
    "databricks/sample.txt": NOT_VALID,  # SE segment counts are wrong: where a payment ends is unknown
    "databricks/sample_no_cas.txt": NOT_VALID,  # the same
    "databricks/sample_services.txt": NOT_VALID,  # GE counts three transaction sets, the file has one
    "edi835/blue_cross_nc_sample.txt": "refused: The file has no envelope",  # a bare ST/SE, no ISA/GS
    "edi835/emedny_sample.txt": "posted",
    "edi835/united_healthcare_legacy_sample.txt": "posted with warnings",
    "harshityadav95/EDI835input.txt": "refused: ISA fields are not fixed width",  # ISA06/08 short
    "lfh/cob-contractural-adjustment.835": NOT_VALID,  # composites written with '>' while ISA16 says ':'
    "lfh/managed-care.835": "posted with warnings",  # BPR16 is not a date; PER*BL missing
    "lfh/medicare-part-a.835": "posted with warnings",  # PER*BL missing; TS3 figures marked not used
    "lfh/secondary-payment.835": NOT_VALID,  # composites with '>' as above
    "lfh/tertiary-payment.835": NOT_VALID,  # SVC01-02 missing: which service was paid is unknown
    "moov/sample1.txt": NOT_VALID,  # SVC with trailing element separators (a syntax error)
    "moov/sample2.txt": "refused: The file does not balance",
    "nididpi/835X221sample": NOT_VALID,  # SE counts 26 segments, the set has 24
    "oopfactory/Example1.txt": "refused: Wrong version: 5010",  # GS08 is not a release
    "oopfactory/Example1_GripElements.txt": "refused: Wrong version: 004010X091A1",
    "pbx12/example835One.txt": "refused: Wrong version: none",  # a GS of seven elements, BPR of random text
    "pbx12/example835SpecialCharsOne.txt": "refused: Wrong version: none",  # the same with '^' as terminator
    "pyx12/835_mult_loops.txt": "posted",
    "pyx12/835_simple.txt": "refused: Wrong version: 004010X091A1",
    "tasty/multi-line-not-delimited.edi": "posted",  # the eMedNY example, a line break as terminator
    "tasty/profee-multiple.edi": NOT_VALID,  # one interchange repeated: ISA13 006000600 not unique
    "tasty/profee.edi": "posted",  # the eMedNY example, a segment on each line
}


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@ABSENT
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
