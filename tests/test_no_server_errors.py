"""No input makes a server error: every route of the URL map, for everyone who may reach it (nobody, a
patient, each staff role), answers hostile values (NUL bytes, `9e999999`, 400-digit numbers, ids past 2**31
and 2**63, JSON that is not an object, an empty body) with a 4xx, never a 500.

The walk runs on its own app whose config turns CSRF off, so the views themselves see the values (with CSRF
on, every POST would stop at the token check); `test_real_form_posts_with_a_token` posts a few forms the
ordinary way.
"""
import re
from pathlib import Path

import pyotp
import pytest
from flask import got_request_exception
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms.fields.core import UnboundField

from portal import create_app
from portal.extensions import db
from portal.models import Account
from portal.permissions import DEFAULT_ROLES
from tests.conftest import PASSWORD, IsolatedClient, make_config, post_form
from tests.fixtures import factories
from tests.staff.test_access_matrix import world  # noqa: F401  (the fixture: one of every record)

ROOT = Path(__file__).resolve().parent.parent
BIG = str(10 ** 399)
HOSTILE = {"nul": "a\x00b", "overflow": "9e999999", "digits": BIG, "int64": str(2 ** 63)}  # 2**31: ids, mixed
SKIP = ("logout", "sign_out", "static")  # signing out would end the walk for that role


def query_names() -> list[str]:
    """Every query-string name a view reads, and every form field name (filters are forms read from the URL)."""
    names = set()
    for path in [*ROOT.joinpath("portal").rglob("*.py"), *ROOT.joinpath("staff").rglob("*.py")]:
        names.update(re.findall(r"request\.(?:args|form)(?:\.get|\.getlist)?\(\s*f?\"([a-z_]+)", path.read_text()))
    return sorted(names | form_field_names())


def form_field_names() -> set[str]:
    names, todo = set(), [FlaskForm]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        names.update(n for n in dir(cls) if isinstance(getattr(cls, n, None), UnboundField))
    return names


@pytest.fixture
def walk_app(database_url, app):
    # CSRF off in this app only, so the views see the hostile values; a server error comes back as a 500
    # (not raised in the test) and its exception is kept for the failure message.
    config = make_config(database_url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False, PROPAGATE_EXCEPTIONS=False)
    walker = create_app(config)
    walker.test_client_class = IsolatedClient
    walker.errors = []
    got_request_exception.connect(lambda sender, exception, **_: walker.errors.append(repr(exception)[:300]),
                                  walker, weak=False)
    return walker


def path_for(rule, ids: dict, override: str | None = None) -> str:
    url = rule.rule
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__
        value = override if override is not None else str(ids.get(name, 1))
        if converter not in ("IntegerConverter", "IdConverter"):
            value = "x" if override is None else override
        url = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?" + name + ">", value, url)
    return url


VISITORS = [None, "patient", *sorted(DEFAULT_ROLES)]


def reachable(app, rule, role) -> bool:
    """Staff routes for a staff role granted their permission; patient pages for a patient; public pages and
    sign-in for everyone."""
    blueprint = rule.endpoint.split(".")[0]
    if blueprint.startswith("staff_") and blueprint != "staff_auth":
        permission = getattr(app.view_functions[rule.endpoint], "required_permission", None)
        return role in DEFAULT_ROLES and permission in DEFAULT_ROLES[role][1]
    if blueprint == "patient":
        return role == "patient"
    return True


def plan(app) -> dict:
    """(endpoint, method) -> the one visitor who sends it every hostile value; the others who may reach it
    send one mixed request. Routes are shared out evenly, so the roles' tests take about as long."""
    load = dict.fromkeys(VISITORS, 0)
    owner = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if any(word in rule.endpoint for word in SKIP):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            who = [v for v in VISITORS if reachable(app, rule, v)]
            chosen = min(who, key=lambda v: load[v])
            load[chosen] += 1
            owner[(rule.endpoint, method)] = (rule, chosen)
    return owner


