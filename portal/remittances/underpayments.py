"""Underpayment detection: did the payer allow what it usually allows (or what the contract says)?

For each posted service line the expected allowed amount per unit is the contract rate, when one
is loaded for the payer (and plan) on the date of service, or else the median of what the same
payer allowed for the same code before this remittance (plan-level when the plan is known and has
enough lines, payer-level otherwise). Denied and reversed lines are never evidence. A line whose
allowed or paid amount falls below the facility's threshold of the expected goes to a worklist.
"""
import csv
import io
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from portal import audit, facility, money
from portal.extensions import db
from portal.iop.attendance import ImportResult
from portal.models import (
    AdjudicatedLine,
    ContractRate,
    InsurancePlan,
    Patient,
    Payer,
    Underpayment,
    UnderpaymentSettings,
    utcnow,
)


class UnderpaymentError(ValueError):
    """A request the worklist refuses (unknown status, missing note, already resolved)."""


def settings() -> UnderpaymentSettings:
    """The facility's rule: stored, or the column defaults unsaved (reading never writes)."""
    return facility.settings_row(UnderpaymentSettings)


def update_settings(*, threshold_bps: int, minimum_sample: int, lookback_days: int, actor: str,
                    ip: str | None = None, user_agent: str | None = None) -> dict:
    record = facility.save_settings(settings())
    changes = {}
    for name, value in (("threshold_bps", threshold_bps), ("minimum_sample", minimum_sample),
                        ("lookback_days", lookback_days)):
        if getattr(record, name) != value:
            changes[name] = [getattr(record, name), value]
            setattr(record, name, value)
    audit.record("underpayment_settings.updated", "underpayment_settings", actor=actor, object_id=record.id,
                 detail=changes, ip=ip, user_agent=user_agent)
    return changes


def median(values: list[int]) -> int:
    """The middle value; for an even count the mean of the two middle values, half-up to the cent."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return money.round_half_up(ordered[middle - 1] + ordered[middle], 2)


def per_unit(line) -> int:
    return money.round_half_up(line.allowed_cents, max(line.units, 1))


@dataclass
class Expectation:
    basis: str  # "contract" or "history"
    per_unit_cents: int
    sample_size: int = 0
    evidence_from: date | None = None
    evidence_to: date | None = None
    plan_level: bool = False
    contract_rate_id: int | None = None


def contract_rate_for(line: AdjudicatedLine) -> ContractRate | None:
    """The rate in force on the date of service; a plan's own rate beats the payer-wide one."""
    stmt = (select(ContractRate)
            .where(ContractRate.payer_id == line.payer_id, ContractRate.procedure_code == line.procedure_code,
                   ContractRate.effective_from <= line.service_date,
                   or_(ContractRate.effective_to.is_(None), ContractRate.effective_to >= line.service_date),
                   or_(ContractRate.plan_id.is_(None), ContractRate.plan_id == line.plan_id))
            # Plan-specific first (NULL sorts apart on each database, so sort on a flag), newest first.
            .order_by(ContractRate.plan_id.is_(None), ContractRate.effective_from.desc(), ContractRate.id.desc()))
    return db.session.scalars(stmt).first()


def _evidence(line: AdjudicatedLine, config: UnderpaymentSettings, *, plan: bool) -> list:
    """Lines the payer adjudicated before this line's remittance, inside the look-back window
    (only the figures the median needs: a busy payer has thousands)."""
    stmt = select(AdjudicatedLine.allowed_cents, AdjudicatedLine.units, AdjudicatedLine.service_date).where(
        AdjudicatedLine.payer_id == line.payer_id,
        AdjudicatedLine.procedure_code == line.procedure_code,
        AdjudicatedLine.paid_on < line.paid_on,
        AdjudicatedLine.paid_on >= line.paid_on - timedelta(days=config.lookback_days),
        AdjudicatedLine.denied.is_(False),
        AdjudicatedLine.reversed_on.is_(None),
        AdjudicatedLine.allowed_cents > 0,
        AdjudicatedLine.id != line.id,
    )
    if plan:
        stmt = stmt.where(AdjudicatedLine.plan_id == line.plan_id)
    return list(db.session.execute(stmt))


def expectation(line: AdjudicatedLine, config: UnderpaymentSettings | None = None) -> Expectation | None:
    """What this line should have been allowed per unit, or None when there is too little evidence."""
    config = config or settings()
    if rate := contract_rate_for(line):
        return Expectation("contract", rate.allowed_cents, contract_rate_id=rate.id)
    scopes = [True, False] if line.plan_id is not None else [False]
    for plan_level in scopes:
        sample = _evidence(line, config, plan=plan_level)
        if len(sample) >= config.minimum_sample:
            dates = [s.service_date for s in sample]
            return Expectation("history", median([per_unit(s) for s in sample]), len(sample), min(dates),
                               max(dates), plan_level)
    return None


