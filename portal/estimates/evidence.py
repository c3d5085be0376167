"""Evidence from payment history, aggregated in SQL: weighted percentiles per series and a histogram."""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import ngettext
from sqlalchemy import Date, Float, and_, case, cast, func, literal, or_, select

from portal import money
from portal.estimates.config import BASIS_NAMES, SAMPLE_LINES, VALID_STATUSES
from portal.extensions import db
from portal.models import (
    FALLBACK_STOPS,
    AdjudicatedLine,
    EstimateSettings,
    Payer,
)

# ---------------------------------------------------------------- evidence, aggregated in SQL


def effective_n(sum_w: float, sum_w2: float) -> float:
    """Kish's effective sample size, (sum of weights)^2 / sum of squared weights."""
    return round(sum_w * sum_w / sum_w2, 1) if sum_w2 else 0.0


@dataclass
class Step:
    level: str
    label: str
    n: int
    used: bool
    reason: str


@dataclass
class Evidence:
    level: str
    label: str
    n: int
    effective_n: float
    first_paid: str
    last_paid: str
    denials: int
    denial_rate_bps: int
    allowed: dict  # low/mid/high per day or session, cents
    paid: dict
    patient_resp: dict | None  # None when not needed (benefits given; in network)
    balance_bill: dict | None
    histogram: list = field(default_factory=list)  # [{"from", "to", "share_bps"}] of allowed per unit
    lines: list = field(default_factory=list)  # the most recent lines of the sample


SERIES = ("allowed", "paid", "patient_resp", "balance_bill")
line = AdjudicatedLine
DENIAL = or_(line.denied.is_(True), line.claim_status == "4", line.allowed_cents <= 0)


def _scopes(payer: Payer | None, plan_id: int | None, stop: str):
    """The ladder plan -> payer -> payer type -> all, cut after `stop` (the facility's fallback setting)."""
    if payer is None:
        return [("all", None)]
    scopes = [("plan", and_(line.payer_id == payer.id, line.plan_id == plan_id))] if plan_id else []
    scopes.append(("payer", line.payer_id == payer.id))
    scopes.append(("payer_type", line.payer_id.in_(
        select(Payer.id).where(Payer.payer_type == payer.payer_type).scalar_subquery())))
    scopes.append(("all", None))
    widest = max(FALLBACK_STOPS.index(stop), FALLBACK_STOPS.index(scopes[0][0]))  # "plan" without a plan: payer
    return [scope for scope in scopes if FALLBACK_STOPS.index(scope[0]) <= widest]


def _conditions(level: str, scope, before: date, lookback_days: int) -> list:
    conditions = [
        line.level_of_care == level, line.paid_on < before, line.paid_on >= before - timedelta(days=lookback_days),
        or_(line.claim_status.is_(None), line.claim_status.in_(VALID_STATUSES)),
        # A reversal known by then takes the line back; one that came later was not known yet.
        or_(line.reversed_on.is_(None), line.reversed_on >= before),
    ]
    return conditions if scope is None else [*conditions, scope]


def _per_unit(cents):
    """Per day or session, rounded half-up in SQL (amounts are never negative here)."""
    return (cents * 2 + line.units) // (line.units * 2)


def _age_days(day: date):
    if db.engine.dialect.name == "sqlite":
        return func.julianday(day.isoformat()) - func.julianday(line.paid_on)
    return cast(literal(day, Date) - line.paid_on, Float)


def _quartiles(conditions: list, day: date, half_life_days: int, series: tuple[str, ...]):
    """One query: n, denials, weights, period and the weighted quartiles of each series asked for.

    Denials stay in the scan (to be counted) with no value and no weight, so they never move a quartile.
    The q-th quartile is the smallest value whose running weight, in that series' order, reaches q x total.
    """
    weight = case((DENIAL, 0.0), else_=func.power(0.5, _age_days(day) / half_life_days))
    amounts = {"allowed": line.allowed_cents, "paid": line.paid_cents, "patient_resp": line.patient_resp_cents,
               "balance_bill": case((line.billed_cents > line.allowed_cents, line.billed_cents - line.allowed_cents),
                                    else_=0)}
    sample = select(*(case((DENIAL, None), else_=_per_unit(amounts[key])).label(key) for key in series),
                    weight.label("w"), case((DENIAL, None), else_=line.paid_on).label("paid_on")
                    ).where(*conditions).subquery()
    running = [func.sum(sample.c.w).over(order_by=sample.c[key], rows=(None, 0)).label(f"cum_{key}")
               for key in series]
    ranked = select(*sample.c, func.sum(sample.c.w).over().label("total"), *running).subquery()
    quartiles = [func.min(ranked.c[key]).filter(ranked.c[f"cum_{key}"] >= ranked.c.total * (q * (1 - 1e-12) / 100))
                 for key in series for q in (25, 50, 75)]
    return db.session.execute(select(
        func.count(ranked.c.paid_on), func.count(), func.sum(ranked.c.w), func.sum(ranked.c.w * ranked.c.w),
        func.min(ranked.c.paid_on), func.max(ranked.c.paid_on), *quartiles)).one()


