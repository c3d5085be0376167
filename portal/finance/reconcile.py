"""Deposit reconciliation: does the money we recorded reach the bank?

Three kinds of our items meet the bank's transactions: card payouts (their net), insurance remittances
(ERA: BPR02 paid by ACH or check, TRN02 its trace number) and closed deposit batches of checks and cash
(the total they closed with). Each bank transaction matches at most one item and each item at most one
bank transaction, in two passes over the bank's transactions, oldest first:

1. By reference: the payout's id or the ERA's trace number appears in the bank's text or references (as a
   whole word). The same amount is a match; another amount is a difference, shown with both amounts.
2. By amount and day: a payout whose net equals the credit and that arrived 0 to 3 days before it, or a
   closed batch whose total equals it and was deposited 0 to 3 days before it; the nearest day wins, then
   payouts before batches, then the older record.

What stays apart is listed: bank transactions nothing explains, and our items not in the bank, "in
transit" when dated within 5 days of the statement's end, else "missing". A note can explain any of them.
Nothing here is stored: the same statements and records give the same answer.
"""
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from portal import money
from portal.audit import record
from portal.extensions import db
from portal.finance.bank import transactions_between
from portal.finance.payouts import payouts_between
from portal.models import (
    NOTE_KINDS,
    BankStatement,
    BankTransaction,
    CardPayout,
    CardPayoutItem,
    DepositBatch,
    ReconciliationNote,
    Remittance,
)
from portal.models.deposits import BATCH_KIND_LABELS

WINDOW_DAYS = 3  # a deposit reaches the bank 0 to 3 days after our record of it
IN_TRANSIT_DAYS = 5
LOOKBACK_DAYS = 10  # items and credits from just before the range still pair with each other
MAX_NOTE = 500
KIND_WORDS = {"bank": "bank transaction", "payout": "card payout", "payout_item": "payout line", "era": "remittance",
              "batch": "deposit batch"}
_KIND_ORDER = {"payout": 0, "era": 1, "batch": 2}


class ReconcileError(Exception):
    """A request refused, in words."""


@dataclass
class Item:
    """One of our items that should reach the bank."""
    kind: str  # payout, era, batch
    id: int
    day: date
    amount_cents: int
    label: str
    reference: str | None = None
    fee_cents: int | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id, "day": self.day, "amount_cents": self.amount_cents,
                "label": self.label, "reference": self.reference}


@dataclass
class Match:
    bank: BankTransaction
    item: Item
    how: str

    @property
    def difference_cents(self) -> int:
        return self.bank.amount_cents - self.item.amount_cents

    def as_dict(self) -> dict:
        return {"bank": _bank_dict(self.bank), "item": self.item.as_dict(), "how": self.how,
                "difference_cents": self.difference_cents}


@dataclass
class Waiting:
    item: Item
    status: str  # in_transit, missing

    def as_dict(self) -> dict:
        return {**self.item.as_dict(), "status": self.status}


