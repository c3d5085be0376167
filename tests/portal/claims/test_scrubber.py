"""Each scrubber rule: a claim that breaks it is held with the rule's message; the clean claim passes it."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import claims
from portal.extensions import db
from portal.models import AuditEvent, Authorization, Charge, ClaimIssue, ClinicalSession, Episode, EpisodeDiagnosis
from tests.fixtures import claims as cf
from tests.fixtures import factories


def _build(clinic):
    built = claims.build(claims.ChargeFilter(), actor="test")
    db.session.commit()
    return built


def _findings(claim) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for issue in claim.issues:
        found.setdefault(issue.rule, []).append(issue.message)
    return found


def _no_signed_note(clinic, patient):
    db.session.query(ClinicalSession).filter_by(patient_id=patient.id).update({"signed": False})


def _no_authorization(clinic, patient):
    db.session.query(Charge).filter_by(patient_id=patient.id).update({"authorization_id": None})
    db.session.query(Authorization).filter_by(patient_id=patient.id).delete()


def _authorization_ends_early(clinic, patient):
    db.session.query(Authorization).filter_by(patient_id=patient.id).update({"end_date": cf.MONDAY})


def _authorization_exhausted(clinic, patient):
    db.session.query(Authorization).filter_by(patient_id=patient.id).update({"units_allotted": 1})


def _no_diagnosis(clinic, patient):
    episode = db.session.scalar(select(Episode).where(Episode.patient_id == patient.id))
    db.session.query(EpisodeDiagnosis).filter_by(episode_id=episode.id).delete()


def _category_diagnosis(clinic, patient):
    episode = db.session.scalar(select(Episode).where(Episode.patient_id == patient.id))
    db.session.query(EpisodeDiagnosis).filter_by(episode_id=episode.id, position=2).update({"code": "F33"})


def _wrong_place(clinic, patient):
    # Charged as office visits (11) at a program whose location is a non-residential SUD facility (57).
    db.session.query(Charge).filter_by(patient_id=patient.id).update({"place_of_service": "11"})


def _php_code(clinic, patient):
    clinic.code.level_of_care = "php"


def _not_billable_to_payer(clinic, patient):
    claims.save_rule(clinic.payer, None, {"billable_codes": "H0015"}, actor="test")


def _timely_filing_passed(clinic, patient):
    clinic.payer.timely_filing_days = 10


def _timely_filing_near(clinic, patient):
    # The oldest day billed is MONDAY; the limit falls a few days from today.
    clinic.payer.timely_filing_days = (date.today() - cf.MONDAY).days + 3


def _bad_billing_npi(clinic, patient):
    clinic.billing.npi = "1234567890"


def _five_digit_zip(clinic, patient):
    factories.facility().zip_code = "07081"


def _no_facility_phone(clinic, patient):
    factories.facility().phone = None


def _no_rendering(clinic, patient):
    clinic.program.rendering_provider_id = None


def _no_member_id(clinic, patient):
    patient.coverages[0].member_id = ""


def _subscriber_is_parent(clinic, patient):
    patient.coverages[0].subscriber_relationship = "19"


def _no_address(clinic, patient):
    patient.address_line1 = None


BREAKS = {
    "attendance": _no_signed_note,
    "authorization": [_no_authorization, _authorization_ends_early, _authorization_exhausted],
    "diagnosis": [_no_diagnosis, _category_diagnosis],
    "place_of_service": _wrong_place,
    "code_not_billable": [_php_code, _not_billable_to_payer],
    "timely_filing": _timely_filing_passed,
    "timely_filing_near": _timely_filing_near,
    "npi": [_bad_billing_npi, _five_digit_zip, _no_facility_phone],
    "rendering_provider": _no_rendering,
    "subscriber": [_no_member_id, _subscriber_is_parent, _no_address],
}
CASES = [(rule, breaker) for rule, found in BREAKS.items() for breaker in (found if isinstance(found, list)
                                                                             else [found])]


def test_a_clean_claim_passes_every_rule_and_is_ready(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 3)
    (claim,) = _build(clinic)
    assert _findings(claim) == {}
    assert claim.status == "ready"
    assert [step.status for step in claim.history] == ["built", "ready"]


@pytest.mark.parametrize(("rule", "breaker"), CASES, ids=[f"{r}-{b.__name__.strip('_')}" for r, b in CASES])
def test_a_claim_breaking_a_rule_is_held_with_its_message(app, rule, breaker):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 3)
    breaker(clinic, patient)
    db.session.commit()
    (claim,) = _build(clinic)
    found = _findings(claim)
    assert rule in found, found
    assert all(message and len(message) > 15 for message in found[rule])
    assert claim.status == "held"
    # The rule fires for what was broken, not for everything.
    assert len(found) <= 2, found


def test_every_rule_has_a_breaking_case_here():
    assert {r.name for r in claims.RULES} - set(BREAKS) == {"duplicate", "modifier_required"}


def test_a_line_billed_on_another_claim_is_a_duplicate(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    (first_day,) = clinic.days(patient, 1)
    (first,) = _build(clinic)
    assert first.status == "ready"
    # The same day charged again (another charge) comes out as a duplicate of the first claim's line.
    clinic.attend(patient, first_day.service_date)
    (second,) = _build(clinic)
    assert _findings(second) == {"duplicate": [
        f"S9480 on {first_day.service_date:%m/%d/%Y} is already billed on claim {first.control_number}."]}


def test_a_payer_requiring_a_modifier_gets_it_and_a_claim_without_it_is_held(app):
    clinic = cf.clinic()
    claims.save_rule(clinic.payer, None, {"required_modifiers": "HQ"}, actor="test")
    patient = clinic.patient()
    clinic.days(patient, 2)
    (claim,) = _build(clinic)
    assert [line.modifiers for line in claim.lines] == ["HQ", "HQ"]
    assert claim.status == "ready"
    # The rule changes after the claim was built: scrubbing again finds the lines lack the new modifier.
    rule = claims.rules_of(clinic.payer)[0]
    claims.save_rule(clinic.payer, rule, {"required_modifiers": "HQ,95"}, actor="test")
    claims.scrub([claim], actor="test")
    db.session.commit()
    assert _findings(claim)["modifier_required"] == [f"{clinic.payer.name} requires modifier 95 on S9480."] * 2
    assert claim.status == "held"


def test_a_warning_overridden_with_a_reason_is_kept_and_the_claim_becomes_ready(app):
    clinic = cf.clinic()
    clinic.program.rendering_provider_id = None
    db.session.commit()
    patient = clinic.patient()
    clinic.days(patient, 2)
    (claim,) = _build(clinic)
    (issue,) = claim.issues
    assert (issue.rule, issue.severity, claim.status) == ("rendering_provider", "warning", "held")
    with pytest.raises(claims.ClaimError):
        claims.override(issue, "  ", actor="user:1")
    claims.override(issue, "Group sessions are billed under the facility", actor="user:1")
    db.session.commit()
    assert claim.status == "ready"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "claim.warning_overridden"))
    assert event.detail["reason"] == "Group sessions are billed under the facility"
    # Scrubbed again, the override stands; the claim stays ready.
    claims.scrub([claim], actor="test")
    db.session.commit()
    assert claim.status == "ready"
    assert [(i.rule, i.override_reason is not None) for i in claim.issues] == [("rendering_provider", True)]


def test_an_error_cannot_be_overridden(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 1)
    db.session.query(ClinicalSession).update({"signed": False})
    db.session.commit()
    (claim,) = _build(clinic)
    issue = db.session.scalar(select(ClaimIssue).where(ClaimIssue.rule == "attendance"))
    with pytest.raises(claims.ClaimError, match="cannot be overridden"):
        claims.override(issue, "Signed on paper", actor="user:1")
    assert claim.status == "held"


def test_fixing_the_record_and_scrubbing_again_releases_the_claim(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 2)
    db.session.query(ClinicalSession).update({"signed": False})
    db.session.commit()
    (claim,) = _build(clinic)
    assert claim.status == "held"
    db.session.query(ClinicalSession).update({"signed": True})
    claims.scrub([claim], actor="test")
    db.session.commit()
    assert (claim.status, claim.issues) == ("ready", [])
    assert [s.status for s in claim.history] == ["built", "held", "ready"]


def test_timely_filing_counts_from_the_oldest_day_billed(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 1, start=date.today() - timedelta(days=40))
    clinic.payer.timely_filing_days = 90
    db.session.commit()
    (claim,) = _build(clinic)
    assert "timely_filing" not in _findings(claim)
