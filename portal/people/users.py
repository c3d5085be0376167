"""Logins: password hashing (argon2id), lockout, TOTP two-factor, user and role management."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, literal, null, or_, select, update

from portal import audit
from portal.extensions import db
from portal.models import Role, RolePermission, TotpEnrolment, User, utcnow
from portal.models.base import UTCDateTime
from portal.permissions import DEFAULT_ROLES, PERMISSIONS

_hasher = PasswordHasher()  # argon2id with the library's current parameters
# Compared against when the email is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 12


class UserError(ValueError):
    """A request about users that cannot be done, with a message fit to show."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(_("Passwords need at least %(count)s characters.", count=MIN_PASSWORD_LENGTH))
    return _hasher.hash(password)


def password_fingerprint(user: User) -> str:
    """A short digest of the stored hash: it changes whenever the password does (sessions and reset
    links carry it, so a new password retires both)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None
    needs_totp: bool = False
    needs_totp_enrolment: bool = False


GENERIC_LOGIN_ERROR = _l("That email and password do not match an active login.")


def _count_attempt(user: User, *, max_failures: int, lockout_minutes: int) -> int | None:
    """Count one sign-in attempt before its secret is checked, in one conditional UPDATE: the attempt that
    reaches the limit locks the login at once, so concurrent attempts never check more than `max_failures`
    secrets. The row stays locked until the request commits. None when the login is locked already."""
    now = utcnow()
    count = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_login_count=User.failed_login_count + 1,
                locked_until=case((User.failed_login_count + 1 >= max_failures,
                                   literal(now + timedelta(minutes=lockout_minutes), UTCDateTime)),
                                  else_=null()))
        .returning(User.failed_login_count)
        .execution_options(synchronize_session=False)
    ).scalar()
    db.session.expire(user, ["failed_login_count", "locked_until"])
    return count


def _attempt_failed(user: User, count: int, *, max_failures: int, action: str,
                    ip: str | None, user_agent: str | None) -> None:
    detail: dict[str, int | str] = {"failures": count}
    if count >= max_failures:  # locked by _count_attempt; the next lockout counts from zero again
        user.failed_login_count = 0
        detail["locked_until"] = user.locked_until.isoformat()
    audit.record(action, "user", actor=user, object_id=user.id, detail=detail, ip=ip, user_agent=user_agent)


def _attempt_succeeded(user: User) -> None:
    user.failed_login_count = 0
    user.locked_until = None
    db.session.flush()


def _refused_locked(user: User, *, ip: str | None, user_agent: str | None) -> None:
    audit.record("login.refused_locked", "user", actor=user, object_id=user.id, ip=ip, user_agent=user_agent)


def authenticate(email: str, password: str, *, kind: str, max_failures: int, lockout_minutes: int,
                 totp_required_roles: tuple[str, ...],
                 ip: str | None = None, user_agent: str | None = None) -> LoginResult:
    """Check a password for a staff or patient login, counting failures toward a lockout. An unknown email,
    a wrong password and a locked login get the same answer."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or user.kind != kind:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, str(GENERIC_LOGIN_ERROR))
    count = _count_attempt(user, max_failures=max_failures, lockout_minutes=lockout_minutes)
    if count is None:
        _verify(_DUMMY_HASH, password)  # the same time as a real check
        _refused_locked(user, ip=ip, user_agent=user_agent)
        return LoginResult(None, str(GENERIC_LOGIN_ERROR))
    if not user.active or not _verify(user.password_hash, password):
        _attempt_failed(user, count, max_failures=max_failures, action="login.failed", ip=ip, user_agent=user_agent)
        return LoginResult(None, str(GENERIC_LOGIN_ERROR))
    _attempt_succeeded(user)
    if user.is_staff and user.totp_enabled:
        return LoginResult(user, needs_totp=True)
    if user.is_staff and user.role and user.role.name in totp_required_roles:
        return LoginResult(user, needs_totp_enrolment=True)
    return LoginResult(user)


