"""The journal agrees with the ledger under random sequences of real postings (hypothesis), and a closed
month stays as it was closed."""
import uuid
from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal import ledger
from portal.clock import facility_today
from portal.extensions import db
from portal.finance import chart, periods
from portal.finance.journal import JournalError, export, journal, month_of, next_month
from portal.models import Account, BillingCode, Charge, Facility, GlAccount, Patient, Posting
from portal.models.ledger import ADJUSTMENT_KINDS, PAYMENT_METHODS, TRANSFER_REASONS
from portal.models.providers import PROGRAM_LEVELS

PATIENT_AR, INSURANCE_AR, UNAPPLIED = "1200", "1210", "2100"  # the default chart's receivable accounts
REVENUE = {"4010", "4020", "4030", "4040", "4050", "4090"}

amounts = st.integers(min_value=1, max_value=150_000)
which = st.integers(min_value=0, max_value=10_000)  # picks among what exists so far (modulo its count)
levels = st.sampled_from((*PROGRAM_LEVELS, None))

operations = st.one_of(
    st.tuples(st.just("charges"), st.lists(st.tuples(which, amounts, levels, st.sampled_from(("insurance", "patient"))),
                                           min_size=1, max_size=3)),
    st.tuples(st.just("payment"), which, amounts, st.sampled_from(PAYMENT_METHODS),
              st.sampled_from(("patient", "insurance")), st.sampled_from(("auto", "chosen", "none")), which, which),
    st.tuples(st.just("adjustment"), which, amounts, st.sampled_from(ADJUSTMENT_KINDS),
              st.sampled_from(("insurance", "patient"))),
    st.tuples(st.just("transfer"), which, amounts, st.sampled_from(("insurance", "patient")),
              st.sampled_from(TRANSFER_REASONS)),
    st.tuples(st.just("refund"), which, amounts, st.sampled_from(("card", "check", "cash"))),
    st.tuples(st.just("reverse"), which),
    # An agency remittance: gross collected, the fee in tenths of a percent of it, the day received.
    st.tuples(st.just("agency"), which, st.integers(100, 30_000), st.integers(0, 400), which),
)