def _is_candidate(line: AdjudicatedLine) -> bool:
    return not line.denied and line.reversed_on is None and line.allowed_cents > 0 and line.paid_cents >= 0


def check_line(line: AdjudicatedLine, *, config: UnderpaymentSettings, actor: str) -> Underpayment | None:
    """Flag one line if it is short; a line already on the worklist is left as it is."""
    if not _is_candidate(line):
        return None
    if db.session.scalar(select(Underpayment.id).where(Underpayment.line_id == line.id)):
        return None
    expected = expectation(line, config)
    if expected is None:
        return None
    expected_allowed = expected.per_unit_cents * max(line.units, 1)
    # The patient's share stays what the payer said it is; the payer owes the rest of the expected allowed.
    expected_paid = max(expected_allowed - line.patient_resp_cents, 0)
    limit = config.threshold_bps
    allowed_short = line.allowed_cents * money.BPS_DENOMINATOR < expected_allowed * limit
    paid_short = line.paid_cents * money.BPS_DENOMINATOR < expected_paid * limit
    shortfall = expected_paid - line.paid_cents
    if not (allowed_short or paid_short) or shortfall <= 0:
        return None
    item = Underpayment(line_id=line.id, basis=expected.basis, contract_rate_id=expected.contract_rate_id,
                        expected_allowed_cents=expected_allowed, expected_paid_cents=expected_paid,
                        shortfall_cents=shortfall, threshold_bps=limit, sample_size=expected.sample_size,
                        evidence_from=expected.evidence_from, evidence_to=expected.evidence_to,
                        plan_level=expected.plan_level, created_by=actor)
    db.session.add(item)
    return item


def check_lines(line_ids, *, actor: str = "system:underpayments") -> list[Underpayment]:
    """Check posted lines (called after an ERA is posted); returns the new worklist items."""
    config = settings()
    found = []
    for line in db.session.scalars(select(AdjudicatedLine).where(AdjudicatedLine.id.in_(list(line_ids)))
                                   .order_by(AdjudicatedLine.id)):
        if item := check_line(line, config=config, actor=actor):
            found.append(item)
    db.session.flush()
    return found


@dataclass
class ScanResult:
    since: date | None
    checked: int
    flagged: int
    shortfall_cents: int

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        where = f" paid since {self.since}" if self.since else ""
        return (f"checked {self.checked} line(s){where}: {self.flagged} new underpayment(s), "
                f"{money.format_usd(self.shortfall_cents)} short")


def scan(since: date | None = None, *, actor: str = "system:underpayments") -> ScanResult:
    """Backfill: check every line posted here (paid on or after `since`); rerunning adds nothing.
    History imported from an earlier system is evidence only: nothing here can appeal it."""
    stmt = (select(AdjudicatedLine.id).where(AdjudicatedLine.source != "import")
            .order_by(AdjudicatedLine.paid_on, AdjudicatedLine.id))
    if since:
        stmt = stmt.where(AdjudicatedLine.paid_on >= since)
    ids = list(db.session.scalars(stmt))
    found = []
    for start in range(0, len(ids), 500):
        found += check_lines(ids[start:start + 500], actor=actor)
    return ScanResult(since, len(ids), len(found), sum(i.shortfall_cents for i in found))


# ---------------------------------------------------------------- the worklist

def worklist(status: str = "open", payer_id: int | None = None) -> list[Underpayment]:
    stmt = (select(Underpayment).join(AdjudicatedLine, AdjudicatedLine.id == Underpayment.line_id)
            .where(Underpayment.status == status)
            .order_by(Underpayment.shortfall_cents.desc(), Underpayment.id))
    if payer_id:
        stmt = stmt.where(AdjudicatedLine.payer_id == payer_id)
    return list(db.session.scalars(stmt))


def patients_of(items: list[Underpayment]) -> dict[int, Patient]:
    ids = {i.line.patient_id for i in items if i.line.patient_id}
    return {p.id: p for p in db.session.scalars(select(Patient).where(Patient.id.in_(ids)))} if ids else {}


def open_count() -> int:
    return db.session.scalar(select(func.count(Underpayment.id)).where(Underpayment.status == "open"))


def resolve(item: Underpayment, status: str, note: str, *, actor: str,
            ip: str | None = None, user_agent: str | None = None) -> Underpayment:
    """Mark an item appealed or accepted, with the reason; audited."""
    note = (note or "").strip()
    if status not in ("appealed", "accepted"):
        raise UnderpaymentError("Choose appealed or accepted.")
    if not note:
        raise UnderpaymentError("Add a note saying why.")
    if item.status != "open":
        raise UnderpaymentError(f"This line is already marked {item.status}.")
    item.status, item.note, item.resolved_by, item.resolved_at = status, note, actor, utcnow()
    audit.record(f"underpayment.{status}", "underpayment", actor=actor, object_id=item.id,
                 patient_id=item.line.patient_id, detail={"note": note, "shortfall_cents": item.shortfall_cents},
                 ip=ip, user_agent=user_agent)
    return item


