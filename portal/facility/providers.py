"""Providers: the clinicians who render care and the organization that bills, each with an NPI.

An NPI's tenth digit is a Luhn check digit computed over "80840" (the US health-industry prefix) and the
first nine digits. Whether a number is type 1 (person) or type 2 (organization) cannot be told from the
digits, so the kind is what the user says.
"""
import re

from sqlalchemy import select
from stdnum import luhn

from portal import audit
from portal.extensions import db
from portal.facility.fields import FieldError, apply, taken, text
from portal.facility.record import saved
from portal.models import Provider
from portal.models.providers import PROVIDER_KINDS

NPI_PREFIX = "80840"
TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")


def npi_is_valid(npi: str) -> bool:
    return len(npi) == 10 and npi.isascii() and npi.isdigit() and luhn.is_valid(NPI_PREFIX + npi)


def check_npi(value: str | None) -> str:
    npi = (value or "").strip()
    if not (len(npi) == 10 and npi.isascii() and npi.isdigit()):
        raise FieldError("npi", "An NPI has 10 digits.")
    if not npi_is_valid(npi):
        raise FieldError("npi", "This NPI's check digit is wrong: look for a mistyped digit.")
    return npi


def check_tin(value: str | None) -> str | None:
    """A TIN (EIN or SSN) as 9 digits; "12-3456789" is accepted and stored without the dash."""
    tin = (value or "").strip()
    if not tin:
        return None
    digits = tin.replace("-", "")
    if not (len(digits) == 9 and digits.isascii() and digits.isdigit() and tin.count("-") <= 2):
        raise FieldError("tin", "A TIN has 9 digits, such as 12-3456789.")
    return digits


def check_taxonomy(value: str | None) -> str | None:
    code = (value or "").strip().upper()
    if not code:
        return None
    if not TAXONOMY.match(code):
        raise FieldError("taxonomy_code", "A taxonomy code has 10 characters ending in X, such as 101YM0800X.")
    return code


def all_providers(*, active_only: bool = False) -> list[Provider]:
    query = select(Provider).order_by(Provider.active.desc(), Provider.kind.desc(), Provider.organization_name,
                                      Provider.last_name, Provider.first_name)
    if active_only:
        query = query.where(Provider.active.is_(True))
    return list(db.session.scalars(query))


def save_provider(provider: Provider | None, values: dict, *, actor,
                  ip: str | None = None, user_agent: str | None = None) -> Provider:
    """Create a provider (`provider` None) or change one; every change is audited."""
    kind = values.get("kind") or "individual"
    if kind not in PROVIDER_KINDS:
        raise FieldError("kind", "Choose an individual or the organization.")
    checked = {"kind": kind, "npi": check_npi(values.get("npi")),
               "taxonomy_code": check_taxonomy(values.get("taxonomy_code")), "tin": check_tin(values.get("tin")),
               "active": bool(values.get("active", True))}
    if kind == "organization":
        checked |= {"organization_name": text(values, "organization_name",
                                              required="Give the organization's legal name."),
                    "first_name": None, "last_name": None, "credentials": None}
    else:
        checked |= {"first_name": text(values, "first_name"),
                    "last_name": text(values, "last_name", required="Give the provider's last name."),
                    "credentials": text(values, "credentials"), "organization_name": None}
    created = provider is None
    record = provider or Provider(facility_id=saved().id)
    if taken(Provider, record, npi=checked["npi"]):
        raise FieldError("npi", "Another provider already has this NPI.")
    changes = apply(record, checked)
    db.session.add(record)
    db.session.flush()
    if changes:
        audit.record("provider.created" if created else "provider.updated", "provider", actor=actor,
                     object_id=record.id, detail=changes, ip=ip, user_agent=user_agent)
    return record
