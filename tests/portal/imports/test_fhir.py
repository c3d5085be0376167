"""FHIR R4 bundles from an EHR: what lands where, a second import, and a bundle refused whole."""
import copy
import json
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from portal import imports, ledger
from portal.extensions import db
from portal.models import (
    Account,
    AuditEvent,
    Charge,
    Coverage,
    Episode,
    EpisodeDiagnosis,
    ExternalId,
    InsurancePlan,
    Patient,
    Payer,
    Program,
    Provider,
)
from tests.fixtures import factories

DATA = Path(__file__).resolve().parent / "data"
TABLES = (Account, Patient, Payer, InsurancePlan, Coverage, Provider, Program, Episode, EpisodeDiagnosis, Charge,
          ExternalId)


def intake() -> dict:
    return json.loads((DATA / "intake.json").read_text())


def resource(bundle: dict, resource_id: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == resource_id)


def run(bundle: dict) -> imports.ImportResult:
    result = imports.import_bundle(json.dumps(bundle), actor="test")
    db.session.commit()
    return result


def counts() -> dict:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in TABLES}


def patient(mrn: str) -> Patient:
    return db.session.scalar(select(Patient).where(Patient.mrn == mrn))


def test_a_bundle_lands_as_patients_guarantors_coverages_episodes_and_a_charge(app):
    factories.code("S9480")  # the facility's fee schedule: 900.00 a day
    result = run(intake())
    assert result.errors == []
    jordan = patient("EHR-1001")
    assert (jordan.first_name, jordan.middle_name, jordan.last_name, jordan.preferred_name) == \
        ("Jordan", "Lee", "Rivera", "Jo")
    assert (jordan.date_of_birth, jordan.sex, jordan.preferred_language) == (date(2008, 4, 12), "F", "es")
    assert (jordan.address_line1, jordan.address_line2, jordan.city, jordan.state, jordan.zip_code) == \
        ("12 Harbor Road", "Apt 3", "Springfield", "NJ", "07081")
    assert (jordan.phone, jordan.email) == ("973-555-0101", "jordan@example.org")
    # The mother is the guarantor: her account, and Jordan is her child (X12 19).
    account = jordan.account
    assert account.number == f"A-{20000 + account.id}"
    assert (account.guarantor_name, account.guarantor_date_of_birth, account.email) == \
        ("Morgan Rivera", date(1980, 2, 3), "morgan@example.org")
    assert jordan.relationship_to_guarantor == "19"
    taylor = patient("EHR-1002")
    assert taylor.account.guarantor_name == "Taylor Nguyen" and taylor.relationship_to_guarantor == "18"

    payer = db.session.scalar(select(Payer))
    assert (payer.name, payer.x12_payer_id, payer.phone) == ("Harbor Health Plan", "HBR01", "800-555-0100")
    coverage = jordan.coverages[0]
    assert (coverage.member_id, coverage.group_number, coverage.plan.name, coverage.priority) == \
        ("HBR-555-01", "GRP-42", "Harbor PPO", 1)
    assert (coverage.start_date, coverage.end_date) == (date(2026, 1, 1), date(2026, 12, 31))
    assert (coverage.subscriber_relationship, coverage.subscriber_first_name, coverage.subscriber_date_of_birth) == \
        ("19", "Morgan", date(1980, 2, 3))
    assert [(c.member_id, c.end_date) for c in taylor.coverages] == [("HBR-777", None)]

    providers = {p.npi: p for p in db.session.scalars(select(Provider))}
    assert providers["1234567893"].display_name == "Ama Osei"
    assert providers["1555555550"].kind == "organization"
    episode = db.session.scalar(select(Episode))
    assert (episode.patient_id, episode.program.name, episode.program.level_of_care, episode.admit_date) == \
        (jordan.id, "Adolescent IOP", "iop", date(2026, 10, 1))
    assert [(d.position, d.code) for d in episode.diagnoses] == [(1, "F1020")]

    charge = db.session.scalar(select(Charge))
    assert (charge.billing_code.code, charge.amount_cents, charge.service_date) == ("S9480", 90000, date(2026, 10, 5))
    assert (charge.episode_id, charge.rendering_provider_id, charge.coverage_id) == \
        (episode.id, providers["1234567893"].id, coverage.id)
    assert charge.insurance_balance_cents == 90000 and charge.posting.idempotency_key == "fhir:urn:ehr:charge|CHG-5001"
    assert ledger.check_all()[1] == []
    # What was passed over is counted; no government number is kept as a match key.
    assert result.skipped == {"Observation": 1, "Condition (no ICD-10-CM code, or refuted)": 1}
    assert not db.session.scalar(select(ExternalId).where(ExternalId.value == "999-00-1234"))
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "patient.imported")) == 2


