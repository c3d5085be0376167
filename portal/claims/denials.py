"""Denials worked to the end: each denied remittance line is a denial with a state, a follow-up date, an
appeal deadline and a history of every step. Writing one off or billing it to the patient moves money
through the ledger, in the same transaction as the step that says so."""
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select

from portal import audit, documents, ledger
from portal.claims import status as claim_status
from portal.clock import facility_today, facility_zone
from portal.extensions import db
from portal.models import (
    DENIAL_STATE_WORDS,
    DENIAL_STATES,
    SETTLED_STATES,
    AdjudicatedLine,
    Claim,
    Denial,
    DenialStep,
    Payer,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    User,
    utcnow,
)
from portal.money import format_usd

# Where a denial may go from each state. Staying put records a note or a new follow-up date.
ALLOWED_MOVES = {
    "open": ("open", "working", "appealed", "written_off", "billed_to_patient"),
    "working": ("working", "appealed", "written_off", "billed_to_patient"),
    "appealed": ("appealed", "won", "lost"),
    "lost": ("appealed", "written_off", "billed_to_patient"),  # a lost appeal: appeal again or settle
    "won": (),
    "written_off": (),
    "billed_to_patient": (),
}
LIST_FILTERS = ("active", "all", *DENIAL_STATES)  # active: not settled
MAX_NOTE = 1000
CODE_PATTERN = re.compile(r"(?:[A-Z]{2}-)?[A-Z0-9]{1,5}")
MAX_APPEAL_TEXT = 5000
FOLLOW_UP_HORIZON_DAYS = 730


class DenialError(ValueError):
    """A denial request that cannot be done, with a sentence fit to show; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def _label(actor: User | str) -> str:
    return f"user:{actor.id}" if isinstance(actor, User) else str(actor)


# ---------------------------------------------------------------- opening (from ERA posting)

def open_denial(line: RemittanceLine, *, actor: str) -> Denial:
    """A posted line the payer denied becomes an open denial with its first step."""
    # By id: an imported line is not in the session yet (its row goes in with the unit of work).
    denial = Denial(remittance_line_id=line.id, state="open", opened_at=utcnow(), updated_at=utcnow())
    denial.steps.append(DenialStep(state="open", at=utcnow(), actor=actor,
                                   note=f"Denied: {line.denial_codes or 'no codes given'}"))
    db.session.add(denial)
    return denial


# ---------------------------------------------------------------- facts of one denial

def claim_of(denial: Denial) -> Claim | None:
    return denial.line.remittance_claim.claim


def payer_of(denial: Denial) -> Payer | None:
    claim = claim_of(denial)
    return claim.payer if claim is not None else denial.line.remittance_claim.remittance.payer


def payer_name(denial: Denial) -> str:
    payer = payer_of(denial)
    return payer.name if payer is not None else denial.line.remittance_claim.remittance.payer_name


def primary_code(denial: Denial) -> str:
    """The first code the payer gave (its CARC with the group, e.g. CO-50): what the worklist groups by."""
    return (denial.line.denial_codes or "").split(" ")[0] or "none"


def code_words(code: str) -> str:
    """'CO-50' or 'N115' in words."""
    from portal.remittances.codes import describe

    if code == "none":
        return "No reason code given"
    group, _, number = code.rpartition("-")
    return describe(group or None, number)


def reasons_in_words(denial: Denial) -> list[str]:
    return [code_words(code) for code in (denial.line.denial_codes or "").split()]


def decided_on(denial: Denial) -> date:
    """The payer's decision date: the remittance's payment date, else the day it was imported."""
    remittance = denial.line.remittance_claim.remittance
    return remittance.payment_date or remittance.imported_at.astimezone(facility_zone()).date()


def appeal_deadline(denial: Denial) -> date | None:
    """The decision date plus the payer's appeal limit; None when the payer sets no limit."""
    payer = payer_of(denial)
    if payer is None or payer.appeal_limit_days is None:
        return None
    return decided_on(denial) + timedelta(days=payer.appeal_limit_days)


def follow_up_overdue(denial: Denial, today: date | None = None) -> bool:
    return not denial.settled and denial.follow_up_on is not None and denial.follow_up_on < (today or facility_today())


