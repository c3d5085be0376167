"""Races on PostgreSQL: the same ERA file imported at once posts once."""
import pytest
from sqlalchemy import func, select

from portal import remittances
from portal.extensions import db
from portal.models import Payment, Remittance
from tests.fixtures.era import DAY, cas, claim, file_of, ledger_clean, line, make_claim
from tests.fixtures.threads import run_concurrently

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("matched", [True, False], ids=["matched", "unmatched-only"])
def test_the_same_file_imported_twice_at_once_posts_once(app, matched):
    if matched:
        make_claim("CC1", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("CC1" if matched else "NOTOURS", line("S9480", 90000, 65000, cas("CO", "45", 25000)),
                            member_id="M1" if matched else "NOBODY"))
    results, errors = run_concurrently(app, 4, lambda i: remittances.import_file(content, f"twice-{i}.835",
                                                                         actor=f"thread:{i}").remittance_id)
    assert len(results) == 1
    assert len(errors) == 3
    assert all(isinstance(e, remittances.EraError) and "already imported" in str(e) for e in errors)
    assert db.session.scalar(select(func.count(Remittance.id))) == 1
    assert db.session.scalar(select(func.count(Payment.id))) == (1 if matched else 0)
    assert ledger_clean()