@dataclass
class Reconciliation:
    start: date
    end: date
    statement_end: date | None
    matched: list[Match] = field(default_factory=list)
    differing: list[Match] = field(default_factory=list)
    unmatched_bank: list[BankTransaction] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    payouts: list[CardPayout] = field(default_factory=list)
    unmatched_payout_items: list[CardPayoutItem] = field(default_factory=list)
    notes: dict[tuple[str, int], list[ReconciliationNote]] = field(default_factory=dict)

    @property
    def fee_total_cents(self) -> int:
        return sum(p.fee_cents for p in self.payouts)

    @property
    def matched_total_cents(self) -> int:
        return sum(m.bank.amount_cents for m in self.matched)

    @property
    def difference_total_cents(self) -> int:
        return sum(m.difference_cents for m in self.differing)

    @property
    def unmatched_credits_cents(self) -> int:
        return sum(t.amount_cents for t in self.unmatched_bank if t.amount_cents > 0)

    @property
    def unmatched_debits_cents(self) -> int:
        return sum(t.amount_cents for t in self.unmatched_bank if t.amount_cents < 0)

    def waiting_total_cents(self, status: str) -> int:
        return sum(w.item.amount_cents for w in self.waiting if w.status == status)

    def notes_for(self, kind: str, item_id: int) -> list[ReconciliationNote]:
        return self.notes.get((kind, item_id), [])

    def summary(self) -> str:
        usd = money.format_usd
        lines = [f"Reconciliation {self.start} to {self.end}"
                 + (f" (bank statements through {self.statement_end})" if self.statement_end else
                    " (no bank statement imported)"),
                 f"  matched: {len(self.matched)} for {usd(self.matched_total_cents)}"]
        lines += [f"    {m.bank.posted_on} {usd(m.bank.amount_cents):>14}  {m.item.label} ({m.how})"
                  for m in self.matched]
        lines.append(f"  differing: {len(self.differing)}, difference {usd(self.difference_total_cents)}")
        lines += [f"    {m.bank.posted_on} bank {usd(m.bank.amount_cents)} ours {usd(m.item.amount_cents)} "
                  f"difference {usd(m.difference_cents)}  {m.item.label} ({m.how})" + self._note_text("bank", m.bank.id)
                  for m in self.differing]
        lines.append(f"  bank items not matched: {len(self.unmatched_bank)}")
        lines += [f"    bank#{t.id} {t.posted_on} {usd(t.amount_cents):>14}  {t.description[:60]}"
                  + self._note_text("bank", t.id) for t in self.unmatched_bank]
        transit, missing = self.waiting_total_cents("in_transit"), self.waiting_total_cents("missing")
        lines.append(f"  ours not in the bank: {len(self.waiting)} (in transit {usd(transit)}, missing {usd(missing)})")
        lines += [f"    {w.item.kind}#{w.item.id} {w.item.day} {usd(w.item.amount_cents):>14}  {w.item.label}  "
                  f"{w.status.replace('_', ' ')}" + self._note_text(w.item.kind, w.item.id) for w in self.waiting]
        lines.append(f"  card fees: {usd(self.fee_total_cents)} over {len(self.payouts)} payout(s)")
        lines += [f"    {p.payout_id} {p.arrival_date} net {usd(p.net_cents)} fee {usd(p.fee_cents)}"
                  for p in self.payouts]
        return "\n".join(lines)

    def _note_text(self, kind: str, item_id: int) -> str:
        notes = self.notes_for(kind, item_id)
        return f"  [note: {notes[-1].note}]" if notes else ""

    def as_dict(self) -> dict:
        def notes(kind: str, item_id: int) -> list[dict]:
            return [{"note": n.note, "created_by": n.created_by, "created_at": n.created_at}
                    for n in self.notes_for(kind, item_id)]

        return {
            "from": self.start, "to": self.end, "statement_end": self.statement_end,
            "matched": [m.as_dict() for m in self.matched],
            "differing": [{**m.as_dict(), "notes": notes("bank", m.bank.id)} for m in self.differing],
            "unmatched_bank": [{**_bank_dict(t), "notes": notes("bank", t.id)} for t in self.unmatched_bank],
            "not_in_bank": [{**w.as_dict(), "notes": notes(w.item.kind, w.item.id)} for w in self.waiting],
            "unmatched_payout_items": [{"id": i.id, "payout_id": i.payout.payout_id,
                                        "balance_transaction_id": i.balance_transaction_id,
                                        "reporting_category": i.reporting_category, "gross_cents": i.gross_cents,
                                        "notes": notes("payout_item", i.id)} for i in self.unmatched_payout_items],
            "card_fees": [{"payout_id": p.payout_id, "arrival_date": p.arrival_date, "gross_cents": p.gross_cents,
                           "fee_cents": p.fee_cents, "net_cents": p.net_cents} for p in self.payouts],
            "totals": {"matched_cents": self.matched_total_cents, "difference_cents": self.difference_total_cents,
                       "unmatched_credits_cents": self.unmatched_credits_cents,
                       "unmatched_debits_cents": self.unmatched_debits_cents,
                       "in_transit_cents": self.waiting_total_cents("in_transit"),
                       "missing_cents": self.waiting_total_cents("missing"), "card_fees_cents": self.fee_total_cents},
        }


