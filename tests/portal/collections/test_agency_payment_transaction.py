"""The agency payment row commits in the ledger's transaction: both or neither."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import collections, ledger
from portal.collections import placement as placement_module
from portal.extensions import db
from portal.models import AgencyPayment, Payment, Placement, Posting
from tests.fixtures.collections import owing

D0 = date(2026, 1, 5)


def test_a_failure_recording_the_agency_payment_posts_no_money(app, monkeypatch):
    account = owing(50000, D0)
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    db.session.add(Placement(account_id=account.id, agency_id=agency.id, placed_on=D0 + timedelta(days=130),
                             placed_balance_cents=50000, prior_stage="pre_collection", created_by="test"))
    db.session.commit()
    postings = db.session.scalar(select(func.count(Posting.id)))

    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(placement_module.audit, "record", broken)
    with pytest.raises(RuntimeError):
        collections.record_agency_payment(account, gross_cents=20000, fee_cents=None,
                                          received_on=D0 + timedelta(days=140),
                                          reference="R-1", key="agency:atomic", actor="test")
    assert db.session.scalar(select(func.count(Posting.id))) == postings
    assert db.session.scalar(select(func.count(Payment.id))) == 0
    assert db.session.scalar(select(func.count(AgencyPayment.id))) == 0
    db.session.refresh(account)
    assert account.patient_due_cents == 50000

    monkeypatch.undo()
    row = collections.record_agency_payment(account, gross_cents=20000, fee_cents=None,
                                            received_on=D0 + timedelta(days=140),
                                            reference="R-1", key="agency:atomic", actor="test")
    assert db.session.get(Payment, row.payment_id).amount_cents == 15000 and ledger.check_all()[1] == []
