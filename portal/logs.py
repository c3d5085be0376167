"""Logs: in production one JSON object a line on standard error, for a log collector.

Each request is logged once when it ends: its id (X-Request-ID from the proxy, or a new one, returned in the
response), the route's pattern (`/accounts/<int:account_id>`, never the path or the query string, which can
carry a statement code or an account number), the status, the duration and the signed-in user's id. Nothing
about patients is ever put in these fields. Celery task logs carry the task's id and name.
"""
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone

from celery import signals
from flask import Flask, g, request

task_context: ContextVar[dict | None] = ContextVar("task_context", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's request id is kept only if it looks like one (no log injection through the header).
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
request_log = logging.getLogger("parity.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        line.update(getattr(record, "task_fields", None) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def _with_task(make_record):
    """Records remember the task they were made in (a handler may format them later, elsewhere)."""
    def make(*args, **kwargs):
        record = make_record(*args, **kwargs)
        record.task_fields = task_context.get()
        return record

    make.parity_task_fields = True
    return make


def init_app(app: Flask) -> None:
    if not getattr(logging.getLogRecordFactory(), "parity_task_fields", False):
        logging.setLogRecordFactory(_with_task(logging.getLogRecordFactory()))
    if app.config.get("LOG_FORMAT") == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    started = g.get("request_started")
    user = g.get("_login_user")  # only if the request loaded it: logging never adds a query
    request_log.info("%s %s %s", request.method, request.url_rule.rule if request.url_rule else "-",
                     response.status_code, extra={"fields": {
                         "request_id": g.get("request_id"), "method": request.method,
                         "route": request.url_rule.rule if request.url_rule else None,
                         "endpoint": request.endpoint, "status": response.status_code,
                         "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                         "user_id": user.get_id() if user is not None and user.is_authenticated else None}})
    return response


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **_):
    task_context.set({"task_id": task_id, "task": getattr(task, "name", None)})


@signals.task_postrun.connect
def _task_ended(**_):
    task_context.set(None)
