"""Probes for a load balancer or orchestrator, outside any login.

/healthz: the process answers (no database: a database outage must not restart every web server).
/readyz: this server can serve: the database answers, Redis answers when configured, and the schema is the one
the code expects (migrations at head) — a server started before the release step is kept out of rotation.
Neither says more than "ok" or the failing part's name and error type.
"""
from functools import cache
from pathlib import Path

import redis
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.config import ROOT
from portal.extensions import db

bp = Blueprint("health", __name__)
REDIS_TIMEOUT_SECONDS = 2


@cache
def _migration_heads(folder: Path) -> frozenset[str]:
    return frozenset(ScriptDirectory(str(folder)).get_heads())


def _database() -> str | None:
    try:
        with db.engine.connect() as connection:
            applied = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception as exc:  # the probe reports any failure instead of raising it
        return f"unreachable ({type(exc).__name__})"
    if applied != _migration_heads(ROOT / "migrations"):
        return "schema is not at the migrations' head (run the release step: flask db upgrade)"
    return None


def _redis() -> str | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    try:
        client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS)
        client.ping()
        client.close()
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return None


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": _database(), "redis": _redis()}
    failed = {name: problem for name, problem in checks.items() if problem}
    body = {"status": "unavailable" if failed else "ok", "checks": {n: failed.get(n, "ok") for n in checks}}
    return jsonify(body), 503 if failed else 200
