"""The journal a business office imports: what each movement debits and credits, both file layouts, the
record of each export, closing rules, and the month-end roll-forward against the ledger."""
import csv
import hashlib
import io
from datetime import timedelta

import pytest

from portal import ledger
from portal.clock import facility_today
from portal.extensions import db
from portal.finance import journal, month_end, periods
from portal.finance.journal import JournalError
from portal.models import BillingCode, Charge, Episode, GlExport, Program
from tests.fixtures import factories


def _iop_code() -> BillingCode:
    code = factories.code("S9480")
    code.level_of_care = "iop"
    db.session.commit()
    return code


def _by_account(lines) -> dict[str, int]:
    """Account number -> net debit (credits negative)."""
    net: dict[str, int] = {}
    for line in lines:
        net[line.account_number] = net.get(line.account_number, 0) + line.debit_cents - line.credit_cents
    return net


def _day_of_movements():
    """An IOP day of $900 owed by insurance, its $600 EFT with a $200 contractual write-off, the last $100 moved
    to the patient, who pays $150 by card and is refunded the $50 extra by check."""
    _iop_code()
    acc = factories.account()
    charge = factories.charge(acc, 90000, responsibility="insurance")
    ledger.post_payment(acc.id, amount_cents=60000, method="eft", source="insurance", key="t:eft", actor="test")
    ledger.post_adjustment(charge.id, amount_cents=20000, kind="contractual", bucket="insurance", key="t:co45",
                           actor="test", group_code="CO", carc="45")
    ledger.transfer(charge.id, amount_cents=10000, to_bucket="patient", reason="coinsurance", key="t:pr2",
                    actor="test")
    card = ledger.post_payment(acc.id, amount_cents=15000, method="card", key="t:card", actor="test",
                               reference="pi_test_1")
    ledger.refund_payment(card.id, amount_cents=5000, key="t:refund", actor="test", reason="overpaid",
                          method="check", check_number="1001")
    return acc, charge


def test_each_movement_lands_on_its_account_and_the_day_balances(app):
    acc, _ = _day_of_movements()
    today = facility_today()
    lines = journal.journal(acc.facility_id, today, today, actor="test")
    net = _by_account(lines)
    # The insurance side: charged 900, paid 600, written off 200, 100 moved to the patient; the patient side: 100
    # moved in and paid; the card's 50 extra sat as unapplied credit until refunded. Those accounts net to zero.
    assert net == {"4010": -90000, "1010": 60000, "4510": 20000, "1015": 15000, "2110": -5000}
    assert not {"1200", "1210", "2100"} & {line.account_number for line in lines}, "a zero net has no line"
    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines)


def test_a_reversal_books_against_the_same_accounts_and_undoes_them(app):
    _iop_code()
    acc = factories.account()
    charge = factories.charge(acc, 45000)
    ledger.reverse(charge.posting_id, key="t:undo", actor="test", reason="wrong day")
    today = facility_today()
    assert journal.journal(acc.facility_id, today, today, actor="test") == []


def test_the_parity_layout_is_cents_and_the_quickbooks_layout_one_balanced_entry_per_day(app):
    acc, _ = _day_of_movements()
    today = facility_today()
    made = journal.export(acc.facility_id, today, today, "parity", actor="user:1")
    rows = list(csv.DictReader(io.StringIO(made.content.decode())))
    assert list(rows[0]) == ["date", "account_number", "account_name", "debit_cents", "credit_cents",
                             "corrects_period", "description"]
    revenue = next(r for r in rows if r["account_number"] == "4010")
    assert (revenue["date"], revenue["debit_cents"], revenue["credit_cents"]) == (today.isoformat(), "0", "90000")
    assert revenue["account_name"] == "Gross patient revenue — IOP"

    quick = journal.export(acc.facility_id, today, today, "quickbooks", actor="user:1")
    entries = list(csv.DictReader(io.StringIO(quick.content.decode())))
    assert {e["Journal No."] for e in entries} == {f"PB{today:%Y%m%d}"}
    assert {e["Journal Date"] for e in entries} == {today.strftime("%m/%d/%Y")}
    bank = next(e for e in entries if e["Account Name"] == "Operating bank account")
    assert (bank["Debits"], bank["Credits"]) == ("600.00", "")
    cents = lambda text: int(text.replace(".", "")) if text else 0  # noqa: E731
    assert sum(cents(e["Debits"]) for e in entries) == sum(cents(e["Credits"]) for e in entries)

    db.session.commit()
    recorded = db.session.scalars(db.select(GlExport).order_by(GlExport.id)).all()
    assert [(r.format, r.sha256) for r in recorded] == [
        ("parity", hashlib.sha256(made.content).hexdigest()), ("quickbooks", hashlib.sha256(quick.content).hexdigest())]


