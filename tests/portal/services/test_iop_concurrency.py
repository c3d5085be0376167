"""Two workers running the same night at once on PostgreSQL create each charge and exception once."""
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Charge, IopException
from portal.services import iop, ledger
from tests.iop_fixtures import DAY, make_patient

pytestmark = pytest.mark.postgres


def test_two_concurrent_runs_for_one_date_create_each_charge_once(app, program):
    billable = []
    for n in range(30):
        patient, coverage = make_patient()
        if n % 5:  # every fifth patient has no authorization: an exception
            iop.save_authorization(patient=patient, coverage_id=coverage.id, billing_code_id=program.per_diem.id,
                                   start=date(2026, 10, 1), end=date(2026, 10, 31), units=5, actor="test")
            billable.append(patient.id)
        program.attend(patient=patient)
    db.session.commit()
    barrier, errors = threading.Barrier(2), []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                iop.run(DAY + timedelta(days=2), actor=f"thread:{threading.get_ident()}")
            except Exception as exc:  # asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    charged = db.session.scalars(select(Charge.patient_id).where(Charge.source == "iop")).all()
    assert sorted(charged) == sorted(billable)
    assert db.session.scalar(select(func.count(IopException.id))) == 6
    assert ledger.check_all()[1] == []