# ---------------------------------------------------------------- contract rates

def add_contract_rate(*, payer_id: int, plan_id: int | None, procedure_code: str, allowed_cents: int,
                      effective_from: date, effective_to: date | None, actor: str,
                      ip: str | None = None, user_agent: str | None = None) -> ContractRate:
    code = (procedure_code or "").strip().upper()
    if not code:
        raise UnderpaymentError("Enter a procedure code.")
    if allowed_cents <= 0:
        raise UnderpaymentError("The allowed amount must be more than zero.")
    if effective_to and effective_to < effective_from:
        raise UnderpaymentError("The last day is before the first day.")
    rate = ContractRate(payer_id=payer_id, plan_id=plan_id, procedure_code=code, allowed_cents=allowed_cents,
                        effective_from=effective_from, effective_to=effective_to, created_by=actor)
    db.session.add(rate)
    db.session.flush()
    audit.record("contract_rate.added", "contract_rate", actor=actor, object_id=rate.id,
                 detail={"payer_id": payer_id, "plan_id": plan_id, "code": code, "allowed_cents": allowed_cents,
                         "from": effective_from.isoformat(),
                         "to": effective_to.isoformat() if effective_to else None},
                 ip=ip, user_agent=user_agent)
    return rate


RATE_COLUMNS = ("payer", "plan", "code", "allowed", "from", "to")


def import_contract_rates(text: str, *, actor: str) -> ImportResult:
    """Contract rates from CSV (payer,plan,code,allowed,from,to); any bad row and nothing is kept."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in RATE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(RATE_COLUMNS)}")
        return result
    payers: dict[str, int] = {}
    for payer in db.session.scalars(select(Payer)):
        payers[payer.name.lower()] = payer.id
        if payer.x12_payer_id:
            payers[payer.x12_payer_id.lower()] = payer.id
    plans = {(p.payer_id, p.name.lower()): p.id for p in db.session.scalars(select(InsurancePlan))}
    for line, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k}
        try:
            payer_id = payers.get(row["payer"].lower())
            if payer_id is None:
                raise UnderpaymentError(f"unknown payer {row['payer']!r}")
            plan_id = None
            if row["plan"]:
                plan_id = plans.get((payer_id, row["plan"].lower()))
                if plan_id is None:
                    raise UnderpaymentError(f"{row['payer']} has no plan {row['plan']!r}")
            try:
                allowed = money.parse_cents(row["allowed"])
            except ValueError:
                raise UnderpaymentError(f"allowed {row['allowed']!r} is not an amount like 650.00") from None
            try:
                start = date.fromisoformat(row["from"])
                end = date.fromisoformat(row["to"]) if row["to"] else None
            except ValueError:
                raise UnderpaymentError("dates must look like 2026-01-01") from None
            add_contract_rate(payer_id=payer_id, plan_id=plan_id, procedure_code=row["code"], allowed_cents=allowed,
                              effective_from=start, effective_to=end, actor=actor)
            result.imported += 1
        except UnderpaymentError as exc:
            result.errors.append(f"line {line}: {exc}")
    if not result.imported and not result.errors:
        result.errors.append("the file has no rows")
    if result.errors:
        db.session.rollback()
        result.imported = 0
        return result
    db.session.flush()
    return result


def contract_rates() -> list[ContractRate]:
    return list(db.session.scalars(select(ContractRate).order_by(ContractRate.payer_id, ContractRate.procedure_code,
                                                                 ContractRate.effective_from.desc())))


# ---------------------------------------------------------------- drift per payer

@dataclass
class DriftCell:
    month: str  # "2026-10"
    median_cents: int
    lines: int


def drift(payer_id: int, *, months: int = 12, today: date) -> dict[str, list[DriftCell]]:
    """Median allowed per unit, per month of service, per code, for one payer's last `months` months."""
    first = date(today.year, today.month, 1)
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    rows = db.session.scalars(select(AdjudicatedLine).where(
        AdjudicatedLine.payer_id == payer_id, AdjudicatedLine.service_date >= first,
        AdjudicatedLine.denied.is_(False), AdjudicatedLine.reversed_on.is_(None),
        AdjudicatedLine.allowed_cents > 0))
    grouped: dict[str, dict[str, list[int]]] = {}
    for line in rows:
        grouped.setdefault(line.procedure_code, {}).setdefault(line.service_date.strftime("%Y-%m"), []).append(
            per_unit(line))
    return {code: [DriftCell(month, median(values), len(values)) for month, values in sorted(by_month.items())]
            for code, by_month in sorted(grouped.items())}
