"""Placement with collection agencies, agency payments, recall and bad-debt write-off."""
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from portal import audit, ledger, money, spreadsheet
from portal.collections.aging_report import aging
from portal.collections.holding import _held, holds
from portal.collections.policy import STAGE_WORDS, CollectionsError, settings
from portal.collections.worklist import _rescore, case_for, scored_on
from portal.extensions import db
from portal.models import (
    Account,
    Agency,
    AgencyPayment,
    Charge,
    CollectionCase,
    Payment,
    Placement,
    Posting,
    PromiseToPay,
    Statement,
)

# ---------------------------------------------------------------- placement, agency payments, bad debt


def open_placement(account: Account) -> Placement | None:
    return db.session.scalar(select(Placement).where(Placement.account_id == account.id,
                                                     Placement.recalled_on.is_(None)))


def _guard_extraordinary(account: Account, c: CollectionCase, as_of: date) -> list[str]:
    """Why no placement or bad-debt write-off may happen now (empty when it may)."""
    rules = settings()
    problems = [f"{h.label} hold." for h in holds(account, as_of)]
    if c.first_statement_on is None:
        problems.append("No statement has been sent.")
    elif as_of < c.first_statement_on + timedelta(days=rules.min_placement_days):
        earliest = c.first_statement_on + timedelta(days=rules.min_placement_days)
        problems.append(f"Too early: not before {earliest:%b %d, %Y} ({rules.min_placement_days} days after "
                        f"the first statement).")
    return problems


def placement_blockers(account: Account, as_of: date) -> list[str]:
    rules = settings()
    c = case_for(account)
    problems = _guard_extraordinary(account, c, as_of)
    if open_placement(account) is not None:
        problems.append("Already placed with an agency.")
    elif c.stage != "pre_collection":
        problems.append(f"The account is at {STAGE_WORDS[c.stage].lower()}; only pre-collection accounts are "
                        f"placed.")
    if account.patient_due_cents < rules.min_placement_cents:
        problems.append(f"Balances under {money.format_usd(rules.min_placement_cents)} are never placed.")
    return problems


def place(account: Account, agency: Agency, *, as_of: date, actor: str,
          ip: str | None = None, user_agent: str | None = None) -> Placement:
    if not agency.active:
        raise CollectionsError("That agency no longer takes placements.")
    if problems := placement_blockers(account, as_of):
        raise CollectionsError(" ".join(problems))
    c = case_for(account)
    placement = Placement(account_id=account.id, agency_id=agency.id, placed_on=as_of, prior_stage=c.stage,
                          placed_balance_cents=account.patient_due_cents, created_by=actor)
    db.session.add(placement)
    c.stage, c.stage_since, c.assignee_id, c.next_action_on = "placed", as_of, None, None
    account.collection_stage = "placed"
    db.session.flush()
    audit.record("collections.placed", "collection_placement", actor=actor, object_id=placement.id,
                 account_id=account.id,
                 detail={"agency_id": agency.id, "balance_cents": placement.placed_balance_cents},
                 ip=ip, user_agent=user_agent)
    return placement


def recall(account: Account, *, reason: str, as_of: date, actor: str,
           ip: str | None = None, user_agent: str | None = None) -> Placement:
    placement = open_placement(account)
    if placement is None:
        raise CollectionsError("The account is not placed with an agency.")
    if not reason.strip():
        raise CollectionsError("Say why the account is recalled.")
    placement.recalled_on, placement.recall_reason = as_of, reason.strip()
    c = case_for(account)
    c.stage, c.stage_since = placement.prior_stage, as_of
    account.collection_stage = placement.prior_stage
    db.session.flush()
    _rescore(settings(), scored_on(), CollectionCase.id == c.id)  # back in the queue with a current score
    audit.record("collections.recalled", "collection_placement", actor=actor, object_id=placement.id,
                 account_id=account.id, detail={"reason": reason}, ip=ip, user_agent=user_agent)
    return placement


def _patient_charges(account_id: int) -> list[Charge]:
    return list(db.session.scalars(select(Charge).where(Charge.account_id == account_id,
                                                        Charge.patient_balance_cents > 0)
                                   .order_by(Charge.service_date, Charge.id)))


