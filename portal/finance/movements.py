"""What the journal sums: an amount on one source on one day. Its own module, so that what feeds the
journal (the ledger's entries, the card processor's payouts) and the journal itself both import it."""
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Movement:
    """An amount on one source on one day (positive: a debit), before the chart maps it."""
    day: date
    corrects: date | None
    source: str
    amount_cents: int
