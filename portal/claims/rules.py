"""Each payer's claim rules (claim type, codes, modifiers, place of service, grouping), per billing NPI
where that NPI's contract differs; a payer with no rules saved gets professional claims grouped by week."""
import re

from sqlalchemy import select

from portal import audit, facility
from portal.extensions import db
from portal.models import CLAIM_TYPES, CODE_SETS, GROUPINGS, ClaimRule, Payer, Provider

MODIFIERS = re.compile(r"^[A-Z0-9]{2}(,[A-Z0-9]{2}){0,3}$")
CODE_LIST = re.compile(r"^[A-Z0-9]{4,7}(,[A-Z0-9]{4,7})*$")
BILL_TYPE = re.compile(r"^[0-9]{2}$")


class RuleError(facility.FieldError):
    """A value a claim rule cannot take; `field` names the form field to show it on."""


def rule_for(payer_id: int, billing_provider_id: int | None) -> ClaimRule:
    """The billing NPI's own row, else the payer's row, else unsaved defaults (reading never writes)."""
    rows = {r.billing_provider_id: r for r in db.session.scalars(
        select(ClaimRule).where(ClaimRule.payer_id == payer_id,
                                (ClaimRule.billing_provider_id == billing_provider_id)
                                | ClaimRule.billing_provider_id.is_(None)))}
    found = rows.get(billing_provider_id) or rows.get(None)
    if found is not None:
        return found
    return ClaimRule(payer_id=payer_id, claim_type="professional", code_set="procedure", grouping="week",
                     send_rendering_provider=True, authorization_required=True, secondary_electronic=True)


def rules_of(payer: Payer) -> list[ClaimRule]:
    """The payer's saved rows, its own (every NPI) first."""
    rows = db.session.scalars(select(ClaimRule).where(ClaimRule.payer_id == payer.id).order_by(ClaimRule.id))
    return sorted(rows, key=lambda r: r.billing_provider_id is not None)


def _listed(values: dict, name: str, pattern: re.Pattern, message: str) -> str | None:
    text = "".join((values.get(name) or "").upper().split()) or None
    if text is not None and not pattern.match(text):
        raise RuleError(name, message)
    return text


def save_rule(payer: Payer, rule: ClaimRule | None, values: dict, *, actor,
              ip: str | None = None, user_agent: str | None = None) -> ClaimRule:
    """Create or change one of the payer's rules (`billing_provider_id` empty: every NPI); audited."""
    claim_type = values.get("claim_type") or "professional"
    if claim_type not in CLAIM_TYPES:
        raise RuleError("claim_type", "Choose professional (837P) or institutional (837I).")
    code_set = values.get("code_set") or "procedure"
    if code_set not in CODE_SETS:
        raise RuleError("code_set", "Choose how lines are coded.")
    if claim_type == "professional" and code_set != "procedure":
        raise RuleError("code_set", "A professional claim bills procedure codes; revenue codes alone are for 837I.")
    grouping = values.get("grouping") or "week"
    if grouping not in GROUPINGS:
        raise RuleError("grouping", "Choose one claim per day, week or month.")
    provider_id = values.get("billing_provider_id") or None
    if provider_id is not None and db.session.get(Provider, provider_id) is None:
        raise RuleError("billing_provider_id", "Choose a provider from the list.")
    place = (values.get("place_of_service") or "").strip() or None
    if place is not None:
        try:
            place = facility.check_place_of_service(place)
        except facility.FieldError as exc:
            raise RuleError("place_of_service", str(exc)) from exc
    try:
        taxonomy = facility.check_taxonomy(values.get("taxonomy_code"))
    except facility.FieldError as exc:
        raise RuleError("taxonomy_code", str(exc)) from exc
    checked = {
        "billing_provider_id": provider_id,
        "claim_type": claim_type,
        "code_set": code_set,
        "billable_codes": _listed(values, "billable_codes", CODE_LIST,
                                  "Procedure codes separated by commas, such as S9480,H0015."),
        "required_modifiers": _listed(values, "required_modifiers", MODIFIERS,
                                      "Up to four two-character modifiers separated by commas, such as HQ,95."),
        "place_of_service": place,
        "taxonomy_code": taxonomy,
        "send_rendering_provider": bool(values.get("send_rendering_provider", True)),
        "authorization_required": bool(values.get("authorization_required", True)),
        "grouping": grouping,
        "bill_type": _listed(values, "bill_type", BILL_TYPE,
                             "Two digits: facility type and classification, such as 13 (hospital outpatient)."),
        "secondary_electronic": bool(values.get("secondary_electronic", True)),
    }
    if claim_type == "institutional" and not checked["bill_type"]:
        raise RuleError("bill_type", "An institutional claim needs a type of bill, such as 13.")
    record = rule or ClaimRule(payer_id=payer.id)
    same = select(ClaimRule.id).where(ClaimRule.payer_id == payer.id)
    same = same.where(ClaimRule.billing_provider_id.is_(None) if provider_id is None
                      else ClaimRule.billing_provider_id == provider_id)
    if record.id is not None:
        same = same.where(ClaimRule.id != record.id)
    if db.session.scalar(same.limit(1)) is not None:
        raise RuleError("billing_provider_id", "This payer already has rules for this NPI: change those instead.")
    changes = {}
    for name, new in checked.items():
        if getattr(record, name) != new:
            changes[name] = [getattr(record, name), new]
            setattr(record, name, new)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("claim_rule.created" if rule is None else "claim_rule.updated", "claim_rule", actor=actor,
                     object_id=record.id, detail={"payer_id": payer.id, **changes}, ip=ip, user_agent=user_agent)
    return record
