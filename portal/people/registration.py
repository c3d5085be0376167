"""A guarantor creates their own login from a statement, and proves the email is theirs.

The statement code, the patient's date of birth and ZIP (what pay-by-link asks) show they hold the
bill; a link mailed to the address they give shows the email is theirs. The link carries only a random
token: what it is for (account, email, name) stays in a registration_links row, keyed by the token's
digest. The login is created only when they open it and choose a password, and the link is spent
once, by a conditional UPDATE, so two tabs finishing at once make one login. A signed-in patient adds
another account with the same details.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, facility, mail
from portal.extensions import db
from portal.models import AccountAccess, RegistrationLink, Statement, User, utcnow
from portal.people import users

LINK_HOURS = 24


class LinkUsed(users.UserError):
    """The link was spent by another request a moment ago."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _login_for(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def start(statement: Statement, *, full_name: str, email: str,
          ip: str | None = None, user_agent: str | None = None) -> None:
    """Mail the link that finishes the login (or, when the email already has one, say so to that email)."""

    name = facility.current().neutral_name
    base = current_app.config["BASE_URL"]
    if _login_for(email) is not None:  # told to the mailbox, never on the page
        body = _("Someone asked to create a %(name)s billing login for this email, which already has one.\n"
                 "Sign in at %(login)s, or choose a new password at %(forgot)s.", name=name, login=base + "/login",
                 forgot=base + "/login/forgot") + f"\n\n{name}\n"
    else:
        token = secrets.token_urlsafe(32)
        db.session.add(RegistrationLink(token_digest=_digest(token), account_id=statement.account_id,
                                        email=email.strip().lower(), full_name=full_name.strip()))
        db.session.flush()
        body = _("Hello %(person)s,\n\nTo finish creating your %(name)s billing login, open\n%(link)s\nand choose "
                 "a password. The link works for %(hours)s hours.\n\nIf you did not ask for a login, ignore this "
                 "email.", person=full_name.strip(), name=name, link=base + "/register/finish/" + token,
                 hours=LINK_HOURS) + f"\n\n{name}\n"
    # In the language of the page the login was asked from.
    mail.queue([email.strip()], _("Your billing login - %(name)s", name=name), body)
    audit.record("registration.requested", "account", actor="registration", object_id=statement.account_id,
                 account_id=statement.account_id, ip=ip, user_agent=user_agent)


def claims_for(token: str) -> dict | None:
    """What a link asks for, if it is one we sent, recent, unused and its email has no login yet."""
    link = db.session.scalar(select(RegistrationLink).where(RegistrationLink.token_digest == _digest(token)))
    if link is None or link.used_at is not None or link.created_at < utcnow() - timedelta(hours=LINK_HOURS):
        return None
    if _login_for(link.email) is not None:
        return None
    return {"link": link.id, "account": link.account_id, "email": link.email, "name": link.full_name}


def finish(claims: dict, password: str, *, ip: str | None = None, user_agent: str | None = None) -> User:
    """Create the patient login with access to the account the statement belongs to. The link is spent
    first, in one conditional UPDATE: a second request with it (or a login made for the email meanwhile)
    raises LinkUsed."""
    spent = db.session.execute(
        update(RegistrationLink).where(RegistrationLink.id == claims["link"], RegistrationLink.used_at.is_(None))
        .values(used_at=utcnow()).returning(RegistrationLink.id)
        .execution_options(synchronize_session=False)).scalar()
    if spent is None or _login_for(claims["email"]) is not None:
        raise LinkUsed("This link was already used.")
    try:
        with db.session.begin_nested():
            user = users.create_user(email=claims["email"], full_name=claims["name"], password=password,
                                     kind="patient", actor="registration", ip=ip, user_agent=user_agent)
    except IntegrityError as exc:  # another link for the email made this login a moment ago
        raise LinkUsed("This link was already used.") from exc
    db.session.add(AccountAccess(user_id=user.id, account_id=claims["account"]))
    audit.record("registration.completed", "user", actor=user, object_id=user.id, account_id=claims["account"],
                 ip=ip, user_agent=user_agent)
    return user


def add_account(user, statement: Statement, *, ip: str | None = None, user_agent: str | None = None) -> bool:
    """Give a signed-in patient the account a statement belongs to; False when they already have it."""
    if db.session.scalar(select(AccountAccess.id).where(AccountAccess.user_id == user.id,
                                                        AccountAccess.account_id == statement.account_id)):
        return False
    try:
        with db.session.begin_nested():  # the unique pair settles two requests adding it at once
            db.session.add(AccountAccess(user_id=user.id, account_id=statement.account_id))
    except IntegrityError:
        return False
    audit.record("account_access.added", "account", actor=f"user:{user.id}", object_id=statement.account_id,
                 account_id=statement.account_id, ip=ip, user_agent=user_agent)
    return True
