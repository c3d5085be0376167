"""Claims from charges to a validated 837 and back: grouping by the payer's period, control numbers,
837P and 837I that pass the X12 validator, replacement and void claims, and the round trip through an 835."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal import claims, remittances
from portal.claims import x837
from portal.extensions import db
from portal.models import Claim, ClaimBatch, ClaimLine, Remittance, RemittanceLine
from portal.remittances import x12
from tests.fixtures import claims as cf
from tests.fixtures import era, factories, x837_reader
from tests.fixtures.threads import run_concurrently


def _build(**where):
    built = claims.build(claims.ChargeFilter(**where), actor="test")
    db.session.commit()
    return built


def _send(payer):
    result = claims.send(payer, actor="test")
    db.session.commit()
    return result.batches


@pytest.mark.parametrize(("grouping", "expected"), [("week", [5, 5, 2]), ("month", [11, 1]), ("day", [1] * 12)])
def test_charges_group_into_claims_by_the_payers_period(app, grouping, expected):
    clinic = cf.clinic()
    claims.save_rule(clinic.payer, None, {"grouping": grouping}, actor="test")
    patient = clinic.patient()
    clinic.days(patient, 12, start=date(2026, 11, 16))  # 12 weekdays: 16 Nov to 1 Dec
    built = _build()
    assert [len(c.lines) for c in built] == expected
    for claim in built:
        start, end = claims.period_of(claim.period_start, grouping)
        assert all(start <= line.service_date <= end for line in claim.lines)
        assert claim.total_cents == sum(line.charge_cents for line in claim.lines)


def test_patients_and_payers_never_share_a_claim_and_each_rule_is_the_payers_own(app):
    clinic = cf.clinic()
    other_payer = cf.clinic(x12_payer_id="60054", name="Aetna Better Health").payer
    claims.save_rule(other_payer, None, {"grouping": "month"}, actor="test")
    first, second = clinic.patient(), clinic.patient(payer=other_payer)
    clinic.days(first, 6)
    clinic.days(second, 6)
    built = _build()
    assert sorted((c.patient_id, c.payer_id, len(c.lines)) for c in built) == sorted([
        (first.id, clinic.payer.id, 5), (first.id, clinic.payer.id, 1), (second.id, other_payer.id, 6)])
    # Only charges of the payer asked for, and only up to the day given.
    assert _build() == []


def test_the_filters_choose_the_charges(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 5)
    assert _build(through=cf.MONDAY + timedelta(days=1))[0].period_end == cf.MONDAY + timedelta(days=1)
    assert _build(patient_id=patient.id + 1000) == []
    (rest,) = _build(patient_id=patient.id)
    assert len(rest.lines) == 3


def test_a_professional_batch_is_valid_837p_with_our_control_numbers(app):
    clinic = cf.clinic()
    for _ in range(3):
        clinic.days(clinic.patient(), 6)
    # A patient covered as a child of the subscriber: the patient loop (2000C) is written.
    child = clinic.patient()
    coverage = child.coverages[0]
    coverage.subscriber_relationship, coverage.subscriber_first_name = "19", "Morgan"
    coverage.subscriber_last_name, coverage.subscriber_date_of_birth = "Okafor", date(1960, 2, 2)
    db.session.commit()
    clinic.days(child, 2)
    built = _build()
    assert {c.status for c in built} == {"ready"}
    (batch,) = _send(clinic.payer)
    assert x12.validate(batch.content.encode()) == []
    assert "GS*HC*" in batch.content and "*005010X222A1~" in batch.content
    billed = x837_reader.read(batch.content)
    assert sorted(b.control_number for b in billed) == sorted(c.control_number for c in built)
    every_line = [ln.control_number for b in billed for ln in b.lines]
    assert len(every_line) == len(set(every_line)) == 20
    assert "PAT*19~" in batch.content
    assert {c.status for c in db.session.scalars(select(Claim))} == {"sent"}
    assert batch.claim_count == len(built) and batch.total_cents == sum(c.total_cents for c in built)


def test_a_facility_with_a_clearinghouse_sends_its_files_there_under_its_submitter_id(app):
    clinic = cf.clinic()
    home = factories.facility()
    home.x12_submitter_id, home.x12_receiver_id, home.x12_receiver_name = "SUB778", "CLEARHOUSE1", "Clear House"
    clinic.days(clinic.patient(), 1)
    _build()
    (batch,) = _send(clinic.payer)
    isa, gs = x837_reader.segments(batch.content)[:2]
    assert (isa[6].strip(), isa[8].strip(), gs[2], gs[3]) == ("SUB778", "CLEARHOUSE1", "SUB778", "CLEARHOUSE1")
    assert "NM1*40*2*CLEAR HOUSE*****46*CLEARHOUSE1~" in batch.content
    assert f"NM1*PR*2*HARBOR HEALTH*****PI*{clinic.payer.x12_payer_id}~" in batch.content  # the payer stays named
    assert x12.validate(batch.content.encode()) == []


def test_interchange_and_group_control_numbers_are_unique_and_increase(app):
    clinic = cf.clinic()
    numbers = []
    for week in range(3):
        clinic.days(clinic.patient(), 2, start=cf.MONDAY + timedelta(days=7 * week))
        _build()
        (batch,) = _send(clinic.payer)
        isa = x837_reader.segments(batch.content)[0]
        gs = x837_reader.segments(batch.content)[1]
        numbers.append((int(isa[13]), int(gs[6])))
    assert numbers == sorted(numbers) and len({n for n, _ in numbers}) == 3
    assert all(isa == gs for isa, gs in numbers)


def test_an_institutional_payer_gets_a_valid_837i_with_revenue_codes(app):
    clinic = cf.clinic()
    claims.save_rule(clinic.payer, None, {"claim_type": "institutional", "bill_type": "13"}, actor="test")
    patient = clinic.patient(admit=cf.MONDAY)
    clinic.days(patient, 7)
    first, second = _build()
    (batch,) = _send(clinic.payer)
    assert batch.claim_type == "institutional"
    assert x12.validate(batch.content.encode()) == []
    assert "*005010X223A2~" in batch.content
    # The stay's first week is an interim first claim (frequency 2), the next a continuing one (3).
    assert f"CLM*{first.control_number}*3250***13:A:2" in batch.content
    assert f"CLM*{second.control_number}*1300***13:A:3" in batch.content
    assert "SV2*0905*HC:S9480*650*UN*1~" in batch.content


def test_revenue_code_only_payers_get_no_procedure_code(app):
    clinic = cf.clinic()
    claims.save_rule(clinic.payer, None, {"claim_type": "institutional", "bill_type": "13",
                                          "code_set": "revenue_only"}, actor="test")
    clinic.days(clinic.patient(), 2)
    _build()
    (batch,) = _send(clinic.payer)
    assert x12.validate(batch.content.encode()) == []
    assert "SV2*0905**650*UN*1~" in batch.content


def test_a_claim_without_a_billing_provider_is_held_and_never_sent(app):
    clinic = cf.clinic()
    clinic.program.billing_provider_id = None
    clinic.billing.active = False  # and no organization NPI to fall back on
    db.session.commit()
    clinic.days(clinic.patient(), 1)
    (claim,) = _build()
    assert claim.status == "held"
    assert _send(clinic.payer) == []
    assert db.session.scalar(select(ClaimBatch.id)) is None


def test_a_program_without_a_billing_provider_bills_under_the_facilitys_one_organization(app):
    clinic = cf.clinic()
    clinic.program.billing_provider_id = None
    db.session.commit()
    clinic.days(clinic.patient(), 1)
    (claim,) = _build()
    assert (claim.billing_provider_id, claim.status) == (clinic.billing.id, "ready")


def test_a_charge_is_billed_once_however_often_claims_are_built(app):
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 3)
    assert len(_build()) == 1
    assert _build() == []


def _pay(claim, line):
    """Pays 520.00 of each 650.00 day: CO-45 contractual 0, PR-2 coinsurance 130.00 on the first day;
    denies the third day (CO-97, bundled)."""
    if line.control_number.endswith("-3"):
        return 0, [x12.Cas("CO", "97", line.cents)]
    return 52000, [x12.Cas("PR", "2", line.cents - 52000)]


def test_round_trip_claims_out_remittance_in(app):
    clinic = cf.clinic()
    patient = clinic.patient()
    clinic.days(patient, 5)
    (claim,) = _build()
    (batch,) = _send(clinic.payer)
    content = x837_reader.answer(x837_reader.read(batch.content), _pay, payer_ein=era.PAYER_EIN)
    result = remittances.import_file(content, "round-trip.835", actor="test")
    db.session.commit()
    remittance = db.session.get(Remittance, result.remittance_id)
    assert (remittance.status, remittance.posted_line_count, remittance.denied_line_count) == ("posted", 5, 1)
    # Every line matched by our line control number (REF*6R), and the claim moved on in its history.
    lines = list(db.session.scalars(select(RemittanceLine).order_by(RemittanceLine.sequence)))
    assert all(line.posted for line in lines)
    db.session.refresh(claim)
    assert claim.status == "partially_paid"
    assert claim.payer_claim_number == f"PAYER-{claim.control_number}"
    assert [s.status for s in claim.history] == ["built", "ready", "sent", "partially_paid"]
    # The denied day stays owed by insurance, for an appeal; the paid days moved coinsurance to the patient.
    charges = sorted((line.charge for line in claim.lines), key=lambda c: c.service_date)
    assert [c.insurance_balance_cents for c in charges] == [0, 0, 65000, 0, 0]
    assert [c.patient_balance_cents for c in charges] == [13000, 13000, 0, 13000, 13000]
    # The denied day is on the denial worklist, open, with its reason.
    (denial,) = claims.list_denials("open")
    assert (denial.line.charge_id, denial.line.denial_codes) == (charges[2].id, "CO-97")


def test_our_own_checks_catch_what_the_validator_map_does_not():
    good = "ST*837*0001~HL*1**20*1~HL*2*1*22*0~CLM*A1*10***11:B:1~SV1*HC:S9480*10*UN*1~REF*6R*A1-1~SE*7*0001~"
    assert x837.structural_problems(good) == []
    bad = good.replace("CLM*A1*10", "CLM*A1*12").replace("HL*2*1*", "HL*2*5*").replace("SE*7", "SE*9")
    bad = bad.replace("REF*6R*A1-1~", "REF*6R*A1-1~REF*6R*A1-1~")
    assert x837.structural_problems(bad) == [
        "SE01 says 9 segments; the transaction set has 8", "HL 2 names parent 5, which comes nowhere before it",
        "line control number A1-1 is used twice", "claim A1: CLM02 12 is not the sum of its lines (10)"]


def test_a_denied_claim_is_replaced_with_the_payers_number_and_the_replacement_is_valid(app):
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 2)
    (claim,) = _build()
    with pytest.raises(claims.ClaimError, match="only a claim the payer has received"):
        claims.replace(claim, actor="test")
    (batch,) = _send(clinic.payer)
    with pytest.raises(claims.ClaimError, match="not known yet"):
        claims.replace(claim, actor="test")
    content = x837_reader.answer(x837_reader.read(batch.content), lambda c, ln: (0, [x12.Cas("CO", "16", ln.cents)]),
                                 payer_ein=era.PAYER_EIN)
    remittances.import_file(content, "denied.835", actor="test")
    db.session.commit()
    db.session.refresh(claim)
    assert claim.status == "denied"
    replacement = claims.replace(claim, actor="user:7")
    db.session.commit()
    assert (replacement.frequency_code, replacement.status, claim.status) == ("7", "ready", "closed")
    with pytest.raises(claims.ClaimError, match="already replaced"):
        claims.replace(claim, actor="test", void=True)
    (second,) = _send(clinic.payer)
    assert x12.validate(second.content.encode()) == []
    (billed,) = x837_reader.read(second.content)
    assert (billed.frequency, billed.refs["F8"]) == ("7", f"PAYER-{claim.control_number}")


def test_a_void_claim_names_the_original(app):
    clinic = cf.clinic()
    clinic.days(clinic.patient(), 1)
    (claim,) = _build()
    _send(clinic.payer)
    claim.payer_claim_number = "ICN-123"
    db.session.commit()
    void = claims.replace(claim, actor="test", void=True)
    db.session.commit()
    (batch,) = _send(clinic.payer)
    assert x12.validate(batch.content.encode()) == []
    (billed,) = x837_reader.read(batch.content)
    assert (billed.frequency, billed.refs["F8"], void.replaces_claim_id) == ("8", "ICN-123", claim.id)


def test_billers_building_at_once_bill_each_charge_once(app):
    clinic = cf.clinic()
    for _ in range(3):
        clinic.days(clinic.patient(), 3)
    db.session.remove()
    results, errors = run_concurrently(
        app, 4, lambda i: [c.id for c in claims.build(claims.ChargeFilter(), actor=f"user:{i}")])
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, 0, 3]
    lines = db.session.scalars(select(ClaimLine.charge_id)).all()
    assert len(lines) == len(set(lines)) == 9
