"""ERA (X12 835) auto-posting.

An imported file goes through four steps, each its own function:
1. `check(content)`: envelope (version, truncation), pyx12 validation, parse, balance (line, claim,
   transaction). Any failure refuses the whole file with a list of what is wrong and where.
2. `find_duplicate(...)`: the same file (content hash) or the same payer + trace number was imported before.
3. matching: CLP01 to our claim control number; else the patient's member id + first date of
   service + total charge naming exactly one claim. Service lines match on procedure code + date of
   service + units (then code + date).
4. `post(...)`: everything that matched posts in ONE transaction (ledger.InsuranceBatch); what did not
   waits in the exception queue (EraException) and does not block the rest.

`import_file` runs the four steps. Natural keys: "era:<file hash>:<claim>:<line>" on every posting and
"<file hash>:<claim>:<line>" on adjudication history rows, so nothing can post twice.
"""
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    BillingCode,
    Charge,
    Claim,
    ClaimLine,
    Coverage,
    EraException,
    Payer,
    Posting,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    utcnow,
)
from portal.services import audit, ledger, x12
from portal.services.clock import facility_today

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Claim adjustment reason codes (X12 external code list), the ones a behavioral-health biller meets most.
CARC = {
    "1": "Deductible amount", "2": "Coinsurance amount", "3": "Co-payment amount",
    "4": "Procedure code inconsistent with the modifier", "5": "Procedure code inconsistent with place of service",
    "16": "Claim lacks information or has billing errors", "18": "Exact duplicate claim or service",
    "22": "May be covered by another payer (coordination of benefits)", "23": "Impact of prior payer adjudication",
    "26": "Expenses incurred before coverage", "27": "Expenses incurred after coverage ended",
    "29": "Time limit for filing has expired", "31": "Patient cannot be identified as our insured",
    "42": "Charges exceed our fee schedule or maximum allowable", "45": "Charge exceeds fee schedule or contracted fee",
    "50": "Not deemed a medical necessity", "94": "Processed in excess of charges",
    "96": "Non-covered charge", "97": "Included in the payment for another service",
    "109": "Not covered by this payer; send to the correct payer", "119": "Benefit maximum reached",
    "151": "Payer deems the information does not support this many services", "167": "Diagnosis not covered",
    "170": "Payment denied when performed by this type of provider", "197": "Precertification or authorization absent",
    "198": "Precertification or authorization exceeded", "204": "Service not covered under the current benefit plan",
    "242": "Services not provided by network providers", "253": "Sequestration (federal payment reduction)",
    "A1": "Claim or service denied", "A2": "Contractual adjustment", "A7": "Presumptive payment adjustment",
    "B7": "Provider not certified for this procedure on this date",
}
# Remittance advice remark codes seen with the reasons above.
RARC = {
    "M15": "Separately billed services were bundled", "M80": "Not covered when performed with another service",
    "MA01": "You may appeal this decision", "MA130": "Claim has incomplete or invalid information",
    "N14": "Payment based on a contractual amount or agreement",
    "N115": "Decision based on a local coverage determination",
    "N130": "Consult plan benefit documents", "N381": "Consult our contractual agreement for restrictions",
    "N56": "Procedure code billed is not correct for the service", "N20": "Service not payable with other service",
    "N95": "Provider type or specialty may not bill this service",
}
GROUPS = {"CO": "Contractual obligation", "PR": "Patient responsibility", "OA": "Other adjustment",
          "PI": "Payer-initiated reduction"}
# A line paid nothing with one of these (not PR) is a denial for the worklist.
DENIAL_CARCS = {"4", "5", "16", "18", "26", "27", "29", "31", "50", "96", "109", "119", "151", "167", "170",
                "197", "198", "204", "242", "A1", "B7"}
PAYMENT_METHODS = {"ACH": "eft", "FWT": "eft", "BOP": "eft", "CHK": "insurance_check"}


def describe(group: str | None, code: str) -> str:
    """A CAS group + CARC (or a RARC alone) in words, e.g. 'CO-50 Not deemed a medical necessity'."""
    words = CARC.get(code) or RARC.get(code) or "see the X12 code list"
    return f"{group}-{code} {words}" if group else f"{code} {words}"


class EraError(ValueError):
    """The file was refused; nothing changed. `problems` says what is wrong and where."""

    def __init__(self, summary: str, problems: list[str] | None = None, earlier: Remittance | None = None):
        self.summary = summary
        self.problems = problems or []
        self.earlier_id = earlier.id if earlier else None
        super().__init__(summary + (": " + "; ".join(self.problems[:5]) + (
            f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else "") if self.problems else ""))


