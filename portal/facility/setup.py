"""First start: on an empty database, the facility and its first administrator.

Everything else (programs, locations, providers, payers, users) is then made on the admin pages.
"""
import re
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import Facility, User
from portal.people import users

ACTOR = "cli:setup"
DESCRIPTOR_CHARACTERS = re.compile(r"[^A-Z0-9 .\-]")
# A password the first admin chooses must be long and not one character over and over.
MIN_DISTINCT_CHARACTERS = 5


class SetupError(ValueError):
    """Why first start refused; nothing was created."""


@dataclass
class SetupResult:
    facility: Facility
    admin: User
    generated_password: str | None  # set only when no password was given: shown once

    def as_dict(self) -> dict:
        payload: dict[str, object] = {"facility": {"id": self.facility.id, "name": self.facility.name},
                   "admin": {"id": self.admin.id, "email": self.admin.email, "role": "admin"}}
        if self.generated_password:
            payload["temporary_password"] = self.generated_password
        return payload


def _check_password(password: str, email: str) -> None:
    if not password:
        raise SetupError("no password given (send it on standard input, or leave out --password-stdin)")
    if len(password) < users.MIN_PASSWORD_LENGTH:
        raise SetupError(f"the password is too weak: use at least {users.MIN_PASSWORD_LENGTH} characters")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS or password.lower() in email.lower():
        raise SetupError("the password is too weak: use a few unrelated words, not repeats or the email")


def _descriptor(name: str) -> str | None:
    """What card statements show, from the name: letters, digits, spaces, at most 22 characters."""
    text = DESCRIPTOR_CHARACTERS.sub("", name.upper())[:22].strip()
    return text if len(text) >= 5 else None


def first_start(*, facility_name: str, admin_email: str, password: str | None,
                admin_name: str | None = None) -> SetupResult:
    """Create the facility and its first admin login (default roles too); refuse once a facility exists."""
    if db.session.scalar(select(Facility.id).limit(1)) is not None:
        raise SetupError("this database already has a facility: setup runs once, on an empty database")
    name = " ".join((facility_name or "").split())
    if not name or len(name) > 200 or not name.isprintable():
        raise SetupError("give the facility's name (up to 200 characters) with --facility-name")
    try:
        email = validate_email((admin_email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise SetupError(f"{admin_email!r} is not an email address: {exc}") from exc
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(15)
    _check_password(password, email)
    facility = Facility(name=name, neutral_name=name)
    if descriptor := _descriptor(name):
        facility.statement_descriptor = descriptor
    db.session.add(facility)
    db.session.flush()
    audit.record("facility.created", "facility", actor=ACTOR, object_id=facility.id, detail={"name": name})
    users.ensure_default_roles()
    try:
        admin = users.create_user(email=email, full_name=admin_name or email, password=password, kind="staff",
                                  role_name="admin", actor=ACTOR)
    except users.UserError as exc:
        raise SetupError(str(exc)) from exc
    return SetupResult(facility, admin, generated)
