"""Configuration read from the environment, with safe defaults for one machine.

Nothing secret is committed. In development SECRET_KEY may be generated once into instance/secret_key; in
production (PARITY_ENV=production, the default) every server must be given the same one, with the other
settings `check_for_production` lists.
"""
import os
import secrets
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("PARITY_INSTANCE", ROOT / "instance"))


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class SettingError(SystemExit):
    """A setting the app cannot start with: one readable line, no traceback."""


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingError(f"Parity will not start: {name} must be a whole number, not {value!r}.") from None


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    ENV_NAME = "production"
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'parity.db'}"
    REDIS_URL = os.environ.get("REDIS_URL") or None
    FACILITY_NAME = os.environ.get("FACILITY_NAME", "Parity Demo Health")
    FACILITY_TIMEZONE = os.environ.get("FACILITY_TIMEZONE", "America/New_York")
    # A business day is a day the facility is open (45 CFR 149.610): weekends never, federal holidays unless
    # this is off.
    FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS = _flag("FACILITY_CLOSED_ON_FEDERAL_HOLIDAYS", True)
    INSTALLED_MODULES = ("staff",)

    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE", True)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = 3600
    # HIPAA automatic logoff for staff (minutes of inactivity).
    STAFF_IDLE_MINUTES = _int("STAFF_IDLE_MINUTES", 15)
    # A staff session ends this long after sign-in however busy; a patient session after this much idle time.
    STAFF_SESSION_HOURS = _int("STAFF_SESSION_HOURS", 12)
    PATIENT_IDLE_MINUTES = _int("PATIENT_IDLE_MINUTES", 30)
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCKOUT_MINUTES = _int("LOGIN_LOCKOUT_MINUTES", 15)
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per minute")
    # A patient's emailed password reset link: how long it works, and how often one address may ask.
    PASSWORD_RESET_MINUTES = _int("PASSWORD_RESET_MINUTES", 60)
    PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per 15 minutes")
    # Pay by link (also /register and /accounts/add): tries per address; tries per statement code, shared by
    # the three pages; and wrong details with one code, from any address, before the code locks for a while.
    PAY_LINK_IP_LIMIT = os.environ.get("PAY_LINK_IP_LIMIT", "10 per 15 minutes")
    PAY_LINK_CODE_LIMIT = os.environ.get("PAY_LINK_CODE_LIMIT", "5 per hour")
    PAY_LINK_CODE_MAX_MISSES = _int("PAY_LINK_CODE_MAX_MISSES", 10)
    PAY_LINK_CODE_LOCK_MINUTES = _int("PAY_LINK_CODE_LOCK_MINUTES", 60)
    # The public estimate page and its call-back form, per client address.
    ESTIMATE_PUBLIC_LIMIT = os.environ.get("ESTIMATE_PUBLIC_LIMIT", "20 per hour")
    # Roles whose users must use TOTP two-factor authentication.
    TOTP_REQUIRED_ROLES = tuple(
        r.strip() for r in os.environ.get("TOTP_REQUIRED_ROLES", "admin,biller").split(",") if r.strip()
    )
    HSTS = True
    # The largest request body the app reads at all (413 above it), and the largest 835 file an upload takes.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024)
    ERA_UPLOAD_MAX_BYTES = _int("ERA_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
    # Mail: SMTP when MAIL_SERVER is set, otherwise each message is written to MAIL_OUTBOX.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _flag("MAIL_USE_TLS", False)  # STARTTLS on a plain port (587)
    MAIL_USE_SSL = _flag("MAIL_USE_SSL", False)  # SMTPS: TLS from the first byte (465)
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 15)
    MAIL_FROM = os.environ.get("MAIL_FROM", "billing@parity.invalid")
    MAIL_OUTBOX = os.environ.get("MAIL_OUTBOX", str(INSTANCE / "outbox"))
    # Stripe. STRIPE_API_BASE points the SDK at the local emulator (make run, tests); unset means Stripe itself.
    # Card payments through Stripe; off, no card is taken anywhere (production then needs no Stripe keys).
    CARD_PAYMENTS = _flag("CARD_PAYMENTS", True)
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    # How long a worker holds a plan installment it is charging before another may resume it.
    PLAN_CLAIM_SECONDS = _int("PLAN_CLAIM_SECONDS", 120)
    # Where generated documents (statement PDFs) are kept: a local folder, or s3://bucket/prefix for an
    # S3-compatible object store shared by every machine (S3_ENDPOINT_URL for one that is not AWS itself).
    DOCUMENT_STORE = os.environ.get("DOCUMENT_STORE", str(INSTANCE / "documents"))
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    # Keys signed with before SECRET_KEY changed, comma-separated: sessions and links mailed with them keep working.
    SECRET_KEY_FALLBACKS: ClassVar[list[str]] = [
        k.strip() for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k.strip()]
    # Links in mail point here.
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
    # Reverse proxies in front of the app that set X-Forwarded-For/-Proto/-Host (nginx alone: 1). Their
    # forwarded client address is then the one rate limits, audit events and plan agreements see; with 0 the
    # headers are ignored, as anybody could send them.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Database connections per process (PostgreSQL): kept, checked before use, renewed after a while.
    DB_POOL_SIZE = _int("DB_POOL_SIZE", 5)
    DB_POOL_MAX_OVERFLOW = _int("DB_POOL_MAX_OVERFLOW", 10)
    DB_POOL_RECYCLE_SECONDS = _int("DB_POOL_RECYCLE_SECONDS", 1800)
    DB_CONNECT_TIMEOUT = _int("DB_CONNECT_TIMEOUT", 5)
    # "json": one JSON object a line (production, for a log collector); "text" for people at a terminal.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")

    def __init__(self):
        # Computed when the app is built, so importing the module never touches the disk; production never
        # makes up a key of its own (each server would have a different one).
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or (None if self.ENV_NAME == "production" else _secret_key())
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        if not self.CARD_PAYMENTS:
            self.STRIPE_SECRET_KEY = None


