"""Payers (the insurers claims go to) and the plans under each; deactivated, never deleted, since coverages,
claims and remittances keep pointing at them."""
import re

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import PAYER_TYPES, InsurancePlan, Payer

# Timely filing and appeal limits: a day to ten years.
LIMIT_DAYS = (1, 3650)
X12_PAYER_ID = re.compile(r"^[A-Za-z0-9]{2,80}$")
STATE = re.compile(r"^[A-Z]{2}$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
PHONE = re.compile(r"^[0-9()+\-. x]{7,32}$")


class PayerError(ValueError):
    """A value a payer or plan cannot take; `field` names the form field to show it on."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _text(values: dict, name: str, *, required: str | None = None) -> str | None:
    value = (values.get(name) or "").strip() or None
    if value is None and required:
        raise PayerError(name, required)
    return value


def _matching(value: str | None, pattern: re.Pattern, field: str, message: str) -> str | None:
    if value is not None and not pattern.match(value):
        raise PayerError(field, message)
    return value


def _days(values: dict, name: str) -> int | None:
    value = values.get(name)
    if value in (None, ""):
        return None
    low, high = LIMIT_DAYS
    if not isinstance(value, int) or not low <= value <= high:
        raise PayerError(name, f"Enter a number of days from {low} to {high}.")
    return value


def _apply(record, values: dict) -> dict:
    changes = {}
    for name, new in values.items():
        if getattr(record, name) != new:
            changes[name] = [getattr(record, name), new]
            setattr(record, name, new)
    return changes


def all_payers(*, active_only: bool = False) -> list[Payer]:
    query = select(Payer).order_by(Payer.active.desc(), Payer.name)
    if active_only:
        query = query.where(Payer.active.is_(True))
    return list(db.session.scalars(query))


def plans_of(payer: Payer) -> list[InsurancePlan]:
    return list(db.session.scalars(select(InsurancePlan).where(InsurancePlan.payer_id == payer.id)
                                   .order_by(InsurancePlan.active.desc(), InsurancePlan.name)))


def save_payer(payer: Payer | None, values: dict, *, actor,
               ip: str | None = None, user_agent: str | None = None) -> Payer:
    """Create a payer (`payer` None) or change one; the X12 payer id is unique; every change is audited."""
    payer_type = values.get("payer_type") or "commercial"
    if payer_type not in PAYER_TYPES:
        raise PayerError("payer_type", "Choose a payer type from the list.")
    state = _text(values, "claims_state")
    checked = {
        "name": _text(values, "name", required="Give the payer's name."),
        "x12_payer_id": _matching(_text(values, "x12_payer_id"), X12_PAYER_ID, "x12_payer_id",
                                  "Letters and digits, as on the payer's list of electronic payer ids."),
        "payer_type": payer_type,
        "claims_address_line1": _text(values, "claims_address_line1"),
        "claims_city": _text(values, "claims_city"),
        "claims_state": _matching(state.upper() if state else None, STATE, "claims_state",
                                  "Two letters, such as NJ."),
        "claims_zip_code": _matching(_text(values, "claims_zip_code"), ZIP, "claims_zip_code",
                                     "A 5-digit ZIP, or ZIP+4."),
        "phone": _matching(_text(values, "phone"), PHONE, "phone", "A phone number, such as 800-555-0100."),
        "timely_filing_days": _days(values, "timely_filing_days"),
        "appeal_limit_days": _days(values, "appeal_limit_days"),
        "active": bool(values.get("active", True)),
    }
    record = payer or Payer()
    if checked["x12_payer_id"]:
        same = select(Payer.id).where(Payer.x12_payer_id == checked["x12_payer_id"])
        if record.id is not None:
            same = same.where(Payer.id != record.id)
        if db.session.scalar(same.limit(1)) is not None:
            raise PayerError("x12_payer_id", "Another payer already has this payer id.")
    changes = _apply(record, checked)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("payer.created" if payer is None else "payer.updated", "payer", actor=actor,
                     object_id=record.id, detail=changes, ip=ip, user_agent=user_agent)
    return record


def save_plan(payer: Payer, plan: InsurancePlan | None, values: dict, *, actor,
              ip: str | None = None, user_agent: str | None = None) -> InsurancePlan:
    """Create a plan under `payer` (`plan` None) or change one; a plan's name is unique under its payer."""
    checked = {"name": _text(values, "name", required="Give the plan's name."),
               "active": bool(values.get("active", True))}
    same = select(InsurancePlan.id).where(InsurancePlan.payer_id == payer.id, InsurancePlan.name == checked["name"])
    if plan is not None:
        same = same.where(InsurancePlan.id != plan.id)
    if db.session.scalar(same.limit(1)) is not None:
        raise PayerError("name", f"{payer.name} already has a plan with this name.")
    record = plan or InsurancePlan(payer_id=payer.id)
    changes = _apply(record, checked)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("insurance_plan.created" if plan is None else "insurance_plan.updated", "insurance_plan",
                     actor=actor, object_id=record.id, detail={"payer_id": payer.id, **changes},
                     ip=ip, user_agent=user_agent)
    return record
