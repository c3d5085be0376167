"""ERA posting: a checked 835 matched and posted whole in one unit of work, and the one function
that posts a payer's decision on a matched line (`post_lines`), used by the import, by matching an
exception by hand and by posting a line by hand."""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal import audit, facility, ledger
from portal.claims import denials as claim_denials
from portal.claims import status as claim_status
from portal.clock import facility_today
from portal.extensions import db
from portal.models import (
    AdjudicatedLine,
    EraException,
    Payer,
    Posting,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
)
from portal.money import format_usd
from portal.remittances import x12
from portal.remittances.checks import _refuse_duplicate, check, content_hash, find_duplicate
from portal.remittances.codes import (
    PAYMENT_METHODS,
    EraError,
    ImportResult,
    Progress,
    _tell,
    describe,
)
from portal.remittances.matching import _ClaimInfo, _ClaimLineInfo, _claims_by_id, _match_line, match_claims


def import_file(content: bytes, filename: str, *, actor: str, progress: Progress | None = None) -> ImportResult:
    """Check, refuse duplicates, match and post an 835 file whole (or raise EraError and change nothing).

    Each payment in the file (transaction set) becomes its own remittance; the result is the first
    one's, with the others in `further`. `progress(stage, done, total)` is called now and then
    (stages: validating, matching, posting, done).
    """
    content = x12.normalise(content)
    remits = check(content, progress, strict=facility.current().era_strict)
    for n, remit in enumerate(remits, 1):
        digest = content_hash(content, n)
        if earlier := find_duplicate(digest, remit):
            raise _refuse_duplicate(earlier, digest)
    return post(remits, content, filename, actor=actor, progress=progress)


def post(remits: list[x12.Remit], content: bytes, filename: str, *, actor: str,
         progress: Progress | None = None) -> ImportResult:
    """Match checked remits (the payments of one file) and post them in one transaction; unmatched
    claims and lines go to the exception queue. A concurrent import of the same file loses on the
    unique hash: EraError."""
    total = sum(len(remit.claims) for remit in remits)
    _tell(progress, "matching", 0, total)
    payments = [(content_hash(content, n), remit, match_claims(remit.claims)) for n, remit in enumerate(remits, 1)]
    infos = _claims_by_id(m[0] for _, _, matches in payments for m in matches.values() if isinstance(m, tuple))
    posted_before = _posted_before(c.payer_claim_number for remit in remits for c in remit.claims)
    try:
        # The remittance rows are built outside the session and go in with the money rows (COPY on
        # PostgreSQL), before the session's own rows (exceptions, denials), which point at them.
        uow = ledger.UnitOfWork({i.account_id for i in infos.values()}, actor=actor,
                                effective_date=remits[0].payment_date, before_session=REMITTANCE_ROWS)
        for digest, remit, _ in payments:  # re-checked under the locks: a concurrent twin committed
            if earlier := find_duplicate(digest, remit):
                raise _refuse_duplicate(earlier, digest)
        uow.load_charges(line.charge_id for info in infos.values() for line in info.lines)
        posted: list[Remittance] = []
        done = 0
        with db.session.no_autoflush:  # rows point at payments the unit of work writes at commit
            for digest, remit, matches in payments:
                remittance = _remittance_rows(remit, content, digest, filename, _payer_id(remit), actor, uow.new_id)
                posted.append(remittance)
                for rc, parsed in zip(remittance.claims, remit.claims, strict=True):
                    match = matches[parsed.sequence]
                    if isinstance(match, str):
                        _exception(remittance, rc, None, match)
                    else:
                        rc.claim_id, rc.match_method = match[0], match[1]
                        _post_claim(uow, remittance, rc, infos[match[0]], posted_before)
                    done += 1
                    if done % 250 == 0:
                        _tell(progress, "posting", done, total)
                _queue_rows(uow, remittance)
        uow.commit(before_commit=lambda: _outcomes_and_audit(posted, actor))
        remittance_ids = [remittance.id for remittance in posted]
    except IntegrityError as exc:  # the twin committed between our check and our commit
        db.session.rollback()
        for digest, remit, _ in payments:
            if earlier := find_duplicate(digest, remit):
                raise _refuse_duplicate(earlier, digest) from exc
        raise
    except ledger.LedgerError as exc:  # a money rule the per-line checks did not foresee: nothing posted
        db.session.rollback()
        raise EraError(f"The file cannot be posted: {exc}") from exc
    except Exception:
        db.session.rollback()
        raise
    _tell(progress, "done", total, total)
    first, *further = (_result(db.session.get(Remittance, remittance_id)) for remittance_id in remittance_ids)
    first.further = further
    return first


