from datetime import date

import pytest
from sqlalchemy import select

from portal import claims, remittances
from portal.extensions import db
from portal.models import (
    Account,
    AdjudicatedLine,
    Adjustment,
    BalanceTransfer,
    Charge,
    EraException,
    Payment,
    Remittance,
    RemittanceLine,
)
from portal.remittances import x12
from tests.fixtures.era import (
    DAY,
    cas,
    claim,
    counts,
    file_of,
    ledger_clean,
    line,
    make_claim,
    remit,
)

DAY2 = date(2026, 10, 2)


def charge_balances(claim_):
    out = []
    for cl in claim_.lines:
        charge = db.session.get(Charge, cl.charge_id)
        db.session.refresh(charge)
        out.append((charge.insurance_balance_cents, charge.patient_balance_cents))
    return out


def account_of(claim_):
    acc = db.session.get(Account, claim_.account_id)
    db.session.refresh(acc)
    return acc


def test_paid_in_full_posts_payment_contractual_and_history(app):
    ours = make_claim("PC100", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("PC100", line("S9480", 90000, 65000, cas("CO", "45", 25000))), method="CHK")
    result = remittances.import_file(content, "paid.835", actor="user:1")

    assert (result.claims, result.lines, result.posted_lines, result.exceptions) == (1, 1, 1, 0)
    assert charge_balances(ours) == [(0, 0)]
    payment = db.session.scalar(select(Payment))
    assert (payment.source, payment.method, payment.amount_cents, payment.payer_id) == (
        "insurance", "insurance_check", 65000, ours.payer_id)
    assert payment.reference == db.session.get(Remittance, result.remittance_id).trace_number
    adj = db.session.scalar(select(Adjustment))
    assert (adj.kind, adj.group_code, adj.carc, adj.amount_cents, adj.bucket) == ("contractual", "CO", "45", 25000,
                                                                                   "insurance")
    history = db.session.scalar(select(AdjudicatedLine))
    assert (history.source, history.billed_cents, history.allowed_cents, history.paid_cents,
            history.patient_resp_cents, history.claim_status, history.denied) == ("era", 90000, 65000, 65000, 0, "1",
                                                                                  False)
    assert history.source_key.endswith(":1:1") and history.episode_key == "PC100"
    remittance = db.session.get(Remittance, result.remittance_id)
    assert remittance.content == content and remittance.status == "posted"
    assert ledger_clean()


def test_partial_payment_moves_deductible_and_coinsurance_to_the_patient(app):
    ours = make_claim("PC101", [("S9480", DAY, 1, 90000), ("S9480", DAY2, 1, 90000)])
    content = file_of(claim(
        "PC101",
        line("S9480", 90000, 12000, cas("CO", "45", 25000), cas("PR", "1", 50000), cas("PR", "2", 3000)),
        line("S9480", 90000, 52000, cas("CO", "45", 25000), cas("PR", "2", 13000), day=DAY2, allowed=65000),
    ))
    remittances.import_file(content, "partial.835", actor="user:1")

    assert charge_balances(ours) == [(0, 53000), (0, 13000)]
    acc = account_of(ours)
    assert (acc.insurance_balance_cents, acc.patient_balance_cents) == (0, 66000)
    reasons = sorted((t.reason, t.carc, t.amount_cents) for t in db.session.scalars(select(BalanceTransfer)))
    assert reasons == [("coinsurance", "2", 3000), ("coinsurance", "2", 13000), ("deductible", "1", 50000)]
    rows = db.session.scalars(select(AdjudicatedLine).order_by(AdjudicatedLine.service_date)).all()
    assert [(r.allowed_cents, r.paid_cents, r.deductible_cents, r.coinsurance_cents) for r in rows] == [
        (65000, 12000, 50000, 3000), (65000, 52000, 0, 13000)]
    assert db.session.scalar(select(Payment)).amount_cents == 64000
    assert ledger_clean()


