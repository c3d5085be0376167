"""Statements: the monthly (or cycle-day) run that freezes what a guarantor owes, and reading it back.

Owns statement issuing (`issuing`: the snapshot, the pay-by-link code, the run) and reading (`reading`: the
guarantor's statements, pay-by-link look-up, the PDF and the notice mail).
May import: models, ledger figures, facility, mail, collections' stage message, invoices (numbers on lines).
Never views or tasks.
"""
from portal.statements.issuing import (
    CODE_ALPHABET,
    CODE_LENGTH,
    REASON_WORDS,
    RunResult,
    build_snapshot,
    is_statement_day,
    issue,
    new_code,
    period_summary,
    run,
)
from portal.statements.reading import (
    find_for_pay_link,
    for_account,
    get_for_account,
    get_for_patient_user,
    latest,
    paid_after,
    pdf,
    send_notice,
)

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "REASON_WORDS",
    "RunResult",
    "build_snapshot",
    "find_for_pay_link",
    "for_account",
    "get_for_account",
    "get_for_patient_user",
    "is_statement_day",
    "issue",
    "latest",
    "new_code",
    "paid_after",
    "pdf",
    "period_summary",
    "run",
    "send_notice",
]