def _payer_id(remit: x12.Remit) -> int | None:
    return db.session.scalar(select(Payer.id).where(
        Payer.x12_payer_id.in_([v for v in (remit.payer_identifier, remit.payer_id_code) if v])).limit(1))


def _remittance_rows(remit: x12.Remit, content: bytes, digest: str, filename: str, payer_id: int | None,
                     actor: str, new_id) -> Remittance:
    remittance = Remittance(
        id=new_id(Remittance), content_hash=digest, filename=filename[:255], content=content, payer_id=payer_id,
        payer_name=remit.payer_name[:200], payer_identifier=remit.payer_identifier, trace_number=remit.trace_number,
        payment_cents=remit.payment_cents, payment_method=remit.payment_method[:3], payment_date=remit.payment_date,
        production_date=remit.production_date, imported_by=actor, status="posted",
        claim_count=len(remit.claims), line_count=sum(max(len(c.lines), 1) for c in remit.claims),
        warnings="\n".join(remit.warnings) or None,
    )
    for p in remit.provider_adjustments:
        remittance.provider_adjustments.append(ProviderAdjustment(
            id=new_id(ProviderAdjustment), provider_identifier=p.provider_identifier[:50],
            fiscal_period_date=p.fiscal_period_date, reason_code=p.reason_code,
            reference=(p.reference or "")[:80] or None, amount_cents=p.amount_cents))
    remittance.provider_adjustment_cents = sum(p.amount_cents for p in remit.provider_adjustments)
    for c in remit.claims:
        rc = RemittanceClaim(
            id=new_id(RemittanceClaim), sequence=c.sequence, control_number=c.control_number[:38],
            status_code=c.status_code[:2],
            charge_cents=c.charge_cents, paid_cents=c.paid_cents, patient_resp_cents=c.patient_resp_cents,
            payer_claim_number=(c.payer_claim_number or "")[:50] or None,
            patient_name=(c.patient_name or "")[:200] or None,
            member_id=(c.member_id or "")[:80] or None, statement_from=c.statement_from, statement_to=c.statement_to,
            adjustments=[_cas(a) for a in c.adjustments], remarks=c.remarks, posted=False,
        )
        for ln in c.lines:
            rc.lines.append(RemittanceLine(
                id=new_id(RemittanceLine), sequence=ln.sequence, procedure_code=ln.procedure_code,
                billed_procedure_code=ln.billed_procedure_code, modifiers=ln.modifiers,
                revenue_code=(ln.revenue_code or "")[:4] or None, service_date=ln.service_date, units=ln.units,
                charge_cents=ln.charge_cents, paid_cents=ln.paid_cents, allowed_cents=ln.allowed_cents,
                line_control_number=(ln.control_number or "")[:50] or None,
                adjustments=[_cas(a) for a in ln.adjustments], remarks=ln.remarks, posted=False, denied=False,
            ))
        remittance.claims.append(rc)
    return remittance


def _cas(a: x12.Cas) -> dict:
    return {"group": a.group, "carc": a.carc, "amount_cents": a.amount_cents}


def _exception(remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine | None, reason: str) -> None:
    # By id: the remittance being imported is not in the session (its rows go in with the unit of work).
    db.session.add(EraException(remittance_id=remittance.id, remittance_claim_id=rc.id,
                                remittance_line_id=line.id if line is not None else None, reason=reason))


# The rows of an imported remittance, in insert order (each points only at rows before it).
REMITTANCE_ROWS = (Remittance, ProviderAdjustment, RemittanceClaim, RemittanceLine)


