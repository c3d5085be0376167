"""Invoices: building one or several from self-pay charges, one live invoice per charge, status from the
ledger's payments, voiding, the PDF, the email and the statement."""
import subprocess
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import invoices, ledger, payments, statements
from portal.clock import long_date
from portal.extensions import db
from portal.models import Account, AuditEvent, Invoice, InvoiceLine
from tests.fixtures import factories


def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def self_pay_account(*amounts_and_days, patients: int = 1):
    account = factories.account(patients)
    made = [factories.charge(account, amount, day=day) for amount, day in amounts_and_days]
    return account, [c.id for c in made]


def pay(account, cents, charge_id, key):
    return ledger.post_payment(account.id, amount_cents=cents, method="cash", key=key, actor="test",
                               allocate_to=[(charge_id, cents)])


def test_one_invoice_for_the_chosen_charges_numbered_and_due_after_the_facility_days(app):
    account, (first, second, third) = self_pay_account((10000, date(2026, 10, 1)), (2500, date(2026, 10, 8)),
                                                       (700, date(2026, 10, 9)))
    factories.facility().statement_due_days = 30
    [invoice] = invoices.build(account, [first, second], grouping="one", actor="user:1")
    db.session.commit()
    assert invoice.number == f"INV-{invoice.id:06d}" and invoice.status == "open"
    assert invoice.total_cents == 12500 and [line.amount_cents for line in invoice.lines] == [10000, 2500]
    assert (invoice.due_on - invoice.issued_on).days == 30
    assert [c.id for c in invoices.uninvoiced_charges(account.id)] == [third]
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "invoice")) == "invoice.created"


def test_grouping_per_patient_and_per_month(app):
    account = factories.account(patients=2)
    a, b = account.patients
    made = [ledger.post_charge(account.id, patient_id=p.id, billing_code_id=factories.code().id, service_date=day,
                               amount_cents=1000, responsibility="patient", key=f"c{n}", actor="test").id
            for n, (p, day) in enumerate([(a, date(2026, 9, 3)), (b, date(2026, 9, 4)), (a, date(2026, 10, 2))])]
    per_patient = invoices.build(account, made, grouping="patient", actor="test")
    assert sorted(len(i.lines) for i in per_patient) == [1, 2]
    assert {line.charge.patient_id for line in per_patient[0].lines} == {a.id}
    for invoice in per_patient:
        invoices.void(invoice, reason="regroup", actor="test")
    per_month = invoices.build(account, made, grouping="month", actor="test")
    assert [[line.charge.service_date.month for line in i.lines] for i in per_month] == [[9, 9], [10]]
    assert len({i.number for i in [*per_patient, *per_month]}) == 4


def test_a_charge_is_never_on_two_live_invoices(app):
    account, (first, second) = self_pay_account((5000, date(2026, 10, 1)), (6000, date(2026, 10, 2)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    db.session.commit()
    with pytest.raises(invoices.InvoiceError, match=f"already on invoice {invoice.number}"):
        invoices.build(account, [second, first], grouping="one", actor="test")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Invoice.id))) == 1  # refused whole: the free charge was not billed
    with pytest.raises(IntegrityError):  # the database keeps the rule too
        db.session.add(InvoiceLine(invoice_id=invoice.id, charge_id=first, amount_cents=1, live=True))
        db.session.flush()
    db.session.rollback()


def test_only_self_pay_charges_owed_by_the_patient_can_be_invoiced(app):
    account = factories.account()
    insurance = factories.charge(account, 9000, responsibility="insurance")
    other_account, (elsewhere,) = self_pay_account((1000, date(2026, 10, 1)))
    assert invoices.uninvoiced_charges(account.id) == []
    with pytest.raises(invoices.InvoiceError, match="still waiting on insurance"):
        invoices.build(account, [insurance.id], grouping="one", actor="test")
    with pytest.raises(invoices.InvoiceError, match="not on this account"):
        invoices.build(account, [elsewhere], grouping="one", actor="test")
    with pytest.raises(invoices.InvoiceError, match="group"):
        invoices.build(other_account, [elsewhere], grouping="week", actor="test")


def test_status_follows_payments_through_the_ledger(app):
    account, (first, second) = self_pay_account((10000, date(2026, 10, 1)), (5000, date(2026, 10, 2)))
    pay(account, 4000, first, "before")  # paid before the invoice: not the invoice's
    [invoice] = invoices.build(account, [first, second], grouping="one", actor="test")
    db.session.commit()
    [f] = invoices.for_account(account)
    assert (f.status, f.total_cents, f.paid_cents, f.balance_cents) == ("open", 11000, 0, 11000)
    pay(account, 3000, first, "part")
    [f] = invoices.for_account(db.session.get(Account, account.id))
    assert (f.status, f.paid_cents, f.balance_cents) == ("partially_paid", 3000, 8000)
    assert db.session.get(Invoice, invoice.id).status == "partially_paid"
    pay(account, 3000, first, "rest-1")
    pay(account, 5000, second, "rest-2")
    [f] = invoices.for_account(db.session.get(Account, account.id))
    assert (f.status, f.paid_cents, f.balance_cents) == ("paid", 11000, 0)
    assert ledger.check_all()[1] == []


def test_a_reversed_payment_puts_the_invoice_back_to_owing(app):
    account, (first,) = self_pay_account((10000, date(2026, 10, 1)))
    invoices.build(account, [first], grouping="one", actor="test")
    db.session.commit()
    payment = pay(account, 10000, first, "all")
    assert invoices.for_account(account)[0].status == "paid"
    ledger.reverse(payment.posting_id, key="undo", actor="test", reason="bounced check")
    [f] = invoices.for_account(db.session.get(Account, account.id))
    assert (f.status, f.paid_cents, f.balance_cents) == ("open", 0, 10000)