@dataclass
class ImportResult:
    remittance_id: int
    filename: str
    payer: str
    trace_number: str
    payment_cents: int
    claims: int
    lines: int
    posted_lines: int
    denied_lines: int
    exceptions: int
    posted_paid_cents: int
    provider_adjustment_cents: int

    @property
    def auto_post_rate_bps(self) -> int:
        """Share of service lines posted without a person, in basis points."""
        return (self.posted_lines * 10000 // self.lines) if self.lines else 0

    def as_dict(self) -> dict:
        return {**self.__dict__, "auto_post_rate_bps": self.auto_post_rate_bps}

    def summary(self) -> str:
        return (f"Remittance {self.remittance_id} ({self.payer}, trace {self.trace_number}): {self.claims} claims, "
                f"{self.posted_lines}/{self.lines} lines posted, {self.denied_lines} denied, "
                f"{self.exceptions} waiting in the exception queue; {self.posted_paid_cents / 100:.2f} paid posted")


# ---------------------------------------------------------------- 1. check


def check(content: bytes, progress: Progress | None = None) -> x12.Remit:
    """Envelope, pyx12 validation (once), parse and balance; raise EraError with every problem found."""
    if not content or not content.strip():
        raise EraError("The file is empty")
    try:
        x12.check_envelope(content)
        problems = x12.validate(content, lambda done, total: _tell(progress, "validating", done, total))
        if problems:
            raise EraError(f"The file is not a valid {x12.VERSION} 835 ({len(problems)} problems)", problems)
        remit = x12.parse(content)
    except x12.X12Error as exc:
        raise EraError(exc.summary, exc.problems) from exc
    if problems := balance_problems(remit):
        raise EraError("The file does not balance", problems)
    if remit.credit_debit == "D":
        raise EraError("The file is a debit (the payer takes money back); post it by hand")
    return remit


def balance_problems(remit: x12.Remit) -> list[str]:
    """The three 835 balancing rules (line, claim, transaction), each failure with its figures."""
    problems = []
    total_paid = 0
    for claim in remit.claims:
        where = f"claim {claim.control_number} (line {claim.segment_line})"
        line_adjustments = 0
        for line in claim.lines:
            adjusted = sum(a.amount_cents for a in line.adjustments)
            line_adjustments += adjusted
            if line.charge_cents - adjusted != line.paid_cents:
                problems.append(f"{where}, service line {line.sequence} (line {line.segment_line}): billed "
                                f"{_usd(line.charge_cents)} − adjustments {_usd(adjusted)} ≠ "
                                f"paid {_usd(line.paid_cents)}")
        adjusted = sum(a.amount_cents for a in claim.adjustments) + line_adjustments
        if claim.charge_cents - adjusted != claim.paid_cents:
            problems.append(f"{where}: billed {_usd(claim.charge_cents)} − adjustments {_usd(adjusted)} ≠ "
                            f"paid {_usd(claim.paid_cents)}")
        total_paid += claim.paid_cents
    plb = sum(p.amount_cents for p in remit.provider_adjustments)
    if total_paid - plb != remit.payment_cents:
        problems.append(f"transaction: claims paid {_usd(total_paid)} − provider adjustments {_usd(plb)} ≠ "
                        f"BPR total {_usd(remit.payment_cents)}")
    return problems


def _usd(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


# ---------------------------------------------------------------- 2. duplicates


def content_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def find_duplicate(digest: str, remit: x12.Remit) -> Remittance | None:
    """An earlier import of the same file, or of the same payer + trace number."""
    return db.session.scalar(select(Remittance).where(
        (Remittance.content_hash == digest)
        | ((Remittance.payer_identifier == remit.payer_identifier) & (Remittance.trace_number == remit.trace_number))
    ).limit(1))


def _refuse_duplicate(earlier: Remittance, digest: str) -> EraError:
    what = "This file" if earlier.content_hash == digest else "A file with the same payer and trace number"
    return EraError(f"{what} was already imported as remittance {earlier.id} on "
                    f"{earlier.imported_at:%Y-%m-%d} ({earlier.filename}); nothing was posted again", earlier=earlier)


# ---------------------------------------------------------------- 3. matching


@dataclass
class _ClaimLineInfo:
    id: int
    charge_id: int
    procedure_code: str
    revenue_code: str | None
    service_date: date
    units: int
    level_of_care: str | None


@dataclass
class _ClaimInfo:
    id: int
    account_id: int
    payer_id: int
    plan_id: int | None
    patient_id: int
    in_network: bool | None
    control_number: str
    lines: list[_ClaimLineInfo] = field(default_factory=list)


def _claims_by_id(claim_ids) -> dict[int, _ClaimInfo]:
    """Plain values (no ORM objects: they would expire when the posting transaction begins)."""
    infos = {}
    ids = sorted(set(claim_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for row in db.session.execute(
            select(Claim.id, Claim.account_id, Claim.payer_id, Coverage.plan_id, Claim.patient_id,
                   Coverage.in_network, Claim.control_number)
            .join(Coverage, Coverage.id == Claim.coverage_id).where(Claim.id.in_(chunk))
        ):
            infos[row[0]] = _ClaimInfo(*row)
        for row in db.session.execute(
            select(ClaimLine.claim_id, ClaimLine.id, ClaimLine.charge_id, ClaimLine.procedure_code,
                   ClaimLine.revenue_code, ClaimLine.service_date, ClaimLine.units, BillingCode.level_of_care)
            .join(Charge, Charge.id == ClaimLine.charge_id).join(BillingCode, BillingCode.id == Charge.billing_code_id)
            .where(ClaimLine.claim_id.in_(chunk)).order_by(ClaimLine.claim_id, ClaimLine.line_number)
        ):
            infos[row[0]].lines.append(_ClaimLineInfo(*row[1:]))
    return infos


def match_claims(claims: list[x12.ClaimPayment]) -> dict[int, tuple[int, str] | str]:
    """For each remit claim (by sequence): (our claim id, method) or the reason it did not match."""
    found = {}
    numbers = sorted({c.control_number for c in claims})
    for start in range(0, len(numbers), 1000):
        found.update(db.session.execute(select(Claim.control_number, Claim.id)
                                        .where(Claim.control_number.in_(numbers[start:start + 1000]))).all())
    result = {}
    for claim in claims:
        if claim.control_number in found:
            result[claim.sequence] = (found[claim.control_number], "control_number")
        else:
            result[claim.sequence] = _fallback_match(claim)
    return result


def _fallback_match(claim: x12.ClaimPayment) -> tuple[int, str] | str:
    """Member id + first date of service + total charge, when they name exactly one claim."""
    day = claim.statement_from or min((ln.service_date for ln in claim.lines if ln.service_date), default=None)
    if not claim.member_id or day is None:
        return f"No claim has control number {claim.control_number}, and the remittance gives no member id and date"
    candidates = db.session.scalars(
        select(Claim.id).join(Coverage, Coverage.id == Claim.coverage_id)
        .where(Coverage.member_id == claim.member_id, Claim.total_cents == abs(claim.charge_cents),
               Claim.id.in_(select(ClaimLine.claim_id).where(ClaimLine.service_date == day)))
    ).all()
    if len(candidates) == 1:
        return candidates[0], "member_date_charge"
    return (f"No claim has control number {claim.control_number}, and {len(candidates) or 'no'} claims match member "
            f"{claim.member_id} on {day:%Y-%m-%d} for {_usd(abs(claim.charge_cents))}")


def _match_line(line: RemittanceLine, day: date | None, candidates: list[_ClaimLineInfo],
                used: set[int]) -> _ClaimLineInfo | str:
    """Procedure code + date of service + units, then code + date; each claim line used once."""
    day = line.service_date or day
    free = [c for c in candidates if c.id not in used
            and (c.procedure_code == line.procedure_code
                 or (line.revenue_code and not line.procedure_code and c.revenue_code == line.revenue_code))]
    if day is not None:
        free = [c for c in free if c.service_date == day]
    exact = [c for c in free if c.units == line.units]
    if exact or free:
        return (exact or free)[0]
    return (f"No line of claim with code {line.procedure_code or line.revenue_code}"
            f"{f' on {day:%Y-%m-%d}' if day else ''} is left to match")


# ---------------------------------------------------------------- 4. post


def import_file(content: bytes, filename: str, *, actor: str, progress: Progress | None = None) -> ImportResult:
    """Check, refuse duplicates, match and post an 835 file whole (or raise EraError and change nothing).

    `progress(stage, done, total)` is called now and then (stages: validating, matching, posting, done).
    """
    remit = check(content, progress)
    digest = content_hash(content)
    if earlier := find_duplicate(digest, remit):
        raise _refuse_duplicate(earlier, digest)
    return post(remit, content, filename, actor=actor, progress=progress)


def post(remit: x12.Remit, content: bytes, filename: str, *, actor: str,
         progress: Progress | None = None) -> ImportResult:
    """Match a checked remit and post it in one transaction; unmatched claims and lines go to the
    exception queue. A concurrent import of the same file loses on the unique hash: EraError."""
    digest = content_hash(content)
    total = len(remit.claims)
    _tell(progress, "matching", 0, total)
    matches = match_claims(remit.claims)
    infos = _claims_by_id(m[0] for m in matches.values() if isinstance(m, tuple))
    posted_before = _posted_before(c.payer_claim_number for c in remit.claims)
    payer_id = db.session.scalar(select(Payer.id).where(
        Payer.x12_payer_id.in_([v for v in (remit.payer_identifier, remit.payer_id_code) if v])).limit(1))
    try:
        batch = ledger.InsuranceBatch({i.account_id for i in infos.values()}, actor=actor)
        if earlier := find_duplicate(digest, remit):  # re-checked under the locks: a concurrent twin committed
            raise _refuse_duplicate(earlier, digest)
        batch.load_charges(line.charge_id for info in infos.values() for line in info.lines)
        batch.effective_date = remit.payment_date
        remittance = _remittance_rows(remit, content, digest, filename, payer_id, actor, batch.new_id)
        with db.session.no_autoflush:  # rows point at payments the batch writes at commit
            db.session.add(remittance)
            for n, (rc, parsed) in enumerate(zip(remittance.claims, remit.claims, strict=True), 1):
                match = matches[parsed.sequence]
                if isinstance(match, str):
                    _exception(remittance, rc, None, match)
                else:
                    rc.claim_id, rc.match_method = match[0], match[1]
                    _post_claim(batch, remittance, rc, infos[match[0]], posted_before)
                if n % 250 == 0:
                    _tell(progress, "posting", n, total)
        batch.commit(before_commit=lambda: _totals_and_audit(remittance, actor))
        remittance_id = remittance.id
    except IntegrityError as exc:  # the twin committed between our check and our commit
        db.session.rollback()
        if earlier := find_duplicate(digest, remit):
            raise _refuse_duplicate(earlier, digest) from exc
        raise
    except ledger.LedgerError as exc:  # a money rule the per-line checks did not foresee: nothing posted
        db.session.rollback()
        raise EraError(f"The file cannot be posted: {exc}") from exc
    except Exception:
        db.session.rollback()
        raise
    remittance = db.session.get(Remittance, remittance_id)
    _tell(progress, "done", total, total)
    return _result(remittance)


def _tell(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _remittance_rows(remit: x12.Remit, content: bytes, digest: str, filename: str, payer_id: int | None,
                     actor: str, new_id) -> Remittance:
    remittance = Remittance(
        id=new_id(Remittance), content_hash=digest, filename=filename[:255], content=content, payer_id=payer_id,
        payer_name=remit.payer_name[:200], payer_identifier=remit.payer_identifier, trace_number=remit.trace_number,
        payment_cents=remit.payment_cents, payment_method=remit.payment_method[:3], payment_date=remit.payment_date,
        production_date=remit.production_date, imported_by=actor, status="posted",
        claim_count=len(remit.claims), line_count=sum(max(len(c.lines), 1) for c in remit.claims),
    )
    for p in remit.provider_adjustments:
        remittance.provider_adjustments.append(ProviderAdjustment(
            provider_identifier=p.provider_identifier[:50], fiscal_period_date=p.fiscal_period_date,
            reason_code=p.reason_code, reference=(p.reference or "")[:80] or None, amount_cents=p.amount_cents))
    remittance.provider_adjustment_cents = sum(p.amount_cents for p in remit.provider_adjustments)
    for c in remit.claims:
        rc = RemittanceClaim(
            id=new_id(RemittanceClaim), sequence=c.sequence, control_number=c.control_number[:38],
            status_code=c.status_code[:2],
            charge_cents=c.charge_cents, paid_cents=c.paid_cents, patient_resp_cents=c.patient_resp_cents,
            payer_claim_number=(c.payer_claim_number or "")[:50] or None,
            patient_name=(c.patient_name or "")[:200] or None,
            member_id=(c.member_id or "")[:80] or None, statement_from=c.statement_from, statement_to=c.statement_to,
            adjustments=[_cas(a) for a in c.adjustments], remarks=c.remarks,
        )
        for ln in c.lines:
            rc.lines.append(RemittanceLine(
                id=new_id(RemittanceLine), sequence=ln.sequence, procedure_code=ln.procedure_code,
                modifiers=ln.modifiers,
                revenue_code=(ln.revenue_code or "")[:4] or None, service_date=ln.service_date, units=ln.units,
                charge_cents=ln.charge_cents, paid_cents=ln.paid_cents, allowed_cents=ln.allowed_cents,
                line_control_number=(ln.control_number or "")[:50] or None,
                adjustments=[_cas(a) for a in ln.adjustments], remarks=ln.remarks,
            ))
        remittance.claims.append(rc)
    return remittance


def _cas(a: x12.Cas) -> dict:
    return {"group": a.group, "carc": a.carc, "amount_cents": a.amount_cents}


def _exception(remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine | None, reason: str) -> None:
    db.session.add(EraException(remittance=remittance, remittance_claim=rc, remittance_line=line, reason=reason))


def _post_claim(batch: ledger.InsuranceBatch, remittance: Remittance, rc: RemittanceClaim, info: _ClaimInfo,
                posted_before: dict[tuple, int]) -> None:
    """Post one matched remittance claim with the house rules; what does not fit becomes an exception."""
    if rc.is_reversal:
        return _reverse_claim(batch, remittance, rc, info)
    if rc.status_code == "23":
        return _exception(remittance, rc, None, "The payer says this is not its claim and forwarded it (CLP02 23)")
    if earlier_id := posted_before.get(_claim_signature(rc)):
        return _exception(remittance, rc, None, f"This claim payment was already posted from remittance "
                                                f"{earlier_id} (same payer claim number, status and amounts)")
    if not rc.lines:
        if len(info.lines) != 1:
            return _exception(remittance, rc, None, "The payer paid the claim without service lines and our claim "
                                                    f"has {len(info.lines)} lines: post it by hand")
        only = info.lines[0]
        rc.lines.append(RemittanceLine(
            id=batch.new_id(RemittanceLine), sequence=1, procedure_code=only.procedure_code,
            revenue_code=only.revenue_code,
            service_date=only.service_date, units=only.units, charge_cents=rc.charge_cents, paid_cents=rc.paid_cents,
            adjustments=[], remarks=[]))
    shares = _claim_level_shares(rc)
    if isinstance(shares, str):
        return _exception(remittance, rc, None, shares)
    used: set[int] = set()
    plans = []
    for line in rc.lines:
        matched = _match_line(line, rc.statement_from, info.lines, used)
        if isinstance(matched, str):
            _exception(remittance, rc, line, matched)
            continue
        used.add(matched.id)
        adjustments = [*line.adjustments, *shares[line.sequence]["adjustments"]]
        paid = line.paid_cents - shares[line.sequence]["taken"]
        denied, codes = _denial(rc, line, paid, adjustments)
        adjudication = ledger.LineAdjudication(
            charge_id=matched.charge_id, paid_cents=paid,
            key=f"era:{remittance.content_hash}:{rc.sequence}:{line.sequence}",
            adjustments=tuple(ledger.CasAdjustment(a["group"], a["carc"], a["amount_cents"],
                                                   (line.remarks or [None])[0]) for a in adjustments),
            write_off=not denied)
        if problem := batch.line_problem(adjudication):
            _exception(remittance, rc, line, f"Cannot post automatically: {problem}")
            continue
        plans.append((line, matched, adjudication, adjustments, denied, codes))
    paid_total = sum(p[2].paid_cents for p in plans)
    payment_id = None
    if paid_total > 0:
        payment_id = batch.payment(
            info.account_id, amount_cents=paid_total, method=PAYMENT_METHODS.get(remittance.payment_method, "other"),
            key=f"era:{remittance.content_hash}:{rc.sequence}:payment", received_on=_paid_on(remittance),
            payer_id=info.payer_id, reference=remittance.trace_number)
        rc.payment_id = payment_id
    for line, matched, adjudication, adjustments, denied, codes in plans:
        batch.adjudicate(payment_id, adjudication)
        line.claim_line_id, line.charge_id, line.posted = matched.id, matched.charge_id, True
        if line.allowed_cents is None:
            line.allowed_cents = line.charge_cents - sum(a["amount_cents"] for a in adjustments if a["group"] != "PR")
        if denied:
            line.denied, line.denial_codes = True, " ".join(codes)[:100]
            line.denial_reason = "; ".join(describe(*c.split("-", 1)) if "-" in c else describe(None, c) for c in codes)
        batch.row(AdjudicatedLine, **_history(remittance, rc, line, matched, info, adjudication, adjustments, denied))
    rc.posted = bool(plans)


def _claim_level_shares(rc: RemittanceClaim) -> dict | str:
    """Claim-level CAS spread over the lines: each amount comes out of the lines' paid amounts in order."""
    shares = {ln.sequence: {"taken": 0, "adjustments": []} for ln in rc.lines}
    room = {ln.sequence: ln.paid_cents for ln in rc.lines}
    for adj in rc.adjustments:
        left = adj["amount_cents"]
        if left < 0:
            return "The claim has a negative claim-level adjustment: post it by hand"
        for ln in rc.lines:
            take = min(left, room[ln.sequence])
            if take > 0:
                room[ln.sequence] -= take
                shares[ln.sequence]["taken"] += take
                shares[ln.sequence]["adjustments"].append({**adj, "amount_cents": take})
                left -= take
        if left:
            return (f"The claim-level adjustment {adj['group']}-{adj['carc']} ({_usd(adj['amount_cents'])}) is more "
                    "than the lines paid: post it by hand")
    return shares


def _denial(rc: RemittanceClaim, line: RemittanceLine, paid: int, adjustments: list[dict]) -> tuple[bool, list[str]]:
    codes = [f"{a['group']}-{a['carc']}" for a in adjustments if a["group"] != "PR"]
    denied = rc.status_code == "4" or (paid == 0 and any(
        a["carc"] in DENIAL_CARCS and a["group"] != "PR" for a in adjustments))
    return denied, [*codes, *line.remarks, *rc.remarks] if denied else []


def _paid_on(remittance: Remittance) -> date:
    return remittance.payment_date or remittance.production_date or facility_today()


def _history(remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine, matched: _ClaimLineInfo,
             info: _ClaimInfo, adjudication: ledger.LineAdjudication, adjustments: list[dict],
             denied: bool) -> dict:
    """The adjudication history row of a posted line (values, inserted with the batch)."""
    pr = defaultdict(int)
    for a in adjustments:
        if a["group"] == "PR":
            pr[a["carc"]] += a["amount_cents"]
    return dict(
        source="era", source_key=f"{remittance.content_hash}:{rc.sequence}:{line.sequence}", payer_id=info.payer_id,
        plan_id=info.plan_id, patient_id=info.patient_id, claim_line_id=matched.id, charge_id=matched.charge_id,
        episode_key=info.control_number, level_of_care=matched.level_of_care, procedure_code=matched.procedure_code,
        revenue_code=matched.revenue_code, service_date=matched.service_date, paid_on=_paid_on(remittance),
        units=max(line.units, 1), in_network=info.in_network, billed_cents=line.charge_cents,
        allowed_cents=line.allowed_cents, paid_cents=adjudication.paid_cents, patient_resp_cents=sum(pr.values()),
        deductible_cents=pr["1"], coinsurance_cents=pr["2"], copay_cents=pr["3"], claim_status=rc.status_code,
        denied=denied, adjustments=adjustments, reversed_on=None, created_at=utcnow(),
    )


def _posted_before(payer_claim_numbers) -> dict[tuple, int]:
    """Claim payments already posted (not reversed), by (CLP07, status, charge, paid, our claim): remittance id."""
    numbers = sorted({n for n in payer_claim_numbers if n})
    found = {}
    for start in range(0, len(numbers), 1000):
        for row in db.session.execute(
            select(RemittanceClaim.payer_claim_number, RemittanceClaim.status_code, RemittanceClaim.charge_cents,
                   RemittanceClaim.paid_cents, RemittanceClaim.claim_id, RemittanceClaim.remittance_id)
            .where(RemittanceClaim.payer_claim_number.in_(numbers[start:start + 1000]),
                   RemittanceClaim.posted.is_(True), RemittanceClaim.reversed_by_id.is_(None))
        ):
            found[tuple(row[:5])] = row[5]
    return found


def _claim_signature(rc: RemittanceClaim) -> tuple:
    return rc.payer_claim_number, rc.status_code, rc.charge_cents, rc.paid_cents, rc.claim_id


def _reverse_claim(batch: ledger.InsuranceBatch, remittance: Remittance, rc: RemittanceClaim,
                   info: _ClaimInfo) -> None:
    """CLP02 22: undo the latest posted ERA payment for this claim with reversing entries."""
    earlier = db.session.scalar(
        select(RemittanceClaim).where(RemittanceClaim.claim_id == info.id, RemittanceClaim.posted.is_(True),
                                      RemittanceClaim.status_code != "22", RemittanceClaim.reversed_by_id.is_(None),
                                      RemittanceClaim.id.is_not(None))
        .order_by(RemittanceClaim.id.desc()).limit(1))
    if earlier is None:
        return _exception(remittance, rc, None, "The payer reverses a payment for this claim that was never posted "
                                                "from an ERA here: review it by hand")
    prefix = f"era:{earlier.remittance.content_hash}:{earlier.sequence}:"
    postings = db.session.scalars(select(Posting).where(
        Posting.idempotency_key.like(f"{prefix}%"), Posting.kind != "reversal")).all()
    if problem := batch.reversal_problem(postings):
        return _exception(remittance, rc, None, f"Cannot reverse the earlier payment automatically: {problem}")
    batch.reverse(postings, key=f"era:{remittance.content_hash}:{rc.sequence}:reversal",
                  reason=f"Payer reversal in remittance trace {remittance.trace_number}")
    rc.reverses = earlier  # linked once both have ids (_totals, after the flush)
    db.session.execute(
        AdjudicatedLine.__table__.update()
        .where(AdjudicatedLine.source_key.like(f"{earlier.remittance.content_hash}:{earlier.sequence}:%"))
        .values(reversed_on=_paid_on(remittance)))
    for line in rc.lines:
        line.posted = True
    rc.posted = True


def _totals_and_audit(remittance: Remittance, actor: str) -> None:
    _totals(remittance)
    audit.record("remittance.imported", "remittance", actor=actor, object_id=remittance.id, commit=False,
                 detail={"claims": remittance.claim_count, "posted_lines": remittance.posted_line_count,
                         "exceptions": remittance.exception_count})


def _totals(remittance: Remittance) -> None:
    db.session.flush()
    for rc in remittance.claims:
        if (earlier := getattr(rc, "reverses", None)) is not None:
            earlier.reversed_by_id = rc.id
    lines = [ln for rc in remittance.claims for ln in rc.lines]
    remittance.line_count = len(lines) + sum(1 for rc in remittance.claims if not rc.lines)
    remittance.posted_line_count = sum(ln.posted for ln in lines)
    remittance.denied_line_count = sum(ln.denied for ln in lines)
    remittance.exception_count = db.session.scalar(select(func.count(EraException.id)).where(
        EraException.remittance_id == remittance.id, EraException.state == "open"))
    remittance.posted_paid_cents = sum(rc.paid_cents for rc in remittance.claims if rc.posted)
    remittance.status = "exceptions" if remittance.exception_count else "posted"


def _result(remittance: Remittance) -> ImportResult:
    return ImportResult(
        remittance_id=remittance.id, filename=remittance.filename, payer=remittance.payer_name,
        trace_number=remittance.trace_number, payment_cents=remittance.payment_cents, claims=remittance.claim_count,
        lines=remittance.line_count, posted_lines=remittance.posted_line_count,
        denied_lines=remittance.denied_line_count, exceptions=remittance.exception_count,
        posted_paid_cents=remittance.posted_paid_cents, provider_adjustment_cents=remittance.provider_adjustment_cents)


# ---------------------------------------------------------------- exception queue and denial worklist


def open_exceptions(limit: int = 200) -> list[EraException]:
    """Open exceptions, oldest first."""
    return list(db.session.scalars(select(EraException).where(EraException.state == "open")
                                   .order_by(EraException.created_at, EraException.id).limit(limit)))


def resolve_exception(exception_id: int, claim_id: int, *, actor: str,
                      claim_line_id: int | None = None) -> EraException:
    """Match an open exception to our claim by hand and post it with the same rules as an import.

    A whole-claim exception posts the remittance claim against `claim_id` (lines that still do not
    match, or do not fit, become new line exceptions); a line exception posts that line against
    `claim_line_id` (a line of `claim_id`), or else the line of `claim_id` with the same code and date.
    Raises EraError (nothing changed) if it cannot be posted.
    """
    exc = db.session.get(EraException, exception_id)
    if exc is None or exc.state != "open":
        raise EraError("This exception is not open")
    info = _claims_by_id([claim_id]).get(claim_id)
    if info is None:
        raise EraError(f"Claim {claim_id} does not exist")
    remittance_id, rc_id, line_id = exc.remittance_id, exc.remittance_claim_id, exc.remittance_line_id
    try:
        batch = ledger.InsuranceBatch({info.account_id}, actor=actor)
        exc = db.session.get(EraException, exception_id, populate_existing=True)
        if exc.state != "open":
            raise EraError("This exception was resolved by someone else meanwhile")
        remittance = db.session.get(Remittance, remittance_id)
        rc = db.session.get(RemittanceClaim, rc_id)
        batch.load_charges(line.charge_id for line in info.lines)
        batch.effective_date = remittance.payment_date
        posted_before = _posted_before([rc.payer_claim_number])
        with db.session.no_autoflush:  # rows point at payments the batch writes at commit
            if line_id is None:
                if rc.claim_id is not None and rc.claim_id != claim_id and rc.posted:
                    raise EraError("This remittance claim already posted against another claim")
                rc.claim_id, rc.match_method = claim_id, "manual"
                _post_claim(batch, remittance, rc, info, posted_before)
                if not rc.posted:
                    raise EraError(_why_not(rc, exc) or "Nothing could be posted against that claim")
            else:
                _post_one_line(batch, remittance, rc, db.session.get(RemittanceLine, line_id), info, claim_line_id)
            exc.state, exc.claim_id, exc.resolved_by, exc.resolved_at = "matched", claim_id, actor, utcnow()
        batch.commit(before_commit=lambda: _totals(remittance))
    except ledger.LedgerError as exc:
        db.session.rollback()
        raise EraError(f"Cannot post: {exc}") from exc
    except Exception:
        db.session.rollback()
        raise
    return db.session.get(EraException, exception_id)


def _why_not(rc: RemittanceClaim, exc: EraException) -> str | None:
    reasons = [e.reason for e in db.session.new if isinstance(e, EraException) and e is not exc]
    return "; ".join(reasons) or None


def _post_one_line(batch: ledger.InsuranceBatch, remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine,
                   info: _ClaimInfo, claim_line_id: int | None) -> None:
    if line.posted:
        raise EraError("This line was already posted")
    posted_ids = {ln.claim_line_id for ln in rc.lines if ln.posted}
    if claim_line_id is not None:
        matched = next((c for c in info.lines if c.id == claim_line_id and c.id not in posted_ids),
                       "That line is not an unposted line of the claim")
    else:
        matched = _match_line(line, rc.statement_from, info.lines, posted_ids)
    if isinstance(matched, str):
        raise EraError(matched)
    denied, codes = _denial(rc, line, line.paid_cents, line.adjustments)
    adjudication = ledger.LineAdjudication(
        charge_id=matched.charge_id, paid_cents=line.paid_cents,
        key=f"era:{remittance.content_hash}:{rc.sequence}:{line.sequence}", write_off=not denied,
        adjustments=tuple(ledger.CasAdjustment(a["group"], a["carc"], a["amount_cents"]) for a in line.adjustments))
    if problem := batch.line_problem(adjudication):
        raise EraError(f"Cannot post this line: {problem}")
    payment_id = None
    if line.paid_cents > 0:
        payment_id = batch.payment(info.account_id, amount_cents=line.paid_cents,
                                method=PAYMENT_METHODS.get(remittance.payment_method, "other"),
                                key=f"era:{remittance.content_hash}:{rc.sequence}:{line.sequence}:payment",
                                received_on=_paid_on(remittance), payer_id=info.payer_id,
                                reference=remittance.trace_number)
    batch.adjudicate(payment_id, adjudication)
    line.claim_line_id, line.charge_id, line.posted = matched.id, matched.charge_id, True
    if line.allowed_cents is None:
        line.allowed_cents = line.charge_cents - sum(a["amount_cents"] for a in line.adjustments if a["group"] != "PR")
    if denied:
        line.denied, line.denial_codes = True, " ".join(codes)[:100]
    batch.row(AdjudicatedLine, **_history(remittance, rc, line, matched, info, adjudication, line.adjustments, denied))
    rc.posted = True


def dismiss_exception(exception_id: int, *, actor: str, note: str) -> EraException:
    """Close an open exception without posting (e.g. not our patient, handled elsewhere), with a note."""
    if not (note or "").strip():
        raise EraError("Say why the exception is dismissed")
    exc = db.session.get(EraException, exception_id)
    if exc is None or exc.state != "open":
        raise EraError("This exception is not open")
    exc.state, exc.note, exc.resolved_by, exc.resolved_at = "dismissed", note.strip(), actor, utcnow()
    remittance = exc.remittance
    _totals(remittance)
    db.session.commit()
    return exc


def denial_worklist(limit: int = 200) -> list[RemittanceLine]:
    """Denied lines not yet worked, oldest remittance first."""
    return list(db.session.scalars(
        select(RemittanceLine).where(RemittanceLine.denied.is_(True), RemittanceLine.denial_closed_at.is_(None))
        .order_by(RemittanceLine.id).limit(limit)))


def close_denial(line_id: int, *, actor: str, note: str) -> RemittanceLine:
    """Take a denied line off the worklist (appealed, corrected and rebilled, written off...) with a note."""
    line = db.session.get(RemittanceLine, line_id)
    if line is None or not line.denied or line.denial_closed_at is not None:
        raise EraError("This line is not an open denial")
    if not (note or "").strip():
        raise EraError("Say what was done about the denial")
    line.denial_closed_at, line.denial_closed_by, line.denial_note = utcnow(), actor, note.strip()
    db.session.commit()
    return line


# ---------------------------------------------------------------- posting by hand (paper EOB, payer portal, phone)


MANUAL_METHODS = ("eft", "insurance_check", "other")


def post_line_by_hand(claim_line_id: int, *, paid_cents: int, adjustments: list[tuple[str, str, int, str | None]],
                      method: str, received_on: date, token: str, actor: str, reference: str | None = None,
                      allowed_cents: int | None = None) -> AdjudicatedLine:
    """Post a payer's decision on one claim line by hand, with the same rules as an ERA line.

    `adjustments` are (CAS group, CARC, cents, RARC or None): CO/PI written off, PR moved to the patient
    (CARC 1 deductible, 2 coinsurance, 3 copay), OA written off up to what insurance still owes. The
    payment (if anything was paid) is an insurance payment with the payer of the claim. `token` makes
    the submission idempotent: the same token posts once. Raises EraError, with nothing written.
    """
    claim_line = db.session.get(ClaimLine, claim_line_id)
    if claim_line is None:
        raise EraError("That claim line does not exist")
    key = f"manual:{claim_line.id}:{token}"
    if done := db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.source_key == key)):
        return done
    if method not in MANUAL_METHODS:
        raise EraError(f"Choose a payment method ({', '.join(MANUAL_METHODS)})")
    if paid_cents < 0:
        raise EraError("The paid amount cannot be negative")
    cas = []
    for group, carc, cents_, rarc in adjustments:
        if group not in GROUPS:
            raise EraError(f"Unknown adjustment group {group!r}: use CO, PR, OA or PI")
        if not (carc or "").strip() or cents_ <= 0:
            raise EraError("Each adjustment needs a reason code (CARC) and an amount above zero")
        cas.append(ledger.CasAdjustment(group, carc.strip().upper(), cents_, (rarc or "").strip().upper() or None))
    if paid_cents == 0 and not cas:
        raise EraError("Enter what the payer paid or adjusted")
    info = _claims_by_id([claim_line.claim_id])[claim_line.claim_id]
    matched = next(ln for ln in info.lines if ln.id == claim_line.id)
    adjustments_json = [{"group": a.group, "carc": a.carc, "amount_cents": a.amount_cents} for a in cas]
    pr = defaultdict(int)
    for a in cas:
        if a.group == "PR":
            pr[a.carc] += a.amount_cents
    denied = paid_cents == 0 and any(a.carc in DENIAL_CARCS and a.group != "PR" for a in cas)
    history = AdjudicatedLine(
        source="manual", source_key=key, payer_id=info.payer_id, plan_id=info.plan_id, patient_id=info.patient_id,
        claim_line_id=matched.id, charge_id=matched.charge_id, episode_key=info.control_number,
        level_of_care=matched.level_of_care, procedure_code=matched.procedure_code, revenue_code=matched.revenue_code,
        service_date=matched.service_date, paid_on=received_on, units=max(matched.units, 1),
        in_network=info.in_network, billed_cents=claim_line.charge_cents,
        allowed_cents=allowed_cents if allowed_cents is not None else claim_line.charge_cents - sum(
            a.amount_cents for a in cas if a.group != "PR"),
        paid_cents=paid_cents, patient_resp_cents=sum(pr.values()), deductible_cents=pr["1"],
        coinsurance_cents=pr["2"], copay_cents=pr["3"], denied=denied, adjustments=adjustments_json)
    adjudication = ledger.LineAdjudication(charge_id=matched.charge_id, paid_cents=paid_cents, adjustments=tuple(cas),
                                           key=key, write_off=not denied)
    try:
        ledger.post_insurance_line(adjudication, actor=actor, method=method, received_on=received_on,
                                   payer_id=info.payer_id, reference=reference,
                                   extra=lambda _batch: db.session.add(history))
    except ledger.LedgerError as exc:
        raise EraError(f"Cannot post: {exc}") from exc
    return db.session.scalar(select(AdjudicatedLine).where(AdjudicatedLine.source_key == key))


# ---------------------------------------------------------------- demo


def seed_demo(today: date, *, actor: str) -> list[ImportResult]:
    """Import one demo 835 per payer for the demo claims' days not yet adjudicated: paid with CO-45 and
    PR-2, one denial (CO-197) and one claim that is not ours (for the exception queue)."""
    if db.session.scalar(select(Remittance.id).limit(1)) is not None:
        return []
    by_payer = defaultdict(list)
    for claim_ in db.session.scalars(select(Claim).order_by(Claim.id)):
        open_lines = [ln for ln in claim_.lines if ln.charge.insurance_balance_cents == ln.charge_cents]
        if open_lines:
            by_payer[claim_.payer].append((claim_, open_lines))
    results = []
    for n, (payer, claims) in enumerate(by_payer.items(), 1):
        remit = x12.Remit(0, "C", "ACH", today - timedelta(days=2), f"DEMO{today:%y%m%d}{n:02d}", f"1{n:09d}",
                          payer.name.upper(), payer.x12_payer_id, today - timedelta(days=3))
        for claim_, lines in claims:
            out = []
            for ln in lines:
                # Summit Mutual allows less than its own history: the underpayment worklist shows it.
                allowed = min(52000 if payer.x12_payer_id == "SMM02" else 65000, ln.charge_cents)
                if len(out) == 1 and n == len(by_payer):  # the last payer denies one day
                    cas = [x12.Cas("CO", "197", ln.charge_cents)]
                    paid = 0
                else:
                    coinsurance = allowed * 20 // 100
                    cas = [x12.Cas("CO", "45", ln.charge_cents - allowed), x12.Cas("PR", "2", coinsurance)]
                    paid = allowed - coinsurance
                out.append(x12.Line(len(out) + 1, ln.procedure_code, None, None, ln.charge_cents, paid, 1,
                                    ln.service_date, adjustments=[c for c in cas if c.amount_cents]))
            member = claim_.patient.coverages[0].member_id if claim_.patient.coverages else None
            remit.claims.append(x12.ClaimPayment(
                len(remit.claims) + 1, claim_.control_number, "1", sum(ln.charge_cents for ln in out),
                sum(ln.paid_cents for ln in out), sum(c.amount_cents for ln in out for c in ln.adjustments
                                                        if c.group == "PR"),
                f"DEMO{claim_.id:06d}", 0, patient_name=claim_.patient.full_name.upper(), member_id=member, lines=out))
        if n == 1:  # a claim the facility never sent: it waits in the exception queue
            remit.claims.append(x12.ClaimPayment(
                len(remit.claims) + 1, "UNKNOWN-4471", "1", 40000, 30000, 0, "DEMO-X", 0, patient_name="ALEX SMITH",
                member_id="ZZ999", lines=[x12.Line(1, "90791", None, None, 40000, 30000, 1, today - timedelta(days=30),
                                                   adjustments=[x12.Cas("CO", "45", 10000)])]))
        remit.payment_cents = sum(c.paid_cents for c in remit.claims)
        results.append(import_file(x12.write(remit, control=n), f"demo-{payer.name.lower().replace(' ', '-')}.835",
                                   actor=actor))
    return results