def deadline_passed(denial: Denial, today: date | None = None) -> bool:
    deadline = appeal_deadline(denial)
    return denial.state in ("open", "working", "lost") and deadline is not None and deadline < (
        today or facility_today())


# ---------------------------------------------------------------- the worklist

def list_denials(state: str = "active", *, payer_id: int | None = None, reason: str | None = None,
                 overdue: bool = False, today: date | None = None, limit: int = 500) -> list[Denial]:
    """Denials by state ("active": not settled; "all"), payer, reason code (e.g. CO-50 or N115) and follow-up
    overdue; oldest decision first."""
    if state not in LIST_FILTERS:
        raise DenialError(f"{state} is not a denial state", "state")
    query = (select(Denial).join(RemittanceLine, RemittanceLine.id == Denial.remittance_line_id)
             .join(RemittanceClaim, RemittanceClaim.id == RemittanceLine.remittance_claim_id)
             .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
             .outerjoin(Claim, Claim.id == RemittanceClaim.claim_id)
             .order_by(Remittance.imported_at, Denial.id).limit(limit))
    if state == "active":
        query = query.where(Denial.state.not_in(SETTLED_STATES))
    elif state != "all":
        query = query.where(Denial.state == state)
    if payer_id is not None:
        query = query.where(or_(Claim.payer_id == payer_id, (Claim.id.is_(None)) & (Remittance.payer_id == payer_id)))
    if reason:
        code = reason.strip().upper()
        if not CODE_PATTERN.fullmatch(code):
            raise DenialError("A reason code is letters and digits, e.g. CO-50 or N115.", "reason")
        padded = " " + func.coalesce(RemittanceLine.denial_codes, "") + " "
        # CO-50 names one group's code; 50 alone finds it under any group.
        query = query.where(padded.like(f"% {code} %") if "-" in code
                            else or_(padded.like(f"% {code} %"), padded.like(f"%-{code} %")))
    if overdue:
        query = query.where(Denial.follow_up_on < (today or facility_today()), Denial.state.not_in(SETTLED_STATES))
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Group:
    code: str
    words: str
    payer: str
    denials: list[Denial]

    @property
    def billed_cents(self) -> int:
        return sum(d.line.charge_cents for d in self.denials)


def grouped(rows: list[Denial]) -> list[Group]:
    """The worklist by reason, then payer: the largest groups first."""
    groups: dict[tuple[str, str], list[Denial]] = defaultdict(list)
    for denial in rows:
        groups[(primary_code(denial), payer_name(denial))].append(denial)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Group(code, code_words(code), payer, found) for (code, payer), found in ordered]


def counts_by_reason(rows: list[Denial]) -> list[tuple[str, str, int]]:
    """(code, words, how many), most first."""
    counted = Counter(primary_code(d) for d in rows)
    return [(code, code_words(code), n) for code, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))]


def counts_by_payer(rows: list[Denial]) -> list[tuple[str, int]]:
    counted = Counter(payer_name(d) for d in rows)
    return sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))


def open_count() -> int:
    """Denials not yet settled (open, working, appealed or lost)."""
    return db.session.scalar(select(func.count(Denial.id)).where(Denial.state.not_in(SETTLED_STATES)))


# ---------------------------------------------------------------- moving a denial

