"""The card processor's payouts, from its itemized payout reconciliation report (CSV).

The report has one row per balance transaction a payout paid out, with the columns the processor names
(amounts in dollars, "100.00" or "-3.20"; `net` = `gross` - `fee`):

    automatic_payout_id, automatic_payout_effective_at, balance_transaction_id, currency, gross, fee, net,
    reporting_category                       required
    created_utc, source_id, payment_intent_id, refund_id, charge_id, description    used when present

Other columns are ignored. Importing makes one payout per `automatic_payout_id` (its gross, fee and net the
sums of its rows; it arrived on `automatic_payout_effective_at`'s day) and one item per
`balance_transaction_id`; a balance transaction already imported is skipped, so importing a report again
changes nothing. Each charge is matched to our card payment whose reference is its PaymentIntent, each
refund to our refund with its processor id; what matches nothing is listed.

A payout books on its arrival day (a closed month: today, marked as correcting that month): the bank is
debited its net, card fees its fee, and card clearing credited its gross.
"""
import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from portal import money
from portal.audit import record
from portal.clock import facility_today
from portal.extensions import db
from portal.finance.movements import Movement
from portal.models import (
    CardPayment,
    CardPayout,
    CardPayoutItem,
    CardRefund,
    GlPeriod,
    Payment,
    PlanChargeAttempt,
    PlanInstallment,
    Refund,
)

REQUIRED = ("automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id", "currency", "gross",
            "fee", "net", "reporting_category")
OPTIONAL = ("created_utc", "source_id", "payment_intent_id", "refund_id", "charge_id", "description")
MAX_ROWS = 100_000
CARD_METHODS = ("card", "card_present")


class PayoutError(Exception):
    """A report refused, in one line a person can act on."""


@dataclass
class Unmatched:
    payout_id: str
    balance_transaction_id: str
    reporting_category: str
    gross_cents: int
    reference: str | None

    def as_dict(self) -> dict:
        return vars(self).copy()


@dataclass
class PayoutImport:
    payouts_created: list[str] = field(default_factory=list)
    items_created: int = 0
    items_already: int = 0
    matched: int = 0
    unmatched: list[Unmatched] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.items_created > 0

    def summary(self) -> str:
        if not self.changed:
            return f"nothing new: all {self.items_already} balance transaction(s) were imported before"
        text = (f"imported {len(self.payouts_created)} payout(s), {self.items_created} balance transaction(s): "
                f"{self.matched} matched to our payments and refunds, {len(self.unmatched)} unmatched")
        if self.items_already:
            text += f"; {self.items_already} imported before were skipped"
        return text

    def as_dict(self) -> dict:
        return {"payouts_created": self.payouts_created, "items_created": self.items_created,
                "items_already": self.items_already, "matched": self.matched,
                "unmatched": [u.as_dict() for u in self.unmatched]}


@dataclass
class _Row:
    line: int
    payout_id: str
    arrival: date
    balance_transaction_id: str
    currency: str
    gross: int
    fee: int
    net: int
    category: str
    created_on: date | None
    source_id: str | None
    payment_intent_id: str | None
    refund_id: str | None
    description: str | None


