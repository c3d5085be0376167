"""Every staff route, requested by every role, by a patient and by nobody: only the permitted succeed."""
import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.permissions import DEFAULT_ROLES
from tests.conftest import PASSWORD, csrf_from, post_form
from tests.fixtures import factories
from tests.fixtures.estimates import estimate_ids
from tests.fixtures.iop import DAY

STAFF_ROLES = sorted(DEFAULT_ROLES)


def staff_routes(app):
    """(endpoint, method, rule, permission) for every staff route except sign-in itself."""
    routes = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if not blueprint.startswith("staff_") or blueprint == "staff_auth":
            continue
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "required_permission", None)
        assert permission, f"{rule.endpoint} has no permission check"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule, permission))
    return routes


def url_for_rule(rule, ids):
    url = rule.rule
    for name in rule.arguments:
        url = url.replace(f"<int:{name}>", str(ids[name]))
    assert "<" not in url, f"no sample id for {rule.rule}"
    return url


@pytest.fixture
def world(app, make_staff, program, make_plan, remittance_world):
    from datetime import timedelta

    from portal import iop
    from portal.models import IopException

    target = make_staff("clinician", totp=False)
    session = program.attend(units=1)
    iop.run(DAY + timedelta(days=2), actor="test")
    exception = db.session.scalar(select(IopException))
    from portal import ledger

    plan = make_plan()
    from portal.payments import deposits

    batch = deposits.open_batch(deposit_date=DAY, kind="cash_drawer", control_total_cents=100, control_count=1,
                                actor="test")
    payment = ledger.post_payment(program.patient.account_id, amount_cents=100, method="cash", key="matrix",
                                  actor="test", deposit_batch_id=batch.id)
    from tests.fixtures import charges

    episode = charges.episode(program.patient)
    return {"account_id": program.patient.account_id, "user_id": target.id, "session_id": session.id,
            "authorization_id": program.auth.id, "exception_id": exception.id, "payment_id": payment.id,
            "plan_id": plan.id, "installment_id": plan.installments[0].id, "batch_id": batch.id,
            "posting_id": payment.posting_id, **estimate_ids(program.patient),
            "remittance_id": remittance_world.remittance.id, "upload_id": remittance_world.upload.id,
            "era_exception_id": remittance_world.exception.id, "line_id": remittance_world.denied_line.id,
            "denial_id": remittance_world.denial.id,
            "underpayment_id": remittance_world.underpayment.id, "payer_id": remittance_world.remittance.payer_id,
            "patient_id": program.patient.id, "coverage_id": program.coverage.id,
            "episode_id": episode.id, **claim_ids(), "invoice_id": invoice_id(program.patient.account_id),
            **setup_ids(), "event_row_id": failed_stripe_event()}


def claim_ids() -> dict:
    """A held claim with a warning to override, and a payer's claim rule."""
    from portal import claims
    from tests.fixtures.claims import clinic

    found = clinic(name="Matrix Health Plan")
    found.program.rendering_provider = None  # the payer is sent one: the claim carries a warning
    db.session.commit()
    found.days(found.patient(), 1)
    claim = claims.build(claims.ChargeFilter(payer_id=found.payer.id), actor="test")[0]
    rule = claims.save_rule(found.payer, None, {"required_modifiers": "HQ"}, actor="test")
    db.session.commit()
    return {"claim_id": claim.id, "issue_id": claim.issues[0].id, "claim_rule_id": rule.id}


def invoice_id(account_id: int) -> int:
    """An open invoice for a self-pay charge of the account."""
    from portal import invoices
    from portal.models import Account

    account = db.session.get(Account, account_id)
    charge = factories.charge(account, 4000)
    [invoice] = invoices.build(account, [charge.id], grouping="one", actor="test")
    db.session.commit()
    return invoice.id


def failed_stripe_event() -> int:
    from portal.models import StripeEvent

    row = StripeEvent(event_id="evt_matrix", event_type="charge.refunded", payload={}, status="failed", error="test")
    db.session.add(row)
    db.session.commit()
    return row.id


def setup_ids() -> dict:
    """One of each facility set-up record: a location, a provider, a program and an insurance plan."""
    from portal import facility, payers

    location = facility.save_location(None, {"name": "Main campus", "place_of_service": "52"}, actor="test")
    provider = facility.save_provider(None, {"kind": "organization", "organization_name": "Matrix Health",
                                             "npi": "1234567893"}, actor="test")
    program = facility.save_program(None, {"name": "Matrix IOP", "level_of_care": "iop",
                                           "location_id": location.id, "billing_provider_id": provider.id},
                                    actor="test")
    plan = payers.save_plan(factories.payer(), None, {"name": "Matrix PPO"}, actor="test")
    db.session.commit()
    return {"location_id": location.id, "provider_id": provider.id, "program_id": program.id,
            "insurance_plan_id": plan.id}


def request_as(client, method, url, home):
    if method == "GET":
        return client.get(url)
    token = csrf_from(client.get(home).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


def test_every_staff_route_declares_a_permission(app):
    assert len(staff_routes(app)) >= 12


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_role_reaches_exactly_the_routes_its_permissions_allow(app, role, login_as, world):
    client = login_as(role)
    granted = DEFAULT_ROLES[role][1]
    for _endpoint, method, rule, permission in staff_routes(app):
        response = request_as(client, method, url_for_rule(rule, world), "/staff/")
        where = f"{role} {method} {rule.rule}"
        if permission in granted:
            assert response.status_code < 500 and response.status_code != 403, where
            if response.status_code == 302:
                assert "/login" not in response.headers["Location"], where
        else:
            assert response.status_code == 403, where


def test_patient_and_anonymous_reach_no_staff_route(app, world):
    account = factories.account()
    patient_user = factories.patient_login(account, PASSWORD)
    patient = app.test_client()
    assert post_form(patient, "/login", {"email": patient_user.email, "password": PASSWORD}).status_code == 302
    anonymous = app.test_client()
    for _endpoint, method, rule, _permission in staff_routes(app):
        url = url_for_rule(rule, world)
        assert request_as(patient, method, url, "/").status_code == 403, f"patient {method} {url}"
        response = request_as(anonymous, method, url, "/login")
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], url


def test_a_patient_sees_their_account_and_gets_404_for_anyone_elses(app, client):
    mine = factories.account()
    factories.charge(mine, 12345)
    theirs = factories.account()
    factories.charge(theirs, 99999)
    user = factories.patient_login(mine, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    home = client.get("/").get_data(as_text=True)
    assert "$123.45" in home and mine.number in home and theirs.number not in home
    assert client.get(f"/accounts/{mine.id}").status_code == 200
    other = client.get(f"/accounts/{theirs.id}")
    assert other.status_code == 404
    assert "$999.99" not in other.get_data(as_text=True)
    assert client.get("/accounts/999999").status_code == 404


def test_staff_login_cannot_open_patient_pages(app, login_as):
    account = factories.account()
    client = login_as("admin")
    assert client.get(f"/accounts/{account.id}").status_code == 403
