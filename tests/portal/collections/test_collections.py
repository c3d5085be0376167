"""Collections: time travel through the dunning stages with `collections run --as-of`, holds and promises
changing the path, contact limits, the queue's reasons, aging and its CSV, agencies and bad debt, access."""
import csv
import io
import json
import subprocess
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from portal import collections, ledger, statements
from portal.extensions import db
from portal.models import (
    Account,
    Adjustment,
    Agency,
    AuditEvent,
    CollectionCase,
    ContactLog,
    Payment,
    Placement,
    Posting,
    PromiseToPay,
    Statement,
)
from tests.conftest import post_form
from tests.fixtures import factories
from tests.fixtures.collections import owing

D0 = date(2026, 1, 5)


def run(app, day: date) -> dict:
    result = app.test_cli_runner().invoke(args=["collections", "run", "--as-of", day.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def stage(account: Account) -> str:
    db.session.commit()  # end this session's read transaction: see what the run (or a task) committed
    return db.session.get(Account, account.id).collection_stage


def test_an_account_walks_the_stages_to_placement_and_statements_carry_the_stage_message(app):
    account = owing(60000, D0)
    small = owing(1500, D0)
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    db.session.commit()
    run(app, D0)
    assert stage(account) == "first_statement"
    for day, expected in ((29, "first_statement"), (30, "second_statement"), (59, "second_statement"),
                          (60, "third_statement"), (90, "final_notice"), (119, "final_notice")):
        run(app, D0 + timedelta(days=day))
        assert stage(account) == expected, day
    # A statement issued in the final-notice stage prints the final-notice message, on the PDF too.
    notice = statements.issue(db.session.get(Account, account.id), D0 + timedelta(days=100), actor="test")[0]
    assert notice.message == collections.settings().message_final_notice
    assert notice.snapshot["notice"].startswith("Final notice")
    pdf_text = subprocess.run(["pdftotext", "-", "-"], input=statements.pdf(notice), capture_output=True,
                              check=True).stdout.decode()
    assert "Final notice: please pay or contact us" in " ".join(pdf_text.split())
    runner = app.test_cli_runner()
    too_early = runner.invoke(args=["collections", "place", "--account", account.number, "--agency", agency.name,
                                    "--as-of", (D0 + timedelta(days=119)).isoformat()])
    assert too_early.exit_code != 0 and "final notice" in too_early.output
    assert too_early.output.strip().count("\n") == 0
    run(app, D0 + timedelta(days=120))
    assert stage(account) == "pre_collection" and stage(small) == "pre_collection"
    refused = runner.invoke(args=["collections", "place", "--account", small.number, "--agency", agency.name,
                                  "--as-of", (D0 + timedelta(days=120)).isoformat()])
    assert refused.exit_code != 0 and "never placed" in refused.output
    placed = runner.invoke(args=["collections", "place", "--account", account.number, "--agency", agency.name,
                                 "--as-of", (D0 + timedelta(days=120)).isoformat(), "--json"])
    assert placed.exit_code == 0, placed.output
    assert json.loads(placed.output)["balance_cents"] == 60000
    assert stage(account) == "placed"
    # Placed: the agency writes to the guarantor; no statement (nor its email) until a recall.
    assert statements.issue(db.session.get(Account, account.id), D0 + timedelta(days=121), actor="test") == (
        None, "placed with a collection agency, which sends the statements")
    run(app, D0 + timedelta(days=121))
    queued = [c.account_id for c in collections.queue(D0 + timedelta(days=121))]
    assert account.id not in queued and small.id in queued  # placed accounts leave the internal queue
    collections.recall(db.session.get(Account, account.id), reason="Paid us directly", as_of=D0 + timedelta(days=122),
                       actor="test")
    assert statements.issue(db.session.get(Account, account.id), D0 + timedelta(days=122), actor="test")[0]


def test_holds_stop_the_cycle_and_a_defaulted_plan_returns_to_its_stage(app):
    disputed = owing(40000, D0)
    pending = owing(40000, D0, insurance=20000)  # insurance still owes part of the claim
    plain = owing(40000, D0)
    run(app, D0)
    run(app, D0 + timedelta(days=30))
    assert {stage(a) for a in (disputed, plain)} == {"second_statement"} and stage(pending) == "first_statement"
    collections.add_hold(disputed, kind="dispute", reason="Says the employer plan covered it",
                         ends_on=D0 + timedelta(days=75), review_on=None, today=D0 + timedelta(days=45), actor="test")
    db.session.commit()
    run(app, D0 + timedelta(days=60))
    assert stage(disputed) == "second_statement" and stage(plain) == "third_statement"
    held_statement = statements.issue(db.session.get(Account, disputed.id), D0 + timedelta(days=61), actor="test")[0]
    assert held_statement.message is None  # no dunning message while the dispute lasts
    queued = [c.account_id for c in collections.queue(D0 + timedelta(days=60))]
    assert disputed.id not in queued and pending.id not in queued and plain.id in queued
    run(app, D0 + timedelta(days=75))  # the last day of the hold: the stage clock restarts from it
    assert stage(disputed) == "second_statement"
    run(app, D0 + timedelta(days=104))
    assert stage(disputed) == "second_statement"
    run(app, D0 + timedelta(days=105))
    assert stage(disputed) == "third_statement"
    assert stage(pending) == "first_statement"  # never dunned while insurance owes
    # A plan that defaults hands the account back at the stage it had.
    db.session.get(Account, plain.id).collection_stage = "plan_defaulted"
    db.session.commit()
    result = run(app, D0 + timedelta(days=106))
    assert result["returned_from_plan_default"] == 1
    assert stage(plain) == "final_notice"
    case = db.session.scalar(select(CollectionCase).where(CollectionCase.account_id == plain.id))
    assert case.stage_since == D0 + timedelta(days=106)


def test_promises_are_decided_from_payments_and_a_broken_one_moves_the_account_up(app):
    keeps = owing(50000, D0)
    breaks = owing(50000, D0)
    run(app, D0 + timedelta(days=40))
    day = D0 + timedelta(days=41)
    for account in (keeps, breaks):
        collections.record_promise(account, amount_cents=10000, due_on=day + timedelta(days=5), today=day,
                                   actor="test")
    db.session.commit()
    ledger.post_payment(keeps.id, amount_cents=6000, method="check", key="p1", actor="test",
                        received_on=day + timedelta(days=2))
    ledger.post_payment(keeps.id, amount_cents=4000, method="check", key="p2", actor="test",
                        received_on=day + timedelta(days=5))
    result = run(app, day + timedelta(days=6))
    assert result["promises_kept"] == 1 and result["promises_broken"] == 1
    statuses = dict(db.session.execute(select(PromiseToPay.account_id, PromiseToPay.status)).all())
    assert statuses == {keeps.id: "kept", breaks.id: "broken"}
    top, second = collections.queue(day + timedelta(days=6))
    assert top.account_id == breaks.id and second.account_id == keeps.id
    why = collections.reasons(top)
    assert sum(points for points, _ in why) == top.score
    words = [w for _, w in why]
    assert "1 broken promise to pay" in words and "Owes $500.00" in words and "Has never paid" in words
    second_why = collections.reasons(second)
    assert sum(points for points, _ in second_why) == second.score and "Has never paid" not in str(second_why)


def test_the_queue_shows_the_stored_score_and_its_reasons_as_of_the_last_run(app, login_as):
    account = owing(50000, D0)
    ledger.post_payment(account.id, amount_cents=1000, method="check", key="paid-early", actor="test",
                        received_on=D0 + timedelta(days=10))
    run(app, D0 + timedelta(days=40))  # paid 30 days before the run: not "no recent payment" (but long ago today)
    c = db.session.scalar(select(CollectionCase).where(CollectionCase.account_id == account.id))
    page = login_as("collector").get("/staff/collections/?show=all").get_data(as_text=True)
    assert "the nightly run on Feb 14, 2026" in page and f'<td class="num">{c.score}</td>' in page
    assert "No payment since" not in page and sum(points for points, _ in collections.reasons(c)) == c.score
    # New weights re-score the queue at once, still as of that run: score and reasons keep agreeing.
    rules = collections.settings()
    collections.update_settings({**{n: getattr(rules, n) for n in collections.SETTING_FIELDS},
                                 "weight_per_stage": 20}, actor="test")
    db.session.refresh(c)
    assert c.score == sum(points for points, _ in collections.reasons(c))
    assert (40, "Second statement stage") in collections.reasons(c)


def test_the_nightly_run_is_idempotent(app):
    owing(30000, D0)
    owing(90000, D0 - timedelta(days=70))
    first = run(app, D0 + timedelta(days=30))
    assert first["cases_opened"] == 2 and first["advanced"]["second_statement"] == 2
    snapshot = db.session.execute(select(CollectionCase.account_id, CollectionCase.stage, CollectionCase.stage_since,
                                         CollectionCase.score, CollectionCase.age_bucket)
                                  .order_by(CollectionCase.account_id)).all()
    second = run(app, D0 + timedelta(days=30))
    assert second["cases_opened"] == 0 and second["entered_cycle"] == 0 and not any(second["advanced"].values())
    assert second["promises_kept"] == second["promises_broken"] == 0
    db.session.expire_all()
    assert db.session.execute(select(CollectionCase.account_id, CollectionCase.stage, CollectionCase.stage_since,
                                     CollectionCase.score, CollectionCase.age_bucket)
                              .order_by(CollectionCase.account_id)).all() == snapshot


def _at(day: date, hour_utc: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour_utc, minute, tzinfo=timezone.utc)


def test_call_attempts_are_limited_and_calls_wait_after_a_conversation(app):
    account = owing(40000, D0)
    day = D0 + timedelta(days=10)
    for n in range(6):
        collections.log_contact(account, channel="call", outcome="no_answer", note=None, at=_at(day, 15, n), actor="t")
    _entry, check = collections.log_contact(account, channel="call", outcome="left_message", note=None,
                                            at=_at(day + timedelta(days=1), 15), actor="t")
    assert check.warnings == ["This is the last call attempt allowed in 7 days."]
    eighth = collections.check_contact(account, "call", _at(day + timedelta(days=2), 15))
    assert "8 call attempts" not in eighth.blocks[0] and "7 call attempts in the last 7 days" in eighth.blocks[0]
    # An email is not a call; seven days after the first calls, calling is allowed again.
    assert not collections.check_contact(account, "email", _at(day + timedelta(days=2), 15)).blocks
    assert not collections.check_contact(account, "call", _at(day + timedelta(days=7), 15, 30)).blocks
    collections.log_contact(account, channel="call", outcome="conversation", note="Will pay Friday",
                            at=_at(day + timedelta(days=8), 15), actor="t")
    quiet = collections.check_contact(account, "call", _at(day + timedelta(days=12), 15))
    assert any("Spoke with the guarantor" in b for b in quiet.blocks)
    assert not collections.check_contact(account, "call", _at(day + timedelta(days=15), 15, 1)).blocks
    db.session.commit()


def test_calls_only_inside_the_hours_window_in_every_zone_the_guarantor_may_be_in(app):
    east = owing(40000, D0, state="NJ")
    west = owing(40000, D0, state="CA")  # zone unknown: the facility's (New York) and the address's (Los Angeles)
    day = D0 + timedelta(days=3)  # January: New York is UTC-5, Los Angeles UTC-8
    assert collections.check_contact(east, "call", _at(day, 12, 59)).blocks  # 7:59 a.m. in New York
    assert not collections.check_contact(east, "call", _at(day, 13, 0)).blocks  # 8:00 a.m.
    assert collections.check_contact(east, "call", _at(day, 2, 1)).blocks  # 9:01 p.m. the day before
    early_west = collections.check_contact(west, "call", _at(day, 15))  # 10 a.m. New York, 7 a.m. Los Angeles
    assert len(early_west.blocks) == 1 and "America/Los_Angeles" in early_west.blocks[0]
    assert not collections.check_contact(west, "call", _at(day, 16)).blocks
    west.timezone = "America/Los_Angeles"
    assert not collections.check_contact(west, "call", _at(day, 16)).blocks
    assert collections.check_contact(west, "call", _at(day, 5, 30)).blocks  # 9:30 p.m. in Los Angeles
    assert not collections.check_contact(west, "letter", _at(day, 5, 30)).blocks  # letters are not timed
    with_error = None
    try:
        collections.log_contact(east, channel="call", outcome="no_answer", note=None, at=_at(day, 12), actor="t")
    except collections.CollectionsError as exc:
        with_error = str(exc)
    assert with_error and "7:00 AM" in with_error.replace("07:00", "7:00")
    assert db.session.scalar(select(func.count(ContactLog.id))) == 0


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone whose local hour is `hour` now (so the test does not depend on the clock)."""
    diff = (hour - datetime.now(timezone.utc).hour) % 24
    diff = diff - 24 if diff > 12 else diff
    return f"Etc/GMT{-diff:+d}" if diff else "Etc/GMT"


def test_a_collector_works_the_account_page_and_a_call_at_night_is_refused(app, login_as):
    day_account = owing(40000, D0)
    night_account = owing(40000, D0)
    day_account.timezone, night_account.timezone = zone_where_it_is(13), zone_where_it_is(3)
    db.session.commit()
    collector = login_as("collector")
    page = f"/staff/collections/accounts/{day_account.id}"
    assert collector.get(page).status_code == 200
    call = {"channel": "call", "outcome": "no_answer", "note": ""}
    assert post_form(collector, f"{page}/contacts", call, page=page).status_code == 302
    night = f"/staff/collections/accounts/{night_account.id}"
    assert "Calling now is not allowed" in collector.get(night).get_data(as_text=True)
    refused = post_form(collector, f"{night}/contacts", call, page=night)
    assert refused.status_code == 400 and "contact only between" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ContactLog.id))) == 1
    note = post_form(collector, f"{night}/contacts", {"channel": "note", "outcome": "note",
                                                      "note": "Asked for a call"}, page=night)
    assert note.status_code == 302  # a note is not a contact
    bad = post_form(collector, f"{page}/promises", {"amount": "9999.00", "due_on": "2026-01-01"}, page=page)
    assert bad.status_code == 400 and "more than the balance" in bad.get_data(as_text=True)
    assert "Asked for a call" in collector.get(night).get_data(as_text=True)
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "collections.account_viewed", AuditEvent.account_id == day_account.id)) >= 1


def test_an_email_opt_out_is_recorded_audited_and_honoured(app, login_as, smtp_server):
    opted, other = owing(40000, D0, statement=False), owing(40000, D0, statement=False)
    opted.timezone = other.timezone = zone_where_it_is(13)
    db.session.commit()
    collector = login_as("collector")
    page = f"/staff/collections/accounts/{opted.id}"
    assert "May be emailed" in collector.get(page).get_data(as_text=True)
    saved = post_form(collector, f"{page}/contact-preferences", {"email_opt_out": "y", "text_consent": "y"}, page=page)
    assert saved.status_code == 302
    shown = collector.get(page).get_data(as_text=True)
    assert "Opted out of email on" in shown and "Consented to texts on" in shown
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "collections.contact_preferences"))
    assert event.account_id == opted.id and event.detail == {"email_opt_out": True, "text_consent": True}
    email = {"channel": "email", "outcome": "sent", "note": ""}
    refused = post_form(collector, f"{page}/contacts", email, page=page)
    assert refused.status_code == 400 and "opted out of email" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(ContactLog.id))) == 0
    other_page = f"/staff/collections/accounts/{other.id}"
    assert post_form(collector, f"{other_page}/contacts", email, page=other_page).status_code == 302
    # The statement notice: none to the opted-out guarantor; the other one's offers the opt-out.
    statements.run(date(2026, 2, 1), actor="test")  # statement day 1
    db.session.commit()  # the task's commit: mail goes out after it
    [message] = smtp_server.messages
    text = message.get_payload(decode=True).decode()
    assert message["To"] == other.email and "To stop these emails" in text and "/email/stop/" in text
    # Withdrawn: emails may go again.
    post_form(collector, f"{page}/contact-preferences", {"text_consent": "y"}, page=page)
    assert collections.contact_preferences(opted).email_opt_out_at is None


def test_aging_buckets_by_responsibility_date_and_the_csv_adds_up(app, login_as):
    today = D0 + timedelta(days=200)
    ages = {10: 11000, 45: 22000, 75: 33000, 100: 44000, 150: 55000, 151: 1000}
    for days, cents in ages.items():
        owing(cents, today - timedelta(days=days))
    run(app, today)
    report = collections.aging(today)
    assert report.totals == [11000, 22000, 33000, 44000, 56000] and report.total == 166000
    client = login_as("collector")
    page = client.get(f"/staff/collections/aging?as_of={today.isoformat()}").get_data(as_text=True)
    assert "$1,660.00" in page and "<svg" in page
    response = client.get(f"/staff/collections/aging.csv?as_of={today.isoformat()}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 6
    for label, total in zip(collections.BUCKETS, report.totals):
        assert sum(int(r[label].replace(".", "")) for r in rows) == total
    assert sum(int(r["total"].replace(".", "")) for r in rows) == report.total
    # One run moves an account one stage: all but the newest reached the second statement.
    staged = client.get(f"/staff/collections/aging.csv?as_of={today.isoformat()}&stage=first_statement")
    assert [r["total"] for r in csv.DictReader(io.StringIO(staged.get_data(as_text=True)))] == ["110.00"]


def test_agency_payment_is_net_plus_fee_and_bad_debt_goes_through_the_ledger(app):
    account = owing(80000, D0)
    for day in (0, 30, 60, 90, 120):
        run(app, D0 + timedelta(days=day))
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    collections.place(account, agency, as_of=D0 + timedelta(days=121), actor="test")
    db.session.commit()
    row = collections.record_agency_payment(account, gross_cents=20000, fee_cents=None,
                                            received_on=D0 + timedelta(days=150),
                                            reference="R-1", key="agency:1", actor="test")
    db.session.commit()
    assert (row.gross_cents, row.fee_cents) == (20000, 5000)
    assert db.session.get(Payment, row.payment_id).amount_cents == 15000  # what the agency deposited
    fee = db.session.scalars(select(Adjustment).where(Adjustment.kind == "administrative")).all()
    assert [a.amount_cents for a in fee] == [5000]
    db.session.refresh(account)
    assert account.patient_due_cents == 60000  # credited the full amount the guarantor paid the agency
    again = collections.record_agency_payment(account, gross_cents=20000, fee_cents=None,
                                              received_on=D0 + timedelta(days=150), reference="R-1", key="agency:1",
                                              actor="test")
    assert again.id == row.id and db.session.scalar(select(func.count(Payment.id))) == 1
    text = collections.placement_file(agency, actor="test")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [r["account_number"] for r in lines] == [account.number] and lines[0]["balance"] == "600.00"
    assert "S9480" not in text and "Per diem" not in text and "Pat0" not in text  # no service, no patient detail
    written = collections.write_off_bad_debt(account, reason="Agency returned it uncollectable",
                                             as_of=D0 + timedelta(days=200), actor="test")
    db.session.commit()
    db.session.refresh(account)
    assert written == 60000 and account.patient_due_cents == 0 and account.collection_stage == "written_off"
    bad_debt = db.session.scalars(select(Adjustment).where(Adjustment.kind == "bad_debt"))
    assert sum(a.amount_cents for a in bad_debt) == 60000
    assert ledger.check_all()[1] == []


def test_an_agency_payment_is_one_ledger_operation_posted_whole_or_not_at_all(app):
    account = owing(30000, D0)
    later = factories.charge(account, 20000, day=D0 + timedelta(days=3), responsibility="patient")
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    db.session.add(Placement(account_id=account.id, agency_id=agency.id, placed_on=D0 + timedelta(days=130),
                             placed_balance_cents=50000, prior_stage="pre_collection", created_by="test"))
    db.session.commit()
    postings = select(func.count(Posting.id))
    before = db.session.scalar(postings)

    # A fee larger than what the net payment leaves owing: refused whole, the payment included.
    try:
        ledger.post_agency_payment(account.id, gross_cents=60000, fee_cents=20000, key="agency:big", actor="test",
                                   received_on=D0 + timedelta(days=140), reference="R-0", fee_reason="fee")
    except ledger.LedgerError as exc:
        assert "fee" in str(exc)
    else:
        raise AssertionError("the oversized fee was posted")
    db.session.refresh(account)
    assert db.session.scalar(postings) == before and db.session.scalar(select(func.count(Payment.id))) == 0
    assert account.patient_due_cents == 50000

    # The ledger step done, the collections row not yet written (a crash in between): the replay adds no money.
    first = ledger.post_agency_payment(account.id, gross_cents=40000, fee_cents=10000, key="agency:2", actor="test",
                                       received_on=D0 + timedelta(days=140), reference="Agency Summit Recovery R-2",
                                       fee_reason="Collection agency fee (Summit Recovery)")
    posted = db.session.scalar(postings)
    row = collections.record_agency_payment(account, gross_cents=40000, fee_cents=10000,
                                            received_on=D0 + timedelta(days=140), reference="R-2", key="agency:2",
                                            actor="test")
    db.session.commit()
    assert db.session.scalar(postings) == posted and row.payment_id == first.payment.id
    assert db.session.get(Payment, row.payment_id).amount_cents == 30000
    # The net pays the oldest charge; the fee is written off what is left, on the next one.
    assert [(d["charge_id"], d["amount_cents"]) for d in row.fee_detail] == [(later.id, 10000)]
    db.session.refresh(account)
    db.session.refresh(later)
    assert account.patient_due_cents == 10000 and later.patient_balance_cents == 10000
    again = collections.record_agency_payment(account, gross_cents=40000, fee_cents=10000,
                                              received_on=D0 + timedelta(days=140), reference="R-2", key="agency:2",
                                              actor="test")
    assert again.id == row.id and db.session.scalar(postings) == posted
    # The same key with other figures is refused, and nothing is posted.
    try:
        collections.record_agency_payment(account, gross_cents=5000, fee_cents=1000,
                                          received_on=D0 + timedelta(days=141),
                                          reference="R-3", key="agency:3", actor="test")
        ledger.post_agency_payment(account.id, gross_cents=5000, fee_cents=0, key="agency:3", actor="test",
                                   received_on=D0 + timedelta(days=141), reference="other", fee_reason="fee")
    except ledger.IdempotencyConflict:
        pass
    else:
        raise AssertionError("a reused key with other figures was accepted")
    db.session.refresh(account)
    assert account.patient_due_cents == 5000 and ledger.check_all()[1] == []


def test_a_deactivated_agency_takes_no_new_placements_and_keeps_its_open_ones(app, login_as):
    held, waiting = owing(80000, D0), owing(60000, D0)
    for day in (0, 30, 60, 90, 120):
        run(app, D0 + timedelta(days=day))
    agency = collections.create_agency(name="Summit Recovery", contact=None, fee_bps=2500, actor="test")
    collections.place(held, agency, as_of=D0 + timedelta(days=121), actor="test")
    db.session.commit()
    manager = login_as("collector")
    listing = "/staff/collections/agencies"
    off = post_form(manager, f"{listing}/status", {"agency_id": agency.id, "active": "0"}, page=listing)
    assert off.status_code == 302
    page = manager.get(listing).get_data(as_text=True)
    assert "Inactive: no new placements" in page and "Reactivate" in page
    account_page = f"/staff/collections/accounts/{waiting.id}"
    assert "Summit Recovery</option>" not in manager.get(account_page).get_data(as_text=True)
    refused = post_form(manager, f"{account_page}/place", {"agency": agency.id}, page=account_page)
    assert refused.status_code == 400 and stage(waiting) == "pre_collection"
    try:
        collections.place(waiting, agency, as_of=D0 + timedelta(days=122), actor="test")
    except collections.CollectionsError as exc:
        assert "no longer takes placements" in str(exc)
    else:
        raise AssertionError("an inactive agency took a placement")
    db.session.rollback()
    # What it already holds stays: in its placement file, and its payments are posted.
    assert held.number in collections.placement_file(agency, actor="test") and stage(held) == "placed"
    collections.record_agency_payment(held, gross_cents=10000, fee_cents=None, received_on=D0 + timedelta(days=125),
                                      reference="R-9", key="agency:after-deactivation", actor="test")
    db.session.commit()
    db.session.refresh(held)
    assert held.patient_due_cents == 70000
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "collections.agency_deactivated", AuditEvent.object_id == str(agency.id))) == 1
    on = post_form(manager, f"{listing}/status", {"agency_id": agency.id, "active": "1"}, page=listing)
    assert on.status_code == 302
    assert post_form(manager, f"{account_page}/place", {"agency": agency.id}, page=account_page).status_code == 302
    assert stage(waiting) == "placed"


def test_no_placement_or_bad_debt_under_a_hold_a_plan_or_too_early(app):
    young = owing(80000, D0)
    run(app, D0 + timedelta(days=30))
    early = None
    try:
        collections.write_off_bad_debt(young, reason="x", as_of=D0 + timedelta(days=60), actor="test")
    except collections.CollectionsError as exc:
        early = str(exc)
    assert early and "Too early" in early
    collections.add_hold(young, kind="bankruptcy", reason="Chapter 7 filed", ends_on=None,
                         review_on=D0 + timedelta(days=300), today=D0 + timedelta(days=130), actor="test")
    db.session.commit()
    blockers = collections.placement_blockers(young, D0 + timedelta(days=130))
    assert "Bankruptcy hold." in blockers
    assert collections.check_contact(young, "letter", _at(D0 + timedelta(days=130), 16)).blocks  # no contact at all
    assert [h.account_id for h in collections.holds_to_review(D0 + timedelta(days=300))] == [young.id]
    assert collections.holds_to_review(D0 + timedelta(days=299)) == []
    assert db.session.scalar(select(func.count(Adjustment.id))) == 0


def test_collectors_work_the_queue_and_clinicians_cannot(app, login_as):
    account = owing(40000, D0)
    run(app, D0 + timedelta(days=31))
    collector = login_as("collector")
    queue = collector.get("/staff/collections/?show=all")
    assert queue.status_code == 200 and account.number in queue.get_data(as_text=True)
    for url in ("/staff/collections/", "/staff/collections/aging", "/staff/collections/aging.csv",
                f"/staff/collections/accounts/{account.id}"):
        assert login_as("clinician").get(url).status_code == 403, url
    assert collector.get("/staff/collections/settings").status_code == 403
    admin = login_as("admin")
    assert admin.get("/staff/collections/settings").status_code == 200
    saved = post_form(admin, "/staff/collections/settings", {
        "days_first_statement": 20, "days_second_statement": 30, "days_third_statement": 30, "days_final_notice": 30,
        "message_final_notice": "Final notice.", "call_attempts_limit": 9, "call_window_days": 7,
        "quiet_days_after_conversation": 7, "earliest_hour": 8, "latest_hour": 21, "min_placement_days": 120,
        "min_placement": "25.00"})
    assert saved.status_code == 400  # 9 calls in 7 days is looser than the rules allow
    saved = post_form(admin, "/staff/collections/settings", {
        "days_first_statement": 20, "days_second_statement": 30, "days_third_statement": 30, "days_final_notice": 30,
        "message_final_notice": "Final notice.", "call_attempts_limit": 5, "call_window_days": 7,
        "quiet_days_after_conversation": 7, "earliest_hour": 9, "latest_hour": 20, "min_placement_days": 150,
        "min_placement": "50.00", "weight_per_stage": 4})
    assert saved.status_code == 302
    rules = collections.settings()
    db.session.refresh(rules)
    assert (rules.days_first_statement, rules.call_attempts_limit, rules.min_placement_cents) == (20, 5, 5000)
    dashboard = collector.get("/staff/").get_data(as_text=True)
    assert "Patient aging" in dashboard and "Promises due today" in dashboard


def test_demo_seed_has_accounts_in_several_stages(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    stages = set(db.session.scalars(select(Account.collection_stage)))
    assert {"pre_collection", "final_notice", "placed", "second_statement"} <= stages
    assert db.session.scalar(select(func.count(Agency.id))) == 1
    assert db.session.scalar(select(func.count(PromiseToPay.id))) == 1
    assert db.session.scalar(select(func.count(Statement.id))) >= 4


def test_the_beat_task_runs_the_nightly_job(app):
    from portal.tasks import BEAT_SCHEDULE, collections_nightly

    account = owing(30000, D0)
    assert BEAT_SCHEDULE["collections-nightly"]["task"] == collections_nightly.name
    db.session.commit()  # the task runs in its own session
    result = collections_nightly.delay(D0.isoformat()).get()
    assert result["as_of"] == D0.isoformat() and result["entered_cycle"] == 1
    assert stage(account) == "first_statement"


def test_bad_debt_write_offs_need_the_adjustment_right(app, login_as):
    account = owing(80000, D0)
    for day in (0, 30, 60, 90, 120):
        run(app, D0 + timedelta(days=day))
    db.session.commit()
    page = f"/staff/collections/accounts/{account.id}"
    collector, admin = login_as("collector"), login_as("admin")
    refused = post_form(collector, f"{page}/bad-debt", {"reason": "uncollectable"}, page=page)
    assert refused.status_code == 400 and "may not post write-offs" in refused.get_data(as_text=True)
    db.session.refresh(account)
    assert account.patient_due_cents == 80000 and db.session.scalar(select(func.count(Adjustment.id))) == 0
    assert post_form(admin, f"{page}/bad-debt", {"reason": "uncollectable"}, page=page).status_code == 302
    db.session.refresh(account)
    assert account.patient_due_cents == 0
