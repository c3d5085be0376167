"""A guarantor creates their own login from a statement, and proves the email is theirs.

The statement code, the patient's date of birth and ZIP (what pay-by-link asks) show they hold the
bill; a signed link mailed to the address they give shows the email is theirs. The login is created
only when they open it and choose a password, so nothing waits half-made in the database, and a link
is spent once a login has that email. A signed-in patient adds another account with the same details.
"""
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select

from portal import audit, facility, mail
from portal.extensions import db
from portal.models import AccountAccess, Statement, User
from portal.people import users

_SALT = "patient-registration"
LINK_HOURS = 24


def _serializer() -> URLSafeTimedSerializer:
    keys = [*(current_app.config["SECRET_KEY_FALLBACKS"] or ()), current_app.secret_key]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def _login_for(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def start(statement: Statement, *, full_name: str, email: str,
          ip: str | None = None, user_agent: str | None = None) -> None:
    """Mail the link that finishes the login (or, when the email already has one, say so to that email)."""

    name = facility.current().neutral_name
    base = current_app.config["BASE_URL"]
    if _login_for(email) is not None:  # told to the mailbox, never on the page
        body = (f"Someone asked to create a {name} billing login for this email, which already has one.\n"
                f"Sign in at {base}/login, or choose a new password at {base}/login/forgot.\n\n{name}\n")
    else:
        token = _serializer().dumps({"account": statement.account_id, "email": email.strip().lower(),
                                     "name": full_name.strip()})
        body = (f"Hello {full_name.strip()},\n\nTo finish creating your {name} billing login, open\n"
                f"{base}/register/finish/{token}\nand choose a password. The link works for {LINK_HOURS} hours.\n\n"
                f"If you did not ask for a login, ignore this email.\n\n{name}\n")
    mail.queue([email.strip()], f"Your billing login - {name}", body)
    audit.record("registration.requested", "account", actor="registration", object_id=statement.account_id,
                 account_id=statement.account_id, ip=ip, user_agent=user_agent)


def claims_for(token: str) -> dict | None:
    """What a link asks for, if it is genuine, recent and its email has no login yet."""
    try:
        claims = _serializer().loads(token, max_age=LINK_HOURS * 3600)
    except BadSignature:  # also an expired link
        return None
    if not isinstance(claims, dict) or _login_for(claims.get("email", "")) is not None:
        return None
    return claims


def finish(claims: dict, password: str, *, ip: str | None = None, user_agent: str | None = None) -> User:
    """Create the patient login with access to the account the statement belongs to."""
    user = users.create_user(email=claims["email"], full_name=claims["name"], password=password, kind="patient",
                             actor="registration", ip=ip, user_agent=user_agent)
    db.session.add(AccountAccess(user_id=user.id, account_id=claims["account"]))
    audit.record("registration.completed", "user", actor=user, object_id=user.id, account_id=claims["account"],
                 ip=ip, user_agent=user_agent)
    return user


def add_account(user, statement: Statement, *, ip: str | None = None, user_agent: str | None = None) -> bool:
    """Give a signed-in patient the account a statement belongs to; False when they already have it."""
    if db.session.scalar(select(AccountAccess.id).where(AccountAccess.user_id == user.id,
                                                        AccountAccess.account_id == statement.account_id)):
        return False
    db.session.add(AccountAccess(user_id=user.id, account_id=statement.account_id))
    audit.record("account_access.added", "account", actor=f"user:{user.id}", object_id=statement.account_id,
                 account_id=statement.account_id, ip=ip, user_agent=user_agent)
    return True
