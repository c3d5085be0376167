"""Outgoing mail: sending now (`send`), queueing for a worker by task name (`queue`), and the one-click stop of
billing email (`email_stop`).
May import: models, transaction (mail waits for the commit). Never tasks (tasks are looked up by name).
"""
from portal.mail.outbox import SEND_TASK, Attachment, build, queue, send

__all__ = [
    "SEND_TASK",
    "Attachment",
    "build",
    "queue",
    "send",
]
