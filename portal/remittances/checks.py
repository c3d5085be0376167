"""Checking an 835 before anything posts: validation, balancing, duplicates."""
import hashlib
from collections import Counter

from sqlalchemy import select

from portal.extensions import db
from portal.models import (
    Remittance,
)
from portal.money import format_usd
from portal.remittances import x12
from portal.remittances.codes import EraError, Progress, _tell

# ---------------------------------------------------------------- 1. check


def check(content: bytes, progress: Progress | None = None, *, strict: bool = False) -> list[x12.Remit]:
    """Envelope, pyx12 validation (once), parse and balance each payment (transaction set) on its own;
    raise EraError with every problem found. pyx12 findings that change no money are kept as the
    remittances' warnings unless `strict` (the facility's setting) makes every finding a refusal."""
    if not content or not content.strip():
        raise EraError("The file is empty")
    try:
        x12.check_envelope(content)
        problems = x12.validate(content, lambda done, total: _tell(progress, "validating", done, total))
        refusals, warnings = (problems, []) if strict else x12.sort_findings(problems)
        if refusals:
            raise EraError(f"The file is not a valid {x12.VERSION} 835 ({len(problems)} problems)", problems)
        remits = x12.parse(content)
        for remit in remits:
            remit.warnings = warnings
    except x12.X12Error as exc:
        raise EraError(exc.summary, exc.problems) from exc
    problems = []
    for n, remit in enumerate(remits, 1):
        which = f"payment {n} of {len(remits)} (trace {remit.trace_number}): " if len(remits) > 1 else ""
        problems.extend(which + problem for problem in balance_problems(remit))
    if problems:
        raise EraError("The file does not balance", problems)
    if any(remit.credit_debit == "D" for remit in remits):
        raise EraError("The file is a debit (the payer takes money back); post it by hand")
    traces = Counter((remit.payer_identifier, remit.trace_number) for remit in remits)
    if repeated := sorted(trace for (_, trace), seen in traces.items() if seen > 1):
        raise EraError("The file holds the same payment twice",
                       [f"trace {trace} is in more than one transaction set" for trace in repeated])
    return remits


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
                                f"{format_usd(line.charge_cents)} − adjustments {format_usd(adjusted)} ≠ "
                                f"paid {format_usd(line.paid_cents)}")
        claim_level = sum(a.amount_cents for a in claim.adjustments)
        lines_paid = sum(line.paid_cents for line in claim.lines)
        if claim.lines and lines_paid - claim_level != claim.paid_cents:
            problems.append(f"{where}: service lines paid {format_usd(lines_paid)} − claim-level adjustments "
                            f"{format_usd(claim_level)} ≠ claim paid (CLP04) {format_usd(claim.paid_cents)}")
        adjusted = claim_level + line_adjustments
        if claim.charge_cents - adjusted != claim.paid_cents:
            problems.append(f"{where}: billed {format_usd(claim.charge_cents)} − adjustments {format_usd(adjusted)} ≠ "
                            f"paid {format_usd(claim.paid_cents)}")
        total_paid += claim.paid_cents
    plb = sum(p.amount_cents for p in remit.provider_adjustments)
    if total_paid - plb != remit.payment_cents:
        problems.append(f"transaction: claims paid {format_usd(total_paid)} − provider adjustments {format_usd(plb)} ≠ "
                        f"BPR total {format_usd(remit.payment_cents)}")
    return problems




# ---------------------------------------------------------------- 2. duplicates


def content_hash(content: bytes, transaction_set: int = 1) -> str:
    """The file's sha256; for the second and later payments of a file, that of the file and the
    payment's position, so each remittance (and every ledger key derived from it) has its own."""
    if transaction_set == 1:
        return hashlib.sha256(content).hexdigest()
    return hashlib.sha256(content + f"\x00{transaction_set}".encode()).hexdigest()


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