def record_agency_payment(account: Account, *, gross_cents: int, fee_cents: int | None, received_on: date,
                          reference: str | None, key: str, actor: str, authorize=None) -> AgencyPayment:
    """The agency collected `gross`, kept `fee` and sent us the rest.

    Posted the way the rules ask, as one ledger operation: the net cash as a payment (it matches
    the deposit) and the fee as an administrative adjustment on the patient balance, so the
    guarantor is credited the full gross and the fee shows as a collection expense. The agency
    payment row and its audit event commit in the same transaction. Idempotent on `key`: a replay
    posts nothing more (and records the row if the ledger posting was made without it).
    """
    if done := _agency_payment(key):
        return done
    placement = open_placement(account) or db.session.scalar(
        select(Placement).where(Placement.account_id == account.id).order_by(Placement.id.desc()).limit(1))
    if placement is None:
        raise CollectionsError("The account has never been placed with an agency.")
    if fee_cents is None:
        fee_cents = money.pct(gross_cents, placement.agency.fee_bps)
    if gross_cents <= 0 or not 0 <= fee_cents < gross_cents:
        raise CollectionsError("The fee must be less than what the agency collected.")
    if authorize is not None:  # the fee is a write-off: the poster's adjustment right and limit apply
        authorize(fee_cents)
    posted = db.session.scalar(select(Posting.id).where(Posting.idempotency_key == key))
    if posted is None and gross_cents > account.patient_due_cents:
        raise CollectionsError(f"The agency cannot have collected more than the balance "
                               f"({money.format_usd(account.patient_due_cents)}).")
    account_id, placement_id, name = account.id, placement.id, placement.agency.name

    def record(remittance: ledger.AgencyRemittance) -> None:
        detail = [{"charge_id": a.charge_id, "amount_cents": a.amount_cents, "adjustment_id": a.id}
                  for a in remittance.fees]
        row = AgencyPayment(placement_id=placement_id, key=key, received_on=received_on, reference=reference,
                            gross_cents=gross_cents, fee_cents=fee_cents, payment_id=remittance.payment.id,
                            fee_detail=detail, created_by=actor)
        db.session.add(row)
        db.session.flush()
        audit.record("collections.agency_payment", "collection_agency_payment", actor=actor, object_id=row.id,
                     account_id=account_id, detail={"gross_cents": gross_cents, "fee_cents": fee_cents})

    try:
        remittance = ledger.post_agency_payment(
            account_id, gross_cents=gross_cents, fee_cents=fee_cents, key=key, actor=actor,
            received_on=received_on, reference=f"Agency {name} {reference or ''}".strip()[:100],
            fee_reason=f"Collection agency fee ({name})", also=record)
    except ledger.LedgerError as exc:
        raise CollectionsError(f"Nothing was posted: {exc}.") from exc
    if (row := _agency_payment(key)) is None:  # a replay of a posting made without its row
        record(remittance)
        db.session.flush()
        row = _agency_payment(key)
    return row


def _agency_payment(key: str) -> AgencyPayment | None:
    return db.session.scalar(select(AgencyPayment).where(AgencyPayment.key == key))


def write_off_bad_debt(account: Account, *, reason: str, as_of: date, actor: str,
                       ip: str | None = None, user_agent: str | None = None, authorize=None) -> int:
    """Write the patient balance off as bad debt through the ledger (one adjustment per charge).
    `authorize(cents)` may refuse the whole write-off first (the poster's adjustment right and limit)."""
    c = case_for(account)
    if not reason.strip():
        raise CollectionsError("Say why the balance is written off.")
    if problems := _guard_extraordinary(account, c, as_of):
        raise CollectionsError(" ".join(problems))
    if account.credit_cents > 0:
        raise CollectionsError("Apply the account's unapplied credit first.")
    if authorize is not None:
        authorize(sum(charge.patient_balance_cents for charge in _patient_charges(account.id)))
    total = 0
    for charge in _patient_charges(account.id):
        amount = charge.patient_balance_cents
        ledger.post_adjustment(charge.id, amount_cents=amount, kind="bad_debt", bucket="patient",
                               key=f"collections:bad_debt:{account.id}:{charge.id}:{as_of}", actor=actor,
                               reason=reason.strip())
        total += amount
    if (placement := open_placement(account)) is not None:
        placement.recalled_on, placement.recall_reason = as_of, "written off as bad debt"
    c = case_for(account)
    c.stage, c.stage_since, c.balance_cents = "written_off", as_of, 0
    account.collection_stage = "written_off"
    audit.record("collections.bad_debt", "account", actor=actor, object_id=account.id, account_id=account.id,
                 detail={"amount_cents": total, "reason": reason}, ip=ip, user_agent=user_agent)
    return total