def test_denial_is_recorded_for_the_worklist_and_nothing_is_written_off(app):
    ours = make_claim("PC102", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("PC102", line("S9480", 90000, 0, cas("CO", "197", 90000), remarks=["N130"]), status="4"))
    result = remittances.import_file(content, "denied.835", actor="user:1")

    assert result.denied_lines == 1
    assert charge_balances(ours) == [(90000, 0)]  # still owed by insurance while the denial is worked
    denied = claims.list_denials()
    assert len(denied) == 1 and denied[0].line.denial_codes == "CO-197 N130" and denied[0].state == "open"
    assert "authorization absent" in denied[0].line.denial_reason
    history = db.session.scalar(select(AdjudicatedLine))
    assert history.denied and history.claim_status == "4" and history.paid_cents == 0
    claims.move(denied[0], "written_off", "Authorization never obtained", actor="user:1")
    assert claims.list_denials() == []
    assert charge_balances(ours) == [(0, 0)]  # settled: what insurance owed is written off through the ledger
    assert ledger_clean()


def test_zero_paid_line_with_a_denial_code_is_a_denial_even_on_a_paid_claim(app):
    make_claim("PC103", [("S9480", DAY, 1, 90000), ("90791", DAY, 1, 30000)])
    content = file_of(claim("PC103", line("S9480", 90000, 65000, cas("CO", "45", 25000)),
                            line("90791", 30000, 0, cas("CO", "50", 30000))))
    remittances.import_file(content, "mixed.835", actor="user:1")
    lines = db.session.scalars(select(RemittanceLine).order_by(RemittanceLine.sequence)).all()
    assert [(ln.posted, ln.denied) for ln in lines] == [(True, False), (True, True)]
    assert "medical necessity" in lines[1].denial_reason


def test_reversal_and_correction_undo_the_first_posting_and_post_the_new_one(app):
    ours = make_claim("PC104", [("S9480", DAY, 1, 90000)])
    remittances.import_file(file_of(claim("PC104", line("S9480", 90000, 52000, cas("CO", "45", 25000),
                                                 cas("PR", "2", 13000)))), "first.835", actor="user:1")
    assert charge_balances(ours) == [(0, 13000)]

    reversal = claim("PC104", line("S9480", -90000, -52000, cas("CO", "45", -25000), cas("PR", "2", -13000)),
                     status="22")
    correction = claim("PC104", line("S9480", 90000, 58500, cas("CO", "45", 25000), cas("PR", "2", 6500)))
    result = remittances.import_file(file_of(reversal, correction), "corrected.835", actor="user:1")

    assert result.exceptions == 0
    assert charge_balances(ours) == [(0, 6500)]
    acc = account_of(ours)
    assert (acc.insurance_balance_cents, acc.patient_balance_cents, acc.credit_cents) == (0, 6500, 0)
    first, second = db.session.scalars(select(AdjudicatedLine).order_by(AdjudicatedLine.id)).all()
    assert first.reversed_on == date(2026, 11, 2) and second.reversed_on is None and second.paid_cents == 58500
    payments = db.session.scalars(select(Payment).order_by(Payment.id)).all()
    assert [(p.amount_cents, p.reversed) for p in payments] == [(52000, True), (58500, False)]
    assert ledger_clean()


def test_provider_level_adjustment_is_kept_on_the_remittance_not_an_account(app):
    ours = make_claim("PC105", [("S9480", DAY, 1, 90000)])
    content = file_of(claim("PC105", line("S9480", 90000, 65000, cas("CO", "45", 25000))),
                      plb=[("WO", "OLDCLAIM9", 5000), ("L6", None, -125)])
    result = remittances.import_file(content, "plb.835", actor="user:1")
    remittance = db.session.get(Remittance, result.remittance_id)
    assert remittance.payment_cents == 65000 - 5000 + 125
    assert [(p.reason_code, p.reference, p.amount_cents) for p in remittance.provider_adjustments] == [
        ("WO", "OLDCLAIM9", 5000), ("L6", None, -125)]
    assert charge_balances(ours) == [(0, 0)]
    assert db.session.scalar(select(Payment)).amount_cents == 65000
    assert ledger_clean()


