"""Outgoing mail: SMTP when configured; otherwise messages are written to an outbox folder."""
import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

from celery import current_app as celery_app
from flask import current_app

from portal.models import utcnow

# (file name, MIME type such as "application/pdf", content)
Attachment = tuple[str, str, bytes]


def build(to: list[str], subject: str, body: str, headers: dict[str, str] | None = None,
          attachments: list[Attachment] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = ", ".join(to)
    message["Subject"] = subject
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
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    (outbox / name).write_bytes(bytes(message))


SEND_TASK = "portal.tasks.send_mail"


def queue(to: list[str], subject: str, body: str, headers: dict[str, str] | None = None) -> None:
    """Send from a worker (inline when there is no broker). The task is looked up by name, so domain code
    never imports the tasks module."""
    celery_app.tasks[SEND_TASK].delay(to, subject, body, headers)
