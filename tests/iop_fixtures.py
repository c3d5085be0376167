"""An IOP program: code groups, settings, an insured patient with an authorization."""
from dataclasses import dataclass
from datetime import date

import pytest

from portal import iop
from portal.extensions import db
from portal.models import Authorization, BillingCode, BillingCodeGroup, Coverage, Patient
from tests import factories

DAY = date(2026, 10, 14)


@dataclass
class Program:
    patient: Patient
    coverage: Coverage
    group_code: BillingCode
    individual_code: BillingCode
    per_diem: BillingCode
    auth: Authorization

    def attend(self, day=DAY, units=3, minutes=180, signed=True, patient=None, code=None):
        session = iop.record_session(patient=patient or self.patient, service_date=day,
                                     billing_code_id=(code or self.group_code).id, minutes=minutes, units=units,
                                     clinician="Dr. Lee", signed=signed, actor="test")
        db.session.commit()
        return session


def make_patient(account=None):
    account = account or factories.account()
    return account.patients[0], account.patients[0].coverages[0]


@pytest.fixture
def program(app):
    factories.facility()
    group_code = BillingCode(code="90853", description="Group psychotherapy", kind="documentation", minutes=60)
    individual = BillingCode(code="90837", description="Psychotherapy 60", kind="documentation", minutes=60)
    per_diem = BillingCode(code="S9480", description="IOP per diem", revenue_code="0905", kind="billable",
                           default_price_cents=95000)
    db.session.add_all([group_code, individual, per_diem,
                        BillingCodeGroup(name="IOP documentation", purpose="documentation",
                                         codes=[group_code, individual]),
                        BillingCodeGroup(name="IOP billable", purpose="billable", codes=[per_diem])])
    db.session.commit()
    config = iop.settings()
    config.unit_threshold, config.arrears_days, config.catch_up_days = 3, 2, 0
    config.default_clinician, config.default_location, config.alert_role = "Dr. Default", "Main campus", "biller"
    db.session.commit()
    patient, coverage = make_patient()
    auth = iop.save_authorization(patient=patient, coverage_id=coverage.id, billing_code_id=per_diem.id,
                                  start=date(2026, 10, 1), end=date(2026, 10, 31), units=10, actor="test",
                                  number="AUTH-1")
    db.session.commit()
    return Program(patient, coverage, group_code, individual, per_diem, auth)