def move(denial: Denial, state: str, note: str, follow_up: date | None = None, *, actor: User | str,
         today: date | None = None, authorize=None, ip: str | None = None, user_agent: str | None = None) -> Denial:
    """Move a denial to `state` with a note (and the next follow-up date), as one history step.

    appealed: the claim moves to appealed in its history too. written_off: what insurance still owes on the
    line's charge is written off through the ledger; billed_to_patient: it moves to the patient. Both are
    idempotent on the denial (a second submit posts nothing) and `authorize(cents)` may refuse them first (the
    poster's adjustment right and daily limit). won and lost follow an appeal only."""
    note = (note or "").strip()
    _check_move(denial, state, note, follow_up, today or facility_today())
    if state not in ("written_off", "billed_to_patient"):
        _record(denial, state, note, follow_up, actor, ip, user_agent)
        db.session.flush()
        return denial
    charge = denial.line.charge
    if charge is None:
        raise DenialError("This line was never posted to a charge, so there is no balance to move.", "state")
    db.session.refresh(charge)
    owed = charge.insurance_balance_cents
    if owed <= 0:
        raise DenialError("Insurance owes nothing on this charge any more: there is nothing to write off or bill "
                          "to the patient.", "state")
    if authorize is not None:
        authorize(owed)
    moved = []

    def record_with_the_money(_posted) -> None:
        db.session.refresh(denial)  # under the account lock: another submit may have moved it meanwhile
        _check_move(denial, state, note, None, today or facility_today())
        _record(denial, state, note, None, actor, ip, user_agent, cents=owed)
        moved.append(True)

    group, _, carc = primary_code(denial).rpartition("-")
    key = f"denial:{denial.id}:{state}"
    try:
        if state == "written_off":
            ledger.post_adjustment(charge.id, amount_cents=owed, kind="administrative", bucket="insurance", key=key,
                                   actor=_label(actor), group_code=group or None, carc=carc if group else None,
                                   reason=f"Denial {denial.line.denial_codes or ''} written off: {note}"[:1000],
                                   also=record_with_the_money)
        else:
            ledger.transfer(charge.id, amount_cents=owed, to_bucket="patient", reason="noncovered", key=key,
                            actor=_label(actor), carc=carc if group else None, also=record_with_the_money)
    except ledger.LedgerError as exc:
        raise DenialError(f"Nothing was posted: {exc}.", "state") from exc
    if not moved:  # the ledger replayed an earlier submit: the money and the step are there already
        raise DenialError(f"This denial is already {DENIAL_STATE_WORDS[state].lower()}; nothing was posted again.",
                          "state")
    return denial


def _check_move(denial: Denial, state: str, note: str, follow_up: date | None, today: date) -> None:
    if state not in DENIAL_STATES:
        raise DenialError("Choose what happened to the denial.", "state")
    if state not in ALLOWED_MOVES[denial.state]:
        current = DENIAL_STATE_WORDS[denial.state].lower()
        if state in ("won", "lost"):
            raise DenialError("An appeal is won or lost only once the denial is appealed.", "state")
        if not ALLOWED_MOVES[denial.state]:
            raise DenialError(f"This denial is {current}: nothing more is done with it.", "state")
        raise DenialError(f"A denial that is {current} cannot be marked {DENIAL_STATE_WORDS[state].lower()}.",
                          "state")
    if not note:
        raise DenialError("Say what was done about the denial.", "note")
    if len(note) > MAX_NOTE:
        raise DenialError(f"Keep the note under {MAX_NOTE} characters.", "note")
    if follow_up is not None:
        if state in SETTLED_STATES:
            raise DenialError("A settled denial needs no follow-up date.", "follow_up")
        if not today <= follow_up <= today + timedelta(days=FOLLOW_UP_HORIZON_DAYS):
            raise DenialError("Choose a follow-up date from today to two years ahead.", "follow_up")


def _record(denial: Denial, state: str, note: str, follow_up: date | None, actor: User | str,
            ip: str | None, user_agent: str | None, cents: int | None = None) -> None:
    before, now, line = denial.state, utcnow(), denial.line
    denial.state, denial.updated_at = state, now
    denial.follow_up_on = None if state in SETTLED_STATES else follow_up or denial.follow_up_on
    denial.steps.append(DenialStep(state=state, at=now, actor=_label(actor), note=note, follow_up_on=follow_up))
    if state in SETTLED_STATES:  # the remittance line's own close, for what reads it
        line.denial_closed_at, line.denial_closed_by = now, _label(actor)
        line.denial_note = f"{DENIAL_STATE_WORDS[state]}: {note}"[:1000]
    claim = claim_of(denial)
    if state == "appealed" and claim is not None:
        claim_status.change(claim, "appealed", actor=_label(actor), note=f"denial {denial.id}: {note}"[:1000])
    audit.record(f"denial.{state}", "denial", actor=actor, object_id=denial.id,
                 patient_id=claim.patient_id if claim else None, account_id=claim.account_id if claim else None,
                 detail={"from": before, "note": note, "follow_up": follow_up.isoformat() if follow_up else None,
                         **({"amount_cents": cents} if cents is not None else {})}, ip=ip, user_agent=user_agent)


# ---------------------------------------------------------------- the appeal letter