def test_void_keeps_the_invoice_and_frees_its_charges(app):
    account, (first,) = self_pay_account((10000, date(2026, 10, 1)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    pay(account, 2500, first, "part")
    with pytest.raises(invoices.InvoiceError, match="Say why"):
        invoices.void(invoice, reason="  ", actor="test")
    invoices.void(db.session.get(Invoice, invoice.id), reason="wrong grouping", actor="user:7")
    db.session.commit()
    kept = db.session.get(Invoice, invoice.id)
    assert (kept.status, kept.void_reason, kept.voided_by) == ("void", "wrong grouping", "user:7")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invoice.voided"))
    assert event.detail["paid_cents"] == 2500 and event.detail["reason"] == "wrong grouping"
    [again] = invoices.build(account, [first], grouping="one", actor="test")
    assert again.total_cents == 7500  # what is left to pay
    with pytest.raises(invoices.InvoiceError, match="already void"):
        invoices.void(kept, reason="twice", actor="test")
    assert invoices.for_account(account)[-1].balance_cents == 0


def test_a_paid_invoice_cannot_be_voided(app):
    account, (first,) = self_pay_account((1000, date(2026, 10, 1)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    pay(account, 1000, first, "all")
    with pytest.raises(invoices.InvoiceError, match="is paid"):
        invoices.void(db.session.get(Invoice, invoice.id), reason="oops", actor="test")


def test_the_pdf_names_the_invoice_its_lines_and_amounts_and_nothing_clinical(app):
    account, (first, second) = self_pay_account((12345, date(2026, 10, 1)), (5000, date(2026, 10, 2)))
    fac = factories.facility()
    fac.remit_address = "PO Box 12\nNewark NJ 07101"
    db.session.commit()
    [invoice] = invoices.build(account, [first, second], grouping="one", actor="test")
    pay(account, 2345, first, "part")
    f = invoices.get_for_account(db.session.get(Account, account.id), invoice.id)
    data = invoices.pdf(f, actor="user:1")
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in (invoice.number, "Test Health", "PO Box 12", account.guarantor_name, "Oct 1, 2026",
                     "$173.45", "$23.45", "$150.00", long_date(f.invoice.due_on)):
        assert expected in text, expected
    assert "Test Facility" not in text  # the facility's neutral name only
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "invoice.viewed"))


def test_the_email_carries_the_pdf(app, smtp_server):
    account, (first,) = self_pay_account((8000, date(2026, 10, 1)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    sent_to = invoices.send(invoices.get_for_account(account, invoice.id), actor="user:1")
    [message] = smtp_server.messages
    assert sent_to == account.email and message["To"] == account.email
    assert invoice.number in message["Subject"]
    [attachment] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == f"invoice-{invoice.number}.pdf"
    assert invoice.number in pdf_text(attachment.get_payload(decode=True))
    [body] = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert "$80.00" in body.get_payload(decode=True).decode()
    assert db.session.get(Invoice, invoice.id).sent_at is not None
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "invoice.sent"))["to"] == sent_to


def test_no_email_without_an_address_or_after_an_opt_out(app, smtp_server):
    from portal.mail import email_stop

    account, (first,) = self_pay_account((8000, date(2026, 10, 1)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    email_stop.stop(account, actor="test")
    with pytest.raises(invoices.InvoiceError, match="no billing email"):
        invoices.send(invoices.get_for_account(account, invoice.id), actor="test")
    account.email = None
    with pytest.raises(invoices.InvoiceError, match="no email address"):
        invoices.send(invoices.get_for_account(account, invoice.id), actor="test")
    assert smtp_server.messages == []


def test_the_statement_lists_an_invoiced_charge_once_with_its_number(app):
    account, (first, _) = self_pay_account((10000, date(2026, 10, 1)), (4000, date(2026, 10, 5)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    pay(account, 2500, first, "part")
    account = db.session.get(Account, account.id)
    statement, _ = statements.issue(account, date(2026, 11, 10), actor="test")
    lines = [line for group in statement.snapshot["groups"] for line in group["lines"]]
    assert [(line["you_owe_cents"], line["invoice"]) for line in lines] == [(7500, invoice.number), (4000, None)]
    assert sum(line["you_owe_cents"] for line in lines) == account.patient_balance_cents == 11500
    assert statement.amount_due_cents == account.patient_due_cents == 11500
    assert invoice.number in pdf_text(statements.pdf(statement))


def test_the_desk_receipt_names_the_invoice_it_paid(app):
    account, (first,) = self_pay_account((10000, date(2026, 10, 1)))
    [invoice] = invoices.build(account, [first], grouping="one", actor="test")
    payment = pay(account, 10000, first, "desk")
    receipt = payments.receipt(payment)
    assert receipt.applied == [(date(2026, 10, 1), 10000, invoice.number)]
    from portal import documents

    assert invoice.number in pdf_text(documents.receipt_pdf(receipt))


def test_two_staff_building_at_once_never_invoice_a_charge_twice(app):
    from tests.fixtures.threads import run_concurrently

    account, charge_ids = self_pay_account((5000, date(2026, 10, 1)), (6000, date(2026, 10, 2)))
    account_id = account.id

    def build(i):
        return invoices.build(db.session.get(Account, account_id), charge_ids, grouping="one",
                              actor=f"thread:{i}")[0].id

    results, errors = run_concurrently(app, 4, build)
    assert len(results) == 1 and len(errors) == 3, errors
    assert all("already on invoice" in str(e) for e in errors), errors
    db.session.rollback()  # read what the workers committed
    assert db.session.scalar(select(func.count(InvoiceLine.id)).where(InvoiceLine.live.is_(True))) == 2