def test_unmatched_claim_waits_in_the_queue_and_the_rest_posts(app):
    ours = make_claim("PC106", [("S9480", DAY, 1, 90000)])
    other = make_claim("PC999", [("S9480", DAY, 1, 80000)], member_id="MEMX")
    content = file_of(claim("PC106", line("S9480", 90000, 65000, cas("CO", "45", 25000))),
                      claim("UNKNOWN1", line("S9480", 80000, 60000, cas("CO", "45", 20000)), member_id="NOBODY"))
    result = remittances.import_file(content, "unmatched.835", actor="user:1")

    assert (result.posted_lines, result.exceptions) == (1, 1)
    assert charge_balances(ours) == [(0, 0)]
    [waiting] = remittances.open_exceptions()
    assert "No claim has control number UNKNOWN1" in waiting.reason
    assert waiting.remittance_claim.paid_cents == 60000
    remittance = db.session.get(Remittance, result.remittance_id)
    assert remittance.status == "exceptions"

    remittances.resolve_exception(waiting.id, other.id, actor="user:2")
    assert charge_balances(other) == [(0, 0)]
    db.session.refresh(remittance)
    assert (remittance.status, remittance.exception_count) == ("posted", 0)
    assert db.session.get(EraException, waiting.id).state == "matched"
    assert ledger_clean()


def test_fallback_match_by_member_date_and_charge(app):
    ours = make_claim("PC107", [("S9480", DAY, 1, 90000)], member_id="MEM777")
    content = file_of(claim("PAYERSAYS1", line("S9480", 90000, 65000, cas("CO", "45", 25000)), member_id="MEM777"))
    result = remittances.import_file(content, "fallback.835", actor="user:1")
    assert result.exceptions == 0
    assert charge_balances(ours) == [(0, 0)]


def test_dismissing_an_exception_needs_a_note(app):
    content = file_of(claim("NOPE", line("S9480", 80000, 60000, cas("CO", "45", 20000)), member_id="NOBODY"))
    remittances.import_file(content, "x.835", actor="user:1")
    [waiting] = remittances.open_exceptions()
    with pytest.raises(remittances.EraError):
        remittances.dismiss_exception(waiting.id, " ", actor="user:1")
    remittances.dismiss_exception(waiting.id, "Not our patient; returned to payer", actor="user:1")
    assert remittances.open_exceptions() == []


@pytest.mark.parametrize("case", ["unbalanced_line", "unbalanced_claim", "unbalanced_total", "duplicate_file",
                                  "duplicate_trace", "truncated", "wrong_version", "syntax"])
def test_refused_files_change_nothing(app, case):
    make_claim("PC108", [("S9480", DAY, 1, 90000)])
    good = remit(claim("PC108", line("S9480", 90000, 65000, cas("CO", "45", 25000))), trace="TR-1")
    remittances.import_file(x12.write(good), "first.835", actor="user:1")
    before = counts()
    if case == "unbalanced_line":
        bad = file_of(claim("PC108", line("S9480", 90000, 65000, cas("CO", "45", 20000))))
        expected = "does not balance"
    elif case == "unbalanced_claim":
        bad = file_of(claim("PC108", line("S9480", 90000, 65000, cas("CO", "45", 25000)), paid=60000), total=60000)
        expected = "does not balance"
    elif case == "unbalanced_total":
        bad = file_of(claim("PC108", line("S9480", 90000, 65000, cas("CO", "45", 25000))), total=70000)
        expected = "does not balance"
    elif case == "duplicate_file":
        bad = x12.write(good)
        expected = "already imported as remittance"
    elif case == "duplicate_trace":
        bad = x12.write(good, control=2)
        expected = "same payer and trace number was already imported"
    elif case == "truncated":
        bad = x12.write(good).split(b"SE*")[0]
        expected = "truncated"
    elif case == "wrong_version":
        bad = x12.write(good, version="004010X091A1")
        expected = "Wrong version"
    else:
        bad = x12.write(good).replace(b"CLP*PC108*1*", b"CLP*PC108*1**")
        expected = "not a valid"
    with pytest.raises(remittances.EraError, match=expected) as refused:
        remittances.import_file(bad, "bad.835", actor="user:1")
    assert counts() == before
    if case.startswith("unbalanced"):
        assert "≠" in str(refused.value)
    if case == "syntax":
        assert "line 13, CLP" in str(refused.value)
    assert ledger_clean()


