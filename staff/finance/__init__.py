"""Finance pages: the chart of accounts, the journal export, month-end close and report (`views`), and
deposit reconciliation (`reconciliation`)."""
