"""Billing codes and the named groups the IOP engine reads."""
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import BillingCode, BillingCodeGroup


class CodeError(ValueError):
    pass


def all_codes() -> list[BillingCode]:
    return list(db.session.scalars(select(BillingCode).order_by(BillingCode.code)))


def all_groups() -> list[BillingCodeGroup]:
    return list(db.session.scalars(select(BillingCodeGroup).order_by(BillingCodeGroup.name)))


def save_code(*, code: str, description: str, kind: str, price_cents: int, revenue_code: str | None,
              minutes: int | None, group_ids: list[int], actor,
              ip: str | None = None, user_agent: str | None = None) -> BillingCode:
    """Create the code or update the one with that code; set its group memberships."""
    if price_cents < 0:
        raise CodeError("A price cannot be negative.")
    if kind == "billable" and price_cents == 0:
        raise CodeError("A billable code needs a price.")
    record = db.session.scalar(select(BillingCode).where(BillingCode.code == code)) or BillingCode(code=code)
    record.description, record.kind, record.default_price_cents = description, kind, price_cents
    record.revenue_code, record.minutes = revenue_code or None, minutes
    db.session.add(record)
    for group in all_groups():
        member = record in group.codes
        if group.id in group_ids and not member:
            group.codes.append(record)
        elif group.id not in group_ids and member:
            group.codes.remove(record)
    db.session.flush()
    audit.record("billing_code.saved", "billing_code", actor=actor, object_id=record.id,
                 detail={"code": code, "kind": kind, "price_cents": price_cents, "groups": sorted(group_ids)},
                 ip=ip, user_agent=user_agent)
    return record


GROUP_PURPOSES = {"documentation": "Documentation that counts toward a day", "billable": "Per-diem codes billed"}


def save_group(*, name: str, purpose: str, actor, ip: str | None = None,
               user_agent: str | None = None) -> BillingCodeGroup:
    """A named group of codes the IOP engine reads (its documentation group and its billable group)."""
    name = name.strip()
    if not name:
        raise CodeError("Name the group.")
    if purpose not in GROUP_PURPOSES:
        raise CodeError("Choose what the group is for.")
    if db.session.scalar(select(BillingCodeGroup.id).where(BillingCodeGroup.name == name)):
        raise CodeError(f"A group named {name} exists already.")
    group = BillingCodeGroup(name=name, purpose=purpose)
    db.session.add(group)
    db.session.flush()
    audit.record("billing_code_group.created", "billing_code_group", actor=actor, object_id=group.id,
                 detail={"name": name, "purpose": purpose}, ip=ip, user_agent=user_agent)
    return group
