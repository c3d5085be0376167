"""The ledger's errors and the rules every operation keeps (the ledger is the only code that moves money).

Every operation, through one unit of work (engine.py):
- takes an idempotency key (unique on `postings`): a replay returns what the first call made,
  and the same key with different figures is refused;
- locks the account first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite, which has no row
  locks, whatever the session holds is committed and a BEGIN IMMEDIATE transaction takes the
  database write lock), so two postings to one account never interleave;
- writes its postings and entries, checks the money rules on everything it touched, refreshes
  the cached balances from the entries, and commits once. A broken rule rolls everything back.

Sign convention: an entry is what the account owes. A charge adds to its insurance or patient
bucket; a payment subtracts from its unapplied bucket; allocating moves the credit onto a charge.
"""


CHARGE_BUCKETS = ("insurance", "patient")


class LedgerError(ValueError):
    """The posting would break a money rule; nothing was written."""


class IdempotencyConflict(LedgerError):
    """The key was already used for a different operation."""