def _bank_dict(t: BankTransaction) -> dict:
    return {"id": t.id, "posted_on": t.posted_on, "amount_cents": t.amount_cents, "description": t.description,
            "reference": t.reference, "bank_reference": t.bank_reference}


def _items(facility_id: int, first: date, last: date) -> list[Item]:
    items = [Item("payout", p.id, p.arrival_date, p.net_cents, f"Card payout {p.payout_id}", p.payout_id, p.fee_cents)
             for p in db.session.scalars(select(CardPayout).where(
                 CardPayout.facility_id == facility_id, CardPayout.arrival_date >= first,
                 CardPayout.arrival_date <= last))]
    items += [Item("era", r.id, r.payment_date, r.payment_cents,
                   f"ERA {r.payer_name[:40]} {r.payment_method} trace {r.trace_number}", r.trace_number)
              for r in db.session.scalars(select(Remittance).where(
                  Remittance.payment_date >= first, Remittance.payment_date <= last, Remittance.payment_cents > 0,
                  Remittance.payment_method != "NON")) if r.payment_date is not None]
    items += [Item("batch", b.id, b.deposit_date, b.closed_total_cents or 0,
                   f"Deposit batch B{b.id:05d} · {BATCH_KIND_LABELS.get(b.kind, b.kind)}")
              for b in db.session.scalars(select(DepositBatch).where(
                  DepositBatch.status == "closed", DepositBatch.deposit_date >= first,
                  DepositBatch.deposit_date <= last, DepositBatch.closed_total_cents > 0))]
    return sorted(items, key=lambda i: (i.day, _KIND_ORDER[i.kind], i.id))


def _contains(haystack: str, token: str | None) -> bool:
    if not token or len(token) < 3:
        return False
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(token.upper())}(?![A-Za-z0-9])", haystack) is not None


def _haystack(t: BankTransaction) -> str:
    return " ".join(filter(None, (t.description, t.reference, t.bank_reference))).upper()


def match(bank: list[BankTransaction], items: list[Item]) -> tuple[list[Match], list[BankTransaction], list[Item]]:
    """Pair bank transactions with our items (see the module's docstring): (pairs, bank left, items left)."""
    used: set[tuple[str, int]] = set()
    pairs: dict[int, Match] = {}
    for t in bank:  # 1. by reference
        text = _haystack(t)
        found = [i for i in items if (i.kind, i.id) not in used and (i.amount_cents > 0) == (t.amount_cents > 0)
                 and _contains(text, i.reference)]
        if found:
            best = min(found, key=lambda i: (i.amount_cents != t.amount_cents, abs((t.posted_on - i.day).days)))
            used.add((best.kind, best.id))
            what = "payout id" if best.kind == "payout" else "trace number"
            pairs[t.id] = Match(t, best, f"{what} {best.reference} in the bank's text")
    for t in bank:  # 2. by amount and day
        if t.id in pairs:
            continue
        found = [i for i in items if (i.kind, i.id) not in used and i.kind in ("payout", "batch")
                 and i.amount_cents == t.amount_cents and 0 <= (t.posted_on - i.day).days <= WINDOW_DAYS]
        if found:
            best = min(found, key=lambda i: ((t.posted_on - i.day).days, _KIND_ORDER[i.kind], i.day, i.id))
            used.add((best.kind, best.id))
            days = (t.posted_on - best.day).days
            when = "the same day" if days == 0 else f"{days} day{'s' if days > 1 else ''} later"
            what = "the payout arrived" if best.kind == "payout" else "the batch's deposit date"
            pairs[t.id] = Match(t, best, f"same amount, {when} than {what}" if days else
                                f"same amount, on {'the day ' + what}")
    return (list(pairs.values()), [t for t in bank if t.id not in pairs],
            [i for i in items if (i.kind, i.id) not in used])


