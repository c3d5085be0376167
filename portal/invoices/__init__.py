"""Invoices: an account's self-pay charges billed as numbered documents, grouped as staff choose.

Owns building (one invoice, or one per patient or month of service, under the account lock so a charge is on one
live invoice at most), what an invoice stands at (paid and balance read from the ledger's payments on its charges,
never a money record of its own), voiding, the PDF and the email.
May import: models, audit, facility, locking, documents, mail. Never views or tasks.
"""
from portal.invoices.issuing import (
    GROUPINGS,
    MAX_CHARGES,
    STATUS_WORDS,
    InvoiceError,
    InvoiceFigures,
    LineFigures,
    build,
    figures,
    for_account,
    get_for_account,
    numbers_by_charge,
    uninvoiced_charges,
    void,
)
from portal.invoices.sending import filename, pdf, send

__all__ = [
    "GROUPINGS",
    "MAX_CHARGES",
    "STATUS_WORDS",
    "InvoiceError",
    "InvoiceFigures",
    "LineFigures",
    "build",
    "figures",
    "filename",
    "for_account",
    "get_for_account",
    "numbers_by_charge",
    "pdf",
    "send",
    "uninvoiced_charges",
    "void",
]
