"""A patient who forgot their password gets a link by email to choose a new one.

The link is signed, lasts PASSWORD_RESET_MINUTES and works once: it carries a fingerprint of the
password it replaces, so setting a new password (or any other change of password) retires it, and
signs out every session opened with the old one. Asking
for a link answers the same whether or not the email has a login, and sends nothing for staff logins,
whose passwords an administrator resets.
"""
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from portal import audit, facility, mail
from portal.extensions import db
from portal.models import User
from portal.people import users

_SALT = "patient-password-reset"


def _serializer() -> URLSafeTimedSerializer:
    keys = [*(current_app.config["SECRET_KEY_FALLBACKS"] or ()), current_app.secret_key]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def link(user: User) -> str:
    token = _serializer().dumps({"user": user.id, "password": users.password_fingerprint(user)})
    return f"{current_app.config['BASE_URL']}/login/reset/{token}"


def request_link(email: str, *, ip: str | None = None, user_agent: str | None = None) -> None:
    """Mail a reset link if the email belongs to an active patient login; say nothing either way."""

    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or user.kind != "patient" or not user.active:
        return
    name = facility.current().neutral_name
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    body = _("Hello %(person)s,\n\nSomeone asked to reset the password for your %(name)s billing login. To choose "
             "a new one, open\n%(link)s\n\nThe link works once, within %(minutes)s minutes. If you did not ask, "
             "ignore this email: your password stays as it is.", person=user.full_name, name=name, link=link(user),
             minutes=minutes) + f"\n\n{name}\n"
    mail.queue([user.email], _("Reset your password - %(name)s", name=name), body)  # the page's language
    audit.record("password_reset.requested", "user", actor="password-reset", object_id=user.id,
                 ip=ip, user_agent=user_agent)


def user_for(token: str) -> User | None:
    """The login a link is for, if the link is genuine, recent and unused."""
    try:
        claims = _serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_MINUTES"] * 60)
    except BadSignature:  # also an expired link
        return None
    user = db.session.get(User, claims.get("user")) if isinstance(claims, dict) else None
    if (user is None or user.kind != "patient" or not user.active
            or claims.get("password") != users.password_fingerprint(user)):
        return None
    return user


class LinkUsed(users.UserError):
    """Another request set a new password with this link a moment ago."""


def set_new_password(user: User, password: str, *,
                     ip: str | None = None, user_agent: str | None = None) -> None:
    """Replace the password (which retires the link), lift any lockout, end every session, and tell the
    owner it changed. The replacement is one conditional UPDATE on the password the link was made for, so
    concurrent requests with one link change it once; the others raise LinkUsed."""

    old_hash, new_hash = user.password_hash, users.hash_password(password)
    changed = db.session.execute(
        update(User).where(User.id == user.id, User.password_hash == old_hash)
        .values(password_hash=new_hash, failed_login_count=0, locked_until=None)
        .returning(User.id).execution_options(synchronize_session=False)).scalar()
    db.session.expire(user, ["password_hash", "failed_login_count", "locked_until"])
    if changed is None:
        raise LinkUsed("This link was already used.")
    users.end_sessions(user)
    audit.record("password_reset.completed", "user", actor=user, object_id=user.id,
                 ip=ip, user_agent=user_agent)
    name = facility.current().neutral_name
    mail.queue([user.email], _("Your password was changed - %(name)s", name=name),
               _("Hello %(person)s,\n\nThe password for your %(name)s billing login was just changed. If this was "
                 "not you, call us right away.", person=user.full_name, name=name) + f"\n\n{name}\n")
