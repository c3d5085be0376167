"""Denials worked to the end: the states and their history, the appeal deadline, write-offs and transfers to the
patient through the ledger (once, however often submitted), the appeal letter, the worklist's filters and groups,
and the dashboard's figures."""
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from portal import claims, remittances
from portal.extensions import db
from portal.models import (
    Account,
    Adjustment,
    AuditEvent,
    BalanceTransfer,
    Charge,
    ClaimStatusChange,
    Denial,
    Posting,
    RemittanceLine,
)
from tests.fixtures.era import DAY, cas, claim, file_of, ledger_clean, line, make_claim, payer

PAID_ON = date(2026, 11, 2)  # the remittance's payment date (BPR16)
TODAY = date(2026, 11, 10)


def deny(control_number: str, *, code: str = "50", cents: int = 90000, member_id: str = "M1",
         payer_id: str = "1999999999", remarks=("N115",)) -> Denial:
    """One claim of one line, denied on an imported 835: its open denial."""
    ours = make_claim(control_number, [("S9480", DAY, 1, cents)], member_id=member_id, payer_id=payer_id)
    content = file_of(claim(control_number, line("S9480", cents, 0, cas("CO", code, cents), remarks=list(remarks)),
                            status="4", member_id=member_id), payer_ein=payer_id)
    remittances.import_file(content, f"{control_number}.835", actor="test")
    db.session.commit()
    return db.session.scalar(select(Denial).join(Denial.line)
                             .where(RemittanceLine.charge_id == ours.lines[0].charge_id))


def balances(denial: Denial) -> tuple[int, int]:
    charge = db.session.get(Charge, denial.line.charge_id)
    db.session.refresh(charge)
    return charge.insurance_balance_cents, charge.patient_balance_cents


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- states and history

def test_a_denied_line_opens_a_denial_with_its_first_step(app):
    denial = deny("DN100")
    assert denial.state == "open" and denial.line.denial_codes == "CO-50 N115"
    assert [(s.state, s.actor, s.note) for s in denial.steps] == [("open", "test", "Denied: CO-50 N115")]
    assert claims.open_count() == 1


def test_moves_follow_the_allowed_transitions_and_every_step_stays(app):
    denial = deny("DN101")
    claims.move(denial, "working", "Called the payer: records requested", date(2026, 11, 20), actor="user:1",
                today=TODAY)
    claims.move(denial, "working", "Records faxed", date(2026, 11, 27), actor="user:1", today=TODAY)
    with pytest.raises(claims.DenialError, match="won or lost only once the denial is appealed"):
        claims.move(denial, "won", "Paid", actor="user:1", today=TODAY)
    claims.move(denial, "appealed", "First-level appeal sent", actor="user:1", today=TODAY)
    with pytest.raises(claims.DenialError, match="cannot be marked written off"):
        claims.move(denial, "written_off", "Give up", actor="user:1", today=TODAY)
    claims.move(denial, "lost", "Upheld on appeal", actor="user:1", today=TODAY)
    claims.move(denial, "appealed", "Second-level appeal sent", actor="user:1", today=TODAY)
    claims.move(denial, "won", "Overturned: the payer will reprocess", actor="user:1", today=TODAY)
    with pytest.raises(claims.DenialError, match="nothing more is done with it"):
        claims.move(denial, "working", "Again", actor="user:1", today=TODAY)
    db.session.commit()

    assert [s.state for s in denial.steps] == ["open", "working", "working", "appealed", "lost", "appealed", "won"]
    assert denial.steps[2].follow_up_on == date(2026, 11, 27) and denial.steps[2].note == "Records faxed"
    assert denial.state == "won" and denial.follow_up_on is None  # settled: nothing to follow up
    assert claims.list_denials() == [] and claims.list_denials("won") == [denial]  # settled, still findable
    assert claims.list_denials("all") == [denial]
    assert denial.line.denial_closed_at is not None and denial.line.denial_note.startswith("Appeal won: ")
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "denial")
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["denial.working", "denial.working", "denial.appealed", "denial.lost", "denial.appealed",
                       "denial.won"]


def test_a_move_needs_a_note_and_a_sensible_follow_up_date_and_refused_moves_change_nothing(app):
    denial = deny("DN102")
    for state, note, follow_up, message in (
            ("working", "  ", None, "Say what was done"),
            ("working", "x" * 1001, None, "under 1000"),
            ("working", "ok", TODAY - timedelta(days=1), "from today to two years ahead"),
            ("working", "ok", TODAY + timedelta(days=800), "from today to two years ahead"),
            ("closed", "ok", None, "Choose what happened"),
            ("won", "ok", None, "only once the denial is appealed")):
        with pytest.raises(claims.DenialError, match=message):
            claims.move(denial, state, note, follow_up, actor="user:1", today=TODAY)
    assert denial.state == "open" and len(denial.steps) == 1


