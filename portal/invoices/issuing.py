"""Building invoices from an account's uninvoiced self-pay charges, what they stand at, and voiding them."""
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, func, select, update

from portal import audit, facility
from portal.clock import facility_today
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import Account, Charge, Invoice, InvoiceLine, LedgerEntry, Patient, User, utcnow

# How chosen charges are split into invoices.
GROUPINGS = {"one": "One invoice", "patient": "One invoice per patient", "month": "One invoice per month of service"}
STATUS_WORDS = {"open": "Open", "partially_paid": "Partially paid", "paid": "Paid", "void": "Void"}
# Several invoices at once are fine; a bill for hundreds of charges is a statement's work.
MAX_CHARGES = 500


class InvoiceError(ValueError):
    """An invoice request that cannot be done, with a sentence fit to show; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _actor_label(actor: User | str) -> str:
    return f"user:{actor.id}" if isinstance(actor, User) else actor


def _live_line_exists():
    return exists().where(InvoiceLine.charge_id == Charge.id, InvoiceLine.live.is_(True))


def uninvoiced_charges(account_id: int) -> list[Charge]:
    """Self-pay charges that can go on an invoice: released, owed by the patient with nothing waiting on
    insurance, and on no live invoice. Oldest service date first."""
    return list(db.session.scalars(
        select(Charge).where(Charge.account_id == account_id, Charge.review_status == "released",
                             Charge.patient_balance_cents > 0, Charge.insurance_balance_cents == 0,
                             ~_live_line_exists())
        .order_by(Charge.service_date, Charge.id).execution_options(populate_existing=True)))


def _groups(charges: list[Charge], grouping: str) -> list[list[Charge]]:
    if grouping == "one":
        return [charges]
    grouped = defaultdict(list)
    for charge in charges:
        grouped[charge.patient_id if grouping == "patient" else (charge.service_date.year,
                                                                 charge.service_date.month)].append(charge)
    return [grouped[key] for key in sorted(grouped)]


def build(account: Account, charge_ids: list[int], *, grouping: str, actor: User | str,
          ip: str | None = None, user_agent: str | None = None) -> list[Invoice]:
    """Invoice the chosen charges of the account, as one invoice or grouped per patient or per month of service.

    Under the account lock, so two staff building at once never put a charge on two live invoices: the second
    finds it taken and nothing of its request is made."""
    if grouping not in GROUPINGS:
        raise InvoiceError("Choose how to group the charges.", "grouping")
    wanted = set(charge_ids)
    if not wanted:
        raise InvoiceError("Choose at least one charge.", "charge_ids")
    if len(wanted) > MAX_CHARGES:
        raise InvoiceError(f"Choose at most {MAX_CHARGES} charges at a time.", "charge_ids")
    lock_rows(Account, [account.id])
    charges = [c for c in uninvoiced_charges(account.id) if c.id in wanted]
    if missing := wanted - {c.id for c in charges}:
        raise InvoiceError(_why_not(account.id, min(missing)), "charge_ids")
    fac = facility.current()
    issued_on = facility_today()
    mark = db.session.scalar(select(func.max(LedgerEntry.id)).where(LedgerEntry.account_id == account.id)) or 0
    made = []
    for group in _groups(charges, grouping):
        invoice = Invoice(account_id=account.id, number=f"new-{uuid.uuid4().hex[:16]}",
                          issued_on=issued_on, due_on=issued_on + timedelta(days=fac.statement_due_days),
                          status="open", total_cents=sum(c.patient_balance_cents for c in group),
                          ledger_mark=mark, created_by=_actor_label(actor))
        invoice.lines = [InvoiceLine(charge_id=c.id, amount_cents=c.patient_balance_cents, live=True) for c in group]
        db.session.add(invoice)
        db.session.flush()
        invoice.number = f"INV-{invoice.id:06d}"  # readable, and unique because the id is
        made.append(invoice)
    db.session.flush()
    for invoice in made:
        audit.record("invoice.created", "invoice", actor=actor, object_id=invoice.id, account_id=account.id,
                     detail={"number": invoice.number, "total_cents": invoice.total_cents, "grouping": grouping,
                             "charges": [line.charge_id for line in invoice.lines]}, ip=ip, user_agent=user_agent)
    return made


def _why_not(account_id: int, charge_id: int) -> str:
    """Why a chosen charge cannot be invoiced, in words."""
    charge = db.session.get(Charge, charge_id)
    if charge is None or charge.account_id != account_id:
        return "A chosen charge is not on this account."
    day = charge.service_date.strftime("%m/%d/%Y")
    taken = db.session.scalar(select(Invoice.number).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
                              .where(InvoiceLine.charge_id == charge_id, InvoiceLine.live.is_(True)))
    if taken:
        return f"The charge of {day} is already on invoice {taken}."
    if charge.review_status != "released":
        return f"The charge of {day} is held in charge review."
    if charge.insurance_balance_cents > 0:
        return f"The charge of {day} is still waiting on insurance."
    return f"The charge of {day} has nothing left for the patient to pay."


# ---------------------------------------------------------------- what an invoice stands at


@dataclass
class LineFigures:
    line: InvoiceLine
    charge: Charge
    paid_cents: int  # paid since the invoice was issued (payments allocated to the charge)
    balance_cents: int  # what is still owed of the amount invoiced


@dataclass
class InvoiceFigures:
    invoice: Invoice
    lines: list[LineFigures]
    patients: dict[int, str]

    @property
    def status(self) -> str:
        return self.invoice.status

    @property
    def total_cents(self) -> int:
        return self.invoice.total_cents

    @property
    def paid_cents(self) -> int:
        return sum(f.paid_cents for f in self.lines)

    @property
    def balance_cents(self) -> int:
        return 0 if self.invoice.status == "void" else sum(f.balance_cents for f in self.lines)

    @property
    def adjusted_cents(self) -> int:
        """Written off or moved back to insurance since issue: neither paid nor still owed."""
        return self.total_cents - self.paid_cents - self.balance_cents if self.invoice.status != "void" else 0


def _status(paid: int, balance: int, total: int) -> str:
    if balance == 0:
        return "paid"
    return "partially_paid" if paid > 0 or balance < total else "open"


def figures(invoices: list[Invoice]) -> list[InvoiceFigures]:
    """Each invoice with what was paid on its lines since it was issued and what is left, read from the ledger;
    the stored status follows (never over a void)."""
    if not invoices:
        return []
    ids = [i.id for i in invoices]
    paid = dict(db.session.execute(
        select(InvoiceLine.id, -func.sum(LedgerEntry.amount_cents))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(LedgerEntry, LedgerEntry.charge_id == InvoiceLine.charge_id)
        .where(InvoiceLine.invoice_id.in_(ids), LedgerEntry.id > Invoice.ledger_mark,
               LedgerEntry.bucket == "patient", LedgerEntry.payment_id.is_not(None))
        .group_by(InvoiceLine.id)).all())
    account_ids = {i.account_id for i in invoices}
    patients = {p.id: p.full_name for p in db.session.scalars(select(Patient).where(
        Patient.account_id.in_(account_ids)))}
    result = []
    for invoice in invoices:
        lines = []
        for line in invoice.lines:
            line_paid = max(0, min(int(paid.get(line.id) or 0), line.amount_cents))
            balance = max(0, min(line.charge.patient_balance_cents, line.amount_cents - line_paid))
            lines.append(LineFigures(line, line.charge, line_paid, balance))
        if invoice.status != "void":
            status = _status(sum(f.paid_cents for f in lines), sum(f.balance_cents for f in lines),
                             invoice.total_cents)
            if status != invoice.status:
                # Conditional: a void written meanwhile by someone else stays.
                db.session.execute(update(Invoice).where(Invoice.id == invoice.id, Invoice.status != "void")
                                   .values(status=status).execution_options(synchronize_session=False))
                invoice.status = status
                db.session.flush()
        result.append(InvoiceFigures(invoice, lines, patients))
    return result


def for_account(account: Account) -> list[InvoiceFigures]:
    """The account's invoices, newest first, with their figures."""
    return figures(list(db.session.scalars(select(Invoice).where(Invoice.account_id == account.id)
                                           .order_by(Invoice.id.desc()))))


