import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.charges import HandCharge, HandChargeError, check_hand_charge, post_hand_charge
from portal.clock import facility_today
from portal.extensions import db
from portal.models import Charge, Coverage, Posting
from tests.fixtures import charges, factories


def _hand(patient, **changes) -> HandCharge:
    values = {"patient_id": patient.id, "billing_code_id": factories.code("90837").id,
              "service_date": date(2026, 10, 2), "units": 2, "token": uuid.uuid4().hex, "place_of_service": "11"}
    return HandCharge(**{**values, **changes})


def test_a_hand_charge_is_priced_from_the_fee_schedule_and_posted_once(app):
    patient = factories.account().patients[0]
    episode = charges.episode(patient)
    provider = charges.provider()
    coverage = patient.coverages[0]
    hand = _hand(patient, episode_id=episode.id, diagnosis_pointers=[2, 1], modifiers=["HQ", "95"],
                 coverage_id=coverage.id, rendering_provider_id=provider.id)
    assert check_hand_charge(hand)[1] == 180000  # 900.00 a unit x 2
    first = post_hand_charge(hand, actor="test")
    again = post_hand_charge(hand, actor="test")  # the same form sent twice
    assert again.id == first.id
    assert db.session.scalar(select(func.count(Charge.id))) == 1
    assert db.session.scalar(select(func.count(Posting.id))) == 1
    assert (first.amount_cents, first.insurance_balance_cents, first.patient_balance_cents) == (180000, 180000, 0)
    assert (first.modifiers, first.diagnosis_pointers, first.revenue_code) == ("HQ,95", "2,1", "0905")
    assert first.review_status == "released" and first.rendering_provider_id == provider.id


def test_self_pay_is_owed_by_the_patient(app):
    patient = factories.account().patients[0]
    charge = post_hand_charge(_hand(patient, units=1), actor="test")
    assert (charge.coverage_id, charge.patient_balance_cents, charge.insurance_balance_cents) == (None, 90000, 0)


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"modifiers": ["HQ", "95", "GT", "59", "XU"]}, "modifiers", "at most 4"),
    ({"modifiers": ["H"]}, "modifiers", "two letters or digits"),
    ({"units": 0}, "units", "1 to 999"),
    ({"units": 1000}, "units", "1 to 999"),
    ({"revenue_code": "90"}, "revenue_code", "4 digits"),
    ({"place_of_service": "5"}, "place_of_service", "2 digits"),
    ({"diagnosis_pointers": [1]}, "diagnosis_pointers", "Choose the episode"),
])
def test_bad_coding_is_refused_by_field(app, changes, field, words):
    patient = factories.account().patients[0]
    with pytest.raises(HandChargeError) as caught:
        post_hand_charge(_hand(patient, **changes), actor="test")
    assert words in caught.value.problems[field]
    assert db.session.scalar(select(func.count(Charge.id))) == 0


def test_pointers_must_name_diagnoses_the_episode_has(app):
    patient = factories.account().patients[0]
    episode = charges.episode(patient, codes=("F1020", "F331"))
    for pointers, words in (([3], "no number 3"), ([1, 1], "once"), ([1, 2, 1, 2, 1], "at most at 4")):
        with pytest.raises(HandChargeError) as caught:
            check_hand_charge(_hand(patient, episode_id=episode.id, diagnosis_pointers=pointers))
        assert words in caught.value.problems["diagnosis_pointers"]


def test_service_date_coverage_and_episode_are_checked(app):
    patient = factories.account().patients[0]
    other = factories.account().patients[0]
    foreign = charges.episode(other)
    coverage = patient.coverages[0]
    coverage.end_date = date(2026, 6, 30)
    db.session.commit()
    with pytest.raises(HandChargeError) as caught:
        check_hand_charge(_hand(patient, service_date=facility_today() + timedelta(days=1)))
    assert "future" in caught.value.problems["service_date"]
    with pytest.raises(HandChargeError) as caught:
        check_hand_charge(_hand(patient, coverage_id=coverage.id, episode_id=foreign.id))
    assert "not active" in caught.value.problems["coverage_id"]
    assert "this patient's episodes" in caught.value.problems["episode_id"]
    assert db.session.get(Coverage, coverage.id).active_on(date(2026, 6, 30))


def test_held_when_the_facility_reviews_charges(app):
    factories.facility().charge_review = True
    db.session.commit()
    charge = post_hand_charge(_hand(factories.account().patients[0]), actor="test")
    assert charge.review_status == "held"