def _queue_rows(uow: ledger.UnitOfWork, remittance: Remittance) -> None:
    """Count what the import did (as `_totals` reads it back later) and queue the remittance's rows."""
    _count(remittance, exceptions=sum(1 for e in db.session.new if isinstance(e, EraException)
                                      and e.remittance_id == remittance.id))
    uow.row(Remittance, **_values(remittance))
    for p in remittance.provider_adjustments:
        uow.row(ProviderAdjustment, **{**_values(p), "remittance_id": remittance.id})
    for rc in remittance.claims:
        uow.row(RemittanceClaim, **{**_values(rc), "remittance_id": remittance.id})
        for ln in rc.lines:
            uow.row(RemittanceLine, **{**_values(ln), "remittance_claim_id": rc.id})


def _values(obj) -> dict:
    """The column values set on an object built outside the session (the rest take their defaults)."""
    return {c.key: obj.__dict__[c.key] for c in obj.__table__.columns if c.key in obj.__dict__}


def _post_claim(uow: ledger.UnitOfWork, remittance: Remittance, rc: RemittanceClaim, info: _ClaimInfo,
                posted_before: dict[tuple, int]) -> None:
    """Post one matched remittance claim with the house rules; what does not fit becomes an exception."""
    if rc.is_reversal:
        return _reverse_claim(uow, remittance, rc, info)
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
        # CLP04 is net of the claim-level CAS, which the shares below take out of the line's paid
        # amount, as for an SVC03; so the stand-in line is paid what it was before them.
        before_claim_level = rc.paid_cents + sum(a["amount_cents"] for a in rc.adjustments)
        rc.lines.append(RemittanceLine(
            id=uow.new_id(RemittanceLine), sequence=1, procedure_code=only.procedure_code,
            revenue_code=only.revenue_code,
            service_date=only.service_date, units=only.units, charge_cents=rc.charge_cents,
            paid_cents=before_claim_level, adjustments=[], remarks=[], posted=False, denied=False))
    shares = _claim_level_shares(rc)
    if isinstance(shares, str):
        return _exception(remittance, rc, None, shares)
    used: set[int] = set()
    lines = []
    for line in rc.lines:
        matched = _match_line(line, rc.statement_from, info.lines, used)
        if isinstance(matched, str):
            _exception(remittance, rc, line, matched)
            continue
        used.add(matched.id)
        decision = era_line(remittance, rc, line, matched, info, shares[line.sequence])
        if problem := ledger.line_problem(uow, decision.adjudication):
            _exception(remittance, rc, line, f"Cannot post automatically: {problem}")
            continue
        lines.append(decision)
    payment_key = f"era:{remittance.content_hash}:{rc.sequence}:payment"
    if (payment_id := post_lines(uow, lines, **era_payment(remittance, info, payment_key))) is not None:
        rc.payment_id = payment_id
    rc.posted = bool(lines)


# ---------------------------------------------------------------- one matched line, however it came


# OA-23: the impact of a prior payer's adjudication (what the primary paid or adjusted).
PRIOR_PAYER = ("OA", "23")