def get_for_account(account: Account, invoice_id: int) -> InvoiceFigures | None:
    invoice = db.session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.account_id == account.id))
    return figures([invoice])[0] if invoice is not None else None


def numbers_by_charge(charge_ids) -> dict[int, str]:
    """The live invoice each of these charges is on, by number."""
    charge_ids = list(charge_ids)
    if not charge_ids:
        return {}
    return dict(db.session.execute(
        select(InvoiceLine.charge_id, Invoice.number).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.charge_id.in_(charge_ids), InvoiceLine.live.is_(True))).all())


# ---------------------------------------------------------------- voiding


def void(invoice: Invoice, *, reason: str, actor: User | str,
         ip: str | None = None, user_agent: str | None = None) -> Invoice:
    """Void an invoice: it stays, marked void with who, when and why, and its charges may be invoiced again.
    The payments made on it stay in the ledger, applied to the charges."""
    reason = (reason or "").strip()
    if not reason:
        raise InvoiceError("Say why the invoice is voided.", "reason")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in reason):
        raise InvoiceError("The reason has characters that cannot be kept. Type it again.", "reason")
    lock_rows(Account, [invoice.account_id])
    invoice = db.session.scalar(select(Invoice).where(Invoice.id == invoice.id)
                                .execution_options(populate_existing=True))
    if invoice.status == "void":
        raise InvoiceError(f"Invoice {invoice.number} is already void.")
    before = figures([invoice])[0]
    if before.status == "paid":
        raise InvoiceError(f"Invoice {invoice.number} is paid: there is nothing left on it to void.")
    invoice.status, invoice.voided_at, invoice.voided_by = "void", utcnow(), _actor_label(actor)
    invoice.void_reason = reason
    for line in invoice.lines:
        line.live = False
    db.session.flush()
    audit.record("invoice.voided", "invoice", actor=actor, object_id=invoice.id, account_id=invoice.account_id,
                 detail={"number": invoice.number, "reason": reason, "paid_cents": before.paid_cents,
                         "balance_cents": before.balance_cents}, ip=ip, user_agent=user_agent)
    return invoice
