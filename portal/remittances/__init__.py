"""Remittances."""
from portal.remittances.by_hand import MANUAL_METHODS, post_line_by_hand
from portal.remittances.checks import balance_problems, check, content_hash, find_duplicate
from portal.remittances.codes import (
    CARC,
    DENIAL_CARCS,
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
from portal.remittances.posting import import_file, post
from portal.remittances.reading import (
    PLB_REASONS,
    exceptions_by_claim,
    plb_words,
    posted_line_ids,
    remittances,
    underpaid_lines,
)
from portal.remittances.uploads import (
    MAX_UPLOAD_BYTES,
    UploadError,
    create_upload,
    log,
    recent_uploads,
    run_upload,
    status,
)
from portal.remittances.worklists import (
    close_denial,
    dismiss_exception,
    match_exception,
    open_denial_count,
    open_denials,
    open_exception_count,
    open_exceptions,
    payers,
    search_claims,
)

__all__ = ["CARC", "DENIAL_CARCS", "EraError", "GROUPS", "ImportResult", "MANUAL_METHODS", "MAX_UPLOAD_BYTES", "PAYMENT_METHODS", "PLB_REASONS", "Progress", "RARC", "UploadError", "balance_problems", "check", "close_denial", "content_hash", "create_upload", "describe", "dismiss_exception", "exceptions_by_claim", "find_duplicate", "import_file", "log", "match_claims", "match_exception", "open_denial_count", "open_denials", "open_exception_count", "open_exceptions", "payers", "plb_words", "post", "post_line_by_hand", "posted_line_ids", "recent_uploads", "remittances", "resolve_exception", "run_upload", "search_claims", "status", "underpaid_lines"]
