"""The adjustment limit holds when two write-offs on one account arrive at the same instant (PostgreSQL row locks)."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, Adjustment, User
from portal.payments import desk
from tests.fixtures import factories
from tests.fixtures.threads import run_concurrently

pytestmark = pytest.mark.postgres


def test_two_write_offs_at_once_cannot_both_pass_the_daily_limit(app, make_staff):
    account = factories.account()
    charge = factories.charge(account, 100000)
    biller_id = make_staff("biller").id
    account_id, charge_id = account.id, charge.id
    db.session.commit()

    def write_off(i):
        return desk.post_adjustment(db.session.get(Account, account_id), user=db.session.get(User, biller_id),
                                    charge_id=charge_id, bucket="patient", kind="charity", amount_cents=30000,
                                    reason="hardship", token=f"race-{i}")

    results, errors = run_concurrently(app, 4, write_off)
    assert len(results) == 1  # $300 of the biller's $500 a day; a second $300 would pass it
    assert len(errors) == 3 and all(isinstance(e, desk.PostingError) and "per account a day" in str(e) for e in errors)
    posted = db.session.scalar(select(func.coalesce(func.sum(Adjustment.amount_cents), 0))
                               .where(Adjustment.account_id == account_id))
    assert posted == 30000
