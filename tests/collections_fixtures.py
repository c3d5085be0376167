"""Guarantors who owe the patient share of a charge since a given day, with their first statement."""
import uuid
from datetime import date

import pytest

from portal import ledger, statements
from portal.extensions import db
from tests import factories


def owing(cents: int, since: date, *, statement: bool = True, state: str | None = "NJ", insurance: int = 0):
    """An account whose patient became responsible for `cents` on `since` (an ERA moved it there)."""
    account = factories.account()
    account.state = state
    db.session.commit()
    charge = factories.charge(account, cents + insurance, day=since, responsibility="insurance")
    ledger.transfer(charge.id, amount_cents=cents, to_bucket="patient", reason="deductible",
                    key=f"test:pr:{uuid.uuid4().hex}", actor="test", effective_date=since)
    if statement:
        statements.issue(account, since, actor="test")
    db.session.refresh(account)
    return account


@pytest.fixture
def make_owing(app):
    return owing