def sign_in(client, role: str | None, make_staff, ids):
    if role is None:
        return
    if role == "patient":
        user = factories.patient_login(db.session.get(Account, ids["account_id"]), PASSWORD)
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 302
        return
    user = make_staff(role)
    response = client.post("/staff/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    response = client.post("/staff/login/totp", data={"code": pyotp.TOTP(user.totp_secret).now()})
    assert response.status_code == 302


def walk(client, app, role, ids, names) -> list[str]:
    failures = []
    kinds = [*HOSTILE.values(), str(2 ** 31)]
    mixed = {name: kinds[i % len(kinds)] for i, name in enumerate(names)}

    def check(response, what):
        if response.status_code >= 500:
            cause = app.errors[-1] if app.errors else ""
            failures.append(f"{role or 'anonymous'} {what} -> {response.status_code} {cause}")

    for (_endpoint, method), (rule, owner) in plan(app).items():
        if not reachable(app, rule, role):
            continue
        url = path_for(rule, ids)
        if owner != role:  # someone else sends everything: one request with every kind of value
            if method == "GET":
                check(client.get(url, query_string=mixed), f"GET {rule.rule} ?mixed")
            else:
                check(client.post(url, data=mixed), f"POST {rule.rule} form mixed")
            continue
        for kind, value in HOSTILE.items():
            query = dict.fromkeys(names, value)
            if method == "GET":
                check(client.get(url, query_string=query), f"GET {rule.rule} ?{kind}")
            else:
                check(client.post(url, data=query), f"POST {rule.rule} form {kind}")
        if rule.arguments:
            for big in (str(2 ** 31), str(2 ** 63)):
                check(client.open(path_for(rule, ids, big), method=method), f"{method} {rule.rule} id {big}")
        if method == "POST":
            check(client.post(url, json=[1, 2]), f"POST {rule.rule} json list")
            check(client.post(url, json="text"), f"POST {rule.rule} json string")
            check(client.post(url, json={"amount": "9e999999", "payment_method_id": "pm\x00",
                                         "attempt_id": 2 ** 63, "saved_card_id": BIG}), f"POST {rule.rule} json")
            check(client.post(url, data=b"", content_type="application/x-www-form-urlencoded"),
                  f"POST {rule.rule} empty")
    return failures


@pytest.mark.parametrize("role", VISITORS)
def test_no_route_answers_500_to_hostile_input(walk_app, role, make_staff, world):  # noqa: F811
    client = walk_app.test_client()
    sign_in(client, role, make_staff, world)
    failures = walk(client, walk_app, role, world, query_names())
    assert not failures, "\n".join(failures)


def test_real_form_posts_with_a_token(app, client, login_as):
    for url, data, page in (("/login", {"email": "a\x00@example.org", "password": "x\x00"}, None),
                            ("/login/forgot", {"email": "a\x00b@example.org"}, None),
                            ("/pay", {"code": "AB\x00CD", "date_of_birth": "1990-01-01", "zip_code": "0\x0070"}, None),
                            ("/estimate/callback", {"name": "A\x00", "phone": "555\x00", "consent": "y"}, "/estimate"),
                            ("/staff/login", {"email": "a\x00@example.org", "password": "x"}, None)):
        response = post_form(client, url, data, page=page)
        assert response.status_code == 400, url
        assert "not allowed" in response.get_data(as_text=True), url


def test_a_lost_race_on_a_unique_key_is_a_409_with_a_message(app, client, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from portal import estimates

    def lose_the_race(**_kwargs):
        raise IntegrityError("INSERT INTO leads ...", {}, Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr(estimates, "create_lead", lose_the_race)
    response = post_form(client, "/estimate/callback", {"name": "Alex", "phone": "555-0100", "consent": "y"},
                         page="/estimate")
    assert response.status_code == 409
    assert "Someone else saved the same thing at the same moment" in response.get_data(as_text=True)


def test_a_commit_that_loses_a_race_is_a_409_and_saves_nothing(app, client, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from portal.models import Lead

    real_commit = db.session.commit
    calls = {"n": 0}

    def commit():
        calls["n"] += 1
        if calls["n"] == 2:  # the request's commit (the first is the test client's own)
            raise IntegrityError("INSERT INTO leads ...", {}, Exception("duplicate key"))
        return real_commit()

    token_page = client.get("/estimate")
    monkeypatch.setattr(db.session, "commit", commit, raising=False)
    from tests.conftest import csrf_from

    response = client.post("/estimate/callback", data={"csrf_token": csrf_from(token_page.get_data(as_text=True)),
                                                       "name": "Alex", "phone": "555-0100", "consent": "y"})
    monkeypatch.undo()
    assert response.status_code == 409
    assert "Reload the page" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Lead.id))) == 0
