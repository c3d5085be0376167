from datetime import date, timedelta

from sqlalchemy import select

from portal import iop, ledger
from portal.charges import HeldFilter, held_charges
from portal.extensions import db
from portal.models import Charge
from tests.fixtures import factories
from tests.fixtures.iop import DAY


def _review_on():
    factories.facility().charge_review = True
    db.session.commit()


def test_the_nightly_engine_holds_its_charges_when_review_is_on(program):
    _review_on()
    program.attend()
    iop.run(DAY + timedelta(days=2), actor="test")
    charge = db.session.scalar(select(Charge))
    assert (charge.source, charge.review_status, charge.released_by) == ("iop", "held", None)
    assert [c.id for c in held_charges()] == [charge.id]


def test_the_nightly_engine_releases_at_once_when_review_is_off(program):
    program.attend()
    iop.run(DAY + timedelta(days=2), actor="test")
    assert db.session.scalar(select(Charge.review_status)) == "released"
    assert held_charges() == []


def test_a_held_charge_waits_until_a_biller_releases_it(app):
    _review_on()
    account = factories.account(2)
    first = ledger.post_charge(account.id, patient_id=account.patients[0].id, billing_code_id=factories.code().id,
                               service_date=date(2026, 10, 1), amount_cents=100, key="a", actor="test",
                               review_status="held")
    second = ledger.post_charge(account.id, patient_id=account.patients[1].id, billing_code_id=factories.code().id,
                                service_date=date(2026, 10, 5), amount_cents=100, key="b", actor="test",
                                review_status="held")
    assert [c.id for c in held_charges(HeldFilter(start=date(2026, 10, 2)))] == [second.id]
    assert [c.id for c in held_charges(HeldFilter(patient_id=account.patients[0].id))] == [first.id]
    assert ledger.release_charges([first.id], actor="user:7") == [first.id]
    assert ledger.release_charges([first.id, second.id], actor="user:8") == [second.id]  # first: already done
    db.session.commit()
    released = db.session.get(Charge, first.id)
    assert (released.review_status, released.released_by) == ("released", "user:7")
    assert released.released_at is not None
    assert held_charges() == []
