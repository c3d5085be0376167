"""English and Spanish for patients, guarantors and prospects (Flask-Babel; catalogs in portal/translations).

The language of a page: a signed-in guarantor's preferred language (the switch on every page changes it); before
signing in, the language last chosen with the switch (a cookie), else the browser's Accept-Language. Staff pages
are in English. Mail and PDFs go out in the account's preferred language (`for_account`).
"""
from contextlib import contextmanager

from flask import Flask, has_request_context, request
from flask_babel import Babel, force_locale, get_locale
from flask_login import current_user

LANGUAGES = {"en": "English", "es": "Español"}
COOKIE = "lang"
babel = Babel()


def signed_in_accounts():
    """The accounts the signed-in patient login reaches (a select), or None for staff and guests."""
    from sqlalchemy import select

    from portal.models import Account, AccountAccess

    if not (current_user and current_user.is_authenticated and not current_user.is_staff):
        return None
    return select(Account).join(AccountAccess, AccountAccess.account_id == Account.id).where(
        AccountAccess.user_id == current_user.id).order_by(Account.id)


def _signed_in_preference() -> str | None:
    from portal.extensions import db

    accounts = signed_in_accounts()
    if accounts is None:
        return None
    account = db.session.scalars(accounts.limit(1)).first()
    return account.preferred_language if account is not None and account.preferred_language in LANGUAGES else None


def select_locale() -> str:
    if not has_request_context():  # a task or command: English unless it renders `for_account`
        return "en"
    if request.blueprint and request.blueprint.startswith("staff"):
        return "en"
    preferred = _signed_in_preference()
    if preferred:
        return preferred
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def current() -> str:
    """The language of what is being rendered now ("en" outside a request)."""
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else "en"


def N_(text: str) -> str:
    """Mark a word that is stored in English (a statement snapshot's reason, a line's description) for the
    catalog; pages and PDFs translate it when they show it (the `tr` filter)."""
    return text


def stored_word(text: str | None) -> str | None:
    """A stored English word in the page's language; a word the catalog does not know stays as it is."""
    from flask_babel import gettext

    return gettext(text) if text else text


@contextmanager
def for_account(account):
    """Render mail or a PDF in the account's preferred language, whatever the page's language is."""
    language = account.preferred_language if account.preferred_language in LANGUAGES else "en"
    with force_locale(language):
        yield language


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations",
                   default_domain="messages")
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's msgid ignores line breaks
    app.jinja_env.globals["languages"] = LANGUAGES
    app.add_template_filter(stored_word, "tr")
    app.jinja_env.globals["current_language"] = current
