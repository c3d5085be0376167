"""Demo deposit batch: an open batch of checks for the biller to close."""
from datetime import date

from portal import ledger
from portal.models import Account, DepositBatch
from portal.payments.deposits import open_batch


def seed(today: date, accounts: list[Account], *, actor: str) -> DepositBatch:
    """One open cash-drawer batch with a cash and a check payment, one more still to post (demo data)."""
    batch = open_batch(deposit_date=today, kind="cash_drawer", control_total_cents=12500, control_count=3,
                       actor=actor)
    received = [(accounts[0], 5000, "cash", None), (accounts[-1], 4000, "check", "1042")]
    for number, (account, amount, method, reference) in enumerate(received, start=1):
        ledger.post_payment(account.id, amount_cents=amount, method=method, reference=reference,
                            key=f"demo:deposit:{number}", actor=actor, received_on=today, deposit_batch_id=batch.id)
    return batch
