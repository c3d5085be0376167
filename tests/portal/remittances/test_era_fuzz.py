"""Hundreds of damaged 835 files: each is posted whole or refused with EraError, never half-posted."""
import random
from datetime import date

from portal import remittances
from tests.fixtures.era import DAY, cas, claim, counts, file_of, ledger_clean, line, make_claim

MUTATIONS = 300


def _base_file() -> bytes:
    day2 = date(2026, 10, 2)
    make_claim("FZ1", [("S9480", DAY, 1, 90000), ("S9480", day2, 1, 90000)])
    make_claim("FZ2", [("H0015", DAY, 1, 85000)])
    make_claim("FZ3", [("90791", DAY, 1, 35000)])
    return file_of(
        claim("FZ1", line("S9480", 90000, 12000, cas("CO", "45", 25000), cas("PR", "1", 50000), cas("PR", "2", 3000)),
              line("S9480", 90000, 52000, cas("CO", "45", 25000), cas("PR", "2", 13000), day=day2)),
        claim("FZ2", line("H0015", 85000, 0, cas("CO", "197", 85000)), status="4"),
        claim("FZ3", line("90791", 35000, 30000, cas("CO", "45", 5000))),
        claim("NOTOURS", line("S9480", 50000, 40000, cas("CO", "45", 10000)), member_id="NOBODY"),
        plb=[("WO", "OLD1", 1000)],
    )


def _mutate(content: bytes, rng: random.Random) -> bytes:
    segments = content.split(b"~\n")
    kind = rng.randrange(6)
    if kind == 0:  # one byte changed
        data = bytearray(content)
        data[rng.randrange(len(data))] = rng.choice(b"0123456789*~:^-.AZ \n")
        return bytes(data)
    if kind == 1:  # a segment lost
        del segments[rng.randrange(1, len(segments) - 1)]
    elif kind == 2:  # a segment repeated
        i = rng.randrange(1, len(segments) - 1)
        segments.insert(i, segments[i])
    elif kind == 3:  # two segments swapped
        i, j = rng.randrange(1, len(segments) - 1), rng.randrange(1, len(segments) - 1)
        segments[i], segments[j] = segments[j], segments[i]
    elif kind == 4:  # cut short
        return content[:rng.randrange(len(content))]
    else:  # an amount changed
        i = rng.randrange(len(segments))
        parts = segments[i].split(b"*")
        spots = [n for n, p in enumerate(parts) if b"." in p and p.replace(b".", b"").lstrip(b"-").isdigit()]
        if spots:
            n = rng.choice(spots)
            parts[n] = rng.choice([b"0.00", b"1.01", b"-5.00", parts[n] + b"0", b"99999999.99", b"1.234", b""])
            segments[i] = b"*".join(parts)
    return b"~\n".join(segments)


def test_mutated_files_post_whole_or_are_refused_and_change_nothing(app):
    base = _base_file()
    rng = random.Random(835)
    outcomes = {"posted": 0, "refused": 0}
    for n in range(MUTATIONS):
        content = _mutate(base, rng)
        before = counts()
        try:
            remittances.import_file(content, f"fuzz-{n}.835", actor="test")
        except remittances.EraError:
            outcomes["refused"] += 1
            assert counts() == before, f"mutation {n} was refused but wrote rows"
        else:
            outcomes["posted"] += 1
        assert ledger_clean(), f"mutation {n} left the ledger inconsistent"
    assert outcomes["refused"] > MUTATIONS // 2
    assert sum(outcomes.values()) == MUTATIONS
