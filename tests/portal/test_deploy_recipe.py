"""The deployment recipe as shipped: gunicorn from gunicorn.conf.py behind nginx configured from deploy/nginx.conf,
on this test's database. What an operator relies on: TLS at the proxy, the client's address (not the proxy's)
in the audit trail whatever the client claims, one request id in the proxy's log, the response and the app's
JSON log, no pay code in the access log, static files served by the proxy."""
import json
import os
import re

import pytest
import requests
import urllib3
from sqlalchemy import select

from bench.proxy import free_port, nginx_binary, start_gunicorn, start_nginx, stop
from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import CI

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the proxy's certificate is self-signed


@pytest.fixture(scope="module")
def recipe(app, tmp_path_factory):
    if nginx_binary() is None:
        if CI:  # a missing component fails in CI, never skips
            pytest.fail("nginx is not installed (make system-deps installs it)", pytrace=False)
        pytest.skip("nginx is not installed")
    folder = tmp_path_factory.mktemp("recipe")
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
           "PARITY_ENV": "development", "PARITY_INSTANCE": str(folder / "instance"),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "recipe-test-key",
           "TRUSTED_PROXIES": "1", "LOG_FORMAT": "json", "DOCUMENT_STORE": str(folder / "documents"),
           "MAIL_OUTBOX": str(folder / "outbox")}
    port = free_port()
    web = start_gunicorn(env, port, folder / "gunicorn.log")
    try:
        proxy, https_port = start_nginx(folder / "nginx", [port])
    except RuntimeError:
        stop(web)
        raise
    yield {"base": f"https://127.0.0.1:{https_port}", "folder": folder}
    stop(proxy)
    stop(web)


def app_log_lines(folder) -> list[dict]:
    lines = (folder / "gunicorn.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_the_probes_answer_through_the_proxy_with_one_request_id_everywhere(recipe):
    response = requests.get(recipe["base"] + "/readyz", verify=False, timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "ok"
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id, kept by the app
    assert request_id in (recipe["folder"] / "nginx" / "access.log").read_text()
    [line] = [entry for entry in app_log_lines(recipe["folder"]) if entry.get("request_id") == request_id]
    assert line["route"] == "/readyz" and line["status"] == 200 and line["duration_ms"] >= 0


def test_the_audit_trail_has_the_clients_address_not_a_forged_one(recipe, make_staff):
    user = make_staff("collector", totp=False)
    db.session.commit()
    browser = requests.Session()
    page = browser.get(recipe["base"] + "/staff/login", verify=False, timeout=10)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    # Over HTTPS Flask-WTF checks the Referer against the host: the app sees the scheme the proxy was reached by.
    answer = browser.post(recipe["base"] + "/staff/login", verify=False, timeout=10,
                          data={"csrf_token": token, "email": user.email, "password": "wrong"},
                          headers={"X-Forwarded-For": "203.0.113.66", "Referer": recipe["base"] + "/staff/login"})
    assert answer.status_code == 401
    db.session.rollback()
    audited = db.session.scalar(select(AuditEvent.ip_address).where(AuditEvent.action == "login.failed"))
    assert audited == "127.0.0.1"  # where the proxy saw the client: the forged header was replaced


def test_a_pay_links_code_stays_out_of_the_proxys_log(recipe):
    requests.get(recipe["base"] + "/pay?code=SECRETPAYCODE", verify=False, timeout=10)
    log = (recipe["folder"] / "nginx" / "access.log").read_text()
    assert '"GET /pay"' in log and "SECRETPAYCODE" not in log
    assert not any("SECRETPAYCODE" in json.dumps(line) for line in app_log_lines(recipe["folder"]))


def test_static_files_come_from_the_proxy_and_may_be_cached_while_pages_may_not(recipe):
    style = requests.get(recipe["base"] + "/static/css/parity.css", verify=False, timeout=10)
    page = requests.get(recipe["base"] + "/login", verify=False, timeout=10)
    assert style.status_code == 200 and "max-age=3600" in style.headers["Cache-Control"]
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
