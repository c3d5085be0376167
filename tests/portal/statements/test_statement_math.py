"""A statement adds up on its face: previous balance + new charges - insurance paid - adjustments - your
payments + refunds = balance, and balance - still with insurance = what you owe; each visit's figures
add up to what you owe for it; payments made after the statement are noted on its page."""
import subprocess
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, rule

from portal import ledger, statements
from portal.extensions import db
from portal.models import Account, Charge, Statement, utcnow
from tests.conftest import PASSWORD, post_form
from tests.fixtures import factories
from tests.portal.ledger.test_ledger_properties import LedgerMachine

AS_OF = date(2026, 11, 10)


def _insured_visit_adjudicated(account: Account) -> Charge:
    """$1,000.00 billed; insurance paid $600.00, wrote off $200.00 and left $200.00 coinsurance."""
    charge = factories.charge(account, 100000, day=date(2026, 10, 1), responsibility="insurance")
    ledger.post_payment(account.id, amount_cents=60000, method="eft", source="insurance", key="ins-pay",
                        actor="test", allocate_to=[(charge.id, 60000)])
    ledger.post_adjustment(charge.id, amount_cents=20000, kind="contractual", bucket="insurance", group_code="CO",
                           carc="45", key="co45", actor="test")
    ledger.transfer(charge.id, amount_cents=20000, to_bucket="patient", reason="coinsurance", carc="2",
                    key="pr2", actor="test")
    return charge


def _text_of(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def test_the_summary_and_each_visit_add_up_and_the_next_statement_carries_the_balance(app):
    account = factories.account()
    charge = _insured_visit_adjudicated(account)
    ledger.post_payment(account.id, amount_cents=5000, method="card", key="paid-50", actor="test")
    first, _ = statements.issue(account, AS_OF, actor="test")
    assert first.snapshot["summary"] == {
        "previous_balance_cents": 0, "new_charges_cents": 100000, "insurance_paid_cents": 60000,
        "adjustments_cents": 20000, "your_payments_cents": 5000, "refunds_cents": 0, "other_cents": 0,
        "balance_cents": 15000, "with_insurance_cents": 0, "your_part_cents": 15000}
    assert first.amount_due_cents == 15000
    [visit] = first.snapshot["groups"][0]["lines"]
    assert (visit["charge_cents"], visit["insurance_paid_cents"], visit["insurance_adjusted_cents"],
            visit["you_paid_cents"], visit["you_adjusted_cents"], visit["with_insurance_cents"],
            visit["you_owe_cents"]) == (100000, 60000, 20000, 5000, 0, 0, 15000)

    # Next month: $100.00 paid, $30.00 of it given back, a $40.00 self-pay visit, $10.00 forgiven.
    payment = ledger.post_payment(account.id, amount_cents=10000, method="card", key="paid-100", actor="test")
    ledger.refund_payment(payment.id, amount_cents=3000, key="refund-30", actor="test", reason="asked",
                          method="cash")
    factories.charge(account, 4000, day=date(2026, 11, 20))
    ledger.post_adjustment(charge.id, amount_cents=1000, kind="small_balance", bucket="patient", key="sb",
                           actor="test")
    db.session.expire_all()
    second, _ = statements.issue(db.session.get(Account, account.id), AS_OF + timedelta(days=30), actor="test")
    assert second.snapshot["summary"] == {
        "previous_balance_cents": 15000, "new_charges_cents": 4000, "insurance_paid_cents": 0,
        "adjustments_cents": 1000, "your_payments_cents": 10000, "refunds_cents": 3000, "other_cents": 0,
        "balance_cents": 11000, "with_insurance_cents": 0, "your_part_cents": 11000}
    assert second.amount_due_cents == 11000


def test_the_page_and_the_pdf_show_the_sum_and_a_later_payment(app, client):
    account = factories.account()
    _insured_visit_adjudicated(account)
    statement, _ = statements.issue(account, AS_OF, actor="test")
    text = _text_of(statements.pdf(statement))
    for words in ("Previous balance", "New charges", "Insurance paid", "Adjustments", "Your payments",
                  "Still with insurance", "$1,000.00", "$600.00", "$200.00"):
        assert words in text, words
    assert "Page 1 of 1" in text and text.count(account.number) >= 2

    ledger.post_payment(account.id, amount_cents=5000, method="card", key="after", actor="test",
                        received_on=AS_OF + timedelta(days=3))
    user = factories.patient_login(account, PASSWORD)
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    page = client.get(f"/accounts/{account.id}/statements/{statement.id}").get_data(as_text=True)
    assert "Previous balance" in page and "Still with insurance" in page
    assert "You paid $50.00 on Nov 13, 2026 after this statement; you now owe $150.00." in page
    assert "2026-10-01" not in page and "Oct 1, 2026" in page


class StatementMachine(LedgerMachine):
    """Any sequence of ledger operations, with a statement now and then: each adds up to the account."""

    def __init__(self):
        super().__init__()
        self.day = AS_OF
        self.last: Statement | None = None

    @rule()
    def issue_statement(self):
        self.day += timedelta(days=1)
        account = db.session.get(Account, self.account.id)
        snapshot = statements.build_snapshot(account, self.day, self.last and self.last.statement_date,
                                             self.last and self.last.created_at)
        self.last = Statement(account_id=account.id, statement_date=self.day, due_date=self.day, cycle_number=1,
                              code=statements.new_code(), amount_due_cents=0, snapshot=snapshot, created_by="prop",
                              created_at=utcnow())
        db.session.add(self.last)
        db.session.commit()
        db.session.expire_all()
        account = db.session.get(Account, self.account.id)
        summary = snapshot["summary"]
        assert summary["balance_cents"] == account.balance_cents
        assert summary["with_insurance_cents"] == account.insurance_balance_cents
        assert summary["your_part_cents"] == account.patient_due_cents
        for group in snapshot["groups"]:
            for line in group["lines"]:
                assert line["charge_cents"] - line["insurance_paid_cents"] - line["insurance_adjusted_cents"] \
                    - line["you_paid_cents"] - line["you_adjusted_cents"] - line["with_insurance_cents"] \
                    == line["you_owe_cents"] > 0

    @invariant()
    def the_next_statement_starts_where_the_last_ended(self):
        if self.last is None:
            return
        account = db.session.get(Account, self.account.id)
        following = statements.period_summary(account.id, self.last.created_at)
        assert following["previous_balance_cents"] == self.last.snapshot["summary"]["balance_cents"]


StatementMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_statements_add_up_under_random_operations(app):
    StatementMachine.TestCase("runTest").runTest()
