"""Random sequences of ledger operations keep every money rule (hypothesis)."""
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from portal import ledger
from portal.extensions import db
from portal.models import Account, LedgerEntry, Payment, Posting
from tests.fixtures import factories

amounts = st.integers(min_value=1, max_value=200_000)


class LedgerMachine(RuleBasedStateMachine):
    """Drives the real service against the real database; a refused operation must change nothing."""

    def __init__(self):
        super().__init__()
        self.account = factories.account()
        self.n = 0
        self.charges, self.payments, self.reversible = [], [], []

    def key(self) -> str:
        self.n += 1
        return f"prop:{self.account.id}:{self.n}"

    def attempt(self, operation):
        before = self.snapshot()
        try:
            return operation()
        except ledger.LedgerError:
            assert self.snapshot() == before, "a refused operation changed the ledger"
            return None

    def snapshot(self):
        return (db.session.scalar(select(func.count(LedgerEntry.id))),
                db.session.scalar(select(func.count(Posting.id))))

    @rule(amount=amounts, days_ago=st.integers(0, 90), insured=st.booleans())
    def post_charge(self, amount, days_ago, insured):
        charge = self.attempt(lambda: factories.charge(
            self.account, amount, day=date(2026, 11, 1) - timedelta(days=days_ago),
            responsibility="insurance" if insured else "patient", key=self.key()))
        self.charges.append(charge)
        self.reversible.append(charge.posting_id)

    @rule(amount=amounts, source=st.sampled_from(["patient", "insurance"]), auto=st.booleans())
    def post_payment(self, amount, source, auto):
        payment = self.attempt(lambda: ledger.post_payment(
            self.account.id, amount_cents=amount, method="cash" if source == "patient" else "eft", source=source,
            key=self.key(), actor="prop", auto_allocate=auto))
        if payment:
            self.payments.append(payment)
            self.reversible.append(payment.posting_id)

    @precondition(lambda self: self.payments and self.charges)
    @rule(data=st.data())
    def apply_chosen(self, data):
        payment = data.draw(st.sampled_from(self.payments))
        charge = data.draw(st.sampled_from(self.charges))
        amount = data.draw(amounts)
        allocations = self.attempt(lambda: ledger.apply_credit(
            payment.id, key=self.key(), actor="prop", allocate_to=[(charge.id, amount)]))
        if allocations:
            self.reversible.append(allocations[0].posting_id)

    @precondition(lambda self: self.payments)
    @rule(data=st.data(), amount=amounts)
    def refund(self, data, amount):
        payment = data.draw(st.sampled_from(self.payments))
        refunded = self.attempt(lambda: ledger.refund_payment(payment.id, amount_cents=amount, key=self.key(),
                                                              actor="prop", reason="property test", method="cash"))
        if refunded:
            self.reversible.append(refunded.posting_id)

    @precondition(lambda self: self.charges)
    @rule(data=st.data(), amount=amounts, bucket=st.sampled_from(["insurance", "patient"]))
    def adjust(self, data, amount, bucket):
        charge = data.draw(st.sampled_from(self.charges))
        adjustment = self.attempt(lambda: ledger.post_adjustment(
            charge.id, amount_cents=amount, kind="administrative", bucket=bucket, key=self.key(), actor="prop"))
        if adjustment:
            self.reversible.append(adjustment.posting_id)

    @precondition(lambda self: self.charges)
    @rule(data=st.data(), amount=amounts, to=st.sampled_from(["insurance", "patient"]))
    def move(self, data, amount, to):
        charge = data.draw(st.sampled_from(self.charges))
        moved = self.attempt(lambda: ledger.transfer(
            charge.id, amount_cents=amount, to_bucket=to, reason="other", key=self.key(), actor="prop"))
        if moved:
            self.reversible.append(moved.posting_id)

    @precondition(lambda self: self.reversible)
    @rule(data=st.data())
    def reverse_something(self, data):
        posting_id = data.draw(st.sampled_from(self.reversible))
        self.attempt(lambda: ledger.reverse(posting_id, key=self.key(), actor="prop", reason="property test"))

    @invariant()
    def rules_hold(self):
        db.session.expire_all()
        account = db.session.get(Account, self.account.id)
        truth = ledger.account_sums(account.id)
        total = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
                                  .where(LedgerEntry.account_id == account.id))
        # balance = sum of entries, and the caches agree with the entries
        assert account.balance_cents == total
        assert (account.insurance_balance_cents, account.patient_balance_cents, account.credit_cents) == (
            truth["insurance"], truth["patient"], truth["credit"])
        for charge in self.charges:
            db.session.refresh(charge)
            # never paid below zero, never more owed than charged
            assert charge.insurance_balance_cents >= 0 and charge.patient_balance_cents >= 0
            assert charge.insurance_balance_cents + charge.patient_balance_cents <= charge.amount_cents
        for payment in self.payments:
            # never more allocated than paid
            assert 0 <= ledger.unapplied_credit(payment.id) <= payment.amount_cents
        assert ledger.check_all()[1] == []

    def teardown(self):
        # Reversing everything that still stands returns the account to zero (refunds first: a payment
        # that was partly given back cannot be reversed whole).
        for posting in db.session.scalars(select(Posting).where(Posting.account_id == self.account.id,
                                                                 Posting.kind == "refund")).all():
            db.session.refresh(posting)
            if posting.reversed_by is None:
                ledger.reverse(posting.id, key=self.key(), actor="prop", reason="wind down")
        for payment in db.session.scalars(select(Payment).where(Payment.account_id == self.account.id)):
            if not payment.reversed:
                ledger.reverse(payment.posting_id, key=self.key(), actor="prop", reason="wind down")
        standing = db.session.scalars(
            select(Posting).where(Posting.account_id == self.account.id, Posting.kind == "charge")
        ).all()
        for posting in standing:
            db.session.refresh(posting)
            if posting.reversed_by is None:
                ledger.reverse(posting.id, key=self.key(), actor="prop", reason="wind down")
        db.session.expire_all()
        account = db.session.get(Account, self.account.id)
        assert ledger.account_sums(account.id) == {"insurance": 0, "patient": 0, "credit": 0}
        assert (account.insurance_balance_cents, account.patient_balance_cents, account.credit_cents) == (0, 0, 0)


LedgerMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_ledger_rules_hold_under_random_operations(app):
    LedgerMachine.TestCase("runTest").runTest()