def reconcile(facility_id: int, start: date, end: date) -> Reconciliation:
    """The reconciliation of `start` to `end` (bank days and our items' days)."""
    if end < start:
        raise ReconcileError("The end date is before the start date.")
    if (end - start).days > 366:
        raise ReconcileError("Reconcile at most a year at a time.")
    first = start - timedelta(days=LOOKBACK_DAYS)
    bank = transactions_between(facility_id, first, end)
    items = _items(facility_id, first, end)
    pairs, bank_left, items_left = match(bank, items)
    last_days = [d for d in db.session.scalars(select(BankStatement.last_day).where(
        BankStatement.facility_id == facility_id, BankStatement.first_day <= end)) if d is not None]
    statement_end = min(max(last_days), end) if last_days else None
    result = Reconciliation(start, end, statement_end)

    def shown(day: date) -> bool:
        return start <= day <= end

    for m in sorted(pairs, key=lambda m: (m.bank.posted_on, m.bank.id)):
        if shown(m.bank.posted_on) or shown(m.item.day):
            (result.matched if m.difference_cents == 0 else result.differing).append(m)
    result.unmatched_bank = [t for t in bank_left if shown(t.posted_on)]
    horizon = (statement_end or end) - timedelta(days=IN_TRANSIT_DAYS)
    result.waiting = [Waiting(i, "in_transit" if i.day >= horizon else "missing") for i in items_left if shown(i.day)]
    result.payouts = payouts_between(facility_id, start, end)
    result.unmatched_payout_items = [i for p in result.payouts for i in p.items if not i.matched]
    for note in db.session.scalars(select(ReconciliationNote).where(ReconciliationNote.facility_id == facility_id)
                                   .order_by(ReconciliationNote.id)):
        result.notes.setdefault((note.item_kind, note.item_id), []).append(note)
    return result


def _item_exists(facility_id: int, kind: str, item_id: int) -> bool:
    if kind == "bank":
        found = db.session.get(BankTransaction, item_id)
        return found is not None and found.facility_id == facility_id
    if kind == "payout":
        payout = db.session.get(CardPayout, item_id)
        return payout is not None and payout.facility_id == facility_id
    if kind == "payout_item":
        line = db.session.get(CardPayoutItem, item_id)
        return line is not None and line.payout.facility_id == facility_id
    if kind == "era":
        return db.session.get(Remittance, item_id) is not None
    return db.session.get(DepositBatch, item_id) is not None


def explain(facility_id: int, kind: str, item_id: int, note: str, *, actor, ip: str | None = None,
            user_agent: str | None = None) -> ReconciliationNote:
    """Keep a note explaining a difference or an unmatched item. Flushes and audits; the caller commits."""
    kind = (kind or "").strip().lower()
    if kind not in NOTE_KINDS:
        raise ReconcileError(f"Say what the note explains: one of {', '.join(NOTE_KINDS)}.")
    if not isinstance(item_id, int) or not 0 < item_id < 2 ** 31 or not _item_exists(facility_id, kind, item_id):
        raise ReconcileError(f"There is no {KIND_WORDS[kind]} {str(item_id)[:12]} to explain.")
    text = " ".join((note or "").replace("\x00", "").split())
    if not text:
        raise ReconcileError("Write the note: what explains this item.")
    if len(text) > MAX_NOTE:
        raise ReconcileError(f"Keep the note to {MAX_NOTE} characters (it has {len(text)}).")
    label = f"user:{actor.id}" if hasattr(actor, "id") else str(actor)[:100]
    found = ReconciliationNote(facility_id=facility_id, item_kind=kind, item_id=item_id, note=text, created_by=label)
    db.session.add(found)
    db.session.flush()
    record("reconciliation.explained", "reconciliation_note", actor=actor, object_id=found.id,
           detail={"facility_id": facility_id, "item_kind": kind, "item_id": item_id, "note": text},
           ip=ip, user_agent=user_agent)
    return found
