"""Two workers running the same night at once on PostgreSQL create each charge and exception once."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import iop, ledger
from portal.extensions import db
from portal.models import Charge, IopException
from tests.fixtures.iop import DAY, make_patient
from tests.fixtures.threads import run_concurrently

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
    _, errors = run_concurrently(app, 2, lambda i: iop.run(DAY + timedelta(days=2), actor=f"thread:{i}"))
    assert errors == []
    charged = db.session.scalars(select(Charge.patient_id).where(Charge.source == "iop")).all()
    assert sorted(charged) == sorted(billable)
    assert db.session.scalar(select(func.count(IopException.id))) == 6
    assert ledger.check_all()[1] == []