def test_appealing_moves_the_claim_to_appealed_in_its_history(app):
    denial = deny("DN103")
    claims.move(denial, "appealed", "Appeal sent with the treatment plan", actor="user:7", today=TODAY)
    db.session.commit()
    ours = denial.line.remittance_claim.claim
    assert ours.status == "appealed"
    last = db.session.scalars(select(ClaimStatusChange).where(ClaimStatusChange.claim_id == ours.id)
                              .order_by(ClaimStatusChange.id)).all()[-1]
    assert (last.status, last.actor) == ("appealed", "user:7") and "Appeal sent" in last.note


# ---------------------------------------------------------------- the appeal deadline

def test_the_appeal_deadline_is_the_payment_date_plus_the_payers_limit(app):
    denial = deny("DN104")
    assert claims.appeal_deadline(denial) is None  # the payer sets no limit
    payer().appeal_limit_days = 180
    db.session.commit()
    assert claims.appeal_deadline(denial) == PAID_ON + timedelta(days=180)
    denial.line.remittance_claim.remittance.payment_date = None  # no BPR16: the day the file was imported
    imported = denial.line.remittance_claim.remittance.imported_at
    from portal.clock import facility_zone
    assert claims.appeal_deadline(denial) == imported.astimezone(facility_zone()).date() + timedelta(days=180)


def test_a_passed_deadline_and_an_overdue_follow_up_are_told(app):
    denial = deny("DN105")
    payer().appeal_limit_days = 30
    claims.move(denial, "working", "Waiting on records", date(2026, 11, 12), actor="user:1", today=TODAY)
    db.session.commit()
    assert not claims.deadline_passed(denial, today=PAID_ON + timedelta(days=30))
    assert claims.deadline_passed(denial, today=PAID_ON + timedelta(days=31))
    assert not claims.follow_up_overdue(denial, today=date(2026, 11, 12))
    assert claims.follow_up_overdue(denial, today=date(2026, 11, 13))
    assert claims.list_denials(overdue=True, today=date(2026, 11, 13)) == [denial]
    assert claims.list_denials(overdue=True, today=date(2026, 11, 12)) == []


# ---------------------------------------------------------------- money through the ledger

def test_writing_off_clears_what_insurance_owes_once_however_often_it_is_submitted(app):
    denial = deny("DN106")
    account = denial.line.remittance_claim.claim.account_id
    assert balances(denial) == (90000, 0)
    claims.move(denial, "written_off", "Filed past the payer's limit", actor="user:1", today=TODAY)
    db.session.commit()
    assert balances(denial) == (0, 0)
    adjustment = db.session.scalar(select(Adjustment).where(Adjustment.carc == "50"))
    assert (adjustment.amount_cents, adjustment.bucket, adjustment.kind) == (90000, "insurance", "administrative")
    assert db.session.get(Posting, adjustment.posting_id).idempotency_key == f"denial:{denial.id}:written_off"
    assert db.session.get(Account, account).insurance_balance_cents == 0
    with pytest.raises(claims.DenialError, match="nothing more is done"):
        claims.move(denial, "written_off", "Filed past the payer's limit", actor="user:1", today=TODAY)
    assert count(Adjustment) == 1 and [s.state for s in denial.steps] == ["open", "written_off"]
    assert ledger_clean()


def test_billing_to_the_patient_moves_the_insurance_balance_to_the_patient_once(app):
    denial = deny("DN107", code="96")
    claims.move(denial, "working", "Plan excludes this service", actor="user:1", today=TODAY)
    claims.move(denial, "billed_to_patient", "Non-covered: the patient signed the waiver", actor="user:1",
                today=TODAY)
    db.session.commit()
    assert balances(denial) == (0, 90000)
    moved = db.session.scalar(select(BalanceTransfer))
    assert (moved.amount_cents, moved.from_bucket, moved.to_bucket, moved.reason, moved.carc) == (
        90000, "insurance", "patient", "noncovered", "96")
    with pytest.raises(claims.DenialError):
        claims.move(denial, "billed_to_patient", "again", actor="user:1", today=TODAY)
    assert count(BalanceTransfer) == 1 and balances(denial) == (0, 90000)
    assert ledger_clean()


def test_a_refused_authorization_posts_nothing_and_leaves_the_denial_as_it_was(app):
    denial = deny("DN108")

    def refuse(cents: int) -> None:
        raise claims.DenialError(f"Your limit is below {cents}", "state")

    with pytest.raises(claims.DenialError, match="Your limit is below 90000"):
        claims.move(denial, "written_off", "Too small to chase", actor="user:1", today=TODAY, authorize=refuse)
    db.session.rollback()
    assert balances(denial) == (90000, 0) and denial.state == "open" and len(denial.steps) == 1


