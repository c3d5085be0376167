"""Secondary claims: what the primary left is billed to the next coverage with the primary's adjudication,
the patient owes nothing meanwhile, and the secondary's remittance settles the lines."""
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal import claims, remittances
from portal.extensions import db
from portal.models import Claim, Coverage
from portal.remittances import x12
from tests.fixtures import claims as cf
from tests.fixtures import era, x837_reader


def _primary_pays_with_coinsurance(claim, line):
    return 52000, [x12.Cas("CO", "45", 0), x12.Cas("PR", "2", line.cents - 52000)]


def _secondary_pays_the_rest(claim, line):
    return 13000, [x12.Cas("OA", "23", line.cents - 13000)]


@pytest.fixture
def insured_twice(app):
    clinic = cf.clinic()
    second_payer = cf.clinic(x12_payer_id="60054", name="Aetna Better Health").payer
    # The secondary follows the primary's authorization.
    claims.save_rule(second_payer, None, {"authorization_required": False}, actor="test")
    patient = clinic.patient()
    db.session.add(Coverage(patient_id=patient.id, payer_id=second_payer.id, member_id="SEC778", priority=2,
                            start_date=date(2026, 1, 1)))
    db.session.commit()
    clinic.days(patient, 3)
    (primary,) = claims.build(claims.ChargeFilter(), actor="test")
    db.session.commit()
    (batch,) = claims.send(clinic.payer, actor="test").batches
    db.session.commit()
    answer = x837_reader.answer(x837_reader.read(batch.content), _primary_pays_with_coinsurance,
                                payer_ein=era.PAYER_EIN)
    remittances.import_file(answer, "primary.835", actor="test")
    db.session.commit()
    db.session.refresh(primary)
    return SimpleNamespace(clinic=clinic, second_payer=second_payer, primary=primary)


def test_the_balance_the_primary_left_goes_to_the_secondary_with_its_adjudication(insured_twice):
    w = insured_twice
    assert claims.build_secondaries(actor="test", payer_id=w.clinic.payer.id) == ([], [])  # not that payer's
    assert w.primary.status == "paid"
    assert [line.charge.patient_balance_cents for line in w.primary.lines] == [13000] * 3
    built, refused = claims.build_secondaries(actor="test")
    db.session.commit()
    (secondary,) = built
    assert refused == []
    assert [i.message for i in secondary.issues] == []
    assert (secondary.payer_id, secondary.primary_claim_id, secondary.status) == \
        (w.second_payer.id, w.primary.id, "ready")
    assert secondary.total_cents == 3 * 65000
    # The patient is billed only after the last payer: the coinsurance waits on insurance.
    charges = [line.charge for line in secondary.lines]
    for charge in charges:
        db.session.refresh(charge)
    assert [(c.insurance_balance_cents, c.patient_balance_cents) for c in charges] == [(13000, 0)] * 3
    (batch,) = claims.send(w.second_payer, actor="test").batches
    db.session.commit()
    assert x12.validate(batch.content.encode()) == []
    text = batch.content
    assert "SBR*S*18*" in text  # the secondary's own subscriber loop
    assert "SBR*P*18*GRP1******CI~" in text and "AMT*D*1560~" in text  # 2320: the w.primary paid 3 x 520.00
    assert f"NM1*PR*2*HARBOR HEALTH*****PI*{w.clinic.payer.x12_payer_id}~" in text  # 2330B
    assert text.count(f"SVD*{w.clinic.payer.x12_payer_id}*520*HC:S9480**1~") == 3  # 2430, each line
    assert text.count("CAS*PR*2*130~") == 3
    # Nothing is built twice.
    assert claims.build_secondaries(actor="test") == ([], [])


def test_the_secondarys_remittance_settles_the_lines_and_the_patient_owes_nothing(insured_twice):
    w = insured_twice
    (secondary,) = claims.build_secondaries(actor="test")[0]
    db.session.commit()
    (batch,) = claims.send(w.second_payer, actor="test").batches
    db.session.commit()
    answer = x837_reader.answer(x837_reader.read(batch.content), _secondary_pays_the_rest,
                                payer_ein=era.PAYER_EIN)
    remittances.import_file(answer, "secondary.835", actor="test")
    db.session.commit()
    db.session.refresh(secondary)
    assert secondary.status == "paid"
    for line in secondary.lines:
        db.session.refresh(line.charge)
    assert [(ln.charge.insurance_balance_cents, ln.charge.patient_balance_cents) for ln in secondary.lines] == \
        [(0, 0)] * 3
    assert era.ledger_clean()


def test_no_secondary_without_a_further_coverage_or_for_a_paper_only_payer(insured_twice):
    w = insured_twice
    claims.save_rule(w.second_payer, claims.rules_of(w.second_payer)[0], {"secondary_electronic": False,
                                                                     "authorization_required": False}, actor="test")
    built, refused = claims.build_secondaries(actor="test")
    assert built == [] and refused == ["Aetna Better Health takes secondary claims on paper: print the claim with "
                                       "the primary's explanation of benefits."]
    db.session.rollback()
    db.session.query(Coverage).filter_by(priority=2).update({"end_date": date(2026, 10, 31)})
    db.session.commit()
    assert claims.build_secondaries(actor="test") == ([], [])
    with pytest.raises(claims.ClaimError, match="no further coverage"):
        claims.build_secondary(w.primary, actor="test")
    assert db.session.scalar(select(Claim.id).where(Claim.primary_claim_id.is_not(None))) is None


def test_an_institutional_secondary_claim_carries_the_primarys_adjudication_and_is_valid(insured_twice):
    w = insured_twice
    claims.save_rule(w.second_payer, claims.rules_of(w.second_payer)[0], {
        "claim_type": "institutional", "bill_type": "13", "authorization_required": False}, actor="test")
    claims.build_secondaries(actor="test")
    db.session.commit()
    (batch,) = claims.send(w.second_payer, actor="test").batches
    assert x12.validate(batch.content.encode()) == []
    assert batch.content.count(f"SVD*{w.clinic.payer.x12_payer_id}*520*HC:S9480*0905*1~") == 3