@dataclass
class MatchedLine:
    """A payer's decision on one of our claim lines, ready to post: from an ERA line or typed by hand.

    `key` is the ledger's natural key of the line (its postings derive theirs from it), `source_key`
    the adjudication history row's. `adjustments` are the line's CAS and its share of claim-level
    CAS, each with the remark code it carries; `remarks` are named in the denial codes.
    """

    key: str
    source: str  # "era" or "manual"
    source_key: str
    info: _ClaimInfo
    matched: _ClaimLineInfo
    paid_cents: int
    adjustments: tuple[ledger.CasAdjustment, ...]
    billed_cents: int
    units: int
    paid_on: date
    allowed_cents: int | None = None  # None: billed less what the payer adjusted (not PR)
    claim_status: str | None = None
    remarks: tuple[str, ...] = ()
    line: RemittanceLine | None = None  # the ERA line, marked posted with its denial

    @cached_property
    def denied(self) -> bool:
        """Denied claim (CLP02 4), or a line the payer paid nothing on and moved nothing of to the
        patient, whatever the reason code: what it refused stays owed, for appeal. (An ERA line's
        adjustments add up to what it billed; one typed by hand may record a partial write-off.)"""
        if self.claim_status == "4":
            return True
        moved_to_patient = sum(a.amount_cents for a in self.adjustments if a.group == "PR")
        refused = [a for a in self.adjustments if a.group != "PR"]
        if refused and all((a.group, a.carc) == PRIOR_PAYER for a in refused):
            return False  # a later payer owing nothing because an earlier one paid: nothing to appeal
        return self.paid_cents == 0 and not moved_to_patient and sum(a.amount_cents for a in refused) == \
            self.billed_cents > 0

    @cached_property
    def denial_codes(self) -> list[str]:
        if not self.denied:
            return []
        return [*(f"{a.group}-{a.carc}" for a in self.adjustments if a.group != "PR"), *self.remarks]

    @cached_property
    def adjudication(self) -> ledger.LineAdjudication:
        return ledger.LineAdjudication(charge_id=self.matched.charge_id, paid_cents=self.paid_cents,
                                       adjustments=self.adjustments, key=self.key, write_off=not self.denied)

    def allowed(self) -> int:
        if self.allowed_cents is not None:
            return self.allowed_cents
        return self.billed_cents - sum(a.amount_cents for a in self.adjustments if a.group != "PR")


def era_line(remittance: Remittance, rc: RemittanceClaim, line: RemittanceLine, matched: _ClaimLineInfo,
             info: _ClaimInfo, share: dict) -> MatchedLine:
    """An ERA line matched to our claim line, with its `share` of the claim-level adjustments."""
    remark = (line.remarks or [None])[0]
    return MatchedLine(
        key=f"era:{remittance.content_hash}:{rc.sequence}:{line.sequence}", source="era",
        source_key=f"{remittance.content_hash}:{rc.sequence}:{line.sequence}", info=info, matched=matched,
        paid_cents=line.paid_cents - share["taken"],
        adjustments=tuple(ledger.CasAdjustment(a["group"], a["carc"], a["amount_cents"], remark)
                          for a in _net_negative_other([*line.adjustments, *share["adjustments"]])),
        billed_cents=line.charge_cents, units=max(line.units, 1), paid_on=_paid_on(remittance),
        allowed_cents=line.allowed_cents, claim_status=rc.status_code, remarks=(*line.remarks, *rc.remarks),
        line=line)


def _net_negative_other(adjustments: list[dict]) -> list[dict]:
    """A negative OA (e.g. OA-94 on a secondary payment) says the payer paid more than billed less the
    other adjustments, typically above the primary's allowed amount. It moves no money of its own: it
    only shrinks the positive OA written off beside it (billed 541, OA-23 516, OA-94 -9, paid 34 writes
    off 507). What it exceeds them by was paid above the charge, and the ledger keeps that part as
    unapplied credit on the payment (never a negative write-off)."""
    extra = -sum(a["amount_cents"] for a in adjustments if a["group"] == "OA" and a["amount_cents"] < 0)
    netted = []
    for a in adjustments:
        if a["group"] == "OA" and a["amount_cents"] < 0:
            continue
        if a["group"] == "OA" and extra:
            take = min(extra, a["amount_cents"])
            extra -= take
            a = {**a, "amount_cents": a["amount_cents"] - take}
        netted.append(a)
    return netted


def era_payment(remittance: Remittance, info: _ClaimInfo, key: str) -> dict:
    """The terms of the insurance payment an ERA posts for a claim (or one line of it)."""
    return dict(payment_key=key, method=PAYMENT_METHODS.get(remittance.payment_method, "other"),
                received_on=_paid_on(remittance), payer_id=info.payer_id, reference=remittance.trace_number)


