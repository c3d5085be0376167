"""Staff search: one box that finds a patient's account by name, MRN, account number, date of birth, phone,
member id or claim number.

Each kind of query is an indexed lookup (name prefixes on lower(name), the unique numbers, date of birth, the
phone's digits), so a search over a large practice stays fast; nothing here scans a table with LIKE '%x%'.
"""
import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.models import Account, Claim, Coverage, Patient
from portal.models.accounts import phone_digits

RESULT_LIMIT = 50
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,79}$")
PHONE = re.compile(r"^[\d\s().+\-]{7,25}$")


@dataclass(frozen=True)
class Hit:
    patient: Patient
    account: Account
    matched: str  # which key matched: name, mrn, account, date_of_birth, phone, member_id, claim


def kinds(query: str) -> list[str]:
    """The keys a query can be, in the order they are tried (for the audit trail: no query text)."""
    text = query.strip()
    found = []
    if _as_date(text):
        found.append("date_of_birth")
    elif PHONE.match(text) and len(phone_digits(text) or "") >= 7:
        found.append("phone")
    if IDENTIFIER.match(text):
        found += ["mrn", "account", "member_id", "claim"]
    if _name_parts(text):
        found.append("name")
    return found


def find(query: str, limit: int = RESULT_LIMIT) -> list[Hit]:
    """Patients matching the query, each once, with the key that found them; at most `limit`."""
    text = (query or "").strip()[:100]
    hits: dict[int, tuple[Patient, str]] = {}

    def collect(stmt, matched: str) -> None:
        if len(hits) >= limit:
            return
        for patient in db.session.scalars(stmt.limit(limit)):
            hits.setdefault(patient.id, (patient, matched))

    base = select(Patient).where(Patient.merged_into_id.is_(None)).options(selectinload(Patient.account))
    for kind in kinds(text):
        if kind == "date_of_birth":
            collect(base.where(Patient.date_of_birth == _as_date(text)).order_by(Patient.last_name, Patient.id),
                    kind)
        elif kind == "phone":
            # The patient's phone, then the guarantor's: two index lookups (an OR across tables would scan).
            digits = phone_digits(text)
            collect(base.where(Patient.phone_digits == digits).order_by(Patient.id), kind)
            collect(base.join(Account, Account.id == Patient.account_id).where(Account.phone_digits == digits)
                    .order_by(Patient.id), kind)
        elif kind == "mrn":
            collect(base.where(Patient.mrn.in_(_cases(text))), kind)
        elif kind == "account":
            collect(base.join(Account, Account.id == Patient.account_id).where(Account.number.in_(_cases(text)))
                    .order_by(Patient.id), kind)
        elif kind == "member_id":
            collect(base.where(Patient.id.in_(select(Coverage.patient_id).where(
                Coverage.member_id.in_(_cases(text))))).order_by(Patient.id), kind)
        elif kind == "claim":
            collect(base.where(Patient.id.in_(select(Claim.patient_id).where(
                Claim.control_number.in_(_cases(text))))).order_by(Patient.id), kind)
        elif kind == "name":
            collect(_by_name(base, *_name_parts(text)), kind)
    return [Hit(patient, patient.account, matched) for patient, matched in list(hits.values())[:limit]]


def _cases(text: str) -> set[str]:
    """Identifiers are compared exactly (their unique indexes answer), as typed and in capitals."""
    return {text, text.upper()}


def _as_date(text: str) -> date | None:
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _name_parts(text: str) -> tuple[str, str | None] | None:
    """(last, first) prefixes: "smith", "smith, jo" (last, first) or "jo smith" (first last); None unless it reads
    as a name."""
    letters = r"[^\W\d_]"
    if not re.fullmatch(rf"{letters}(?:{letters}|['. \-])*(?:,(?:{letters}|['. \-])*)?", text):
        return None
    if "," in text:
        last, first = (part.strip().lower() for part in text.split(",", 1))
        return last, first or None
    words = text.lower().split()
    return (words[-1], " ".join(words[:-1])) if len(words) > 1 else (words[0], None)


def _prefix(column, text: str):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"{escaped}%", escape="\\")


def _by_name(base, last: str, first: str | None):
    order = (Patient.last_name, Patient.first_name, Patient.id)
    if first is not None:
        return base.where(_prefix(Patient.last_name, last), _prefix(Patient.first_name, first)).order_by(*order)
    # One word: a last name or a first name (two index lookups, OR'd).
    return base.where(or_(_prefix(Patient.last_name, last), _prefix(Patient.first_name, last))).order_by(*order)
