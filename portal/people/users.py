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
from sqlalchemy import func, select

from portal import audit
from portal.extensions import db
from portal.models import Role, RolePermission, User, utcnow
from portal.permissions import DEFAULT_ROLES, PERMISSIONS

_hasher = PasswordHasher()  # argon2id with the library's current parameters
# Compared against when the email is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 12


class UserError(ValueError):
    """A request about users that cannot be done, with a message fit to show."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
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


GENERIC_LOGIN_ERROR = "That email and password do not match an active login."


def authenticate(email: str, password: str, *, kind: str, max_failures: int, lockout_minutes: int,
                 totp_required_roles: tuple[str, ...],
                 ip: str | None = None, user_agent: str | None = None) -> LoginResult:
    """Check a password for a staff or patient login, counting failures toward a lockout."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or user.kind != kind:
        _verify(_DUMMY_HASH, password)
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        audit.record("login.refused_locked", "user", actor=user, object_id=user.id,
                     ip=ip, user_agent=user_agent)
        return LoginResult(None, "Too many failed attempts. Try again later or ask an administrator.")
    if not user.active or not _verify(user.password_hash, password):
        user.failed_login_count += 1
        detail = {"failures": user.failed_login_count}
        if user.failed_login_count >= max_failures:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_login_count = 0
            detail["locked_until"] = user.locked_until.isoformat()
        audit.record("login.failed", "user", actor=user, object_id=user.id, detail=detail,
                     ip=ip, user_agent=user_agent)
        if "locked_until" in detail:
            return LoginResult(None, "Too many failed attempts. Try again later or ask an administrator.")
        return LoginResult(None, GENERIC_LOGIN_ERROR)
    user.failed_login_count = 0
    user.locked_until = None
    db.session.flush()
    if user.is_staff and user.totp_enabled:
        return LoginResult(user, needs_totp=True)
    if user.is_staff and user.role and user.role.name in totp_required_roles:
        return LoginResult(user, needs_totp_enrolment=True)
    return LoginResult(user)


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
    """A valid code for now (±1 step), never one already used."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    at = at or utcnow()
    now_step = totp.timecode(at)
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def verify_totp(user: User, code: str, *, ip: str | None = None, user_agent: str | None = None) -> bool:
    ok = bool(user.totp_enabled and user.totp_secret and _accept_code(user, user.totp_secret, code))
    audit.record("login.totp_" + ("ok" if ok else "failed"), "user", actor=user, object_id=user.id,
                 ip=ip, user_agent=user_agent)
    return ok


def enrol_totp(user: User, secret: str, code: str, *,
               ip: str | None = None, user_agent: str | None = None) -> bool:
    if not _accept_code(user, secret, code):
        return False
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
    changes = {}
    if user.role_id != role.id:
        changes["role"] = [user.role.name if user.role else None, role.name]
        user.role = role
    if user.active != active:
        changes["active"] = [user.active, active]
        user.active = active
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