class Books:
    """One facility of its own per example (the journal is per facility), two accounts, codes by level."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.facility = Facility(name=f"GL {tag}", neutral_name="GL", statement_descriptor="GL")
        db.session.add(self.facility)
        db.session.flush()
        self.accounts = []
        for i in range(2):
            account = Account(facility_id=self.facility.id, number=f"GL-{tag}-{i}", guarantor_name=f"G {i}")
            patient = Patient(account=account, mrn=f"GL{tag}{i}", first_name="P", last_name=f"L{i}",
                              date_of_birth=date(1990, 1, 1))
            db.session.add_all([account, patient])
            db.session.flush()
            self.accounts.append((account.id, patient.id))
        db.session.commit()
        self.codes = {level: code_for(level) for level in (*PROGRAM_LEVELS, None)}
        self.today = facility_today()
        self.start = month_of(month_of(self.today) - timedelta(days=1))  # the previous month's first day
        self.days = [self.start + timedelta(days=n) for n in range((self.today - self.start).days + 1)]
        self.charges: list[int] = []
        self.payments: list[int] = []
        self.reversible: list[int] = []  # posting ids: charges, payments, adjustments, transfers, refunds
        self.n = 0

    def key(self) -> str:
        self.n += 1
        return f"glprop:{self.facility.id}:{self.n}"

    def run(self, operation) -> None:
        try:
            getattr(self, f"_{operation[0]}")(*operation[1:])
        except ledger.LedgerError:  # refused, as a user would be told; nothing changed
            db.session.rollback()

    def _pick(self, items: list, n: int):
        return items[n % len(items)] if items else None

    def _charges(self, specs) -> None:
        requests = []
        for n, amount, level, responsibility in specs:
            account_id, patient_id = self.accounts[n % 2]
            requests.append(ledger.ChargeRequest(account_id, patient_id, self.codes[level], self.today - timedelta(
                days=n % 20), amount, self.key(), responsibility=responsibility))
        if len(requests) == 1:
            r = requests[0]
            charge = ledger.post_charge(r.account_id, patient_id=r.patient_id, billing_code_id=r.billing_code_id,
                                        service_date=r.service_date, amount_cents=r.amount_cents, key=r.key,
                                        actor="test", responsibility=r.responsibility)
            created = [charge.id]
        else:
            created = list(ledger.post_charges(requests, actor="test").created.values())
        for charge_id in created:
            self.charges.append(charge_id)
            self.reversible.append(db.session.get(Charge, charge_id).posting_id)

    def _payment(self, n, amount, method, source, allocation, target, day) -> None:
        account_id = self.accounts[n % 2][0]
        chosen = [c for c in self.charges if db.session.get(Charge, c).account_id == account_id]
        allocate_to = [(self._pick(chosen, target), amount)] if allocation == "chosen" and chosen else None
        payment = ledger.post_payment(account_id, amount_cents=amount, method=method, source=source, key=self.key(),
                                      actor="test", received_on=self._pick(self.days, day), allocate_to=allocate_to,
                                      auto_allocate=allocation == "auto")
        self.payments.append(payment.id)
        self.reversible.append(payment.posting_id)

    def _adjustment(self, n, amount, kind, bucket) -> None:
        if self.charges:
            adjustment = ledger.post_adjustment(self._pick(self.charges, n), amount_cents=amount, kind=kind,
                                                bucket=bucket, key=self.key(), actor="test")
            self.reversible.append(adjustment.posting_id)

    def _transfer(self, n, amount, to_bucket, reason) -> None:
        if self.charges:
            moved = ledger.transfer(self._pick(self.charges, n), amount_cents=amount, to_bucket=to_bucket,
                                    reason=reason, key=self.key(), actor="test")
            self.reversible.append(moved.posting_id)

    def _refund(self, n, amount, method) -> None:
        if self.payments:
            refund = ledger.refund_payment(self._pick(self.payments, n), amount_cents=amount, key=self.key(),
                                           actor="test", reason="property test", method=method,
                                           check_number="1001" if method == "check" else None)
            self.reversible.append(refund.posting_id)

    def _reverse(self, n) -> None:
        if self.reversible:
            ledger.reverse(self._pick(self.reversible, n), key=self.key(), actor="test", reason="property test")

    def _agency(self, n, gross, fee_permille, day) -> None:
        remittance = ledger.post_agency_payment(self.accounts[n % 2][0], gross_cents=gross,
                                                fee_cents=gross * fee_permille // 1000,
                                                key=self.key(), actor="test", received_on=self._pick(self.days, day),
                                                reference=None, fee_reason="agency fee")
        self.payments.append(remittance.payment.id)
        self.reversible.append(remittance.payment.posting_id)


def code_for(level: str | None) -> int:
    value = f"GL{level or 'none'}"[:10]
    found = db.session.scalar(select(BillingCode).where(BillingCode.code == value))
    if found is None:
        found = BillingCode(code=value, description="Service", kind="billable", level_of_care=level,
                            default_price_cents=10000)
        db.session.add(found)
        db.session.commit()
    return found.id


def net(lines, numbers) -> int:
    return sum(line.debit_cents - line.credit_cents for line in lines if line.account_number in numbers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(operations, min_size=3, max_size=20))
def test_journal_agrees_with_the_ledger_under_random_postings(app, sequence):
    books = Books()
    for operation in sequence:
        books.run(operation)
    db.session.expire_all()
    facility_id = books.facility.id
    lines = journal(facility_id, books.start, books.today, actor="test")
    db.session.commit()

    assert sum(line.debit_cents for line in lines) == sum(line.credit_cents for line in lines)
    by_group: dict[tuple, int] = defaultdict(int)
    for line in lines:
        assert line.debit_cents >= 0 and line.credit_cents >= 0 and (line.debit_cents == 0) != (line.credit_cents == 0)
        by_group[(line.day, line.corrects)] += line.debit_cents - line.credit_cents
    assert all(total == 0 for total in by_group.values()), by_group
    assert all(books.start <= line.day <= books.today and line.corrects is None for line in lines)

    charges = db.session.scalars(select(Charge).join(Account, Account.id == Charge.account_id)
                                 .where(Account.facility_id == facility_id)).all()
    accounts = db.session.scalars(select(Account).where(Account.facility_id == facility_id)).all()
    # A/R is a debit balance: what the charges still owe, by insurance or by the patient.
    assert net(lines, {INSURANCE_AR}) == sum(c.insurance_balance_cents for c in charges)
    assert net(lines, {PATIENT_AR}) == sum(c.patient_balance_cents for c in charges)
    # Unapplied cash is a liability: credit held for guarantors and payers.
    assert net(lines, {UNAPPLIED}) == -sum(a.credit_cents for a in accounts)
    standing = [c for c in charges if db.session.get(Posting, c.posting_id).reversed_by is None]
    assert net(lines, REVENUE) == -sum(c.amount_cents for c in standing)


# ---------------------------------------------------------------- a closed month stays closed


def test_a_closed_month_is_frozen_and_late_postings_book_today(app):
    books = Books()
    today, closed = books.today, books.start
    account_id, patient_id = books.accounts[0]
    day_in_closed = closed + timedelta(days=9)
    ledger.post_charge(account_id, patient_id=patient_id, billing_code_id=books.codes["iop"], service_date=closed,
                       amount_cents=50_000, key=books.key(), actor="test", responsibility="patient")
    kept = ledger.post_payment(account_id, amount_cents=20_000, method="cash", key=books.key(), actor="test",
                               received_on=day_in_closed)
    undone = ledger.post_payment(account_id, amount_cents=7_000, method="eft", source="insurance", key=books.key(),
                                 actor="test", received_on=closed + timedelta(days=2), auto_allocate=False)
    assert kept.id and undone.id
    facility_id = books.facility.id
    last_day = next_month(closed) - timedelta(days=1)
    periods.close_month(facility_id, closed, actor="test")
    db.session.commit()
    frozen = {fmt: export(facility_id, closed, last_day, fmt, actor="test").content for fmt in ("parity", "quickbooks")}
    db.session.commit()
    assert b"1020" in frozen["parity"] and b"1010" in frozen["parity"]  # cash and EFT on their days received

    late = ledger.post_payment(account_id, amount_cents=3_000, method="check", key=books.key(), actor="test",
                               received_on=day_in_closed, auto_allocate=False)
    assert late.received_on == day_in_closed  # the payment keeps its day; the journal books it today
    ledger.reverse(undone.posting_id, key=books.key(), actor="test", reason="returned item")

    lines = journal(facility_id, today, today, actor="test")
    correcting = {(line.account_number, line.debit_cents, line.credit_cents) for line in lines
                  if line.corrects == closed}
    assert all(line.day == today for line in lines)
    # The late check (undeposited funds against unapplied cash) and the EFT taken back (bank against unapplied).
    assert correcting == {("1020", 3_000, 0), ("1010", 0, 7_000), (UNAPPLIED, 7_000 - 3_000, 0)}
    assert not [line for line in lines if line.corrects not in (None, closed)]
    assert all("correcting" in line.description for line in lines if line.corrects == closed)

    operating = db.session.scalar(select(GlAccount).where(GlAccount.facility_id == facility_id,
                                                          GlAccount.number == "1010"))
    assert chart.remap(facility_id, {"cash:check": operating.id, "cash:cash": operating.id}, actor="test")
    db.session.commit()
    ledger.post_payment(account_id, amount_cents=1_500, method="cash", key=books.key(), actor="test")
    for fmt, content in frozen.items():
        assert export(facility_id, closed, last_day, fmt, actor="test").content == content
    db.session.commit()
    # The remap does show in the open month: the late check now lands on the operating account.
    relined = {(line.account_number, line.debit_cents, line.credit_cents)
               for line in journal(facility_id, today, today, actor="test") if line.corrects == closed}
    assert ("1010", 0, 7_000 - 3_000) in relined and not any(number == "1020" for number, _, _ in relined)

    with pytest.raises(JournalError, match="already closed"):
        periods.close_month(facility_id, closed, actor="test")