def save_appeal_text(denial: Denial, text: str, *, actor: User | str,
                     ip: str | None = None, user_agent: str | None = None) -> None:
    """The biller's own paragraph for the appeal letter (why the service should be paid)."""
    text = (text or "").strip()
    if not text:
        raise DenialError("Write why the payer should pay this service.", "appeal_text")
    if len(text) > MAX_APPEAL_TEXT:
        raise DenialError(f"Keep the paragraph under {MAX_APPEAL_TEXT} characters.", "appeal_text")
    denial.appeal_text = text
    claim = claim_of(denial)
    audit.record("denial.appeal_text_saved", "denial", actor=actor, object_id=denial.id,
                 patient_id=claim.patient_id if claim else None, ip=ip, user_agent=user_agent)
    db.session.flush()


@dataclass(frozen=True)
class AppealLetter:
    written_on: date
    patient_name: str
    date_of_birth: date | None
    member_id: str | None
    payer: str
    control_number: str
    payer_claim_number: str | None
    service_dates: list[date]
    billed: str
    claim_billed: str | None
    procedure_code: str
    reasons: list[str]
    paragraph: str
    deadline: date | None


def appeal_letter(denial: Denial, today: date | None = None) -> AppealLetter:
    rc, line, claim = denial.line.remittance_claim, denial.line, claim_of(denial)
    dates = sorted({d for d in [line.service_date, *(ln.service_date for ln in (claim.lines if claim else []))] if d})
    return AppealLetter(
        written_on=today or facility_today(),
        patient_name=claim.patient.full_name if claim else (rc.patient_name or ""),
        date_of_birth=claim.patient.date_of_birth if claim else None,
        member_id=claim.coverage.member_id if claim else rc.member_id,
        payer=payer_name(denial), control_number=claim.control_number if claim else rc.control_number,
        payer_claim_number=(claim.payer_claim_number if claim else None) or rc.payer_claim_number,
        service_dates=dates, billed=format_usd(line.charge_cents),
        claim_billed=format_usd(claim.total_cents) if claim else None, procedure_code=line.procedure_code,
        reasons=reasons_in_words(denial), paragraph=denial.appeal_text or "", deadline=appeal_deadline(denial))


def appeal_letter_pdf(denial: Denial, *, actor: User | str, ip: str | None = None,
                      user_agent: str | None = None) -> bytes:
    """The appeal letter as a PDF, from the claim's facts and the biller's paragraph; each download is audited."""
    from portal import facility

    if not (denial.appeal_text or "").strip():
        raise DenialError("Write the paragraph for the letter first.", "appeal_text")
    claim = claim_of(denial)
    audit.record("denial.appeal_letter_downloaded", "denial", actor=actor, object_id=denial.id,
                 patient_id=claim.patient_id if claim else None, account_id=claim.account_id if claim else None,
                 ip=ip, user_agent=user_agent)
    return documents.render_pdf("letters/appeal.html", letter=appeal_letter(denial), facility=facility.current())


# ---------------------------------------------------------------- figures for the dashboard

@dataclass(frozen=True)
class DenialFigures:
    days: int
    denied: int
    adjudicated: int
    top_by_payer: list[tuple[str, list[tuple[str, str, int]]]]  # payer, [(code, words, count)]

    @property
    def rate_bps(self) -> int:
        return self.denied * 10000 // self.adjudicated if self.adjudicated else 0


def figures(days: int = 90, per_payer: int = 3, today: date | None = None) -> DenialFigures:
    """Denied lines over adjudicated lines the payers decided in the last `days` (a reversed line is not counted),
    and each payer's most frequent denial reasons over the denials opened in that time."""
    since = (today or facility_today()) - timedelta(days=days)
    denied, adjudicated = db.session.execute(
        select(func.count(AdjudicatedLine.id).filter(AdjudicatedLine.denied.is_(True)), func.count(AdjudicatedLine.id))
        .where(AdjudicatedLine.paid_on > since, AdjudicatedLine.reversed_on.is_(None))).one()
    opened_since = datetime.combine(since, time.max, facility_zone()).astimezone(UTC)
    recent = db.session.scalars(select(Denial).where(Denial.opened_at > opened_since)).all()
    by_payer: dict[str, list[Denial]] = defaultdict(list)
    for denial in recent:
        by_payer[payer_name(denial)].append(denial)
    top = [(payer, counts_by_reason(found)[:per_payer])
           for payer, found in sorted(by_payer.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    return DenialFigures(days, int(denied or 0), int(adjudicated or 0), top)
