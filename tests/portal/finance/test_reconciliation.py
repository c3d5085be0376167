"""Deposit reconciliation: the card processor's payout report, bank statements (BAI2 and CSV), matching our
payouts, ERAs and deposit batches to the bank's credits, notes that explain what differs, and the payouts
in the journal."""
import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import ledger, remittances
from portal.extensions import db
from portal.finance import bank, journal, payouts, reconcile
from portal.models import (
    AuditEvent,
    BankStatement,
    BankTransaction,
    CardPayout,
    CardPayoutItem,
    GlPeriod,
    ReconciliationNote,
)
from portal.payments import deposits
from tests.fixtures import factories
from tests.fixtures.era import cas, claim, file_of, line, make_claim

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "finance"
REPORT = (FIXTURES / "payout_report.csv").read_bytes()
BAI2 = (FIXTURES / "statement.bai2").read_bytes()
CSV = (FIXTURES / "statement.csv").read_bytes()
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def card_world(app):
    """Two card payments whose PaymentIntents the report names, and a $20 card refund of the second."""
    facility_id = factories.facility().id
    acc = factories.account()
    factories.charge(acc, 20000)
    first = ledger.post_payment(acc.id, amount_cents=10000, method="card", key="t:pi1", actor="test",
                                reference="pi_1TestIntent0001", received_on=date(2026, 10, 30))
    second = ledger.post_payment(acc.id, amount_cents=5000, method="card", key="t:pi2", actor="test",
                                 reference="pi_1TestIntent0002", received_on=date(2026, 10, 31))
    refund = ledger.refund_payment(second.id, amount_cents=2000, key="t:re1", actor="test", reason="overpaid",
                                   method="card", processor_reference="re_1TestRefund0001")
    db.session.commit()
    return {"facility_id": facility_id, "first": first, "second": second, "refund": refund}


def test_payout_report_makes_payouts_and_items_matched_to_payments_and_refunds(card_world):
    facility_id = card_world["facility_id"]
    result = payouts.import_report(facility_id, REPORT, "payouts.csv", actor="test")
    db.session.commit()

    assert sorted(result.payouts_created) == ["po_1TestPayout1001", "po_1TestPayout1002"]
    assert (result.items_created, result.matched) == (5, 3)
    assert sorted(u.reference for u in result.unmatched) == ["pi_1TestIntent0004", "pi_1TestUnknown999"]
    first = db.session.scalar(select(CardPayout).where(CardPayout.payout_id == "po_1TestPayout1001"))
    # 100.00 + 50.00 - 20.00 + 30.00 gross; fees 3.20 + 1.75 + 0 + 1.17; net = gross - fees
    assert (first.gross_cents, first.fee_cents, first.net_cents) == (16000, 612, 15388)
    assert (first.arrival_date, first.gl_date, first.gl_corrects, first.item_count) == (
        date(2026, 11, 3), date(2026, 11, 3), None, 4)
    items = {i.balance_transaction_id: i for i in first.items}
    assert items["txn_1TestCharge0001"].payment_id == card_world["first"].id
    assert items["txn_1TestCharge0002"].payment_id == card_world["second"].id
    assert items["txn_1TestRefund0001"].refund_id == card_world["refund"].id
    assert not items["txn_1TestCharge0003"].matched  # a PaymentIntent we never took
    assert len(_audits("reconciliation.payouts_imported")) == 1


def test_the_same_report_again_changes_nothing_and_says_so(card_world):
    facility_id = card_world["facility_id"]
    payouts.import_report(facility_id, REPORT, "payouts.csv", actor="test")
    db.session.commit()
    again = payouts.import_report(facility_id, REPORT, "payouts-again.csv", actor="test")
    db.session.commit()
    assert not again.changed and again.items_already == 5
    assert "nothing new" in again.summary()
    assert (_count(CardPayout), _count(CardPayoutItem)) == (2, 5)


