"""Finance: the general ledger the business office closes each month, and proof that the cash recorded
reached the bank.

Owns: the chart of accounts and its mapping (`chart`), the summarised journal and its export files
(`journal`), closed months (`periods`), the card processor's payouts (`payouts`), bank statements and
deposit reconciliation (`bank`, `reconcile`), and the month-end report (`month_end`).
May import: models, extensions, clock, audit. The ledger writes each entry's GL date and source; nothing
here writes money.
"""