PLACEMENT_COLUMNS = (
    ("account_number", "our account number"), ("guarantor_name", "the person who owes"),
    ("address_line1", ""), ("city", ""), ("state", ""), ("zip_code", ""), ("phone", ""), ("email", ""),
    ("balance", "patient balance in dollars, e.g. 1234.50"), ("placed_on", "YYYY-MM-DD"),
    ("first_service_date", "earliest date of service owed"),
    ("last_service_date", "latest date of service owed"),
    ("first_statement_date", ""), ("last_statement_date", ""), ("statements_sent", "count"),
    ("last_payment_date", "last patient payment, empty if none"),
)


def placement_file(agency: Agency, *, actor: str,
                   ip: str | None = None, user_agent: str | None = None) -> str:
    """The agency's open placements as CSV: minimum necessary, no diagnosis, procedure or program."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)
    writer.writerow([name for name, _ in PLACEMENT_COLUMNS])
    rows = db.session.scalars(select(Placement).where(Placement.agency_id == agency.id,
                                                      Placement.recalled_on.is_(None)).order_by(Placement.id))
    for p in rows:
        a = p.account
        dates = db.session.execute(select(func.min(Charge.service_date), func.max(Charge.service_date))
                                   .where(Charge.account_id == a.id, Charge.patient_balance_cents > 0)).one()
        stmts = db.session.execute(
            select(func.min(Statement.statement_date), func.max(Statement.statement_date),
                   func.count(Statement.id)).where(Statement.account_id == a.id)).one()
        paid = db.session.scalar(select(func.max(Payment.received_on)).where(Payment.account_id == a.id,
                                                                             Payment.source == "patient"))
        writer.writerow([a.number, a.guarantor_name, a.address_line1 or "", a.city or "", a.state or "",
                         a.zip_code or "", a.phone or "", a.email or "",
                         money.format_plain(a.patient_due_cents), p.placed_on.isoformat(), _iso(dates[0]),
                         _iso(dates[1]), _iso(stmts[0]), _iso(stmts[1]), stmts[2], _iso(paid)])
    audit.record("collections.placement_file", "collection_agency", actor=actor, object_id=agency.id,
                 detail={"rows": len(out.getvalue().splitlines()) - 1},
                 ip=ip, user_agent=user_agent)
    return out.getvalue()


def _iso(day) -> str:
    return day.isoformat() if day else ""


def create_agency(*, name: str, contact: str | None, fee_bps: int, actor: str,
                  ip: str | None = None, user_agent: str | None = None) -> Agency:
    if not name.strip():
        raise CollectionsError("Name the agency.")
    if db.session.scalar(select(Agency.id).where(Agency.name == name.strip())):
        raise CollectionsError("An agency with that name exists.")
    agency = Agency(name=name.strip(), contact=(contact or "").strip() or None, fee_bps=fee_bps)
    db.session.add(agency)
    db.session.flush()
    audit.record("collections.agency_created", "collection_agency", actor=actor, object_id=agency.id,
                 ip=ip, user_agent=user_agent)
    return agency


def set_agency_active(agency: Agency, *, active: bool, actor: str,
                      ip: str | None = None, user_agent: str | None = None) -> None:
    """An inactive agency takes no new placements; those it holds stay until recalled or paid."""
    if agency.active == active:
        return
    agency.active = active
    audit.record("collections.agency_activated" if active else "collections.agency_deactivated",
                 "collection_agency", actor=actor, object_id=agency.id,
                 ip=ip, user_agent=user_agent)


def open_placement_counts() -> dict[int, int]:
    """Agency id -> accounts placed with it and not recalled."""
    return dict(db.session.execute(select(Placement.agency_id, func.count(Placement.id))
                                   .where(Placement.recalled_on.is_(None))
                                   .group_by(Placement.agency_id)).all())


def agencies(active_only: bool = False) -> list[Agency]:
    query = select(Agency).order_by(Agency.name)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return list(db.session.scalars(query))


# ---------------------------------------------------------------- dashboard figures


@dataclass
class Figures:
    buckets: list[int]
    collected_this_month_cents: int
    promises_due_today: int
    on_hold: int


def figures(today: date) -> Figures:
    report = aging(today, limit=0)
    reversed_postings = select(Posting.reverses_posting_id).where(Posting.reverses_posting_id.is_not(None))
    collected = db.session.scalar(select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
        Payment.source == "patient", Payment.received_on.between(today.replace(day=1), today),
        Payment.posting_id.not_in(reversed_postings)))
    due = db.session.scalar(select(func.count(PromiseToPay.id)).where(PromiseToPay.status == "open",
                                                                      PromiseToPay.due_on == today))
    on_hold = db.session.scalar(select(func.count(Account.id)).where(
        Account.patient_balance_cents > Account.credit_cents,
        _held(today)))
    return Figures(report.totals, int(collected), due, on_hold)


# ---------------------------------------------------------------- demo