def end_sessions(user: User) -> None:
    """Retire every session this login has open (each carries the version it started with)."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
                       .execution_options(synchronize_session=False))
    db.session.expire(user, ["session_version"])


def record_login(user: User, *, ip: str | None = None, user_agent: str | None = None) -> None:
    user.last_login_at = utcnow()
    audit.record("login.succeeded", "user", actor=user, object_id=user.id, ip=ip, user_agent=user_agent)


# ---------------------------------------------------------------- TOTP


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def totp_qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def _accept_code(user: User, secret: str, code: str, at: datetime | None = None) -> bool:
    """A valid code for now (±1 step), never one already used: the step is taken by one conditional UPDATE,
    so concurrent requests with one code accept it once."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    at = at or utcnow()
    now_step = totp.timecode(at)
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            taken = db.session.execute(
                update(User)
                .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
                .returning(User.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            db.session.expire(user, ["totp_last_step"])
            return taken is not None
    return False


def verify_totp(user: User, code: str, *, max_failures: int, lockout_minutes: int,
                ip: str | None = None, user_agent: str | None = None) -> bool:
    """Check a sign-in code. A wrong code counts toward the same lockout as a wrong password, and a locked
    login accepts no code."""
    count = _count_attempt(user, max_failures=max_failures, lockout_minutes=lockout_minutes)
    if count is None:
        _refused_locked(user, ip=ip, user_agent=user_agent)
        return False
    ok = bool(user.totp_enabled and user.totp_secret and _accept_code(user, user.totp_secret, code))
    if ok:
        _attempt_succeeded(user)
        audit.record("login.totp_ok", "user", actor=user, object_id=user.id, ip=ip, user_agent=user_agent)
    else:
        _attempt_failed(user, count, max_failures=max_failures, action="login.totp_failed",
                        ip=ip, user_agent=user_agent)
    return ok


ENROLMENT_MINUTES = 30


def pending_enrolment(user: User, enrolment_id: str | None) -> TotpEnrolment:
    """The secret this user is enrolling with (kept on the server; the session holds only its random id),
    or a new one when there is none or it is stale."""
    pending = db.session.get(TotpEnrolment, enrolment_id) if enrolment_id else None
    if (pending is None or pending.user_id != user.id
            or pending.created_at < utcnow() - timedelta(minutes=ENROLMENT_MINUTES)):
        pending = TotpEnrolment(id=secrets.token_urlsafe(32), user_id=user.id, secret=new_totp_secret())
        db.session.add(pending)
        db.session.flush()
    return pending


def enrol_totp(user: User, pending: TotpEnrolment, code: str, *,
               ip: str | None = None, user_agent: str | None = None) -> bool:
    """Turn two-factor on with the pending secret once a code from it checks out."""
    secret = pending.secret
    if not _accept_code(user, secret, code):
        return False
    db.session.execute(delete(TotpEnrolment).where(TotpEnrolment.user_id == user.id))
    user.totp_secret = secret
    user.totp_enabled = True
    audit.record("user.totp_enrolled", "user", actor=user, object_id=user.id, ip=ip, user_agent=user_agent)
    return True


# ---------------------------------------------------------------- management


def ensure_default_roles() -> dict[str, Role]:
    """Create the default roles if missing; existing roles keep any edits an admin made."""
    roles = {r.name: r for r in db.session.scalars(select(Role))}
    for name, (description, permissions) in DEFAULT_ROLES.items():
        if name not in roles:
            role = Role(name=name, description=description)
            role.permissions = [RolePermission(permission=p) for p in sorted(permissions)]
            db.session.add(role)
            roles[name] = role
    db.session.flush()
    return roles


def create_user(*, email: str, full_name: str, password: str, kind: str, actor, role_name: str | None = None,
                totp_secret: str | None = None, ip: str | None = None, user_agent: str | None = None) -> User:
    try:
        email = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise UserError(f"{email!r} is not an email address: {exc}") from exc
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise UserError(f"A login for {email} already exists.")
    role = None
    if kind == "staff":
        role = db.session.scalar(select(Role).where(Role.name == role_name))
        if role is None:
            known = ", ".join(db.session.scalars(select(Role.name).order_by(Role.name)))
            raise UserError(f"Unknown role {role_name!r}; known roles: {known}.")
    user = User(email=email, full_name=full_name, password_hash=hash_password(password), kind=kind, role=role,
                totp_secret=totp_secret, totp_enabled=bool(totp_secret))
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", "user", actor=actor, object_id=user.id,
                 detail={"email": email, "kind": kind, "role": role_name}, ip=ip, user_agent=user_agent)
    return user


def update_staff_user(user: User, *, actor: User, role_name: str, active: bool,
                      ip: str | None = None, user_agent: str | None = None) -> None:
    role = db.session.scalar(select(Role).where(Role.name == role_name))
    if role is None:
        raise UserError("Choose a role that exists.")
    if user.id == actor.id and (not active or not role.permission_names >= {"admin.users"}):
        raise UserError("You cannot deactivate yourself or remove your own user management.")
    changes: dict[str, list] = {}
    if user.role_id != role.id:
        changes["role"] = [user.role.name if user.role else None, role.name]
        user.role = role
    if user.active != active:
        changes["active"] = [user.active, active]
        user.active = active
        if not active:
            end_sessions(user)
    if changes:
        audit.record("user.updated", "user", actor=actor, object_id=user.id, detail=changes,
                     ip=ip, user_agent=user_agent)


def unlock(user: User, *, actor: User, ip: str | None = None, user_agent: str | None = None) -> None:
    user.locked_until = None
    user.failed_login_count = 0
    audit.record("user.unlocked", "user", actor=actor, object_id=user.id, ip=ip, user_agent=user_agent)


def reset_totp(user: User, *, actor: User, ip: str | None = None, user_agent: str | None = None) -> None:
    user.totp_secret = None
    user.totp_enabled = False
    user.totp_last_step = None
    audit.record("user.totp_reset", "user", actor=actor, object_id=user.id, ip=ip, user_agent=user_agent)


def set_role_permissions(role: Role, permissions: set[str], *, actor: User,
                         ip: str | None = None, user_agent: str | None = None) -> None:
    unknown = permissions - set(PERMISSIONS)
    if unknown:
        raise UserError(f"Unknown permissions: {', '.join(sorted(unknown))}")
    if role.name == "admin" and not {"admin.roles", "admin.users"} <= permissions:
        raise UserError("The admin role must keep user and role management, or nobody could fix it.")
    before = role.permission_names
    if before == permissions:
        return
    # Change only what differs: replacing the list would insert before deleting (unique clash).
    role.permissions = [p for p in role.permissions if p.permission in permissions]
    role.permissions += [RolePermission(permission=p) for p in sorted(permissions - before)]
    db.session.flush()
    audit.record("role.updated", "role", actor=actor, object_id=role.id,
                 detail={"added": sorted(permissions - before), "removed": sorted(before - permissions)},
                 ip=ip, user_agent=user_agent)
