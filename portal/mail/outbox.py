"""Outgoing mail: SMTP when configured; otherwise messages are written to an outbox folder."""
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from celery import current_app as celery_app
from flask import current_app

from portal.models import utcnow
from portal.transaction import after_commit

# (file name, MIME type such as "application/pdf", content)
Attachment = tuple[str, str, bytes]


def build(to: list[str], subject: str, body: str, headers: dict[str, str] | None = None,
          attachments: list[Attachment] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    # Large providers refuse or junk mail without these two; the id's domain is the sender's.
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_sender_domain(current_app.config["MAIL_FROM"]))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, mime_type, content in attachments or ():
        maintype, subtype = mime_type.split("/", 1)
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send(to: list[str], subject: str, body: str, headers: dict[str, str] | None = None,
         attachments: list[Attachment] | None = None) -> None:
    """Send now (callers that must not wait use `queue`; a message with attachments is sent now)."""
    if not to:
        return
    config = current_app.config
    message = build(to, subject, body, headers, attachments)
    if config.get("MAIL_SERVER"):
        with _connect(config) as smtp:
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    (outbox / name).write_bytes(bytes(message))


def _connect(config) -> smtplib.SMTP:
    """SMTPS (TLS from the start, port 465), STARTTLS on a plain port (587), or plain SMTP (a local relay).
    TLS checks the server's certificate and name."""
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    if config.get("MAIL_USE_SSL"):
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if config.get("MAIL_USE_TLS"):
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def _sender_domain(address: str) -> str:
    return address.rpartition("@")[2].strip("> ") or "parity.invalid"


SEND_TASK = "portal.tasks.send_mail"


def queue(to: list[str], subject: str, body: str, headers: dict[str, str] | None = None) -> None:
    """Send from a worker (inline when there is no broker) once the work that wrote the mail is committed: a
    statement run, payment or request rolled back sends nothing, and a task retried after a rollback does not
    mail twice. The task is looked up by name, so domain code never imports the tasks module."""
    after_commit(lambda: _hand_over(to, subject, body, headers))


def _hand_over(to, subject, body, headers) -> None:
    try:
        celery_app.tasks[SEND_TASK].delay(to, subject, body, headers)
    except Exception:  # after the commit the work stands: the mail's loss is logged for the on-call person
        current_app.logger.exception("a mail to %d recipient(s) could not be queued", len(to))