class DevConfig(Config):
    """`make run`: plain HTTP on 127.0.0.1, so cookies cannot be Secure-only."""

    ENV_NAME = "development"
    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS = False
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    HSTS = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    LOGIN_RATE_LIMIT = "1000 per minute"
    LOG_FORMAT = "text"

    def __init__(self):
        self.SECRET_KEY = "test-secret-key"
        self.REDIS_URL = None
        self.MAIL_SERVER = None
        self.RATELIMIT_STORAGE_URI = "memory://"


def check_for_production(config) -> None:
    """Production runs on several machines behind a proxy: they share one key (sessions, CSRF and signed links
    work whichever server answers), one PostgreSQL database, Redis (rate limits counted once for all, the
    Celery broker) and a mail server (mail written to a local folder would never leave). Refuse to start
    without them, in one readable line."""
    if config.get("ENV_NAME") != "production":
        return
    missing = []
    if not config.get("SECRET_KEY"):
        missing.append("SECRET_KEY (the same on every server)")
    if not str(config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("postgresql"):
        missing.append("DATABASE_URL (PostgreSQL, e.g. postgresql+psycopg://user@host/parity)")
    if not config.get("REDIS_URL"):
        missing.append("REDIS_URL")
    if not config.get("MAIL_SERVER"):
        missing.append("MAIL_SERVER")
    if config.get("CARD_PAYMENTS"):
        missing += [name for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET")
                    if not config.get(name)]
    if missing:
        raise SettingError("Parity will not start (PARITY_ENV=production): set " + ", ".join(missing)
                           + (" (or CARD_PAYMENTS=false)" if any(m.startswith("STRIPE") for m in missing) else "")
                           + ".")
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise SettingError("Parity will not start: MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (SMTPS) exclude "
                           "each other; set one.")


def engine_options(config) -> dict:
    """Pool settings for long-running processes on PostgreSQL: a connection the server or a proxy dropped
    while idle is noticed before use (pre-ping) rather than failing a request, and none is older than the
    recycle time. SQLite keeps SQLAlchemy's defaults."""
    if not str(config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("postgresql"):
        return {}
    return {"pool_pre_ping": True, "pool_size": config["DB_POOL_SIZE"],
            "max_overflow": config["DB_POOL_MAX_OVERFLOW"], "pool_recycle": config["DB_POOL_RECYCLE_SECONDS"],
            "connect_args": {"connect_timeout": config["DB_CONNECT_TIMEOUT"]}}


def config_for_environment() -> Config:
    name = os.environ.get("PARITY_ENV", "production")
    return {"development": DevConfig, "test": TestConfig}.get(name, Config)()