def post_lines(uow: ledger.UnitOfWork, lines: list[MatchedLine], *, payment_key: str, method: str,
               received_on: date, payer_id: int | None, reference: str | None) -> int | None:
    """Post matched lines of one claim: one insurance payment for what they paid together, then
    each line's decision (CAS written off, PR moved to the patient, the paid amount applied; a
    denial is flagged with its codes and reasons and written off nothing), its ERA line marked
    posted (a denial opened for the worklist) and its adjudication history row. The payment's id
    (None if nothing was paid)."""
    paid = sum(ln.paid_cents for ln in lines)
    payment_id = None
    if paid > 0:
        payment_id = ledger.insurance_payment(uow, lines[0].info.account_id, amount_cents=paid, method=method,
                                              key=payment_key, received_on=received_on, payer_id=payer_id,
                                              reference=reference)
    for ln in lines:
        ledger.adjudicate(uow, payment_id, ln.adjudication)
        if ln.line is not None:
            _mark_posted(ln, actor=uow.actor)
        uow.row(AdjudicatedLine, **_history(ln))
    return payment_id


def _mark_posted(ln: MatchedLine, *, actor: str) -> None:
    line = ln.line
    line.claim_line_id, line.charge_id, line.posted = ln.matched.id, ln.matched.charge_id, True
    if line.allowed_cents is None:
        line.allowed_cents = ln.allowed()
    if ln.denied:
        codes = ln.denial_codes
        line.denied, line.denial_codes = True, " ".join(codes)[:100]
        line.denial_reason = "; ".join(describe(group or None, code)
                                       for group, _, code in (c.rpartition("-") for c in codes))
        claim_denials.open_denial(line, actor=actor)


def _history(ln: MatchedLine) -> dict:
    """The adjudication history row of a posted line (values, inserted with the unit of work)."""
    pr = defaultdict(int)
    for a in ln.adjustments:
        if a.group == "PR":
            pr[a.carc] += a.amount_cents
    matched, info = ln.matched, ln.info
    return dict(
        source=ln.source, source_key=ln.source_key, payer_id=info.payer_id, plan_id=info.plan_id,
        patient_id=info.patient_id, claim_line_id=matched.id, charge_id=matched.charge_id,
        episode_key=info.control_number, level_of_care=matched.level_of_care, procedure_code=matched.procedure_code,
        revenue_code=matched.revenue_code, service_date=matched.service_date, paid_on=ln.paid_on, units=ln.units,
        in_network=info.in_network, billed_cents=ln.billed_cents, allowed_cents=ln.allowed(),
        paid_cents=ln.paid_cents, patient_resp_cents=sum(pr.values()), deductible_cents=pr["1"],
        coinsurance_cents=pr["2"], copay_cents=pr["3"], claim_status=ln.claim_status, denied=ln.denied,
        adjustments=[{"group": a.group, "carc": a.carc, "amount_cents": a.amount_cents} for a in ln.adjustments],
    )


# ---------------------------------------------------------------- claim-level adjustments, reversals, totals


def _claim_level_shares(rc: RemittanceClaim) -> dict | str:
    """Claim-level CAS spread over the lines: each amount comes out of the lines' paid amounts in order.
    A negative OA (a secondary paying above the primary's allowed amount, at claim level) adds to the first
    line's payment, where it nets against that line's other OA as a line-level one does."""
    shares: dict[int, dict] = {ln.sequence: {"taken": 0, "adjustments": []} for ln in rc.lines}
    room = {ln.sequence: ln.paid_cents for ln in rc.lines}
    for adj in rc.adjustments:
        left = adj["amount_cents"]
        if left < 0 and adj["group"] == "OA" and rc.lines:
            first = rc.lines[0].sequence
            shares[first]["taken"] += left
            shares[first]["adjustments"].append(adj)
            room[first] -= left
            continue
        if left < 0:
            return (f"The claim has a negative claim-level {adj['group']}-{adj['carc']} adjustment: "
                    "post it by hand")
        for ln in rc.lines:
            take = min(left, room[ln.sequence])
            if take > 0:
                room[ln.sequence] -= take
                shares[ln.sequence]["taken"] += take
                shares[ln.sequence]["adjustments"].append({**adj, "amount_cents": take})
                left -= take
        if left:
            amount = format_usd(adj["amount_cents"])
            return (f"The claim-level adjustment {adj['group']}-{adj['carc']} ({amount}) is more "
                    "than the lines paid: post it by hand")
    return shares


def _paid_on(remittance: Remittance) -> date:
    return remittance.payment_date or remittance.production_date or facility_today()


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


