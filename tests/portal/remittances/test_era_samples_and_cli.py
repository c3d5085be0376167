"""The public sample 835 files, and the `era import` command."""
import json

import pytest

from portal import claims, remittances
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

# What each sample does here, and why (see the samples' SOURCES.md for what pyx12 reports on each).
EXPECTED = {
    "835_mult_loops.txt": "imported",  # the one sample that validates clean: a denial, nothing paid
    "835_simple.txt": "Wrong version",  # 004010X091A1
    "managed-care.835": "with warnings",  # BPR16 invalid date, PER*BL missing: no amount touched
    "medicare-part-a.835": "with warnings",  # PER*BL missing, TS3 (provider summary) elements "not used"
    "secondary-payment.835": "not a valid",  # composites written with '>' while ISA16 declares ':'
    "tertiary-payment.835": "not a valid",
    "cob-contractural-adjustment.835": "not a valid",
}


def test_there_are_seven_samples():
    assert sorted(p.name for p in SAMPLES.iterdir() if p.is_file()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_sample_imports_or_is_refused_with_a_reason(app, name, capsys):
    content = (SAMPLES / name).read_bytes()
    claims_from_file(content)
    before = counts()
    if EXPECTED[name] == "imported":
        result = remittances.import_file(content, name, actor="test")
        # Auto-post rate on the samples: service lines posted without a person / all service lines.
        with capsys.disabled():
            print(f"\n{name}: {result.posted_lines}/{result.lines} lines posted automatically "
                  f"({result.auto_post_rate_bps / 100:.2f}%), {result.denied_lines} denied")
        assert result.posted_lines == result.lines == 3
        assert result.denied_lines == 3 and result.exceptions == 0
        assert [d.line.denial_codes.split()[0] for d in claims.list_denials()] == ["CO-16", "OA-A7", "OA-A7"]
    elif EXPECTED[name] == "with warnings":
        result = remittances.import_file(content, name, actor="test")
        paid = sum(c.paid_cents for remit in x12.parse(content) for c in remit.claims)
        assert (result.exceptions, result.posted_lines, result.posted_paid_cents) == (0, result.lines, paid)
        assert db.session.get(Remittance, result.remittance_id).warnings
    else:
        with pytest.raises(remittances.EraError, match=EXPECTED[name]) as refused:
            remittances.import_file(content, name, actor="test")
        assert counts() == before
        if EXPECTED[name] == "not a valid":
            assert refused.value.problems and all(p.startswith("line ") for p in refused.value.problems)
    assert ledger_clean()


def test_cli_import_prints_json_and_a_refusal_is_one_line_exiting_non_zero(app, tmp_path):
    make_claim("PC200", [("S9480", DAY, 1, 90000)])
    good = tmp_path / "good.835"
    good.write_bytes(file_of(claim("PC200", line("S9480", 90000, 65000, cas("CO", "45", 25000)))))
    runner = app.test_cli_runner()
    done = runner.invoke(args=["era", "import", str(good), "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.output)
    assert (payload["posted_lines"], payload["posted_paid_cents"], payload["auto_post_rate_bps"]) == (1, 65000, 10000)

    again = runner.invoke(args=["era", "import", str(good)])
    assert again.exit_code != 0
    message = again.output.strip()
    assert message.count("\n") == 0
    assert f"already imported as remittance {payload['remittance_id']}" in message

    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0, check.output

