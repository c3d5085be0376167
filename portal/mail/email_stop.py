"""Stopping billing email in one click: every billing email carries a signed link, and mail clients that
offer "unsubscribe" (RFC 8058 List-Unsubscribe headers) use the same link.

The opt-out stops the unasked-for billing mail: statement notices and plan payment reminders. Mail the
payer set in motion (receipts, a plan's set-up link, a plan payment that failed or a plan that ended)
still goes. Statements keep coming by post either way.
"""
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from portal import collections
from portal.extensions import db
from portal.models import Account

_SALT = "billing-email-stop"


def _serializer() -> URLSafeSerializer:
    # Links in mail already sent keep working after a key change while the old key is a fallback.
    keys = [*(current_app.config["SECRET_KEY_FALLBACKS"] or ()), current_app.secret_key]
    return URLSafeSerializer(keys, salt=_SALT)


def link(account: Account) -> str:
    """The account's stop link: signed, so it cannot be altered to reach another account, and nothing
    about care in it."""
    return f"{current_app.config['BASE_URL']}/email/stop/{_serializer().dumps(account.id)}"


def headers(account: Account) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{link(account)}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def footer(account: Account) -> str:
    return _("To stop these emails (your statements will still come by mail), open:\n%(link)s", link=link(account))


def account_for(token: str) -> Account | None:
    try:
        account_id = _serializer().loads(token)
    except BadSignature:
        return None
    return db.session.get(Account, account_id) if isinstance(account_id, int) else None


def has_stopped(account: Account) -> bool:
    return collections.contact_preferences(account).email_opt_out_at is not None


def stop(account: Account, *, actor: str, ip: str | None = None, user_agent: str | None = None) -> None:
    """Record the opt-out (audited; asking twice changes nothing)."""
    consent = collections.contact_preferences(account).text_consent_at is not None
    collections.set_contact_preferences(account, email_opt_out=True, text_consent=consent, actor=actor,
                                        ip=ip, user_agent=user_agent)
    db.session.flush()
