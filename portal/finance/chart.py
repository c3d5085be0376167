"""The chart of accounts and its mapping: which GL account each kind of ledger movement goes to.

A source is what one side of a journal line stands for. The three ledger buckets are sources
("ar:patient", "ar:insurance", "unapplied"); so is the movement on the other side of each posting:
gross revenue by level of care, cash received by method, each adjustment kind, an agency's fee,
refunds by method, and the card processor's fees and payouts. A facility starts with a default chart
(numbers a small practice's books commonly use); the business office renames, renumbers and remaps.
"""
from dataclasses import dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.models import GL_ACCOUNT_TYPES, GlAccount, GlMapping
from portal.models.ledger import ADJUSTMENT_KINDS, PAYMENT_METHODS
from portal.models.providers import PROGRAM_LEVELS
from portal.models.statements import REFUND_METHODS


class ChartError(Exception):
    """A chart change refused, in words a person can act on."""


@dataclass(frozen=True)
class Source:
    key: str
    label: str
    group: str


_LEVEL_WORDS = {"iop": "IOP", "php": "PHP", "outpatient": "Outpatient", "residential": "Residential",
                "detox": "Detox", "other": "Other services"}
_METHOD_WORDS = {"card": "Card (online)", "card_present": "Card (at the desk)", "cash": "Cash", "check": "Check",
                 "eft": "EFT from payers", "insurance_check": "Insurance check", "other": "Other (agency remittances)"}
_ADJUSTMENT_WORDS = {"contractual": "Contractual allowance", "payer_reduction": "Payer reduction",
                     "other_insurance": "Other insurance adjustment", "small_balance": "Small balance write-off",
                     "charity": "Charity / financial assistance", "bad_debt": "Bad debt",
                     "administrative": "Administrative adjustment"}
_REFUND_WORDS = {"card": "Refund to a card", "check": "Refund by check", "cash": "Refund in cash"}

SOURCES: tuple[Source, ...] = (
    Source("ar:patient", "Patient A/R", "Receivables"),
    Source("ar:insurance", "Insurance A/R", "Receivables"),
    Source("unapplied", "Unapplied cash (credit not yet applied)", "Receivables"),
    *(Source(f"revenue:{level}", f"Gross revenue — {_LEVEL_WORDS[level]}", "Revenue") for level in PROGRAM_LEVELS),
    *(Source(f"adjustment:{kind}", _ADJUSTMENT_WORDS[kind], "Adjustments") for kind in ADJUSTMENT_KINDS),
    Source("agency_fee", "Collection agency fee", "Adjustments"),
    *(Source(f"cash:{method}", f"Cash received — {_METHOD_WORDS[method]}", "Cash") for method in PAYMENT_METHODS),
    *(Source(f"refund:{method}", _REFUND_WORDS[method], "Cash") for method in REFUND_METHODS),
    Source("card_fees", "Card processing fees", "Card processor"),
    Source("payout", "Card payouts to the bank", "Card processor"),
)
SOURCE_KEYS = frozenset(s.key for s in SOURCES)
LABELS = {s.key: s.label for s in SOURCES}

# number, name, type; then which sources go there.
_DEFAULT_ACCOUNTS = (
    ("1010", "Operating bank account", "asset"),
    ("1015", "Card processor clearing", "asset"),
    ("1020", "Undeposited funds", "asset"),
    ("1200", "Patient accounts receivable", "asset"),
    ("1210", "Insurance accounts receivable", "asset"),
    ("2100", "Unapplied patient and payer cash", "liability"),
    ("2110", "Refunds payable", "liability"),
    ("4010", "Gross patient revenue — IOP", "revenue"),
    ("4020", "Gross patient revenue — PHP", "revenue"),
    ("4030", "Gross patient revenue — outpatient", "revenue"),
    ("4040", "Gross patient revenue — residential", "revenue"),
    ("4050", "Gross patient revenue — detox", "revenue"),
    ("4090", "Gross patient revenue — other", "revenue"),
    ("4510", "Contractual allowances", "contra_revenue"),
    ("4520", "Payer reductions", "contra_revenue"),
    ("4530", "Charity care", "contra_revenue"),
    ("4540", "Administrative adjustments", "contra_revenue"),
    ("6110", "Card processing fees", "expense"),
    ("6120", "Collection agency fees", "expense"),
    ("6130", "Bad debt expense", "expense"),
)
_DEFAULT_MAP = {
    "ar:patient": "1200", "ar:insurance": "1210", "unapplied": "2100",
    "revenue:iop": "4010", "revenue:php": "4020", "revenue:outpatient": "4030", "revenue:residential": "4040",
    "revenue:detox": "4050", "revenue:other": "4090",
    "adjustment:contractual": "4510", "adjustment:payer_reduction": "4520", "adjustment:other_insurance": "4520",
    "adjustment:small_balance": "4540", "adjustment:charity": "4530", "adjustment:bad_debt": "6130",
    "adjustment:administrative": "4540", "agency_fee": "6120",
    "cash:card": "1015", "cash:card_present": "1015", "cash:cash": "1020", "cash:check": "1020",
    "cash:eft": "1010", "cash:insurance_check": "1020", "cash:other": "1020",
    "refund:card": "1015", "refund:check": "2110", "refund:cash": "1020",
    "card_fees": "6110", "payout": "1010",
}
assert set(_DEFAULT_MAP) == SOURCE_KEYS, "every source has a default account"