def _reverse_claim(uow: ledger.UnitOfWork, remittance: Remittance, rc: RemittanceClaim,
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
    postings = list(db.session.scalars(select(Posting).where(
        Posting.idempotency_key.like(f"{prefix}%"), Posting.kind != "reversal")))
    if problem := ledger.reversal_problem(uow, postings):
        return _exception(remittance, rc, None, f"Cannot reverse the earlier payment automatically: {problem}")
    ledger.reverse_postings(uow, postings, key=f"era:{remittance.content_hash}:{rc.sequence}:reversal",
                  reason=f"Payer reversal in remittance trace {remittance.trace_number}")
    earlier.reversed_by_id = rc.id  # written after the rows of this remittance, which hold rc
    db.session.execute(
        update(AdjudicatedLine)
        .where(AdjudicatedLine.source_key.like(f"{earlier.remittance.content_hash}:{earlier.sequence}:%"))
        .values(reversed_on=_paid_on(remittance)))
    for line in rc.lines:
        line.posted = True
    rc.posted = True


def _outcomes_and_audit(posted: list[Remittance], actor: str) -> None:
    for remittance in posted:
        _claim_outcomes(remittance, actor)
        audit.record("remittance.imported", "remittance", actor=actor, object_id=remittance.id,
                     detail={"claims": remittance.claim_count, "posted_lines": remittance.posted_line_count,
                             "exceptions": remittance.exception_count})


def _totals(remittance: Remittance) -> None:
    """Recount a stored remittance after a biller posted or dismissed part of it."""
    db.session.flush()
    _count(remittance, exceptions=db.session.scalar(select(func.count(EraException.id)).where(
        EraException.remittance_id == remittance.id, EraException.state == "open")))


def _count(remittance: Remittance, *, exceptions: int) -> None:
    lines_done = [ln for rc in remittance.claims for ln in rc.lines]
    remittance.line_count = len(lines_done) + sum(1 for rc in remittance.claims if not rc.lines)
    remittance.posted_line_count = sum(bool(ln.posted) for ln in lines_done)
    remittance.denied_line_count = sum(bool(ln.denied) for ln in lines_done)
    remittance.exception_count = exceptions
    remittance.posted_paid_cents = sum(_posted_paid(rc) for rc in remittance.claims if rc.posted)
    remittance.status = "exceptions" if exceptions else "posted"


def _claim_outcomes(remittance: Remittance, actor: str) -> None:
    """Each of our claims the remittance adjudicated moves on in its history (paid, partially paid, denied)."""
    waiting = set(db.session.scalars(select(EraException.remittance_claim_id).where(
        EraException.remittance_id == remittance.id, EraException.state == "open")))
    claim_status.record_remittances([claim_status.Adjudication(
        claim_id=rc.claim_id, remittance_id=remittance.id, status_code=rc.status_code, lines=len(rc.lines),
        posted=sum(ln.posted for ln in rc.lines), denied=sum(ln.denied for ln in rc.lines), waiting=rc.id in waiting,
        payer_claim_number=rc.payer_claim_number) for rc in remittance.claims
        if rc.claim_id is not None and not rc.is_reversal], actor=actor)


def _posted_paid(rc: RemittanceClaim) -> int:
    """What the posted lines of a claim paid into the ledger (each line's SVC03 less its share of the
    claim-level adjustments, as `era_line` posts it); a reversal takes back its whole CLP04."""
    if rc.is_reversal:
        return rc.paid_cents
    shares = _claim_level_shares(rc)
    if isinstance(shares, str):
        return 0
    return sum(ln.paid_cents - shares[ln.sequence]["taken"] for ln in rc.lines if ln.posted)


def _result(remittance: Remittance) -> ImportResult:
    return ImportResult(
        remittance_id=remittance.id, filename=remittance.filename, payer=remittance.payer_name,
        trace_number=remittance.trace_number, payment_cents=remittance.payment_cents, claims=remittance.claim_count,
        lines=remittance.line_count, posted_lines=remittance.posted_line_count,
        denied_lines=remittance.denied_line_count, exceptions=remittance.exception_count,
        posted_paid_cents=remittance.posted_paid_cents, provider_adjustment_cents=remittance.provider_adjustment_cents)
