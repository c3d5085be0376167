"""The aging report: balances by bucket, filtered, on a page and as CSV."""
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, exists, func, select

from portal import money, spreadsheet
from portal.collections.policy import BUCKET_KEYS, BUCKETS, STAGE_WORDS
from portal.extensions import db
from portal.models import (
    Account,
    Charge,
    CollectionCase,
    Coverage,
    Patient,
    User,
)

# ---------------------------------------------------------------- aging


def _bucket_of(since_column, as_of: date):
    """0 current (0-30 days), 1 31-60, 2 61-90, 3 91-120, 4 over 120, counted from the day the patient
    became responsible."""
    return case(
        (since_column >= as_of - timedelta(days=30), 0),
        (since_column >= as_of - timedelta(days=60), 1),
        (since_column >= as_of - timedelta(days=90), 2),
        (since_column >= as_of - timedelta(days=120), 3),
        else_=4,
    )


@dataclass
class AgingFilters:
    payer_id: int | None = None
    facility_id: int | None = None
    assignee_id: int | None = None
    stage: str | None = None


def _aging_query(as_of: date, filters: AgingFilters):
    bucket = _bucket_of(Charge.patient_responsible_since, as_of)
    sums = [func.sum(case((bucket == i, Charge.patient_balance_cents), else_=0)).label(key)
            for i, key in enumerate(BUCKET_KEYS)]
    stage = func.coalesce(CollectionCase.stage, "none")
    query = (select(Account.id, Account.number, Account.guarantor_name, stage.label("stage"),
                    User.full_name.label("assignee"), *sums,
                    func.sum(Charge.patient_balance_cents).label("total"))
             .join(Account, Account.id == Charge.account_id)
             .outerjoin(CollectionCase, CollectionCase.account_id == Account.id)
             .outerjoin(User, User.id == CollectionCase.assignee_id)
             .where(Charge.patient_balance_cents > 0)
             .group_by(Account.id, Account.number, Account.guarantor_name, stage, User.full_name))
    if filters.payer_id:
        query = query.where(exists().where(
            Coverage.payer_id == filters.payer_id, Coverage.patient_id == Patient.id,
            Patient.account_id == Account.id))
    if filters.facility_id:
        query = query.where(Account.facility_id == filters.facility_id)
    if filters.assignee_id:
        query = query.where(CollectionCase.assignee_id == filters.assignee_id)
    if filters.stage:
        query = query.where(stage == filters.stage)
    return query


@dataclass
class AgingReport:
    as_of: date
    totals: list[int]
    total: int
    accounts: int
    rows: list = field(default_factory=list)  # the largest balances, for the page

    def shares_bps(self) -> list[int]:
        return [money.round_half_up(t * 10000, self.total) if self.total else 0 for t in self.totals]


def aging(as_of: date, filters: AgingFilters | None = None, *, limit: int = 100) -> AgingReport:
    """Totals per bucket over every account (one aggregate query) and the largest balances."""
    inner = _aging_query(as_of, filters or AgingFilters()).subquery()
    row = db.session.execute(select(func.count(), func.coalesce(func.sum(inner.c.total), 0),
                                    *[func.coalesce(func.sum(inner.c[k]), 0) for k in BUCKET_KEYS])).one()
    rows = list(db.session.execute(select(inner).order_by(inner.c.total.desc(), inner.c.number).limit(limit)))
    return AgingReport(as_of, [int(x) for x in row[2:]], int(row[1]), int(row[0]), rows)


def aging_csv(as_of: date, filters: AgingFilters | None = None):
    """The whole report as CSV lines (streamed): one row per account, amounts in dollars."""
    out = io.StringIO()
    writer = spreadsheet.writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate()
        return text

    writer.writerow(["account", "guarantor", "stage", "collector", *BUCKETS, "total"])
    yield flush()
    query = _aging_query(as_of, filters or AgingFilters()).order_by(Account.number)
    for r in db.session.execute(query.execution_options(yield_per=2000)):
        amounts = [money.format_plain(int(getattr(r, k))) for k in (*BUCKET_KEYS, "total")]
        stage = STAGE_WORDS.get(r.stage, r.stage)
        writer.writerow([r.number, r.guarantor_name, stage, r.assignee or "", *amounts])
        yield flush()