def test_a_month_closes_once_it_is_over_in_order_and_only_once(app):
    _iop_code()
    acc = factories.account()
    today = facility_today()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    before = (last_month - timedelta(days=1)).replace(day=1)
    ledger.post_payment(acc.id, amount_cents=1000, method="check", key="t:old", actor="test",
                        received_on=before + timedelta(days=3))
    ledger.post_payment(acc.id, amount_cents=2000, method="check", key="t:last", actor="test",
                        received_on=last_month + timedelta(days=3))
    with pytest.raises(JournalError, match="not over yet"):
        periods.close_month(acc.facility_id, this_month, actor="test")
    with pytest.raises(JournalError, match=f"Close {before:%B %Y} first"):
        periods.close_month(acc.facility_id, last_month, actor="test")
    db.session.rollback()
    first = periods.close_month(acc.facility_id, before, actor="test")
    db.session.commit()
    assert (first.line_count, first.debit_total_cents) == (2, 1000)
    with pytest.raises(JournalError, match="already closed"):
        periods.close_month(acc.facility_id, before, actor="test")
    db.session.rollback()
    periods.close_month(acc.facility_id, last_month, actor="test")
    db.session.commit()
    assert periods.first_open_month(acc.facility_id) == this_month


def test_the_roll_forward_per_program_adds_up_and_closes_on_the_ledger(app):
    _iop_code()
    acc = factories.account()
    fac = factories.facility()
    program = Program(facility_id=fac.id, name="Adult IOP", level_of_care="iop")
    db.session.add(program)
    db.session.flush()
    episode = Episode(patient_id=acc.patients[0].id, program_id=program.id, admit_date=facility_today(),
                      created_by="test")
    db.session.add(episode)
    db.session.commit()
    in_program = factories.charge(acc, 90000, responsibility="insurance")
    db.session.get(Charge, in_program.id).episode_id = episode.id
    db.session.commit()
    outside = factories.charge(acc, 20000)
    ledger.post_payment(acc.id, amount_cents=30000, method="eft", source="insurance", key="t:era", actor="test")
    ledger.post_adjustment(in_program.id, amount_cents=10000, kind="contractual", bucket="insurance", key="t:co",
                           actor="test")
    ledger.post_payment(acc.id, amount_cents=5000, method="cash", key="t:cash", actor="test")
    ledger.post_adjustment(outside.id, amount_cents=1500, kind="charity", bucket="patient", key="t:charity",
                           actor="test")

    report = month_end.report(acc.facility_id, facility_today())
    by_program = {r.program: r for r in report.programs}
    adult = by_program["Adult IOP"]
    assert (adult.opening_cents, adult.charges_cents, adult.payments_cents, adult.adjustments_cents,
            adult.closing_cents) == (0, 90000, 30000, 10000, 50000)
    other = by_program["IOP, no episode"]
    assert (other.charges_cents, other.payments_cents, other.adjustments_cents, other.closing_cents) == (
        20000, 5000, 1500, 13500)
    assert all(r.balances for r in report.programs) and report.total.balances
    owed = db.session.scalar(db.select(db.func.sum(Charge.insurance_balance_cents + Charge.patient_balance_cents)))
    assert report.total.closing_cents == owed
    assert dict(report.cash) == {"Insurance — EFT": 30000, "Patient — Cash": 5000}
    assert report.cash_total_cents == 35000


@pytest.mark.postgres
def test_a_month_closed_while_a_posting_wrote_into_it_refuses_the_posting(app):
    """The posting began before the close and commits after it: rather than land in a frozen month unseen,
    it is refused whole (posted again, it books today as a correction)."""
    from portal.ledger.engine import UnitOfWork
    from portal.ledger.records import add_payment
    from portal.models import GlPeriod, LedgerEntry

    acc = factories.account()
    last_month = (facility_today().replace(day=1) - timedelta(days=1)).replace(day=1)
    uow = UnitOfWork({acc.id}, actor="test")
    add_payment(uow, acc.id, key="t:race", fp="race", amount_cents=900, source="patient", method="check",
                received_on=last_month + timedelta(days=9))
    with db.engine.connect() as other:  # another process closes the month meanwhile
        other.execute(GlPeriod.__table__.insert().values(
            facility_id=acc.facility_id, month=last_month, closed_by="other", closed_at=db.func.now(),
            debit_total_cents=0, line_count=0))
        other.commit()
    with pytest.raises(ledger.LedgerError, match="was closed while this was being posted"):
        uow.commit()
    assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == 0
    again = ledger.post_payment(acc.id, amount_cents=900, method="check", key="t:race", actor="test",
                                received_on=last_month + timedelta(days=9))
    entry = db.session.scalar(db.select(LedgerEntry).where(LedgerEntry.payment_id == again.id))
    assert (entry.gl_date, entry.gl_corrects) == (facility_today(), last_month)


def test_ledger_check_names_entries_the_journal_could_not_balance(app):
    from portal.models import LedgerEntry

    acc = factories.account()
    payment = ledger.post_payment(acc.id, amount_cents=2500, method="cash", key="t:check", actor="test")
    assert ledger.check_all()[1] == []
    db.session.execute(db.update(LedgerEntry).where(LedgerEntry.payment_id == payment.id)
                       .values(gl_source="internal"))
    db.session.commit()
    problems = [p for d in ledger.check_all()[1] for p in d.problems]
    assert problems == [f"posting {payment.posting_id}: entries booked as internal do not net to zero"]