@pytest.mark.parametrize("content, words", [
    (REPORT.replace(b",fee,", b",fees,", 1), "fee column"),
    (REPORT.replace(b"automatic_payout_id,", b"payout,", 1), "automatic_payout_id"),
    (REPORT.replace(b"100.00,3.20,96.80", b"100.00,3.20,96.00", 1), "is not gross"),
    (REPORT.replace(b"100.00,3.20", b"1e3,3.20", 1), "not an amount"),
    (b"", "empty"),
    (b"\x00\x01binary", "NUL"),
    (b"\xff\xfe\xfa not text", "UTF-8"),
])
def test_a_report_that_cannot_be_read_is_refused_and_changes_nothing(card_world, content, words):
    with pytest.raises(payouts.PayoutError, match=words):
        payouts.import_report(card_world["facility_id"], content, "bad.csv", actor="test")
    db.session.rollback()
    assert (_count(CardPayout), _count(CardPayoutItem)) == (0, 0)


def test_a_payout_in_a_closed_month_books_today_correcting_that_month(card_world):
    facility_id = card_world["facility_id"]
    db.session.add(GlPeriod(facility_id=facility_id, month=date(2026, 11, 1), closed_by="test",
                            debit_total_cents=0, line_count=0))
    db.session.commit()
    payouts.import_report(facility_id, REPORT, "payouts.csv", actor="test")
    payout = db.session.scalar(select(CardPayout).where(CardPayout.payout_id == "po_1TestPayout1001"))
    assert payout.gl_corrects == date(2026, 11, 1) and payout.gl_date != payout.arrival_date
    assert payouts.earliest_day(facility_id) == payout.gl_date


def test_the_journal_books_a_payout_to_bank_fees_and_card_clearing_and_balances(card_world):
    facility_id = card_world["facility_id"]
    payouts.import_report(facility_id, REPORT, "payouts.csv", actor="test")
    db.session.commit()
    day = date(2026, 11, 3)
    lines = journal.journal(facility_id, day, day, actor="test")
    by_account = {line.account_number: (line.debit_cents, line.credit_cents) for line in lines}
    assert by_account["1010"] == (15388, 0)  # the bank: the payout's net
    assert by_account["6110"] == (612, 0)  # card processing fees
    assert by_account["1015"] == (0, 16000)  # card clearing: the gross the payments and refund booked there
    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines)
    # the whole month, with the card payments and the refund from the ledger, still balances
    month = journal.journal(facility_id, date(2026, 10, 1), date(2026, 11, 30), actor="test")
    assert sum(line.debit_cents for line in month) == sum(line.credit_cents for line in month)


# ---------------------------------------------------------------- bank statements

def test_bai2_statement_imports_credits_and_debits_once(app):
    facility_id = factories.facility().id
    result = bank.import_statement(facility_id, BAI2, "nov04.bai2", "bai2", actor="test")
    db.session.commit()
    assert (result.new, result.already) == (6, 0)
    rows = list(db.session.scalars(select(BankTransaction).order_by(BankTransaction.id)))
    assert [r.amount_cents for r in rows] == [15388, 65000, 41995, 25000, 1234, -2000]
    assert {r.posted_on for r in rows} == {date(2026, 11, 4)}
    assert rows[1].bank_reference == "BR26110402" and "EFT0001" in rows[1].description
    assert len(_audits("reconciliation.bank_imported")) == 1

    with pytest.raises(bank.BankError, match="imported before"):
        bank.import_statement(facility_id, BAI2, "again.bai2", "bai2", actor="test")
    db.session.rollback()
    assert (_count(BankStatement), _count(BankTransaction)) == (1, 6)


def test_csv_statement_and_an_overlapping_one_keep_each_transaction_once(app):
    facility_id = factories.facility().id
    first = bank.import_statement(facility_id, CSV, "nov.csv", "csv", actor="test")
    assert first.new == 3
    overlapping = (b"Date,Amount,Description,Reference\n2026-11-24,-15.00,MONTHLY SERVICE FEE,\n"
                   b"2026-11-30,5.12,INTEREST PAID,\n2026-12-01,310.00,DEPOSIT,D-1\n")
    second = bank.import_statement(facility_id, overlapping, "late-nov.csv", "csv", actor="test")
    db.session.commit()
    assert (second.new, second.already) == (1, 2)
    assert _count(BankTransaction) == 4
    assert db.session.scalar(select(BankTransaction).where(BankTransaction.amount_cents == -1500)).posted_on == \
        date(2026, 11, 24)
    with pytest.raises(bank.BankError, match="imported before"):
        bank.import_statement(facility_id, CSV, "nov-again.csv", "csv", actor="test")


