"""Payers: a unique X12 payer id, bounded filing and appeal limits, plans unique by name under each payer."""
import json

import pytest
from sqlalchemy import func, select

from portal import payers
from portal.extensions import db
from portal.models import AuditEvent, InsurancePlan, Payer


def _payer(**values):
    return payers.save_payer(None, {"name": "Blue Harbor Health", "x12_payer_id": "BHH01",
                                    "payer_type": "medicare_advantage", **values}, actor="test")


def test_a_payer_is_saved_with_its_claims_details_and_audited(app):
    payer = _payer(claims_address_line1="PO Box 1", claims_city="Newark", claims_state="nj",
                   claims_zip_code="07101", phone="800-555-0100", timely_filing_days=90, appeal_limit_days=180)
    assert (payer.claims_state, payer.timely_filing_days, payer.appeal_limit_days) == ("NJ", 90, 180)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payer.created"))
    assert event.detail["x12_payer_id"] == [None, "BHH01"]


def test_the_x12_payer_id_is_unique(app):
    _payer()
    with pytest.raises(payers.PayerError, match="already has this payer id") as refused:
        _payer(name="Another")
    assert refused.value.field == "x12_payer_id"
    assert db.session.scalar(select(func.count(Payer.id))) == 1


@pytest.mark.parametrize("days", [0, 3651, -5, 2 ** 40])
def test_limits_are_bounded_from_one_day_to_ten_years(app, days):
    with pytest.raises(payers.PayerError, match="from 1 to 3650") as refused:
        _payer(timely_filing_days=days)
    assert refused.value.field == "timely_filing_days"


def test_plans_are_unique_by_name_under_their_payer_and_deactivated_not_deleted(app):
    harbor, summit = _payer(), _payer(name="Summit Mutual", x12_payer_id="SMM02")
    ppo = payers.save_plan(harbor, None, {"name": "PPO"}, actor="test")
    payers.save_plan(summit, None, {"name": "PPO"}, actor="test")  # another payer may use the name
    with pytest.raises(payers.PayerError, match="already has a plan"):
        payers.save_plan(harbor, None, {"name": "PPO"}, actor="test")
    payers.save_plan(harbor, ppo, {"name": "PPO", "active": False}, actor="test")
    assert [(p.name, p.active) for p in payers.plans_of(harbor)] == [("PPO", False)]
    assert db.session.scalar(select(func.count(InsurancePlan.id))) == 2


def test_payers_add_and_list_from_the_command_line(app):
    runner = app.test_cli_runner()
    added = runner.invoke(args=["payers", "add", "--name", "State Medicaid", "--payer-id", "SMP03", "--type",
                                "medicaid", "--timely-filing-days", "365", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["payer_type"] == "medicaid"
    again = runner.invoke(args=["payers", "add", "--name", "Copy", "--payer-id", "SMP03"])
    assert again.exit_code != 0 and "already has this payer id" in again.output
    assert again.output.strip().count("\n") == 0
    listed = json.loads(runner.invoke(args=["payers", "list", "--json"]).output)
    assert [(p["name"], p["timely_filing_days"]) for p in listed["payers"]] == [("State Medicaid", 365)]
