"""Configuration read from the environment, with safe defaults.

Nothing secret is committed: SECRET_KEY comes from the environment or is generated
once into instance/secret_key.
"""
import os
import secrets
from pathlib import Path

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
    STAFF_IDLE_MINUTES = int(os.environ.get("STAFF_IDLE_MINUTES", "15"))
    # A staff session ends this long after sign-in however busy; a patient session after this much idle time.
    STAFF_SESSION_HOURS = int(os.environ.get("STAFF_SESSION_HOURS", "12"))
    PATIENT_IDLE_MINUTES = int(os.environ.get("PATIENT_IDLE_MINUTES", "30"))
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))
    LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per minute")
    # A patient's emailed password reset link: how long it works, and how often one address may ask.
    PASSWORD_RESET_MINUTES = int(os.environ.get("PASSWORD_RESET_MINUTES", "60"))
    PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per 15 minutes")
    # Pay by link (also /register and /accounts/add): tries per address; tries per statement code, shared by
    # the three pages; and wrong details with one code, from any address, before the code locks for a while.
    PAY_LINK_IP_LIMIT = os.environ.get("PAY_LINK_IP_LIMIT", "10 per 15 minutes")
    PAY_LINK_CODE_LIMIT = os.environ.get("PAY_LINK_CODE_LIMIT", "5 per hour")
    PAY_LINK_CODE_MAX_MISSES = int(os.environ.get("PAY_LINK_CODE_MAX_MISSES", "10"))
    PAY_LINK_CODE_LOCK_MINUTES = int(os.environ.get("PAY_LINK_CODE_LOCK_MINUTES", "60"))
    # The public estimate page and its call-back form, per client address.
    ESTIMATE_PUBLIC_LIMIT = os.environ.get("ESTIMATE_PUBLIC_LIMIT", "20 per hour")
    # Roles whose users must use TOTP two-factor authentication.
    TOTP_REQUIRED_ROLES = tuple(
        r.strip() for r in os.environ.get("TOTP_REQUIRED_ROLES", "admin,biller").split(",") if r.strip()
    )
    HSTS = True
    # The largest request body the app reads at all (413 above it), and the largest 835 file an upload takes.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(10 * 1024 * 1024)))
    ERA_UPLOAD_MAX_BYTES = int(os.environ.get("ERA_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
    # Mail: SMTP when MAIL_SERVER is set, otherwise each message is written to MAIL_OUTBOX.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _flag("MAIL_USE_TLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "billing@parity.invalid")
    MAIL_OUTBOX = os.environ.get("MAIL_OUTBOX", str(INSTANCE / "outbox"))
    # Stripe. STRIPE_API_BASE points the SDK at the local emulator (make run, tests); unset means Stripe itself.
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY") or None
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY") or None
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    # How long a worker holds a plan installment it is charging before another may resume it.
    PLAN_CLAIM_SECONDS = int(os.environ.get("PLAN_CLAIM_SECONDS", "120"))
    PDF_CACHE_DIR = os.environ.get("PDF_CACHE_DIR", str(INSTANCE / "pdf"))
    # Links in mail point here.
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    def __init__(self):
        # Computed lazily so importing the module never touches the disk.
        self.SECRET_KEY = _secret_key()
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"


class DevConfig(Config):
    """`make run`: plain HTTP on 127.0.0.1, so cookies cannot be Secure-only."""

    ENV_NAME = "development"
    SESSION_COOKIE_SECURE = _flag("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    HSTS = False


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    HSTS = False
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    LOGIN_RATE_LIMIT = "1000 per minute"

    def __init__(self):
        self.SECRET_KEY = "test-secret-key"
        self.REDIS_URL = None
        self.MAIL_SERVER = None
        self.RATELIMIT_STORAGE_URI = "memory://"


def check_for_production(config) -> None:
    """Production keeps rate limits (sign-in, pay by link) in Redis, shared by every process and worker: in
    memory each process would count alone. Refuse to start without it, in one readable line."""
    if config.get("ENV_NAME") == "production" and not config.get("REDIS_URL"):
        raise SystemExit("Parity will not start: set REDIS_URL (PARITY_ENV=production keeps rate limits in Redis, "
                         "shared by every process).")


def config_for_environment() -> Config:
    name = os.environ.get("PARITY_ENV", "production")
    return {"development": DevConfig, "test": TestConfig}.get(name, Config)()