@pytest.mark.parametrize("fmt, content, words", [
    ("csv", b"when,how much\n2026-11-01,1.00\n", "no date or amount column"),
    ("csv", b"date,amount\n2026-13-01,1.00\n", "not a date"),
    ("csv", b'date,amount\n2026-11-01,"12,34.5"\n', "not an amount"),
    ("csv", b"date,amount\n2026-11-01,999999999999.00\n", "not an amount"),
    ("bai2", BAI2.replace(b"49,150617,8/", b"49,150000,8/"), "control total"),
    ("bai2", BAI2.rsplit(b"49,", 1)[0], "not a whole BAI2 file"),
    ("bai2", b"01,garbage\n99,1/\n", "not a readable BAI2"),
    ("bai2", b"", "empty"),
    ("csv", b"date,amount\x00\n", "NUL"),
])
def test_a_statement_that_cannot_be_read_is_refused(app, fmt, content, words):
    with pytest.raises(bank.BankError, match=words):
        bank.import_statement(factories.facility().id, content, "bad", fmt, actor="test")
    db.session.rollback()
    assert (_count(BankStatement), _count(BankTransaction)) == (0, 0)


# ---------------------------------------------------------------- matching

@pytest.fixture
def november(card_world):
    """Our side of November and both statements: the payouts, two EFT remittances, two closed batches."""
    facility_id = card_world["facility_id"]
    payouts.import_report(facility_id, REPORT, "payouts.csv", actor="test")
    for control, trace, paid in (("RC1", "EFT0001", 65000), ("RC2", "EFT0002", 42000)):
        make_claim(control, [("S9480", date(2026, 10, 1), 1, 90000)])
        content = file_of(claim(control, line("S9480", 90000, paid, cas("CO", "45", 90000 - paid))),
                          method="ACH", trace=trace, paid_on=date(2026, 11, 4))
        remittances.import_file(content, f"{control}.835", actor="test")
    acc = factories.account()
    factories.charge(acc, 40000)
    batches = []
    for day, cents in ((date(2026, 11, 3), 25000), (date(2026, 11, 10), 12000)):
        batch = deposits.open_batch(deposit_date=day, kind="cash_drawer", control_total_cents=cents, control_count=1,
                                    actor="test")
        ledger.post_payment(acc.id, amount_cents=cents, method="cash", key=f"t:cash:{day}", actor="test",
                            deposit_batch_id=batch.id, received_on=day)
        deposits.close_batch(batch.id, actor="test")
        batches.append(batch)
    bank.import_statement(facility_id, BAI2, "nov04.bai2", "bai2", actor="test")
    bank.import_statement(facility_id, CSV, "nov.csv", "csv", actor="test")
    db.session.commit()
    return {**card_world, "batches": batches}


def _credit(cents: int) -> BankTransaction:
    return db.session.scalar(select(BankTransaction).where(BankTransaction.amount_cents == cents))


def test_reconcile_matches_payouts_eras_and_batches_and_lists_the_rest(november):
    result = reconcile.reconcile(november["facility_id"], *NOVEMBER)

    matched = {(m.item.kind, m.bank.amount_cents): m for m in result.matched}
    assert set(matched) == {("payout", 15388), ("era", 65000), ("batch", 25000)}
    assert "1 day later" in matched[("payout", 15388)].how  # same net, the day after it arrived
    assert "EFT0001" in matched[("era", 65000)].how  # the trace number in the bank's text
    [differing] = result.differing
    assert (differing.item.kind, differing.bank.amount_cents, differing.item.amount_cents,
            differing.difference_cents) == ("era", 41995, 42000, -5)
    assert result.difference_total_cents == -5
    assert sorted(t.amount_cents for t in result.unmatched_bank) == [-2000, -1500, 512, 1234, 7500]
    waiting = {(w.item.kind, w.item.amount_cents): w.status for w in result.waiting}
    # statements run to Nov 30: the payout of Nov 28 is on its way, the batch of Nov 10 should have arrived
    assert waiting == {("payout", 3854): "in_transit", ("batch", 12000): "missing"}
    assert result.statement_end == date(2026, 11, 30)
    assert [(p.payout_id, p.fee_cents) for p in result.payouts] == [("po_1TestPayout1001", 612),
                                                                     ("po_1TestPayout1002", 146)]
    assert result.fee_total_cents == 758
    assert {i.balance_transaction_id for i in result.unmatched_payout_items} == {"txn_1TestCharge0003",
                                                                                 "txn_1TestCharge0004"}