def test_a_recoded_line_waits_and_a_biller_posts_it_to_the_line_they_choose(app):
    ours = make_claim("PC109", [("S9480", DAY, 1, 90000), ("S9480", DAY2, 1, 90000)])
    content = file_of(claim("PC109", line("S9480", 90000, 65000, cas("CO", "45", 25000)),
                            line("H0015", 90000, 60000, cas("CO", "45", 30000), day=DAY2)))
    result = remittances.import_file(content, "recoded.835", actor="user:1")
    assert (result.posted_lines, result.exceptions) == (1, 1)
    [waiting] = remittances.open_exceptions()
    assert waiting.remittance_line.procedure_code == "H0015" and "H0015" in waiting.reason
    assert charge_balances(ours) == [(0, 0), (90000, 0)]
    with pytest.raises(remittances.EraError, match="not an unposted line"):
        remittances.resolve_exception(waiting.id, ours.id, actor="user:2", claim_line_id=ours.lines[0].id)
    remittances.resolve_exception(waiting.id, ours.id, actor="user:2", claim_line_id=ours.lines[1].id)
    assert charge_balances(ours) == [(0, 0), (0, 0)]
    assert db.session.get(Remittance, result.remittance_id).status == "posted"
    assert ledger_clean()


def test_progress_is_reported_by_stage(app):
    make_claim("PC110", [("S9480", DAY, 1, 90000)])
    seen = []
    remittances.import_file(file_of(claim("PC110", line("S9480", 90000, 65000, cas("CO", "45", 25000)))), "p.835",
                    actor="user:1", progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [stage for stage, _, _ in seen]
    assert list(dict.fromkeys(stages)) == ["validating", "matching", "done"] and seen[-1][1:] == (1, 1)


def test_a_payer_that_recodes_a_line_still_posts_it_on_the_line_we_billed(app):
    # The payer pays H0015 (SVC01) for what we billed as S9480 on DAY2 (SVC06): it lands on that line.
    ours = make_claim("PC120", [("S9480", DAY, 1, 90000), ("S9480", DAY2, 1, 90000)])
    recoded = line("H0015", 90000, 60000, cas("CO", "45", 30000), day=DAY2)
    recoded.billed_procedure_code = "S9480"
    content = file_of(claim("PC120", line("S9480", 90000, 65000, cas("CO", "45", 25000)), recoded))
    [parsed] = x12.parse(content)
    assert parsed.claims[0].lines[1].billed_procedure_code == "S9480"
    result = remittances.import_file(content, "recoded.835", actor="user:1")
    assert (result.posted_lines, result.exceptions) == (2, 0)
    assert charge_balances(ours) == [(0, 0), (0, 0)]
    posted = db.session.scalars(select(RemittanceLine).order_by(RemittanceLine.sequence)).all()
    assert [ln.claim_line_id for ln in posted] == [cl.id for cl in ours.lines]
    assert posted[1].procedure_code == "H0015" and posted[1].billed_procedure_code == "S9480"
    assert ledger_clean()


def test_our_line_control_number_wins_over_the_code_and_date(app):
    # Two lines of the same code on the same day: REF*6R says the payer's first line is our second one.
    ours = make_claim("PC121", [("S9480", DAY, 1, 90000), ("S9480", DAY, 1, 90000)])
    ours.lines[0].line_control_number, ours.lines[1].line_control_number = "PC121-1", "PC121-2"
    db.session.commit()
    denied = line("S9480", 90000, 0, cas("CO", "50", 90000))
    denied.control_number = "PC121-2"
    paid = line("S9480", 90000, 65000, cas("CO", "45", 25000))
    paid.control_number = "PC121-1"
    result = remittances.import_file(file_of(claim("PC121", denied, paid)), "6r.835", actor="user:1")
    assert (result.posted_lines, result.exceptions) == (2, 0)
    assert charge_balances(ours) == [(0, 0), (90000, 0)]  # the denied one stays owed, for appeal
    posted = db.session.scalars(select(RemittanceLine).order_by(RemittanceLine.sequence)).all()
    assert [ln.claim_line_id for ln in posted] == [ours.lines[1].id, ours.lines[0].id]
    assert posted[0].denied and not posted[1].denied
    assert ledger_clean()