def ensure_chart(facility_id: int, *, actor: str) -> None:
    """Give a facility the default chart and map the first time its books are used, and map any source
    added since to its default account (created if missing). Flushes; the caller commits."""
    accounts = {a.number: a for a in db.session.scalars(select(GlAccount).where(GlAccount.facility_id == facility_id))}
    mapped = set(db.session.scalars(select(GlMapping.source).where(GlMapping.facility_id == facility_id)))
    if mapped >= SOURCE_KEYS:
        return
    defaults = {number: (name, kind) for number, name, kind in _DEFAULT_ACCOUNTS}
    for source in sorted(SOURCE_KEYS - mapped):
        number = _DEFAULT_MAP[source]
        if number not in accounts:
            name, kind = defaults[number]
            accounts[number] = GlAccount(facility_id=facility_id, number=number, name=name, type=kind)
            db.session.add(accounts[number])
            db.session.flush()
        db.session.add(GlMapping(facility_id=facility_id, source=source, gl_account_id=accounts[number].id,
                                 updated_by=actor))
    db.session.flush()


def accounts_of(facility_id: int) -> list[GlAccount]:
    return list(db.session.scalars(select(GlAccount).where(GlAccount.facility_id == facility_id)
                                   .order_by(GlAccount.number)))


def mapping_of(facility_id: int) -> dict[str, GlAccount]:
    """Source key -> the GL account it posts to."""
    return {m.source: m.gl_account for m in db.session.scalars(
        select(GlMapping).where(GlMapping.facility_id == facility_id))}


def _clean(text: str | None, limit: int, what: str) -> str:
    value = " ".join((text or "").replace("\x00", "").split())
    if not value:
        raise ChartError(f"Enter the account's {what}.")
    if len(value) > limit:
        raise ChartError(f"The account's {what} is longer than {limit} characters.")
    return value


def save_account(facility_id: int, *, number: str, name: str, type: str, actor: str) -> tuple[GlAccount, bool]:
    """Add a GL account, or rename and retype the one with that number; (the account, whether it is new).
    Flushes; the caller commits."""
    number, name = _clean(number, 20, "number"), _clean(name, 100, "name")
    if type not in GL_ACCOUNT_TYPES:
        raise ChartError("Choose the account's type.")
    account = db.session.scalar(select(GlAccount).where(GlAccount.facility_id == facility_id,
                                                        GlAccount.number == number))
    created = account is None
    if account is None:
        account = GlAccount(facility_id=facility_id, number=number, name=name, type=type)
        db.session.add(account)
    else:
        account.name, account.type = name, type
    db.session.flush()
    return account, created


def remap(facility_id: int, changes: dict[str, int], *, actor: str) -> list[str]:
    """Point sources at other GL accounts of the facility; the sources changed. Flushes; the caller commits."""
    ensure_chart(facility_id, actor=actor)
    unknown = sorted(set(changes) - SOURCE_KEYS)
    if unknown:
        raise ChartError(f"Unknown movement {unknown[0][:40]!r}.")
    ours = {a.id for a in accounts_of(facility_id)}
    current = {m.source: m for m in db.session.scalars(select(GlMapping).where(GlMapping.facility_id == facility_id))}
    changed = []
    for source, account_id in sorted(changes.items()):
        if account_id not in ours:
            raise ChartError(f"{LABELS[source]}: choose an account of this facility's chart.")
        if current[source].gl_account_id != account_id:
            current[source].gl_account_id, current[source].updated_by = account_id, actor
            changed.append(source)
    db.session.flush()
    return changed