def test_a_second_import_updates_and_never_duplicates(app):
    factories.code("S9480")
    bundle = intake()
    assert run(bundle).errors == []
    before = counts()
    changed = copy.deepcopy(bundle)
    resource(changed, "p1")["telecom"][0]["value"] = "973-555-0199"
    resource(changed, "p1")["name"][0]["family"] = "Rivera-Cruz"
    resource(changed, "g1")["address"][0]["line"] = ["40 Lake Street"]
    resource(changed, "cov1")["class"][0]["value"] = "GRP-43"
    resource(changed, "eoc1")["period"]["end"] = "2026-11-20"
    second = run(changed)
    assert second.errors == []
    assert counts() == before
    assert second.created == {} and second.charges_posted == 0 and second.charges_replayed == 1
    assert second.updated == {"patients": 1, "coverages": 1, "episodes": 1}
    jordan = patient("EHR-1001")
    assert (jordan.phone, jordan.last_name) == ("973-555-0199", "Rivera-Cruz")
    assert jordan.account.address_line1 == "40 Lake Street" and jordan.coverages[0].group_number == "GRP-43"
    assert db.session.scalar(select(Episode.discharge_date)) == date(2026, 11, 20)


def test_a_patient_the_ehr_renumbers_is_still_found_by_its_identifiers(app):
    factories.code("S9480")
    bundle = intake()
    run(bundle)
    before = counts()
    # A bundle without fullUrls or MR identifiers: the patient is matched by the identifiers stored the first time.
    resource(bundle, "p2")["identifier"][0]["type"]["coding"][0]["code"] = "PI"
    assert run(bundle).errors == []
    assert counts() == before


def test_a_bad_bundle_changes_nothing_and_lists_every_problem_with_its_path(app):
    factories.code("S9480")
    bundle = intake()
    resource(bundle, "p1")["birthDate"] = "2008-13-45"
    resource(bundle, "cov1")["payor"] = [{"reference": "urn:uuid:not-in-this-bundle"}]
    resource(bundle, "cov2")["order"] = 7
    resource(bundle, "dr-osei")["identifier"][0]["value"] = "1234567890"
    resource(bundle, "dx1")["code"]["coding"][0]["code"] = "F10.2"
    resource(bundle, "ci1")["code"]["coding"][0]["code"] = "99999"
    resource(bundle, "p2")["telecom"] = [{"system": "email", "value": "two@example.org, three@example.org"}]
    before = counts()
    result = run(bundle)
    assert counts() == before
    errors = "\n".join(result.errors)
    assert "Patient/p1: entry[3].resource.birthDate: Date value string does not match spec regex" in errors
    assert "Coverage/cov1: entry[6].resource.payor[0]: reference not found in bundle" in errors
    assert "Coverage/cov2: entry[7].resource.order: 7 is not 1, 2 or 3" in errors
    assert "Practitioner/dr-osei: entry[2].resource.identifier: NPI 1234567890 fails the NPI check digit" in errors
    assert "Condition/dx1: entry[10].resource.code.coding[0].code: 'F10.2' is not a billable ICD-10-CM code" in errors
    assert "Patient/p2: entry[5].resource.telecom[0].value: " in errors and "not one valid email address" in errors
    # The patient with the bad date stops its own checks there; the charge's code is checked once the rest is good.
    assert len(result.errors) == 6, errors


def test_a_charge_is_posted_once_and_a_changed_charge_is_refused(app):
    factories.code("S9480")
    bundle = intake()
    assert run(bundle).charges_posted == 1
    again = run(bundle)
    assert (again.charges_posted, again.charges_replayed) == (0, 1)
    assert db.session.scalar(select(func.count()).select_from(Charge)) == 1
    resource(bundle, "ci1")["priceOverride"] = {"value": 1250.00, "currency": "USD"}
    resource(bundle, "p2")["name"][0]["family"] = "Changed"
    refused = run(bundle)
    assert refused.errors == ["ChargeItem/ci1: was imported before with other details; reverse the charge in "
                              "Parity instead of changing it in the EHR"]
    assert patient("EHR-1002").last_name == "Nguyen"  # nothing of the refused bundle was kept
    assert refused.as_dict()["updated"] == {} and refused.as_dict()["ok"] is False
    assert db.session.scalar(select(Charge.amount_cents)) == 90000


