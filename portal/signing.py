"""Signed cookies and CSRF tokens, in the formats Flask and Flask-WTF use, signed with less work.

Every page opens the signed session cookie and most sign a CSRF token. The stock signers re-derive
the signing key and run HMAC through Python's fallback path (their sha1 is a Python wrapper) on each
call. The signers here keep derived keys and hand hashlib's sha1 to HMAC, which runs it in OpenSSL.
The bytes produced are the same, so cookies and tokens stay valid across the change and Flask-WTF's
validator checks our tokens unchanged.
"""
import hashlib
import os
import threading
import time

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from portal.extensions import csrf


class KeyCachingSigner(TimestampSigner):
    """A timestamp signer that derives each (secret, salt) key once per process."""

    _derived: dict[tuple, bytes] = {}
    _lock = threading.Lock()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        cache_key = (secret_key if secret_key is not None else self.secret_keys[-1], self.salt,
                     self.key_derivation, self.digest_method)
        derived = self._derived.get(cache_key)
        if derived is None:
            derived = super().derive_key(secret_key)
            with self._lock:
                if len(self._derived) > 256:  # only a handful of secrets exist; stay bounded anyway
                    self._derived.clear()
                self._derived[cache_key] = derived
        return derived


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with its serializer built once per set of secret keys."""

    digest_method = staticmethod(hashlib.sha1)

    def __init__(self):
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)  # the current key last
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = URLSafeTimedSerializer(
                list(keys), salt=self.salt, serializer=self.serializer, signer=KeyCachingSigner,
                signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method})
            self._serializers = {keys: serializer}  # a new secret replaces the old serializer
        return serializer


_CSRF_SALT = "wtf-csrf-token"  # Flask-WTF's salt, so its validator accepts these tokens
# A signed token is valid for WTF_CSRF_TIME_LIMIT (an hour) from its signing. Signing one per page for
# the sign-out form cost more than the rest of the form; a session's token signed in the last minute is
# handed out again instead, so a page's token is at most that much older than a fresh one.
CSRF_REUSE_SECONDS = 60
_signed_tokens: dict[tuple, tuple[str, float]] = {}  # (secret, raw token) -> (signed token, signed at)
clock = time.monotonic


def csrf_token() -> str:
    """The page's signed CSRF token, as Flask-WTF's generate_csrf makes it (kept in g the same way)."""
    config = current_app.config
    field = config["WTF_CSRF_FIELD_NAME"]
    if field not in g:
        raw = session.get(field)
        if not isinstance(raw, str):
            raw = session[field] = hashlib.sha1(os.urandom(64)).hexdigest()
        secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
        now = clock()
        signed = _signed_tokens.get((secret, raw))
        if signed is None or now - signed[1] > CSRF_REUSE_SECONDS:
            signed = (_csrf_serializer(secret).dumps(raw), now)
            if len(_signed_tokens) > 50_000:  # one entry per active session; refilled on demand
                _signed_tokens.clear()
            _signed_tokens[(secret, raw)] = signed
        setattr(g, field, signed[0])
    return g.get(field)


_csrf_serializers: dict[str | bytes, URLSafeTimedSerializer] = {}


def _csrf_serializer(secret: str | bytes) -> URLSafeTimedSerializer:
    serializer = _csrf_serializers.get(secret)
    if serializer is None:
        serializer = URLSafeTimedSerializer(secret, salt=_CSRF_SALT, signer=KeyCachingSigner,
                                            signer_kwargs={"digest_method": hashlib.sha1})
        _csrf_serializers.clear()  # one secret at a time
        _csrf_serializers[secret] = serializer
    return serializer


def check_csrf() -> None:
    """Every state-changing request carries a valid token (views marked csrf.exempt excepted).

    Flask-WTF's own hook looks up the view's exemption before the method; checking the method first
    keeps page views free of it."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    """Use these for the session cookie, csrf_token() in templates and the CSRF check (after
    CSRFProtect.init_app)."""
    app.session_interface = SessionCookies()
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(check_csrf)
