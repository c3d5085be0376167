"""Acknowledgments of the claim files we send: the clearinghouse's 999 (could the file be read) and the
payer's 277CA (was each claim taken into adjudication).

A 999 names our file by its group control number (AK102, our batch id). Its acceptance says only that the
file is well formed, so the claims stay sent with a note; a rejected transaction set rejects every claim of
the file, with the errors in words. A 277CA names each claim by our claim control number (TRN02 = CLM01):
A1/A2 accept it (the payer's claim number, REF*1K, is kept), A3/A4/A6/A7/A8 reject it with the status in
words, other categories are noted. A rejected claim is fixed, scrubbed again and sent in a later file.

An import is all or nothing: the file is validated and read before anything is written; a file is imported
once (its hash), and a refusal changes nothing."""
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.claims import status
from portal.claims.ack_codes import (
    ACCEPTED_CATEGORIES,
    ACKNOWLEDGMENT_CODES,
    ELEMENT_ERRORS,
    REJECTED,
    REJECTED_CATEGORIES,
    SEGMENT_ERRORS,
    STATUS_CATEGORIES,
    STATUS_CODES,
    TRANSACTION_SET_ERRORS,
    words,
)
from portal.claims.status import ClaimError
from portal.extensions import db
from portal.locking import lock_rows
from portal.models import Claim, ClaimAcknowledgment, ClaimAcknowledgmentOutcome, ClaimBatch
from portal.remittances import x12

VERSIONS = {"999": ("005010X231A1", "005010X231"), "277CA": ("005010X214",)}
TRANSACTION_SETS = {"999": "999", "277": "277CA"}
# Who a 277CA status is about (STC01-3): the 837's own entity codes.
ENTITIES = {"40": "receiver", "41": "submitter", "82": "rendering provider", "85": "billing provider",
            "87": "pay-to provider", "77": "service location", "DN": "referring provider", "IL": "subscriber",
            "QC": "patient", "PR": "payer"}
# Where a claim may be when an acknowledgment arrives; a claim further on (paid, denied, void) is left alone.
ACKNOWLEDGED_STATUSES = ("sent", "accepted")


class AcknowledgmentError(ClaimError):
    """An acknowledgment file refused, with one sentence saying why; nothing was changed."""


@dataclass
class ClaimOutcome:
    control_number: str
    outcome: str  # accepted | rejected | received | unmatched
    codes: str
    message: str
    claim_id: int | None = None
    status: str | None = None  # the claim's status after the import


