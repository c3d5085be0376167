"""Outgoing mail: sending now, queueing for a worker, and the one-click stop of billing email."""
from portal.mail.outbox import build, queue, send

__all__ = ["build", "queue", "send"]
