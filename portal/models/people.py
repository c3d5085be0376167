"""Facility, users, roles and what a patient login may reach."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Model, UTCDateTime, utcnow


class Facility(Model):
    __tablename__ = "facilities"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # What patients, mail and the card processor see: never a program or diagnosis word.
    neutral_name: Mapped[str] = mapped_column(String(200))
    npi: Mapped[str | None] = mapped_column(String(10))
    tin: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(32))  # the billing office's
    admissions_phone: Mapped[str | None] = mapped_column(String(32))  # what prospects call; empty: the billing phone
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    remit_address: Mapped[str | None] = mapped_column(Text)
    statement_descriptor: Mapped[str] = mapped_column(String(22), default="PARITY HEALTH")
    # Statements and payments policy.
    statement_minimum_cents: Mapped[int] = mapped_column(default=500)
    statement_due_days: Mapped[int] = mapped_column(default=25)
    payment_minimum_cents: Mapped[int] = mapped_column(default=500)
    # When on, charges (from the IOP engine or by hand) wait for a biller's release before they can be billed.
    charge_review: Mapped[bool] = mapped_column(default=False, server_default="0")
    # When on, every finding of the 835 validator refuses the file, even those that change no money.
    era_strict: Mapped[bool] = mapped_column(default=False, server_default="0")
    # Who our 837 files come from and go to: the submitter id a clearinghouse assigned (else the tax id), and
    # the clearinghouse's receiver id and name (else each file goes to its payer's electronic id).
    x12_submitter_id: Mapped[str | None] = mapped_column(String(15))
    x12_receiver_id: Mapped[str | None] = mapped_column(String(15))
    x12_receiver_name: Mapped[str | None] = mapped_column(String(60))

    @property
    def admissions_line(self) -> str | None:
        """The number a prospect calls: admissions' own, else the billing office's."""
        return self.admissions_phone or self.phone


class Role(Model):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    permissions: Mapped[list["RolePermission"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def permission_names(self) -> set[str]:
        return {p.permission for p in self.permissions}


class RolePermission(Model):
    __tablename__ = "role_permissions"
    __table_args__ = (UniqueConstraint("role_id", "permission"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    permission: Mapped[str] = mapped_column(String(64))


class User(Model):
    """Staff and patient logins share one table; `kind` keeps the two sides apart."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'patient')", name="kind"),
        CheckConstraint("kind = 'patient' OR role_id IS NOT NULL", name="staff_has_role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("roles.id"))
    role: Mapped[Role | None] = relationship(lazy="joined")
    active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column()  # refuses a replayed code
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stored in each session at sign-in and checked on every request: logout, a new password and
    # deactivation bump it, which ends every session opened before (copied cookies included).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    accesses: Mapped[list["AccountAccess"]] = relationship(back_populates="user")

    # The attributes Flask-Login asks of a user object (no web import in the models).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:  # inactive users cannot sign in
        return self.active

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def can(self, permission: str) -> bool:
        return self.is_staff and self.role is not None and permission in self.role.permission_names

    def get_id(self) -> str:
        return str(self.id)


class AccountAccess(Model):
    """Which accounts a patient login may see (a guarantor's own, a parent's child's)."""

    __tablename__ = "account_access"
    __table_args__ = (UniqueConstraint("user_id", "account_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user: Mapped[User] = relationship(back_populates="accesses")


class RegistrationLink(Model):
    """A mailed link that finishes a guarantor's login. The link carries only a random token; the row keeps
    what it is for (only the token's digest is stored) and is spent once, by a conditional UPDATE."""

    __tablename__ = "registration_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpEnrolment(Model):
    """A two-factor secret shown to a staff user who has not confirmed it yet. The session holds only the
    random id; the secret never leaves the server but on the enrolment page itself."""

    __tablename__ = "totp_enrolments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