def _text(content: bytes) -> str:
    if not content or not content.strip():
        raise PayoutError("The file is empty: choose the itemized payout reconciliation report (CSV).")
    if b"\x00" in content:
        raise PayoutError("The file holds NUL bytes: it is not a CSV report.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PayoutError("The file is not UTF-8 text: export the report again as CSV.") from None


def _day(value: str, line: int, column: str) -> date:
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise PayoutError(f"Line {line}: {column} {text[:30]!r} is not a date (YYYY-MM-DD).") from None


def _cents(value: str, line: int, column: str) -> int:
    try:
        return money.parse_cents(value)
    except ValueError:
        raise PayoutError(f"Line {line}: {column} {value.strip()[:30]!r} is not an amount in dollars.") from None


def _ident(value: str | None, limit: int = 100) -> str | None:
    text = (value or "").strip()
    return text[:limit] or None


def parse_report(content: bytes) -> list[_Row]:
    """The report's rows, or PayoutError naming the first problem (missing columns, a bad amount...)."""
    reader = csv.reader(io.StringIO(_text(content), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise PayoutError("The file is empty: choose the itemized payout reconciliation report (CSV).")
        names = [h.strip().lower() for h in header]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            raise PayoutError(f"This is not an itemized payout reconciliation report: it has no "
                              f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}.")
        at = {name: names.index(name) for name in (*REQUIRED, *OPTIONAL) if name in names}
        rows = []
        for line, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise PayoutError(f"The report has more than {MAX_ROWS:,} rows: export a shorter period.")
            rows.append(_row(line, values, at))
    except csv.Error as exc:
        raise PayoutError(f"The file is not a readable CSV: {str(exc)[:80]}.") from None
    if not rows:
        raise PayoutError("The report has no balance transactions.")
    return rows


def _row(line: int, values: list[str], at: dict[str, int]) -> _Row:
    def get(name: str) -> str:
        index = at.get(name)
        return values[index] if index is not None and index < len(values) else ""

    payout_id, bt = _ident(get("automatic_payout_id")), _ident(get("balance_transaction_id"))
    if not payout_id:
        raise PayoutError(f"Line {line}: no automatic_payout_id (this report lists only paid-out transactions).")
    if not bt:
        raise PayoutError(f"Line {line}: no balance_transaction_id.")
    currency = get("currency").strip().lower()
    if currency != "usd":
        raise PayoutError(f"Line {line}: currency {currency[:10]!r}; only USD payouts are reconciled.")
    gross, fee, net = (_cents(get(c), line, c) for c in ("gross", "fee", "net"))
    if net != gross - fee:
        raise PayoutError(f"Line {line}: net {money.format_usd(net)} is not gross {money.format_usd(gross)} "
                          f"less fee {money.format_usd(fee)}.")
    category = (get("reporting_category").strip().lower() or "other")[:40]
    created = get("created_utc")
    created_on = _day(created, line, "created_utc") if created.strip() else None
    return _Row(line, payout_id, _day(get("automatic_payout_effective_at"), line, "automatic_payout_effective_at"),
                bt, currency, gross, fee, net, category, created_on,
                _ident(get("source_id")), _ident(get("payment_intent_id")), _ident(get("refund_id")),
                _ident(get("description"), 200))


def _payment_for(intent: str | None) -> int | None:
    if not intent:
        return None
    found = db.session.scalar(select(Payment.id).where(Payment.reference == intent, Payment.method.in_(CARD_METHODS))
                              .order_by(Payment.id).limit(1))
    if found is None:
        found = db.session.scalar(select(CardPayment.payment_id).where(CardPayment.payment_intent_id == intent))
    if found is None:
        # A plan's charge: the installment the attempt paid holds the payment.
        found = db.session.scalar(select(PlanInstallment.payment_id).join(
            PlanChargeAttempt, PlanChargeAttempt.installment_id == PlanInstallment.id).where(
            PlanChargeAttempt.payment_intent_id == intent, PlanChargeAttempt.status == "succeeded").limit(1))
    return found


def _refund_for(*ids: str | None) -> int | None:
    for value in ids:
        if value and value.startswith("re_"):
            found = db.session.scalar(select(Refund.id).where(Refund.stripe_refund_id == value))
            if found is None:  # a card refund reserved and posted: its reservation names the posted refund
                found = db.session.scalar(select(CardRefund.refund_id).where(CardRefund.stripe_refund_id == value))
            if found is not None:
                return found
    return None


def gl_day(facility_id: int, day: date) -> tuple[date, date | None]:
    """Where something dated `day` books: that day, or today correcting its month when the month is closed."""
    month = day.replace(day=1)
    closed = db.session.scalar(select(GlPeriod.id).where(GlPeriod.facility_id == facility_id, GlPeriod.month == month))
    return (day, None) if closed is None else (facility_today(), month)


def import_report(facility_id: int, content: bytes, filename: str, *, actor, ip: str | None = None,
                  user_agent: str | None = None) -> PayoutImport:
    """Import the report (see the module's docstring). Flushes and audits; the caller commits."""
    rows = parse_report(content)
    if db.session.get_bind().dialect.name == "postgresql":
        # Taken before the closed months are read: a month closing meanwhile waits for this import, or this
        # import waits for it and then sees the month closed.
        db.session.execute(db.text("LOCK TABLE card_payouts IN ROW EXCLUSIVE MODE"))
    by_payout: dict[str, list[_Row]] = defaultdict(list)
    seen: set[str] = set()
    for row in rows:
        if row.balance_transaction_id in seen:
            raise PayoutError(f"Line {row.line}: balance transaction {row.balance_transaction_id} is listed twice.")
        seen.add(row.balance_transaction_id)
        by_payout[row.payout_id].append(row)
    known = _known_items(seen)
    existing = {p.payout_id: p for p in db.session.scalars(select(CardPayout).where(
        CardPayout.facility_id == facility_id, CardPayout.payout_id.in_(list(by_payout))))}
    result = PayoutImport()
    todo = []
    for payout_id, items in sorted(by_payout.items()):  # every check before anything is written
        new = [r for r in items if r.balance_transaction_id not in known]
        result.items_already += len(items) - len(new)
        if not new:
            continue
        if payout_id in existing or len(new) != len(items):
            raise PayoutError(f"Payout {payout_id} was imported before with other balance transactions: "
                              "a payout is imported whole, once.")
        if len({r.arrival for r in items}) > 1:
            raise PayoutError(f"Payout {payout_id} has more than one automatic_payout_effective_at.")
        todo.append((payout_id, items))
    for payout_id, items in todo:
        arrival = items[0].arrival
        day, corrects = gl_day(facility_id, arrival)
        payout = CardPayout(facility_id=facility_id, payout_id=payout_id, arrival_date=arrival, currency="usd",
                            gross_cents=sum(r.gross for r in items), fee_cents=sum(r.fee for r in items),
                            net_cents=sum(r.net for r in items), item_count=len(items), gl_date=day,
                            gl_corrects=corrects, imported_by=_label(actor))
        db.session.add(payout)
        for r in items:
            payment_id = _payment_for(r.payment_intent_id) if r.category == "charge" else None
            refund_id = _refund_for(r.source_id, r.refund_id) if r.category == "refund" else None
            payout.items.append(CardPayoutItem(
                balance_transaction_id=r.balance_transaction_id, reporting_category=r.category,
                created_on=r.created_on, gross_cents=r.gross, fee_cents=r.fee, net_cents=r.net,
                source_id=r.source_id, payment_intent_id=r.payment_intent_id, description=r.description,
                payment_id=payment_id, refund_id=refund_id))
            if payment_id or refund_id:
                result.matched += 1
            else:
                result.unmatched.append(Unmatched(payout_id, r.balance_transaction_id, r.category, r.gross,
                                                  r.payment_intent_id or r.source_id or r.refund_id))
        result.payouts_created.append(payout_id)
        result.items_created += len(items)
    db.session.flush()
    name = (filename or "").replace("\x00", "")[:200]
    record("reconciliation.payouts_imported", "card_payout", actor=actor,
           detail={"facility_id": facility_id, "filename": name, **result.as_dict(),
                   "unmatched": len(result.unmatched)}, ip=ip, user_agent=user_agent)
    return result


def _known_items(ids: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        found.update(db.session.scalars(select(CardPayoutItem.balance_transaction_id).where(
            CardPayoutItem.balance_transaction_id.in_(ordered[start:start + 5000]))))
    return found


def _label(actor) -> str:
    return f"user:{actor.id}" if hasattr(actor, "id") else str(actor)[:100]


def payouts_between(facility_id: int, start: date, end: date) -> list[CardPayout]:
    """Payouts that arrived from `start` to `end`, oldest first."""
    return list(db.session.scalars(select(CardPayout).where(
        CardPayout.facility_id == facility_id, CardPayout.arrival_date >= start, CardPayout.arrival_date <= end)
        .order_by(CardPayout.arrival_date, CardPayout.id)))


def journal_movements(facility_id: int, start: date, end: date) -> list[Movement]:
    """Each payout booked from `start` to `end`: the bank debited its net and card fees its fee, card clearing
    credited its gross (so each payout balances)."""
    rows = db.session.execute(
        select(CardPayout.gl_date, CardPayout.gl_corrects, func.sum(CardPayout.net_cents),
               func.sum(CardPayout.fee_cents), func.sum(CardPayout.gross_cents))
        .where(CardPayout.facility_id == facility_id, CardPayout.gl_date >= start, CardPayout.gl_date <= end)
        .group_by(CardPayout.gl_date, CardPayout.gl_corrects))
    movements = []
    for day, corrects, net, fee, gross in rows:
        movements += [Movement(day, corrects, "payout", int(net)), Movement(day, corrects, "card_fees", int(fee)),
                      Movement(day, corrects, "cash:card", -int(gross))]
    return movements


def earliest_day(facility_id: int) -> date | None:
    return db.session.scalar(select(func.min(CardPayout.gl_date)).where(CardPayout.facility_id == facility_id))
