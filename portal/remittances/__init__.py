"""ERA (X12 835) auto-posting.

An imported file goes through four steps, each its own function:
1. `check(content)`: envelope (version, truncation), pyx12 validation, parse, balance (line, claim,
   transaction) of each payment (transaction set, ST/SE). Any failure refuses the whole file with a
   list of what is wrong and where.
2. `find_duplicate(...)`: the same file (content hash) or the same payer + trace number was imported
   before, for each payment.
3. matching: CLP01 to our claim control number, when the 835's patient (member id or name) agrees
   with the claim's; else the patient's member id + first date of
   service + total charge naming exactly one claim. Service lines match on procedure code + date of
   service + units (then code + date).
4. `post(...)`: everything that matched posts in ONE transaction (ledger.UnitOfWork); what did not
   waits in the exception queue (EraException) and does not block the rest.

`import_file` runs the four steps; each payment of a file becomes its own remittance, all in one
transaction. Natural keys: "era:<file hash>:<claim>:<line>" on every posting and
"<file hash>:<claim>:<line>" on adjudication history rows, so nothing can post twice.

Owns: X12 reading (`x12`), checks, matching, posting, the exception queue, posting by hand, uploads,
worklists, reading remittances back, and underpayments (`underpayments`, kept apart).
May import: models, ledger, audit, clock, iop figures. Never views or tasks.
"""
from portal.remittances.by_hand import MANUAL_METHODS, post_line_by_hand
from portal.remittances.checks import balance_problems, check, content_hash, find_duplicate
from portal.remittances.codes import (
    CARC,
    GROUPS,
    PAYMENT_METHODS,
    RARC,
    EraError,
    ImportResult,
    Progress,
    describe,
)
from portal.remittances.exceptions import resolve_exception
from portal.remittances.matching import match_claims
from portal.remittances.posting import MatchedLine, era_line, era_payment, import_file, post, post_lines
from portal.remittances.reading import (
    PLB_REASONS,
    exceptions_by_claim,
    plb_words,
    posted_line_ids,
    remittances,
    underpaid_lines,
)
from portal.remittances.uploads import (
    IMPORT_TIME_LIMIT,
    MAX_UPLOAD_BYTES,
    UploadError,
    create_upload,
    log,
    recent_uploads,
    run_upload,
    stalled_uploads,
    status,
)
from portal.remittances.worklists import (
    dismiss_exception,
    match_exception,
    open_exception_count,
    open_exceptions,
    payers,
    search_claims,
)

__all__ = [
    "CARC",
    "GROUPS",
    "IMPORT_TIME_LIMIT",
    "MANUAL_METHODS",
    "MAX_UPLOAD_BYTES",
    "PAYMENT_METHODS",
    "PLB_REASONS",
    "RARC",
    "EraError",
    "ImportResult",
    "MatchedLine",
    "Progress",
    "UploadError",
    "balance_problems",
    "check",
    "content_hash",
    "create_upload",
    "describe",
    "dismiss_exception",
    "era_line",
    "era_payment",
    "exceptions_by_claim",
    "find_duplicate",
    "import_file",
    "log",
    "match_claims",
    "match_exception",
    "open_exception_count",
    "open_exceptions",
    "payers",
    "plb_words",
    "post",
    "post_line_by_hand",
    "post_lines",
    "posted_line_ids",
    "recent_uploads",
    "remittances",
    "resolve_exception",
    "run_upload",
    "search_claims",
    "stalled_uploads",
    "status",
    "underpaid_lines",
]