def test_a_price_override_and_units_set_the_amount(app):
    factories.code("S9480")
    bundle = intake()
    resource(bundle, "ci1").update(priceOverride={"value": 475.25, "currency": "USD"}, quantity={"value": 2})
    assert run(bundle).errors == []
    assert db.session.execute(select(Charge.amount_cents, Charge.units)).one() == (47525, 2)


def test_two_primary_coverages_for_the_same_dates_are_refused(app):
    bundle = intake()
    del bundle["entry"][12]  # no charge: this bundle is about coverage
    second = copy.deepcopy(resource(bundle, "cov2"))
    second.update(id="cov3", subscriberId="HBR-888")
    bundle["entry"].append({"fullUrl": "urn:uuid:0a1f0001-0000-4000-8000-000000000099", "resource": second})
    result = run(bundle)
    assert result.errors == ["Coverage/cov3: a second priority-1 coverage for the same dates as Coverage/cov2"]
    assert counts()["Patient"] == 0


def test_what_is_not_a_bundle_is_refused_with_a_reason(app):
    for text, expected in [
        ("{not json", "Bundle: not JSON"),
        (json.dumps({"resourceType": "Patient"}), "Bundle: the file is not a FHIR Bundle"),
        (json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}),
         "expected collection or transaction"),
        (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": "x"}), "entry: should be a list"),
        (json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}}]}),
         "no Patient, Coverage or other resource"),
        ("[" * 100000, "Bundle: not JSON"),
    ]:
        result = imports.import_bundle(text, actor="test")
        assert len(result.errors) == 1 and expected in result.errors[0], (text[:40], result.errors)


def test_untrusted_text_is_refused_not_stored(app):
    bundle = intake()
    resource(bundle, "p2")["name"][0]["family"] = "Nul\x00Byte"
    resource(bundle, "p2")["address"] = [{"city": "C" * 500, "state": "Atlantis"}]
    resource(bundle, "ci1")["quantity"] = {"value": 1e300}
    result = run(bundle)
    errors = "\n".join(result.errors)
    assert "Patient/p2: entry[5].resource.name[0].family: contains a NUL byte" in errors
    assert "Patient/p2: entry[5].resource.address[0].city: longer than 100 characters" in errors
    assert "'Atlantis' is not a US state" in errors
    assert "ChargeItem/ci1: entry[12].resource.quantity.value: should be a whole number from 1 to 9999" in errors
    assert counts()["Patient"] == 0