def _evidence(name: str, row, conditions: list, before: date, config: EstimateSettings, series: tuple[str, ...],
              detail: bool) -> Evidence:
    n, scanned, sum_w, sum_w2, first, last = row[:6]
    values = [None if v is None else int(v) for v in row[6:]]
    ranges = dict.fromkeys(SERIES)  # series not asked for stay None
    ranges.update({key: dict(zip(("low", "mid", "high"), values[i * 3:i * 3 + 3])) for i, key in enumerate(series)})
    denials = scanned - n
    evidence = Evidence(level=name, label=str(BASIS_NAMES[name]), n=n, effective_n=effective_n(sum_w, sum_w2),
                        first_paid=str(first), last_paid=str(last), denials=denials,
                        denial_rate_bps=money.round_half_up(denials * 10000, scanned), **ranges)
    if detail:
        evidence.histogram = _histogram(conditions, before - timedelta(days=1), config)
        evidence.lines = [
            {"paid_on": r.paid_on.isoformat(), "units": r.units, "billed_cents": r.billed_cents,
             "allowed_cents": r.allowed_cents, "paid_cents": r.paid_cents, "patient_resp_cents": r.patient_resp_cents}
            for r in db.session.execute(
                select(line.paid_on, line.units, line.billed_cents, line.allowed_cents, line.paid_cents,
                       line.patient_resp_cents).where(*conditions, ~DENIAL)
                .order_by(line.paid_on.desc(), line.id.desc()).limit(SAMPLE_LINES))]
    return evidence


def _histogram(conditions: list, day: date, config: EstimateSettings, bins: int = 10):
    """Share of the weighted sample in ten equal bands of allowed per unit, for the chart."""
    per_unit = _per_unit(line.allowed_cents)
    low, high = (int(v) for v in db.session.execute(
        select(func.min(per_unit), func.max(per_unit)).where(*conditions, ~DENIAL)).one())
    width = max((high - low + bins - 1) // bins, 1)
    band = (_per_unit(line.allowed_cents) - low) // width
    weights = [0.0] * bins
    for index, total in db.session.execute(
            select(band, func.sum(func.power(0.5, _age_days(day) / config.half_life_days)))
            .where(*conditions, ~DENIAL).group_by(band)):
        weights[min(int(index), bins - 1)] += total
    whole = sum(weights)
    return [{"from": low + i * width, "to": low + (i + 1) * width, "share_bps": round(weights[i] / whole * 10000)}
            for i in range(bins)]


def gather(level: str, payer: Payer | None, plan_id: int | None, before: date, config: EstimateSettings,
           *, series: tuple[str, ...] = SERIES, detail: bool = False) -> tuple[Evidence | None, list[Step]]:
    """The evidence for an estimate made on the day before `before` (lines paid before it only)."""
    steps: list[Step] = []
    scopes = _scopes(payer, plan_id, config.fallback_stop)
    for index, (name, scope) in enumerate(scopes):
        last = index == len(scopes) - 1
        conditions = _conditions(level, scope, before, config.lookback_days)
        row = _quartiles(conditions, before - timedelta(days=1), config.half_life_days, series)
        # The label and reason are saved with the estimate: plain text, in the language of the page asking.
        n, label, minimum = row[0], str(BASIS_NAMES[name]), config.minimum_sample
        if n >= minimum or (last and n > 0):
            reason = (ngettext("%(num)d payment, at least the minimum of %(minimum)d",
                               "%(num)d payments, at least the minimum of %(minimum)d", n, minimum=minimum)
                      if n >= minimum else
                      ngettext("only %(num)d payment in all; fewer than %(minimum)d, read with care",
                               "only %(num)d payments in all; fewer than %(minimum)d, read with care", n,
                               minimum=minimum))
            steps.append(Step(name, label, n, True, reason))
            return _evidence(name, row, conditions, before, config, series, detail), steps
        steps.append(Step(name, label, n, False,
                          ngettext("%(num)d payment, fewer than the minimum of %(minimum)d",
                                   "%(num)d payments, fewer than the minimum of %(minimum)d", n, minimum=minimum)
                          if last else
                          ngettext("%(num)d payment, fewer than the minimum of %(minimum)d: widened",
                                   "%(num)d payments, fewer than the minimum of %(minimum)d: widened", n,
                                   minimum=minimum)))
    return None, steps