def test_a_submit_the_ledger_replays_posts_nothing_and_says_so(app, monkeypatch):
    """Two submits at once both pass the state check; the second reaches the ledger after the first committed."""
    denial = deny("DN109")
    claims.move(denial, "written_off", "Write it off", actor="user:1", today=TODAY)
    db.session.commit()
    # The second submit read the denial (open, $900 owed) before the first committed.
    monkeypatch.setattr(claims.denials, "_check_move", lambda *args: None)
    charge = db.session.get(Charge, denial.line.charge_id)
    monkeypatch.setattr(db.session, "refresh", lambda obj, *a, **k: set_committed_value(
        obj, "insurance_balance_cents", 90000) if obj is charge else None)
    with pytest.raises(claims.DenialError, match="already written off; nothing was posted again"):
        claims.move(denial, "written_off", "Write it off", actor="user:1", today=TODAY)
    monkeypatch.undo()
    db.session.rollback()
    assert balances(denial) == (0, 0) and count(Adjustment) == 1
    assert [s.state for s in db.session.get(Denial, denial.id).steps] == ["open", "written_off"]


# ---------------------------------------------------------------- the appeal letter

def test_the_appeal_letter_pdf_carries_the_claims_facts_and_the_billers_paragraph(app):
    from tests.fixtures import factories

    factories.facility()
    denial = deny("DN110", member_id="MEM-110")
    with pytest.raises(claims.DenialError, match="Write the paragraph"):
        claims.appeal_letter_pdf(denial, actor="user:1")
    claims.save_appeal_text(denial, "The patient met the admission criteria; notes attached.", actor="user:1")
    pdf = claims.appeal_letter_pdf(denial, actor="user:1")
    assert pdf.startswith(b"%PDF")
    letter = claims.appeal_letter(denial)
    assert letter.control_number == "DN110" and letter.payer_claim_number == "PCN-DN110-4"
    assert letter.member_id == "MEM-110" and letter.service_dates == [DAY] and letter.billed == "$900.00"
    assert letter.reasons == ["CO-50 Not deemed a medical necessity", "N115 Decision based on a local coverage "
                                                                      "determination"]
    if shutil.which("pdftotext"):
        words = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
        for expected in ("DN110", "PCN-DN110-4", "MEM-110", "10/01/2026", "$900.00", "Not deemed a medical necessity",
                         "met the admission criteria", denial.line.remittance_claim.claim.patient.full_name):
            assert expected in words, expected
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "denial.appeal_letter_downloaded")) == 1


# ---------------------------------------------------------------- the worklist and the figures

def test_the_worklist_filters_by_state_payer_and_reason_and_counts_by_reason_and_payer(app):
    first = deny("DN111", member_id="A1")
    second = deny("DN112", code="197", remarks=(), member_id="A2")
    other = deny("DN113", payer_id="2888888888", member_id="A3")
    assert claims.list_denials(reason="CO-50") == [first, other]
    assert claims.list_denials(reason="197") == [second]
    assert claims.list_denials(reason="N115") == [first, other]
    assert claims.list_denials(reason="CO-5") == []  # a code, not a prefix
    assert claims.list_denials(payer_id=payer("2888888888").id) == [other]
    with pytest.raises(claims.DenialError):
        claims.list_denials(reason="50%")
    with pytest.raises(claims.DenialError):
        claims.list_denials("closed")
    rows = claims.list_denials()
    assert claims.counts_by_reason(rows) == [("CO-50", "CO-50 Not deemed a medical necessity", 2),
                                             ("CO-197", "CO-197 Precertification or authorization absent", 1)]
    assert claims.counts_by_payer(rows) == [("Payer 1999999999", 2), ("Payer 2888888888", 1)]
    assert [(g.code, g.payer, len(g.denials)) for g in claims.grouped(rows)] == [
        ("CO-197", "Payer 1999999999", 1), ("CO-50", "Payer 1999999999", 1), ("CO-50", "Payer 2888888888", 1)]


def test_the_dashboard_figures_are_denied_over_adjudicated_lines_and_top_reasons_by_payer(app):
    deny("DN114")
    deny("DN115", code="197", remarks=())
    make_claim("DN116", [("S9480", DAY, 1, 50000), ("90791", DAY, 1, 20000)], member_id="B1")
    remittances.import_file(file_of(claim("DN116", line("S9480", 50000, 40000, cas("CO", "45", 10000)),
                                          line("90791", 20000, 20000), member_id="B1")), "paid.835", actor="test")
    db.session.commit()
    figures = claims.denial_figures(today=PAID_ON + timedelta(days=10))
    assert (figures.denied, figures.adjudicated, figures.rate_bps) == (2, 4, 5000)
    assert figures.top_by_payer == [("Payer 1999999999", [
        ("CO-197", "CO-197 Precertification or authorization absent", 1),
        ("CO-50", "CO-50 Not deemed a medical necessity", 1)])]
    later = claims.denial_figures(today=PAID_ON + timedelta(days=91))
    assert (later.denied, later.adjudicated, later.rate_bps) == (0, 0, 0)
