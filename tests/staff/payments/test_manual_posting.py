"""Billers post payments, credit, adjustments and reversals by hand through the staff pages."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import Adjustment, Allocation, AuditEvent, Charge, DepositBatch, Payment, Posting, Refund
from portal.payments import deposits
from tests.conftest import csrf_from
from tests.fixtures import factories

TOKEN_RE = re.compile(r'name="token" type="hidden" value="([^"]+)"')


def submit(client, url: str, data: dict):
    """GET the form (its CSRF token and one-time posting token), then POST it."""
    page = client.get(url).get_data(as_text=True)
    found = TOKEN_RE.search(page)
    fields = {"csrf_token": csrf_from(page), **({"token": found.group(1)} if found else {}), **data}
    return client.post(url, data=fields)


@pytest.fixture
def owed(app):
    """An account owing $100 (Oct 1) and $200 (Oct 5) as patient balance, and an open batch."""
    account = factories.account()
    older = factories.charge(account, 10000, day=date(2026, 10, 1))
    newer = factories.charge(account, 20000, day=date(2026, 10, 5))
    batch = deposits.open_batch(deposit_date=date(2026, 11, 2), kind="patient_lockbox", control_total_cents=50000,
                                control_count=3, actor="test")
    return account, older, newer, batch


def balances(*charges) -> list[int]:
    return [db.session.get(Charge, c.id, populate_existing=True).patient_balance_cents for c in charges]


def payment_data(batch, **overrides) -> dict:
    return {"batch_id": batch.id, "method": "cash", "amount": "150.00", "received_on": "2026-11-02",
            "reference": "", "allocation": "oldest", **overrides}


def test_cash_is_applied_oldest_first_and_the_receipt_shows_in_the_history(owed, login_as):
    account, older, newer, batch = owed
    biller = login_as("biller")
    response = submit(biller, f"/staff/accounts/{account.id}/post-payment", payment_data(batch))
    assert response.status_code == 302
    assert balances(older, newer) == [0, 15000]
    payment = db.session.scalar(select(Payment))
    assert (payment.method, payment.amount_cents, payment.received_on) == ("cash", 15000, date(2026, 11, 2))
    assert [(a.charge_id, a.amount_cents) for a in payment.allocations] == [(older.id, 10000), (newer.id, 5000)]
    assert deposits.batch_of(payment.id).id == batch.id
    page = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert f"Payment R{payment.id:08d} · Cash" in page and "kept as unapplied credit" in page
    assert "Test biller" in page
    pdf = biller.get(f"/staff/accounts/{account.id}/payments/{payment.id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "payment.posted")).account_id == account.id
    assert ledger.check_all()[1] == []


def test_check_to_chosen_lines_leaves_credit_that_is_applied_then_refunded(owed, login_as):
    account, older, newer, batch = owed
    biller = login_as("biller")
    response = submit(biller, f"/staff/accounts/{account.id}/post-payment", payment_data(
        batch, method="check", amount="300.00", reference="1042", allocation="lines",
        **{f"line-{newer.id}": "200.00", f"line-{older.id}": "30"}))
    assert response.status_code == 302
    assert balances(older, newer) == [7000, 0]
    payment = db.session.scalar(select(Payment))
    assert payment.reference == "1042" and ledger.unapplied_credit(payment.id) == 7000
    assert sorted((a.charge_id, a.amount_cents) for a in payment.allocations) == [(older.id, 3000), (newer.id, 20000)]

    response = submit(biller, f"/staff/accounts/{account.id}/apply-credit",
                      {"payment_id": payment.id, "allocation": "lines", f"line-{older.id}": "50.00"})
    assert response.status_code == 302
    assert balances(older, newer) == [2000, 0] and ledger.unapplied_credit(payment.id) == 2000

    too_much = submit(biller, f"/staff/accounts/{account.id}/refund-credit",
                      {"payment_id": payment.id, "amount": "25.00", "method": "check", "check_number": "5001",
                       "reason": "overpaid"})
    assert too_much.status_code == 400 and "$20.00 of unapplied credit" in too_much.get_data(as_text=True)
    response = submit(biller, f"/staff/accounts/{account.id}/refund-credit",
                      {"payment_id": payment.id, "amount": "20.00", "method": "check", "check_number": "5001",
                       "reason": "overpaid"})
    assert response.status_code == 302
    refund = db.session.scalar(select(Refund))
    assert (refund.amount_cents, refund.method, refund.check_number, refund.reason) == (2000, "check", "5001",
                                                                                        "overpaid")
    assert balances(older, newer) == [2000, 0]  # applied money stays applied
    db.session.refresh(account)
    assert account.credit_cents == 0 and account.patient_balance_cents == 2000
    page = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert f"Refund of payment R{payment.id:08d} by check 5001" in page and "overpaid" in page
    refused = submit(biller, f"/staff/accounts/{account.id}/postings/{payment.posting_id}/reverse", {"reason": "x"})
    assert refused.status_code == 400 and "was refunded, so it cannot be reversed" in refused.get_data(as_text=True)
    assert ledger.check_all()[1] == []


def test_leftover_credit_is_applied_oldest_first(owed, login_as):
    account, older, newer, batch = owed
    biller = login_as("biller")
    submit(biller, f"/staff/accounts/{account.id}/post-payment",
           payment_data(batch, amount="40.00", allocation="lines", **{f"line-{newer.id}": "10.00"}))
    payment = db.session.scalar(select(Payment))
    assert submit(biller, f"/staff/accounts/{account.id}/apply-credit",
                  {"payment_id": payment.id, "allocation": "oldest"}).status_code == 302
    assert balances(older, newer) == [7000, 19000] and ledger.unapplied_credit(payment.id) == 0


def test_replaying_the_payment_form_posts_once(owed, login_as):
    account, _older, _newer, batch = owed
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/post-payment"
    page = biller.get(url).get_data(as_text=True)
    fields = {"csrf_token": csrf_from(page), "token": TOKEN_RE.search(page).group(1), **payment_data(batch)}
    assert biller.post(url, data=fields).status_code == 302
    assert biller.post(url, data=fields).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    changed = biller.post(url, data={**fields, "amount": "15.00"})
    assert changed.status_code == 400 and "already posted with other figures" in changed.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"amount": "25.0.0"}, "Enter an amount like 25.00."),
    ({"amount": "0"}, "Enter an amount above zero."),
    ({"method": "check"}, "Enter the check number."),
    ({"received_on": "2999-01-01"}, "cannot be in the future"),
    ({"allocation": "lines"}, "Enter an amount on at least one line"),
    ({"allocation": "lines", "amount": "500.00", "line-OLDER": "101.00"}, "more than the line"),
    ({"allocation": "lines", "amount": "20.00", "line-OLDER": "15", "line-NEWER": "15"}, "add up to more than $20.00"),
    ({"line-OLDER": "abc"}, "enter an amount like 25.00"),
])
def test_bad_payment_input_re_renders_with_the_error_and_posts_nothing(owed, login_as, data, message):
    account, older, newer, batch = owed
    data = {k.replace("OLDER", str(older.id)).replace("NEWER", str(newer.id)): v for k, v in data.items()}
    response = submit(login_as("biller"), f"/staff/accounts/{account.id}/post-payment", payment_data(batch, **data))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_closed_batch_is_not_offered_and_is_refused(owed, login_as):
    account, _older, _newer, batch = owed
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/post-payment"
    page = biller.get(url).get_data(as_text=True)
    fields = {"csrf_token": csrf_from(page), "token": TOKEN_RE.search(page).group(1), **payment_data(batch)}
    db.session.get(DepositBatch, batch.id).control_total_cents = 0
    db.session.get(DepositBatch, batch.id).control_count = 0
    db.session.commit()
    deposits.close_batch(batch.id, actor="test")
    response = biller.post(url, data=fields)
    assert response.status_code == 400 and "No deposit batch is open" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


# ---------------------------------------------------------------- adjustments


def adjustment_data(charge, **overrides) -> dict:
    return {"charge_id": charge.id, "bucket": "patient", "kind": "small_balance", "amount": "10.00",
            "reason": "under the statement minimum", **overrides}


@pytest.mark.parametrize("kind", ["contractual", "small_balance", "charity", "bad_debt", "administrative"])
def test_each_adjustment_kind_reduces_the_chosen_bucket(owed, login_as, kind):
    account, older, _newer, _batch = owed
    biller = login_as("biller")
    response = submit(biller, f"/staff/accounts/{account.id}/adjust", adjustment_data(older, kind=kind, amount="12.34"))
    assert response.status_code == 302
    adjustment = db.session.scalar(select(Adjustment))
    assert (adjustment.kind, adjustment.bucket, adjustment.amount_cents) == (kind, "patient", 1234)
    assert adjustment.reason == "under the statement minimum" and adjustment.created_by == f"user:{biller.user.id}"
    assert balances(older) == [10000 - 1234]
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "adjustment.posted")).detail["kind"] == kind
    assert ledger.check_all()[1] == []


def test_adjustments_above_the_role_limit_are_refused_until_an_admin_raises_it(app, login_as):
    account = factories.account()
    charge = factories.charge(account, 100000)
    biller, admin = login_as("biller"), login_as("admin")
    url = f"/staff/accounts/{account.id}/adjust"
    refused = submit(biller, url, adjustment_data(charge, kind="charity", amount="600.00", reason="FA approved"))
    assert refused.status_code == 400
    assert "Your role (biller) may post adjustments up to $500.00" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Adjustment)) == 0
    assert submit(admin, url, adjustment_data(charge, kind="charity", amount="600.00")).status_code == 302

    limits_url = "/staff/admin/adjustment-limits"
    assert biller.get(limits_url).status_code == 403
    page = admin.get(limits_url).get_data(as_text=True)
    biller_role = biller.user.role
    assert f'name="limit-{biller_role.id}" inputmode="decimal" value="500.00"' in page
    assert submit(admin, limits_url, {f"limit-{biller_role.id}": "abc"}).status_code == 400
    assert submit(admin, limits_url, {f"limit-{biller_role.id}": "1,000.00"}).status_code == 302
    assert submit(biller, url, adjustment_data(charge, kind="charity", amount="300.00")).status_code == 302
    assert balances(charge) == [100000 - 60000 - 30000]
    over = submit(biller, url, adjustment_data(charge, kind="bad_debt", amount="1000.01"))
    assert over.status_code == 400 and "up to $1,000.00" in over.get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "adjustment_limit.updated"))
    assert event.detail == {"role": "biller", "from": 50000, "to": 100000}


def test_an_adjustment_cannot_exceed_the_bucket_and_needs_a_reason(owed, login_as):
    account, older, _newer, _batch = owed
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/adjust"
    over = submit(biller, url, adjustment_data(older, amount="100.01"))
    assert over.status_code == 400 and "The patient balance of this charge is $100.00" in over.get_data(as_text=True)
    empty = submit(biller, url, adjustment_data(older, bucket="insurance"))
    assert empty.status_code == 400 and "The insurance balance of this charge is $0.00" in empty.get_data(as_text=True)
    assert submit(biller, url, adjustment_data(older, reason="")).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Adjustment)) == 0


# ---------------------------------------------------------------- reversals


def test_reversing_a_payment_and_an_adjustment_restores_balances_and_shows_who_and_why(owed, login_as):
    account, older, newer, batch = owed
    biller = login_as("biller")
    submit(biller, f"/staff/accounts/{account.id}/post-payment", payment_data(batch, amount="120.00"))
    submit(biller, f"/staff/accounts/{account.id}/adjust", adjustment_data(newer, kind="administrative"))
    payment, adjustment = db.session.scalar(select(Payment)), db.session.scalar(select(Adjustment))
    assert balances(older, newer) == [0, 20000 - 2000 - 1000]

    url = f"/staff/accounts/{account.id}/postings/{payment.posting_id}/reverse"
    assert submit(biller, url, {"reason": ""}).status_code == 400
    assert submit(biller, url, {"reason": "posted to the wrong account"}).status_code == 302
    assert submit(biller, f"/staff/accounts/{account.id}/postings/{adjustment.posting_id}/reverse",
                  {"reason": "entered twice"}).status_code == 302
    assert balances(older, newer) == [10000, 20000]
    db.session.refresh(account)
    assert (account.patient_balance_cents, account.credit_cents) == (30000, 0)
    page = biller.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert page.count("by Test biller: ") == 2
    assert "posted to the wrong account" in page and "entered twice" in page
    again = biller.get(url).get_data(as_text=True)
    assert "Already reversed" in again
    assert submit(biller, url, {"reason": "again"}).status_code == 302  # never a second reversal
    assert db.session.scalar(select(func.count()).select_from(Posting).where(
        Posting.kind == "reversal")) == 2
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"payment.reversed", "adjustment.reversed"} <= actions
    summary = deposits.summary(db.session.get(DepositBatch, batch.id))
    assert summary.posted_count == 0 and summary.reversed_count == 1
    # A charge is corrected only by reversing it, from the same page.
    charge_url = f"/staff/accounts/{account.id}/postings/{older.posting_id}/reverse"
    assert submit(biller, charge_url, {"reason": "wrong code"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Posting, older.posting_id).reversed_by is not None
    assert balances(older) == [0]
    assert ledger.check_all()[1] == []


# ---------------------------------------------------------------- batches and permissions


def test_batch_pages_open_list_and_close(app, login_as):
    account = factories.account()
    factories.charge(account, 5000)
    biller = login_as("biller")
    bad = submit(biller, "/staff/batches", {"deposit_date": "2026-11-02", "kind": "cash_drawer",
                                            "control_total": "12.345", "control_count": "1"})
    assert bad.status_code == 400 and "Enter an amount like 1250.00." in bad.get_data(as_text=True)
    response = submit(biller, "/staff/batches", {"deposit_date": "2026-11-02", "kind": "cash_drawer",
                                                 "control_total": "50.00", "control_count": "1"})
    assert response.status_code == 302
    batch = db.session.scalar(select(DepositBatch))
    close_url = f"/staff/batches/{batch.id}/close"
    refused = biller.post(close_url, data={"csrf_token": csrf_from(biller.get(f"/staff/batches/{batch.id}").get_data(
        as_text=True))}, follow_redirects=True)
    assert "does not balance" in refused.get_data(as_text=True)
    submit(biller, f"/staff/accounts/{account.id}/post-payment",
           payment_data(batch, method="card_present", amount="50.00", reference="AUTH77"))
    page = biller.get(f"/staff/batches/{batch.id}").get_data(as_text=True)
    assert account.number in page and "AUTH77" in page and "card present" in page
    assert "Posted payments match the control figures." in page
    closed = biller.post(close_url, data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "Batch closed. It is now read-only." in closed.get_data(as_text=True)
    assert db.session.get(DepositBatch, batch.id).status == "closed"
    listing = biller.get("/staff/batches?show=all").get_data(as_text=True)
    assert f"B{batch.id:05d}" in listing and "balanced" in listing


def test_who_may_do_what(owed, login_as):
    account, _older, _newer, batch = owed
    clinician, collector = login_as("clinician"), login_as("collector")
    for url in (f"/staff/accounts/{account.id}/post-payment", f"/staff/accounts/{account.id}/adjust", "/staff/batches"):
        assert clinician.get(url).status_code == 403
    assert submit(collector, f"/staff/accounts/{account.id}/post-payment", payment_data(batch)).status_code == 302
    assert collector.get(f"/staff/accounts/{account.id}/adjust").status_code == 403
    assert collector.get(f"/staff/accounts/{account.id}/refund-credit").status_code == 403
    payment = db.session.scalar(select(Payment))
    assert collector.get(f"/staff/accounts/{account.id}/postings/{payment.posting_id}/reverse").status_code == 403
    page = collector.get(f"/staff/accounts/{account.id}").get_data(as_text=True)
    assert "Post a payment" in page and "Post an adjustment" not in page and ">Reverse<" not in page
    other = factories.account()
    biller = login_as("biller")  # an id from another account is not found
    assert biller.get(f"/staff/accounts/{other.id}/postings/{payment.posting_id}/reverse").status_code == 404
    assert biller.get(f"/staff/accounts/{other.id}/payments/{payment.id}/receipt.pdf").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 2


def test_the_adjustment_limit_holds_per_account_per_day_not_per_posting(app, login_as):
    account = factories.account()
    charge = factories.charge(account, 100000)
    biller = login_as("biller")
    url = f"/staff/accounts/{account.id}/adjust"
    assert submit(biller, url, adjustment_data(charge, kind="charity", amount="300.00")).status_code == 302
    second = submit(biller, url, adjustment_data(charge, kind="charity", amount="300.00"))
    assert second.status_code == 400 and "($300.00 posted today)" in second.get_data(as_text=True)
    assert balances(charge) == [100000 - 30000]
