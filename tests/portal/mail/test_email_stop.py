"""Stopping billing email from the link every billing email carries, or from the mail client's button."""
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from portal import statements
from portal.extensions import db
from portal.mail import email_stop
from portal.models import Account, AuditEvent
from tests.conftest import post_form
from tests.fixtures import factories

AS_OF = date(2026, 11, 10)


def account_due(amount: int = 12345) -> Account:
    account = factories.account()
    account.statement_day, account.email = AS_OF.day, "guarantor@example.org"
    db.session.commit()
    factories.charge(account, amount, day=date(2026, 10, 1))
    return account


def stop_path(mail) -> str:
    header = re.fullmatch(r"<(.+)>", mail["List-Unsubscribe"].strip()).group(1)  # long headers are folded
    assert header in mail.get_payload(decode=True).decode()  # the same link is in the text for every reader
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return urlsplit(header).path


def test_the_statement_emails_link_stops_the_next_notice_and_opening_it_alone_changes_nothing(app, client,
                                                                                              smtp_server):
    account = account_due()
    statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    [mail] = smtp_server.messages
    path = stop_path(mail)

    page = client.get(path)  # what a mail scanner fetching the link does
    assert page.status_code == 200 and "Stop billing emails" in page.get_data(as_text=True)
    assert not email_stop.has_stopped(account)

    done = post_form(client, path, {})
    assert done.status_code == 200 and "will not get statement" in done.get_data(as_text=True)
    assert email_stop.has_stopped(account)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "collections.contact_preferences"))
    assert event.actor == "guarantor:email-link" and event.account_id == account.id

    factories.charge(account, 5000, day=date(2026, 11, 1))
    next_run = statements.run(AS_OF + timedelta(days=30), actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    assert [i["account"] for i in next_run.issued] == [account.number]  # still issued (and mailed by post)
    assert len(smtp_server.messages) == 1  # but no second email


def test_a_mail_clients_one_click_needs_no_cookie_or_form_token_but_the_page_form_does(app, smtp_server):
    first, second = account_due(), account_due(20000)
    statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    by_account = {first.id if "$123.45" in m.get_payload() else second.id: m for m in smtp_server.messages}

    no_token = app.test_client().post(stop_path(by_account[second.id]), data={})
    assert no_token.status_code == 400 and not email_stop.has_stopped(second)

    one_click = app.test_client().post(stop_path(by_account[first.id]), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 204 and email_stop.has_stopped(first)
    assert not email_stop.has_stopped(second)


def test_an_altered_link_finds_nothing_and_stops_nothing(app, client, smtp_server):
    account = account_due()
    statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    path = stop_path(smtp_server.messages[0])
    other = factories.account()
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(forged).status_code == 404
    assert client.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert not email_stop.has_stopped(account) and not email_stop.has_stopped(other)


def test_a_link_mailed_before_a_key_change_still_works_while_the_old_key_is_a_fallback(app, client, smtp_server):
    account = account_due()
    statements.run(AS_OF, actor="test")
    db.session.commit()  # the task's commit: mail goes out after it
    path = stop_path(smtp_server.messages[0])
    old_key = app.secret_key
    app.config.update(SECRET_KEY="a-new-secret-key", SECRET_KEY_FALLBACKS=[old_key])
    try:
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    finally:
        app.config.update(SECRET_KEY=old_key, SECRET_KEY_FALLBACKS=[])
    assert email_stop.has_stopped(account)