def test_a_range_ending_before_the_bank_credit_shows_the_payout_in_transit(november):
    result = reconcile.reconcile(november["facility_id"], date(2026, 11, 1), date(2026, 11, 3))
    # As of Nov 3 the payout and the batch of that day have not reached the bank (it credited them on Nov 4).
    assert result.matched == [] and result.unmatched_bank == []
    assert {(w.item.kind, w.item.amount_cents, w.status) for w in result.waiting} == {
        ("payout", 15388, "in_transit"), ("batch", 25000, "in_transit")}
    with pytest.raises(reconcile.ReconcileError, match="before the start"):
        reconcile.reconcile(november["facility_id"], date(2026, 11, 30), date(2026, 11, 1))


def test_an_explanation_is_stored_audited_and_shown(november):
    facility_id = november["facility_id"]
    differing = _credit(41995)
    note = reconcile.explain(facility_id, "bank", differing.id, "Payer took a 5 cent rounding; call logged.",
                             actor="test")
    db.session.commit()
    assert (note.item_kind, note.item_id, note.created_by) == ("bank", differing.id, "test")
    [event] = _audits("reconciliation.explained")
    assert event.detail["item_id"] == differing.id and "rounding" in event.detail["note"]
    result = reconcile.reconcile(facility_id, *NOVEMBER)
    assert [n.note for n in result.notes_for("bank", differing.id)] == ["Payer took a 5 cent rounding; call logged."]
    assert "rounding" in result.summary()
    assert json.loads(json.dumps(result.as_dict(), default=str))["differing"][0]["notes"][0]["note"].startswith("Payer")

    for kind, item_id, text, words in (("bank", differing.id, "", "Write the note"),
                                       ("bank", differing.id, "x" * 501, "500 characters"),
                                       ("bank", 999999, "why", "no bank transaction"),
                                       ("ledger", differing.id, "why", "Say what the note explains")):
        with pytest.raises(reconcile.ReconcileError, match=words):
            reconcile.explain(facility_id, kind, item_id, text, actor="test")
    assert _count(ReconciliationNote) == 1


def test_the_commands_import_reconcile_and_explain(app, card_world, tmp_path):
    runner = app.test_cli_runner()
    report = tmp_path / "payouts.csv"
    report.write_bytes(REPORT)
    made = runner.invoke(args=["gl", "payouts-import", str(report), "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["items_created"] == 5
    again = runner.invoke(args=["gl", "payouts-import", str(report)])
    assert again.exit_code == 0 and "nothing new" in again.output
    statement = tmp_path / "nov.bai2"
    statement.write_bytes(BAI2)
    assert runner.invoke(args=["gl", "bank-import", str(statement), "--format", "bai2"]).exit_code == 0
    twice = runner.invoke(args=["gl", "bank-import", str(statement), "--format", "bai2"])
    assert twice.exit_code != 0 and twice.output.startswith("Error: ") and "imported before" in twice.output
    shown = runner.invoke(args=["gl", "reconcile", "--from", "2026-11-01", "--to", "2026-11-30", "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.output)
    assert payload["totals"]["card_fees_cents"] == 758 and payload["matched"][0]["item"]["kind"] == "payout"
    unmatched = payload["unmatched_bank"][0]["id"]
    noted = runner.invoke(args=["gl", "explain", "bank", str(unmatched), "--note", "Bank interest"])
    assert noted.exit_code == 0, noted.output
    assert db.session.scalar(select(ReconciliationNote.note)) == "Bank interest"
    for args in (["gl", "reconcile", "--from", "2026-02-30"], ["gl", "payouts-import", str(tmp_path / "none")],
                 ["gl", "explain", "bank", "99999", "--note", "x"]):
        bad = runner.invoke(args=args)
        assert bad.exit_code != 0 and bad.output.startswith("Error: ") and bad.output.count("\n") == 1, bad.output
