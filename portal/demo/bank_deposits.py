"""Demo deposit reconciliation: the card processor's payout of the demo card payment and a bank statement
with that payout, the demo ERAs' EFTs (one a few cents short) and a bank fee, so the reconciliation page
shows a match of each kind, a difference and an unexplained debit."""
from datetime import date, timedelta

from sqlalchemy import select

from portal.extensions import db
from portal.finance import bank, payouts
from portal.models import Payment, Remittance

REPORT_HEADER = ("automatic_payout_id,automatic_payout_effective_at,balance_transaction_id,currency,gross,fee,net,"
                 "reporting_category,source_id,payment_intent_id,description")


def _dollars(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def seed(today: date, facility_id: int, *, actor: str) -> None:
    rows = ["date,amount,description,reference"]
    card = db.session.scalar(select(Payment).where(Payment.method == "card", Payment.reference.startswith("pi_demo_"))
                             .order_by(Payment.id).limit(1))
    if card is not None:
        arrived = today - timedelta(days=4)
        payout_id, fee = f"po_demo_{arrived:%y%m%d}", card.amount_cents * 29 // 1000 + 30  # 2.9% + 30 cents
        report = [REPORT_HEADER, f"{payout_id},{arrived} 00:00:00,txn_demo_{card.id},usd,{_dollars(card.amount_cents)},"
                                 f"{_dollars(fee)},{_dollars(card.amount_cents - fee)},charge,ch_demo_{card.id},"
                                 f"{card.reference},Statement payment"]
        payouts.import_report(facility_id, "\n".join(report).encode(), "demo-payouts.csv", actor=actor)
        rows.append(f"{arrived + timedelta(days=1)},{_dollars(card.amount_cents - fee)},"
                    f"CARD PROCESSOR TRANSFER {payout_id},")
    for n, era in enumerate(db.session.scalars(select(Remittance).order_by(Remittance.id))):
        short = 35 if n == 1 else 0  # the bank credited one EFT 35 cents short: a difference to explain
        day = min((era.payment_date or today) + timedelta(days=1), today)
        rows.append(f"{day},{_dollars(era.payment_cents - short)},HCCLAIMPMT {era.payer_name} TRN*1*{era.trace_number},"
                    f"{era.trace_number}")
    rows.append(f"{today - timedelta(days=1)},-15.00,MONTHLY SERVICE FEE,")
    bank.import_statement(facility_id, "\n".join(rows).encode(), "demo-bank-statement.csv", "csv", actor=actor)
