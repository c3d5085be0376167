"""English and Spanish: the page's language, the switch that sticks, and a catalog that misses nothing."""
import os
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories

ROOT = Path(__file__).resolve().parents[2]
SPANISH = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


def spanish(text: str) -> str:
    with force_locale("es"):
        translated = gettext(text)
    assert translated != text, f"{text!r} has no Spanish"
    return translated


def test_the_page_speaks_the_browser_language_until_the_switch_is_used(app, client):
    factories.facility()
    db.session.commit()
    page = client.get("/login", headers=SPANISH).get_data(as_text=True)
    assert '<html lang="es">' in page and spanish("Skip to content") in page
    assert 'value="en" lang="en" class="link-button">English</button>' in page  # the switch offers the other one
    english = client.get("/login", headers=ENGLISH).get_data(as_text=True)
    assert '<html lang="en">' in english and "Skip to content" in english
    assert 'lang="es" class="link-button">Español' in english

    switched = post_form(client, "/language?next=/login", {"lang": "en"}, page="/login",
                         headers=SPANISH)
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    assert "lang=en" in switched.headers["Set-Cookie"] and "HttpOnly" in switched.headers["Set-Cookie"]
    # The choice sticks over the browser's language, page after page.
    assert '<html lang="en">' in client.get("/pay", headers=SPANISH).get_data(as_text=True)


def test_the_switch_refuses_what_it_does_not_know_and_stays_on_this_site(app, client):
    factories.facility()
    db.session.commit()
    assert post_form(client, "/language", {"lang": "fr"}, page="/login").status_code == 400
    away = post_form(client, "/language?next=//evil.example/x", {"lang": "es"}, page="/login")
    assert away.status_code == 302 and away.headers["Location"] == "/"
    assert client.post("/language", data={"lang": "es"}).status_code == 400  # no form token


def test_a_signed_in_guarantor_reads_in_their_language_and_the_switch_changes_it(app, client, make_staff):
    factories.facility()
    account = factories.account()
    account.preferred_language = "es"
    user = factories.patient_login(account, PASSWORD)
    db.session.commit()
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    home = client.get("/", headers=ENGLISH).get_data(as_text=True)
    assert '<html lang="es">' in home and spanish("My accounts") in home

    post_form(client, "/language?next=/", {"lang": "en"}, page="/")
    db.session.refresh(account)
    assert account.preferred_language == "en"  # statements and mail follow it too
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.language_changed"))
    assert event.account_id == account.id and event.detail == {"from": "es", "to": "en"}
    assert '<html lang="en">' in client.get("/", headers=SPANISH).get_data(as_text=True)


def test_staff_pages_stay_in_english(app, client):
    factories.facility()
    db.session.commit()
    page = client.get("/staff/login", headers=SPANISH).get_data(as_text=True)
    assert '<html lang="en">' in page and "Español</button>" not in page


def _messages_in_use() -> dict[str, str]:
    """Every message the patient and public code marks, with where it is, as `make translations` extracts it."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
    found: dict[str, str] = {}
    for folder, method, options in (("portal", "python", {}), ("templates", "jinja2", {"trimmed": "true"})):
        pattern = "**.py" if method == "python" else "**.html"
        for filename, lineno, message, _comments, _context in extract_from_dir(
                os.fspath(ROOT / folder), [(pattern, method)], {pattern: options}, keywords=keywords):
            for text in message if isinstance(message, tuple) else (message,):
                if text:
                    found.setdefault(text, f"{folder}/{filename}:{lineno}")
    return found


def test_the_spanish_catalog_has_every_string_the_pages_use():
    with open(ROOT / "portal/translations/es/LC_MESSAGES/messages.po", "rb") as file:
        catalog = read_po(file, locale="es")
    translated = set()
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and all(strings) and not message.fuzzy:
            translated.update(ids)
    in_use = _messages_in_use()
    assert len(in_use) > 300  # the patient and public pages, mail and PDFs are marked
    missing = sorted(f"{where}: {text!r}" for text, where in in_use.items() if text not in translated)
    assert not missing, "Spanish is missing for:\n" + "\n".join(missing)


def test_mail_and_pdfs_go_out_in_the_guarantors_language(app, client, smtp_server):
    import subprocess
    from datetime import date

    from portal import statements

    factories.facility()
    spanish_account, english_account = factories.account(), factories.account()
    spanish_account.preferred_language = "es"
    for account in (spanish_account, english_account):
        account.email = f"g{account.id}@example.org"
        factories.charge(account, 34500)
    issued = {}
    for account in (spanish_account, english_account):
        statement, _ = statements.issue(account, date(2026, 11, 10), actor="task:statements")
        statements.send_notice(statement)  # a nightly job: no request, no browser to take a language from
        issued[account.id] = statement
    db.session.commit()
    subjects = {m["To"]: m["Subject"] for m in smtp_server.messages}
    with force_locale("es"):
        expected = gettext("Your statement from %(name)s", name="Test Health")
    assert subjects[spanish_account.email] == expected != "Your statement from Test Health"
    assert subjects[english_account.email] == "Your statement from Test Health"
    body = next(m.get_payload() for m in smtp_server.messages if m["To"] == spanish_account.email)
    assert "$345.00" in body and "5 dic 2026" in body and "/pay?code=" in body

    pdf = statements.pdf(issued[spanish_account.id])
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert spanish("STATEMENT") in text and spanish("Account balance") in text and "10 nov 2026" in text