@dataclass
class AcknowledgmentResult:
    acknowledgment_id: int
    kind: str
    summary: str
    outcomes: list[ClaimOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def unmatched(self) -> list[str]:
        return [o.control_number for o in self.outcomes if o.outcome == "unmatched"]

    def as_dict(self) -> dict:
        return {"acknowledgment_id": self.acknowledgment_id, "kind": self.kind, "summary": self.summary,
                "unmatched": self.unmatched,
                "claims": [{"control_number": o.control_number, "claim_id": o.claim_id, "outcome": o.outcome,
                            "status": o.status, "codes": o.codes, "message": o.message} for o in self.outcomes]}


# ---------------------------------------------------------------- reading


def _el(seg: list[str], n: int) -> str:
    return seg[n] if len(seg) > n else ""


def _segments(content: bytes) -> tuple[bytes, list[list[str]], str]:
    """The normalised file, its segments and component separator; refuses what is not X12."""
    if not content.strip():
        raise AcknowledgmentError("The file is empty")
    if b"\x00" in content:
        raise AcknowledgmentError("The file holds NUL bytes: it is not an X12 acknowledgment")
    content = x12.normalise(content)
    try:
        segments, component = x12.split_segments(content)
    except x12.X12Error as exc:
        raise AcknowledgmentError(f"{exc.summary}: a 999 or 277CA acknowledgment starts with its ISA segment") \
            from exc
    return content, segments, component


def detect_kind(content: bytes) -> str:
    """'999' or '277CA', from the first transaction set's ST01."""
    _, segments, _ = _segments(content)
    st = next((s for s in segments if s[0] == "ST"), None)
    if st is None:
        raise AcknowledgmentError("The file is truncated: it has no ST segment after the ISA")
    kind = TRANSACTION_SETS.get(_el(st, 1))
    if kind is None:
        raise AcknowledgmentError(f"This is not an acknowledgment: ST01 is {_el(st, 1)[:10] or 'empty'} "
                                  "(a 999 or a 277CA was expected)")
    return kind


def _checked(content: bytes, kind: str) -> tuple[bytes, list[list[str]], str]:
    """The file, when it is a valid acknowledgment of `kind`; otherwise a refusal naming the first problems."""
    content, segments, component = _segments(content)
    found = detect_kind(content)
    if found != kind:
        raise AcknowledgmentError(f"This is a {found} file, not a {kind}")
    gs = next((s for s in segments if s[0] == "GS"), [])
    version = _el(gs, 8)
    if version not in VERSIONS[kind]:
        raise AcknowledgmentError(f"Wrong version for a {kind}: GS08 is {version[:12] or 'empty'} "
                                  f"(only {' or '.join(VERSIONS[kind])} is read)")
    if problems := x12.validate(content):
        raise AcknowledgmentError(f"This {kind} file is not valid ({len(problems)} problem(s)): "
                                  + "; ".join(problems[:3]))
    return content, segments, component


@dataclass
class _SetResponse:  # one AK2 loop of a 999
    transaction_set: str
    code: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass
class _GroupResponse:  # one AK1 ... AK9 of a 999
    group: str
    sets: list[_SetResponse] = field(default_factory=list)
    code: str = ""

    @property
    def rejected(self) -> bool:
        if self.sets:
            return any(s.code in REJECTED for s in self.sets)
        return self.code in REJECTED

    def describe(self) -> str:
        if not self.sets:
            return f"functional group {words(ACKNOWLEDGMENT_CODES, self.code)} (AK9 {self.code})"
        parts = []
        for s in self.sets:
            parts.append(f"transaction set {s.transaction_set} {words(ACKNOWLEDGMENT_CODES, s.code)} (IK5 {s.code})")
            parts.extend(s.errors)
        return "; ".join(parts)


def _read_999(segments: list[list[str]], component: str) -> list[_GroupResponse]:
    groups: list[_GroupResponse] = []
    response: _SetResponse | None = None
    segment_name = ""
    for seg in segments:
        sid = seg[0]
        if sid == "AK1":
            groups.append(_GroupResponse(group=_el(seg, 2)))
            response = None
        elif sid == "AK2" and groups:
            response = _SetResponse(transaction_set=_el(seg, 2))
            groups[-1].sets.append(response)
        elif sid == "IK3" and response is not None:
            segment_name = _el(seg, 1)
            where = f"segment {segment_name} at position {_el(seg, 2)}" + (
                f" in loop {_el(seg, 3)}" if _el(seg, 3) else "")
            response.errors.append(f"{where}: {words(SEGMENT_ERRORS, _el(seg, 4))}" if _el(seg, 4) else where)
        elif sid == "IK4" and response is not None:
            position, _, part = _el(seg, 1).partition(component)
            numbered = position.isascii() and position.isdigit()
            name = f"{segment_name}{int(position):02d}" if numbered else f"element {position}"
            text = f"{name}{'-' + part.split(component)[0] if part else ''}: {words(ELEMENT_ERRORS, _el(seg, 3))}"
            response.errors.append(text + (f" (bad value {_el(seg, 4)!r})" if _el(seg, 4) else ""))
        elif sid == "IK5" and response is not None:
            response.code = _el(seg, 1)
            response.errors.extend(words(TRANSACTION_SET_ERRORS, code) for code in seg[2:7] if code)
        elif sid == "AK9" and groups:
            groups[-1].code = _el(seg, 1)
            response = None
    return groups


@dataclass
class _ClaimStatus:  # one 2200D loop of a 277CA
    control_number: str
    statuses: list[tuple[str, str, str]] = field(default_factory=list)  # (category, status code, entity)
    line_statuses: list[tuple[str, str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # STC12
    payer_claim_number: str | None = None

    @property
    def categories(self) -> list[str]:
        return [c for c, _, _ in self.statuses or self.line_statuses]

    @property
    def outcome(self) -> str:
        if any(c in REJECTED_CATEGORIES for c in self.categories):
            return "rejected"
        if any(c in ACCEPTED_CATEGORIES for c in self.categories):
            return "accepted"
        return "received"

    def codes(self) -> str:
        return "; ".join(":".join(p for p in s if p) for s in self.statuses + self.line_statuses)[:100]

    def describe(self) -> str:
        parts = []
        for prefix, found in (("", self.statuses), ("service line: ", self.line_statuses)):
            for category, code, entity in found:
                text = f"{prefix}{category} {words(STATUS_CATEGORIES, category)}"
                if code:
                    text += f"; {code} {words(STATUS_CODES, code)}"
                if entity:
                    text += f" ({ENTITIES.get(entity, 'entity ' + entity)})"
                parts.append(text)
        parts.extend(f'"{m}"' for m in self.messages)
        return "; ".join(parts) or "no status given"


def _read_277ca(segments: list[list[str]], component: str) -> list[_ClaimStatus]:
    found: list[_ClaimStatus] = []
    claim: _ClaimStatus | None = None
    level, in_line = "", False
    for seg in segments:
        sid = seg[0]
        if sid == "HL":
            level, claim, in_line = _el(seg, 3), None, False
        elif sid == "TRN" and level == "PT" and _el(seg, 1) == "2":
            claim, in_line = _ClaimStatus(control_number=_el(seg, 2)), False
            found.append(claim)
        elif sid == "SVC" and claim is not None:
            in_line = True
        elif sid == "STC" and claim is not None:
            for n in (1, 10, 11):
                parts = _el(seg, n).split(component)
                if parts[0]:
                    (claim.line_statuses if in_line else claim.statuses).append(
                        (parts[0], _el(parts, 1), _el(parts, 2)))
            if _el(seg, 12):
                claim.messages.append(_el(seg, 12))
        elif sid == "REF" and claim is not None and not in_line and _el(seg, 1) == "1K":
            claim.payer_claim_number = _el(seg, 2)[:50] or None
        elif sid == "SE":
            claim, level = None, ""
    return found


# ---------------------------------------------------------------- importing


def _actor_label(actor) -> str:
    return actor if isinstance(actor, str) else f"user:{actor.id}"


def _refuse_repeat(digest: str) -> None:
    earlier = db.session.scalar(select(ClaimAcknowledgment).where(ClaimAcknowledgment.content_hash == digest))
    if earlier is not None:
        raise AcknowledgmentError(f"This file was already imported on {earlier.imported_at:%Y-%m-%d} "
                                  f"(acknowledgment {earlier.id}, {earlier.filename}); nothing was changed")


def _keep(kind: str, content: bytes, digest: str, filename: str, actor: str, summary: str,
          batch_id: int | None, outcomes: list[ClaimOutcome]) -> ClaimAcknowledgment:
    record = ClaimAcknowledgment(kind=kind, filename=(filename or "unnamed")[:255], content_hash=digest,
                                 content=content, batch_id=batch_id, summary=summary, imported_by=actor)
    try:
        with db.session.begin_nested():  # the unique hash settles two imports of one file at once
            db.session.add(record)
    except IntegrityError as exc:
        raise AcknowledgmentError("This file was already imported; nothing was changed") from exc
    db.session.add_all(ClaimAcknowledgmentOutcome(
        acknowledgment_id=record.id, claim_id=o.claim_id, control_number=o.control_number[:50], outcome=o.outcome,
        codes=o.codes or None, message=o.message) for o in outcomes)
    detail = {"kind": kind, "filename": record.filename, "unmatched": sum(o.outcome == "unmatched" for o in outcomes)}
    for name in ("accepted", "rejected", "received"):
        detail[name] = sum(1 for o in outcomes if o.outcome == name)
    audit.record("claims.acknowledgment_imported", "claim_acknowledgment", actor=actor, object_id=record.id,
                 detail=detail)
    db.session.flush()
    return record


def _apply(claim: Claim, outcome: str, note: str, *, actor: str) -> None:
    """Moves a sent (or accepted) claim as the acknowledgment says; a claim further on is left as it is."""
    if claim.status not in ACKNOWLEDGED_STATUSES:
        return
    if outcome == "rejected":
        status.change(claim, "rejected", actor=actor, note=note)
    elif outcome == "accepted" and claim.status == "sent":
        status.change(claim, "accepted", actor=actor, note=note)
    else:
        status.note(claim, actor=actor, note=note)


def import_999(content: bytes, filename: str, *, actor) -> AcknowledgmentResult:
    """Import a 999 for files we sent: a rejected transaction set rejects every claim of the file."""
    content, segments, component = _checked(content, "999")
    digest = hashlib.sha256(content).hexdigest()
    _refuse_repeat(digest)
    actor = _actor_label(actor)
    groups = _read_999(segments, component)
    batches = {g.group: db.session.get(ClaimBatch, int(g.group)) for g in groups
               if g.group.isascii() and g.group.isdigit() and len(g.group) < 10}
    claim_ids = list(db.session.scalars(select(Claim.id).where(
        Claim.batch_id.in_([b.id for b in batches.values() if b is not None]))))
    claims = lock_rows(Claim, claim_ids)  # another import or a send at the same time waits
    outcomes: list[ClaimOutcome] = []
    sentences = []
    for group in groups:
        batch = batches.get(group.group)
        if batch is None:
            outcomes.append(ClaimOutcome(group.group, "unmatched", f"AK9 {group.code}",
                                         f"no claim file of ours has group control number {group.group}"))
            sentences.append(f"group {group.group}: not a file we sent")
            continue
        in_batch = sorted((c for c in claims.values() if c.batch_id == batch.id), key=lambda c: c.id)
        verdict = "rejected" if group.rejected else "received"
        if group.rejected:
            note = f"file {batch.filename} rejected by the clearinghouse (999): {group.describe()}"
        else:
            note = "file accepted by the clearinghouse (999)"
            if any(s.code == "E" for s in group.sets):
                note += f", with errors noted: {group.describe()}"
        codes = " ".join(f"IK5 {s.code}" for s in group.sets) or f"AK9 {group.code}"
        for claim in in_batch:
            _apply(claim, verdict, note, actor=actor)
            outcomes.append(ClaimOutcome(claim.control_number, verdict, codes, note, claim.id, claim.status))
        sentences.append(f"file {batch.filename} {'rejected' if group.rejected else 'accepted'} "
                         f"({len(in_batch)} claim(s){', now rejected' if group.rejected else ', still sent'})")
    summary = "999: " + ("; ".join(sentences) or "no functional group acknowledged")
    first = next((b for b in batches.values() if b is not None), None)
    record = _keep("999", content, digest, filename, actor, summary, first.id if first else None, outcomes)
    return AcknowledgmentResult(record.id, "999", summary, outcomes)


def import_277ca(content: bytes, filename: str, *, actor) -> AcknowledgmentResult:
    """Import a 277CA: each claim accepted into adjudication, rejected with the reason, or noted;
    claim control numbers we do not know are listed as unmatched."""
    content, segments, component = _checked(content, "277CA")
    digest = hashlib.sha256(content).hexdigest()
    _refuse_repeat(digest)
    actor = _actor_label(actor)
    found = _read_277ca(segments, component)
    numbers = {f.control_number for f in found}
    ids = list(db.session.scalars(select(Claim.id).where(Claim.control_number.in_(numbers))))
    claims = {c.control_number: c for c in lock_rows(Claim, ids).values()}
    outcomes: list[ClaimOutcome] = []
    for item in found:
        claim = claims.get(item.control_number)
        if claim is None:
            outcomes.append(ClaimOutcome(item.control_number, "unmatched", item.codes(),
                                         f"not a claim of ours: {item.describe()}"))
            continue
        verdict = item.outcome
        note = {"accepted": "accepted by the payer (277CA)", "rejected": "rejected by the payer (277CA)",
                "received": "acknowledged by the payer (277CA)"}[verdict] + f": {item.describe()}"
        if verdict == "accepted" and item.payer_claim_number and claim.status in ACKNOWLEDGED_STATUSES:
            claim.payer_claim_number = item.payer_claim_number
            note += f"; payer claim number {item.payer_claim_number}"
        _apply(claim, verdict, note, actor=actor)
        outcomes.append(ClaimOutcome(claim.control_number, verdict, item.codes(), note, claim.id, claim.status))
    counts = {name: sum(1 for o in outcomes if o.outcome == name)
              for name in ("accepted", "rejected", "received", "unmatched")}
    summary = (f"277CA: {counts['accepted']} accepted, {counts['rejected']} rejected, "
               f"{counts['received']} acknowledged, {counts['unmatched']} unmatched")
    record = _keep("277CA", content, digest, filename, actor, summary, None, outcomes)
    return AcknowledgmentResult(record.id, "277CA", summary, outcomes)


def import_acknowledgment(content: bytes, filename: str, *, actor) -> AcknowledgmentResult:
    """A 999 or a 277CA, told apart by its ST01."""
    kind = detect_kind(content)
    return (import_999 if kind == "999" else import_277ca)(content, filename, actor=actor)