def test_the_cli_prints_json_and_a_refusal_exits_non_zero_with_one_line(app, tmp_path):
    factories.code("S9480")
    good = tmp_path / "bundle.json"
    good.write_text(json.dumps(intake()))
    ok = app.test_cli_runner().invoke(args=["import", "fhir", str(good), "--json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["ok"] and data["created"]["patients"] == 2 and data["charges_posted"] == 1
    bundle = intake()
    resource(bundle, "p1")["birthDate"] = "someday"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle))
    refused = app.test_cli_runner().invoke(args=["import", "fhir", str(bad)])
    assert refused.exit_code == 1
    assert "Patient/p1: entry[3].resource.birthDate" in refused.output
    assert f"{bad} refused: 1 problem(s); nothing was imported" in refused.output
    missing = app.test_cli_runner().invoke(args=["import", "fhir", str(tmp_path / "nope.json")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_a_wrong_npi_refuses_the_bundle_only_when_a_charge_names_that_provider(app):
    factories.code("S9480")
    bundle = intake()
    resource(bundle, "dr-osei")["identifier"][0]["value"] = "1234567890"
    del resource(bundle, "ci1")["performer"]
    result = run(bundle)
    assert result.errors == []
    assert result.skipped["provider whose NPI fails its check digit, used by nothing here"] == 1
    assert not db.session.scalar(select(Provider).where(Provider.npi == "1234567890"))


def test_a_patient_registered_by_csv_is_updated_by_the_ehr_bundle_through_its_mrn(app):
    factories.code("S9480")
    imports.import_patients("mrn,first_name,last_name,date_of_birth,phone\nEHR-1002,Tay,Nguyen,1979-11-30,111\n",
                            actor="test")
    db.session.commit()
    bundle = intake()
    self_pay = copy.deepcopy(resource(bundle, "cov2"))
    self_pay.update(id="cov-self", payor=[{"reference": "Patient/p2"}])
    bundle["entry"].append({"resource": self_pay})
    result = run(bundle)
    assert result.errors == [] and result.skipped["Coverage paid by a person (self-pay)"] == 1
    assert result.created["patients"] == 1 and result.updated["patients"] == 1
    taylor = patient("EHR-1002")
    assert (taylor.first_name, taylor.phone) == ("Taylor", "111")
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 2


def test_a_guarantor_who_already_holds_another_account_is_refused(app):
    factories.code("S9480")
    bundle = intake()
    run(bundle)
    # The EHR now names Jordan's mother as Taylor's guarantor too, but Taylor has an account of his own.
    second = copy.deepcopy(resource(bundle, "g1"))
    second.update(id="g2", patient={"reference": "Patient/p2"})
    bundle["entry"].append({"resource": second})
    result = run(bundle)
    assert any("Patient/p2: its guarantor" in e and "another account" in e for e in result.errors), result.errors


def test_one_guarantor_for_two_patients_is_one_account(app):
    bundle = intake()
    del bundle["entry"][12]
    second = copy.deepcopy(resource(bundle, "g1"))
    second.update(id="g2", patient={"reference": "Patient/p2"})
    bundle["entry"].append({"resource": second})
    assert run(bundle).errors == []
    assert patient("EHR-1001").account_id == patient("EHR-1002").account_id
    assert db.session.scalar(select(func.count()).select_from(Account)) == 1


def test_an_encounter_of_its_own_is_an_episode_with_its_level_and_referring_provider(app):
    bundle = intake()
    del bundle["entry"][12]
    encounter = resource(bundle, "enc1")
    del encounter["episodeOfCare"]
    encounter.update(serviceType={"text": "Partial hospitalization program"}, participant=[{
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "REF"}]}],
        "individual": {"reference": "Practitioner/dr-osei"}}])
    assert run(bundle).errors == []
    visit = db.session.scalar(select(Episode).where(Episode.admit_date == date(2026, 10, 5)))
    assert (visit.program.name, visit.program.level_of_care, visit.discharge_date) == \
        ("Partial hospitalization program", "php", date(2026, 10, 5))
    assert (visit.referring_provider_name, visit.referring_provider_npi) == ("Ama Osei", "1234567893")
    assert [d.code for d in visit.diagnoses] == ["F1020"]


def test_the_level_of_care_rule():
    from fhir.resources.R4B.codeableconcept import CodeableConcept

    from portal.imports.fhir_bundle import level_of_care

    def concept(**values):
        return CodeableConcept.model_validate(values)

    assert level_of_care([concept(text="Adult IOP")], "AMB") == ("iop", "Adult IOP")
    assert level_of_care([concept(text="Shipping")], "AMB") == ("outpatient", "Outpatient")  # words, not letters
    assert level_of_care([concept(coding=[{"code": "IOP"}], text="Adult IOP")], "AMB") == ("iop", "Adult IOP")
    assert level_of_care([concept(coding=[{"display": "Intensive Outpatient Program"}])], None) == \
        ("iop", "Intensive Outpatient Program")
    assert level_of_care([concept(text="Residential treatment")], "IMP") == ("residential", "Residential treatment")
    assert level_of_care([concept(text="General examination")], "VR") == ("outpatient", "Outpatient")
    assert level_of_care([], "EMER") == ("other", "Other")


def test_a_record_saved_by_someone_else_meanwhile_refuses_the_import_whole(app, monkeypatch):
    from portal.imports import records

    checks = records._check_coverages

    def meanwhile(coverages, problems):
        checks(coverages, problems)
        # Between our look-ups and our writes, someone registers the same MRN.
        other = factories.account(with_coverage=False)
        db.session.add(Patient(account_id=other.id, mrn="EHR-1002", first_name="T", last_name="N",
                               date_of_birth=date(1979, 11, 30)))
        db.session.flush()

    monkeypatch.setattr(records, "_check_coverages", meanwhile)
    result = run(intake())
    assert result.errors == ["another import or a user saved one of these records meanwhile; nothing was imported, "
                             "run the import again"]
    assert counts()["Patient"] == 1 and counts()["Coverage"] == 0  # the other one's, from its own commit


def test_with_charge_review_on_an_imported_charge_waits_for_release(app):
    factories.code("S9480")
    factories.facility().charge_review = True
    db.session.commit()
    assert run(intake()).errors == []
    assert db.session.scalar(select(Charge.review_status)) == "held"
