"""Estimates from what payers actually allowed and paid (rules.md §5), and the patient's share (§2).

Evidence is one adjudicated line (`AdjudicatedLine`) of the requested level of care, normalized to one
day or session (allowed / units). Reversed lines and reversals are not evidence; denials (CLP02 4, the
`denied` flag, or nothing allowed) are counted apart as a denial rate. Recent payments weigh more:
weight = 0.5 ** (age_days / half_life_days), the age counted from the payment date.

Weighted percentile (the definition the tests pin): sort the values; the q-th percentile is the smallest
observed value at which the cumulative weight reaches q x the total weight. It is always a figure a
payer really allowed (never interpolated), and with equal weights p50 is the lower median. It is computed
in SQL (window sums over the sample), so only one row per query comes back, whatever the sample size.

The sample is the narrowest of plan -> payer -> payer type -> all payers that holds at least the
minimum sample (a setting); each step and why it was left is reported. No evidence at all: no figure.
"""
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, Float, and_, case, cast, func, literal, or_, select

from portal import money
from portal.extensions import db
from portal.models import (
    LEVELS_OF_CARE,
    AdjudicatedLine,
    Estimate,
    EstimateSettings,
    InsurancePlan,
    Lead,
    Patient,
    Payer,
)
from portal.services import audit, facility

LEVEL_NAMES = {"iop": "Intensive outpatient (IOP)", "php": "Partial hospitalization (PHP)",
               "outpatient": "Outpatient therapy", "residential": "Residential", "other": "Other services"}
UNIT_NAMES = {"outpatient": "session"}  # per-diem levels count days, outpatient counts sessions
BASIS_NAMES = {"plan": "this plan", "payer": "this insurer (all its plans)", "payer_type": "insurers of this type",
               "all": "all insurers"}
PROCESSED = ("1", "2", "3", "19", "20", "21")  # CLP02 processed; 4 denied; 22 (reversal), 23 (not ours) ignored
VALID_STATUSES = (*PROCESSED, "4")
SAMPLE_LINES = 25


class EstimateError(ValueError):
    """A request the estimator cannot answer as asked, with a message fit to show."""


def settings() -> EstimateSettings:
    fac = facility.current()
    found = db.session.scalar(select(EstimateSettings).where(EstimateSettings.facility_id == fac.id))
    if found is None:
        found = EstimateSettings(facility_id=fac.id, half_life_days=365, minimum_sample=20, lookback_days=1095,
                                 waive_balance_bill=False, gfe_dispute_threshold_cents=40000)
        db.session.add(found)
        db.session.commit()
    return found


def unit_name(level: str) -> str:
    return UNIT_NAMES.get(level, "day")


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


def _scopes(payer: Payer | None, plan_id: int | None):
    if payer is None:
        return [("all", None)]
    scopes = [("plan", and_(line.payer_id == payer.id, line.plan_id == plan_id))] if plan_id else []
    scopes.append(("payer", line.payer_id == payer.id))
    scopes.append(("payer_type", line.payer_id.in_(
        select(Payer.id).where(Payer.payer_type == payer.payer_type).scalar_subquery())))
    scopes.append(("all", None))
    return scopes


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
    ranges = {key: None for key in SERIES}  # series not asked for stay None
    ranges.update({key: dict(zip(("low", "mid", "high"), values[i * 3:i * 3 + 3])) for i, key in enumerate(series)})
    denials = scanned - n
    evidence = Evidence(level=name, label=BASIS_NAMES[name], n=n, effective_n=effective_n(sum_w, sum_w2),
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
    for name, scope in _scopes(payer, plan_id):
        conditions = _conditions(level, scope, before, config.lookback_days)
        row = _quartiles(conditions, before - timedelta(days=1), config.half_life_days, series)
        n, label = row[0], BASIS_NAMES[name]
        if n >= config.minimum_sample or (name == "all" and n > 0):
            reason = (f"{n} payments, at least the minimum of {config.minimum_sample}" if n >= config.minimum_sample
                      else f"only {n} payments in all; fewer than {config.minimum_sample}, read with care")
            steps.append(Step(name, label, n, True, reason))
            return _evidence(name, row, conditions, before, config, series, detail), steps
        steps.append(Step(name, label, n, False,
                          f"{n} payments, fewer than the minimum of {config.minimum_sample}: widened"))
    return None, steps


# ---------------------------------------------------------------- the patient's share (rules.md §2)


@dataclass
class Benefits:
    in_network: bool = True
    copay_cents: int = 0  # per day or visit
    copay_waives_deductible: bool = False
    deductible_remaining_cents: int = 0
    coinsurance_bps: int = 0
    oop_remaining_cents: int | None = None  # None: no out-of-pocket maximum known

    def validate(self) -> None:
        if min(self.copay_cents, self.deductible_remaining_cents, self.oop_remaining_cents or 0) < 0:
            raise EstimateError("Benefit amounts cannot be negative.")
        if not 0 <= self.coinsurance_bps <= 10000:
            raise EstimateError("Coinsurance must be between 0% and 100%.")


@dataclass
class ShareDay:
    day: int
    allowed: int
    copay: int
    deductible: int
    coinsurance: int
    patient: int  # the plan's cost sharing, after the out-of-pocket cap
    payer: int
    balance_bill: int
    deductible_left: int
    oop_left: int | None
    capped: bool


def apply_benefits(allowed: int, days: int, benefits: Benefits, *, balance_bill: int = 0) -> list[ShareDay]:
    """Rules.md §2 day by day: copay, deductible, coinsurance, then the out-of-pocket cap."""
    deductible_left, oop_left = benefits.deductible_remaining_cents, benefits.oop_remaining_cents
    lines = []
    for day in range(1, days + 1):
        copay = min(benefits.copay_cents, allowed)
        deductible = 0 if copay and benefits.copay_waives_deductible else min(deductible_left, allowed - copay)
        coinsurance = money.pct(allowed - copay - deductible, benefits.coinsurance_bps)
        capped = oop_left is not None and copay + deductible + coinsurance > oop_left
        if capped:  # reduce coinsurance first, then deductible, then copay
            excess = copay + deductible + coinsurance - oop_left
            cut = min(coinsurance, excess)
            coinsurance, excess = coinsurance - cut, excess - cut
            cut = min(deductible, excess)
            deductible, excess = deductible - cut, excess - cut
            copay -= excess
        patient = copay + deductible + coinsurance
        deductible_left -= deductible
        if oop_left is not None:
            oop_left -= patient
        lines.append(ShareDay(day, allowed, copay, deductible, coinsurance, patient, allowed - patient,
                              balance_bill, deductible_left, oop_left, capped))
    return lines


# ---------------------------------------------------------------- the estimate


@dataclass
class Request:
    level: str
    days: int
    payer_id: int | None = None  # None: self-pay / uninsured
    plan_id: int | None = None
    benefits: Benefits | None = None

    def as_dict(self) -> dict:
        return {"level": self.level, "days": self.days, "payer_id": self.payer_id, "plan_id": self.plan_id,
                "benefits": asdict(self.benefits) if self.benefits else None}


@dataclass
class Result:
    request: Request
    as_of: date
    payer_name: str | None
    plan_name: str | None
    unit: str
    evidence: Evidence | None
    steps: list[Step]
    message: str
    # Per scenario (low/mid/high): totals over the stay, in cents.
    allowed_total: dict = field(default_factory=dict)
    paid_total: dict = field(default_factory=dict)
    patient_total: dict = field(default_factory=dict)
    balance_bill_total: dict = field(default_factory=dict)
    share_basis: str = ""  # "benefits" or "history"
    arithmetic: dict = field(default_factory=dict)  # scenario -> [ShareDay as dict]

    @property
    def has_data(self) -> bool:
        return self.evidence is not None

    def as_dict(self) -> dict:
        return {
            "request": self.request.as_dict(), "as_of": self.as_of.isoformat(), "payer": self.payer_name,
            "plan": self.plan_name, "unit": self.unit, "has_data": self.has_data, "message": self.message,
            "evidence": asdict(self.evidence) if self.evidence else None,
            "fallback": [asdict(s) for s in self.steps], "share_basis": self.share_basis,
            "allowed_total_cents": self.allowed_total, "paid_total_cents": self.paid_total,
            "patient_total_cents": self.patient_total, "balance_bill_total_cents": self.balance_bill_total,
            "arithmetic": self.arithmetic,
        }

    def summary(self) -> str:
        if not self.has_data:
            return self.message
        ev, usd = self.evidence, money.format_usd
        lines = [self.message,
                 f"  allowed per {self.unit}: {usd(ev.allowed['low'])} / {usd(ev.allowed['mid'])} / "
                 f"{usd(ev.allowed['high'])} (25th/50th/75th percentile)",
                 f"  based on {ev.label}: n={ev.n}, effective n={ev.effective_n}, paid {ev.first_paid} to "
                 f"{ev.last_paid}; denial rate {ev.denial_rate_bps / 100:.1f}%",
                 f"  patient's share for {self.request.days} {self.unit}s ({self.share_basis}): "
                 f"{usd(self.patient_total['low'])} to {usd(self.patient_total['high'])} "
                 f"(most likely {usd(self.patient_total['mid'])})"]
        lines += [f"  step {s.level}: {s.reason}" for s in self.steps]
        return "\n".join(lines)


def estimate(request: Request, *, as_of: date, before: date | None = None, detail: bool = False) -> Result:
    """The estimate for a stay starting after `as_of`; evidence is what was paid by then (or before `before`)."""
    if request.level not in LEVELS_OF_CARE:
        raise EstimateError(f"Unknown level of care {request.level!r}; choose one of {', '.join(LEVELS_OF_CARE)}.")
    if not 1 <= request.days <= 366:
        raise EstimateError("The number of days or sessions must be between 1 and 366.")
    payer = db.session.get(Payer, request.payer_id) if request.payer_id else None
    if request.payer_id and payer is None:
        raise EstimateError("Unknown insurer.")
    plan = db.session.get(InsurancePlan, request.plan_id) if request.plan_id else None
    if request.plan_id and (plan is None or payer is None or plan.payer_id != payer.id):
        raise EstimateError("The plan does not belong to the insurer.")
    if request.benefits:
        request.benefits.validate()
    config = settings()
    oon = request.benefits is not None and not request.benefits.in_network and not config.waive_balance_bill
    # The patient's share comes from the benefits when given (plus the balance bill out of network), else from
    # what patients owed: the quartiles of the other series are not computed.
    if request.benefits is None:
        series = ("allowed", "paid", "patient_resp")
    else:
        series = ("allowed", "paid", "balance_bill") if oon else ("allowed", "paid")
    evidence, steps = gather(request.level, payer, request.plan_id, before or as_of + timedelta(days=1), config,
                             series=SERIES if detail else series, detail=detail)
    unit = unit_name(request.level)
    result = Result(request, as_of, payer.name if payer else None, plan.name if plan else None, unit, evidence,
                    steps, "")
    if evidence is None:
        result.message = (f"Not enough history: no {LEVEL_NAMES[request.level]} payments on record to estimate "
                          "from, so we give no figure.")
        return result
    days = request.days
    for scenario in ("low", "mid", "high"):
        allowed = evidence.allowed[scenario]
        result.allowed_total[scenario] = allowed * days
        bb = evidence.balance_bill[scenario] if oon else 0
        if request.benefits is not None:
            lines = apply_benefits(allowed, days, request.benefits, balance_bill=bb)
            result.arithmetic[scenario] = [asdict(line) for line in lines]
            result.patient_total[scenario] = sum(line.patient + line.balance_bill for line in lines)
            result.paid_total[scenario] = sum(line.payer for line in lines)
            result.balance_bill_total[scenario] = bb * days
        else:
            result.patient_total[scenario] = evidence.patient_resp[scenario] * days
            result.paid_total[scenario] = evidence.paid[scenario] * days
            result.balance_bill_total[scenario] = 0
    result.share_basis = "benefits" if request.benefits is not None else "history"
    result.message = (f"Estimate for {days} {unit}s of {LEVEL_NAMES[request.level]}"
                      + (f" with {payer.name}" if payer else " (all insurers)")
                      + (f", {plan.name}" if plan else "") + f", based on {evidence.label}.")
    return result


# ---------------------------------------------------------------- leads and saved estimates


def create_lead(*, name: str, phone: str | None, email: str | None, consent: bool, consent_text: str | None,
                payer_id: int | None, level: str | None, source: str, actor: str,
                date_of_birth: date | None = None, notes: str | None = None) -> Lead:
    if not name.strip():
        raise EstimateError("Enter a name.")
    if not (phone or email):
        raise EstimateError("Enter a phone number or an email address so we can reach you.")
    if source == "public" and not consent:
        raise EstimateError("Tick the box to let us contact you.")
    lead = Lead(name=name.strip(), phone=(phone or "").strip() or None, email=(email or "").strip() or None,
                contact_consent=consent, consent_text=consent_text if consent else None, payer_id=payer_id,
                level_of_care=level, source=source, status="new", date_of_birth=date_of_birth, notes=notes,
                created_by=actor)
    db.session.add(lead)
    db.session.flush()
    audit.record("lead.created", "lead", actor=actor, object_id=lead.id, detail={"source": source}, commit=False)
    db.session.commit()
    return lead


def save(result: Result, *, actor: str, lead: Lead | None = None, patient: Patient | None = None) -> Estimate:
    """Keep an estimate as it was shown, on a lead or a patient (and so on the patient's account)."""
    if lead is None and patient is None:
        raise EstimateError("Save the estimate to a prospect or a patient.")
    if lead is not None and patient is None:
        patient = lead.patient
    saved = Estimate(
        lead_id=lead.id if lead else None, patient_id=patient.id if patient else None,
        account_id=patient.account_id if patient else None, payer_id=result.request.payer_id,
        plan_id=result.request.plan_id, level_of_care=result.request.level, days=result.request.days,
        as_of=result.as_of, basis_level=result.evidence.level if result.evidence else None,
        patient_low_cents=result.patient_total.get("low"), patient_mid_cents=result.patient_total.get("mid"),
        patient_high_cents=result.patient_total.get("high"), inputs=result.request.as_dict(),
        result=result.as_dict(), created_by=actor)
    db.session.add(saved)
    db.session.flush()
    audit.record("estimate.saved", "estimate", actor=actor, object_id=saved.id,
                 patient_id=saved.patient_id, account_id=saved.account_id,
                 detail={"lead_id": saved.lead_id}, commit=False)
    db.session.commit()
    return saved


def admit(lead: Lead, *, actor: str, patient: Patient | None = None, first_name: str = "", last_name: str = "",
          date_of_birth: date | None = None) -> Patient:
    """Admit a prospect: link an existing patient, or create the account and patient; estimates follow."""
    from portal.models import Account

    if lead.status == "admitted" and lead.patient_id:
        raise EstimateError("This prospect is already admitted.")
    if patient is None:
        first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
        if not first_name or not last_name or date_of_birth is None:
            raise EstimateError("Enter the patient's first and last name and date of birth.")
        # Numbered from the id once it exists; a unique placeholder until then.
        account = Account(facility_id=facility.current().id, number=f"N{uuid.uuid4().hex[:12]}",
                          guarantor_name=lead.name, email=lead.email, phone=lead.phone)
        db.session.add(account)
        db.session.flush()
        account.number = f"A-{20000 + account.id}"
        patient = Patient(account=account, mrn=f"N{uuid.uuid4().hex[:12]}", first_name=first_name,
                          last_name=last_name, date_of_birth=date_of_birth)
        db.session.add(patient)
        db.session.flush()
        patient.mrn = f"MRN{5000 + patient.id}"
    lead.patient_id, lead.status = patient.id, "admitted"
    for saved in lead.estimates:
        saved.patient_id, saved.account_id = patient.id, patient.account_id
    audit.record("lead.admitted", "lead", actor=actor, object_id=lead.id, patient_id=patient.id,
                 account_id=patient.account_id, commit=False)
    db.session.commit()
    return patient


def for_account(account_id: int) -> list[Estimate]:
    return list(db.session.scalars(select(Estimate).where(Estimate.account_id == account_id)
                                   .order_by(Estimate.id.desc())))


# ---------------------------------------------------------------- backtest


def _median(values: list[int]) -> int | None:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else None  # the lower median: an observed value


def _score(pairs: list[tuple[int, int]]) -> dict:
    """Accuracy of (estimate, actual) pairs: share within ±10% / ±15%, median absolute error."""
    def within(pct: int) -> int:
        hits = sum(1 for est, actual in pairs if abs(est - actual) * 100 <= pct * actual)
        return money.round_half_up(hits * 10000, len(pairs)) if pairs else 0

    errors_bps = [money.round_half_up(abs(est - actual) * 10000, actual) for est, actual in pairs if actual > 0]
    return {"episodes": len(pairs), "within_10_bps": within(10), "within_15_bps": within(15),
            "median_abs_error_cents": _median([abs(est - actual) for est, actual in pairs]),
            "median_abs_error_bps": _median(errors_bps)}


def backtest(since: date | None = None) -> dict:
    """Estimate each past episode from the lines paid before its first date of service only, and score it.

    An episode is the evidence lines (not denied, not reversed) sharing an `episode_key`; its days are their
    units. The estimate uses no benefits (none are on record for past stays): the payer's and the
    patient's medians per day times the days, compared with what the payer paid and the patient owed.
    """
    query = (
        select(line.episode_key, func.min(line.payer_id), func.min(line.plan_id), func.min(line.level_of_care),
               func.min(line.service_date), func.sum(line.units), func.sum(line.paid_cents),
               func.sum(line.patient_resp_cents))
        .where(line.episode_key.is_not(None), line.level_of_care.is_not(None), line.reversed_on.is_(None),
               line.denied.is_(False), line.allowed_cents > 0,
               or_(line.claim_status.is_(None), line.claim_status.in_(PROCESSED)))
        .group_by(line.episode_key).order_by(func.min(line.service_date), line.episode_key)
    )
    if since:
        query = query.having(func.min(line.service_date) >= since)
    payers = {p.id: p.name for p in db.session.scalars(select(Payer))}
    episodes, mix = [], {}
    for key, payer_id, plan_id, level, first_day, days, paid, patient in db.session.execute(query).all():
        result = estimate(Request(level=level, days=int(days), payer_id=payer_id, plan_id=plan_id),
                          as_of=first_day - timedelta(days=1), before=first_day)
        basis = result.evidence.level if result.evidence else "none"
        mix[basis] = mix.get(basis, 0) + 1
        if result.evidence is None:
            continue
        episodes.append({"episode": key, "payer": payers[payer_id], "level": level, "first_day": first_day.isoformat(),
                         "days": int(days), "basis": basis, "n": result.evidence.n,
                         "paid_estimate": result.paid_total["mid"], "paid_actual": int(paid),
                         "patient_estimate": result.patient_total["mid"], "patient_actual": int(patient)})

    def scores(items):
        return {"paid": _score([(e["paid_estimate"], e["paid_actual"]) for e in items]),
                "patient": _score([(e["patient_estimate"], e["patient_actual"]) for e in items])}

    by_payer = {name: scores([e for e in episodes if e["payer"] == name])
                for name in sorted({e["payer"] for e in episodes})}
    return {"since": since.isoformat() if since else None, "episodes_scored": len(episodes),
            "episodes_without_history": mix.get("none", 0), "overall": scores(episodes), "by_payer": by_payer,
            "fallback_mix": mix, "episodes": episodes}


def backtest_summary(report: dict) -> str:
    def row(label, s):
        return (f"  {label:28} {s['episodes']:5} episodes  within ±10%: {s['within_10_bps'] / 100:5.1f}%  "
                f"±15%: {s['within_15_bps'] / 100:5.1f}%  median error "
                f"{money.format_usd(s['median_abs_error_cents'] or 0)} "
                f"({(s['median_abs_error_bps'] or 0) / 100:.1f}%)")

    lines = [f"backtest: {report['episodes_scored']} episodes scored, "
             f"{report['episodes_without_history']} without earlier history",
             row("payer paid, all payers", report["overall"]["paid"]),
             row("patient owed, all payers", report["overall"]["patient"])]
    for name, s in report["by_payer"].items():
        lines += [row(f"paid: {name}"[:28], s["paid"]), row(f"owed: {name}"[:28], s["patient"])]
    lines.append("  fallback mix: " + ", ".join(f"{k} {v}" for k, v in sorted(report["fallback_mix"].items())))
    return "\n".join(lines)


def update_settings(config: EstimateSettings, *, actor: str, **values) -> None:
    changes = {k: [getattr(config, k), v] for k, v in values.items() if getattr(config, k) != v}
    for key, (_, new) in changes.items():
        setattr(config, key, new)
    if changes:
        audit.record("estimate_settings.updated", "estimate_settings", actor=actor, object_id=config.id,
                     detail=changes, commit=False)
    db.session.commit()



# ---------------------------------------------------------------- demo history


DEMO_RATES = {  # payer x12 id -> level -> allowed per unit two years ago, cents
    "BHH01": {"iop": 62000, "php": 98000, "outpatient": 14500},
    "SMM02": {"iop": 54000, "php": 88000, "outpatient": 12000},
    "SMP03": {"iop": 31000, "php": 52000, "outpatient": 8200},
    "KSC04": {"iop": 70000, "php": 110000, "outpatient": 16000},
}
DEMO_LEVELS = {"iop": ("S9480", "0905", 95000, (10, 30)), "php": ("H0035", "0913", 140000, (5, 15)),
               "outpatient": ("90837", "0914", 25000, (4, 12))}
DEMO_EPISODES = {"iop": 45, "php": 20, "outpatient": 35}  # per payer


def seed_demo(today: date, *, seed: int = 2026) -> int:
    """Two years of adjudicated history for the demo payers (deterministic); returns the lines added."""
    import random

    from sqlalchemy import insert

    from portal.models import BillingCode

    if db.session.scalar(select(AdjudicatedLine.id).where(AdjudicatedLine.source_key.like("demo:%")).limit(1)):
        return 0
    if db.session.scalar(select(Payer).where(Payer.x12_payer_id == "KSC04")) is None:
        keystone = Payer(name="Keystone Care", x12_payer_id="KSC04", payer_type="commercial")
        db.session.add_all([keystone, InsurancePlan(payer=keystone, name="Keystone Gold PPO")])
    if db.session.scalar(select(BillingCode).where(BillingCode.code == "H0035")) is None:
        db.session.add(BillingCode(code="H0035", description="Mental health partial hospitalization, per diem",
                                   revenue_code="0913", kind="billable", level_of_care="php",
                                   default_price_cents=140000))
    db.session.flush()
    rng = random.Random(seed)
    rows = []
    for payer in db.session.scalars(select(Payer).where(Payer.x12_payer_id.in_(DEMO_RATES)).order_by(Payer.id)):
        plan_ids = [p.id for p in payer.plans] or [None]
        in_network = payer.x12_payer_id != "SMM02"
        for level, count in DEMO_EPISODES.items():
            code, revenue, price, (shortest, longest) = DEMO_LEVELS[level]
            for number in range(count):
                start = today - timedelta(days=rng.randint(60, 730))
                days = rng.randint(shortest, longest)
                plan_id = rng.choice(plan_ids)
                benefits = Benefits(in_network=in_network, copay_cents=rng.choice([0, 0, 0, 3000, 5000]),
                                    deductible_remaining_cents=rng.choice([0, 25000, 50000, 150000]),
                                    coinsurance_bps=rng.choice([1000, 2000, 2000, 3000]),
                                    oop_remaining_cents=rng.choice([200000, 400000, 600000]),
                                    copay_waives_deductible=True)
                if payer.payer_type == "medicaid":
                    benefits = Benefits(copay_cents=rng.choice([0, 300]))
                # Rates rise about 4% a year; each stay's allowed varies a little around the contract.
                base = DEMO_RATES[payer.x12_payer_id][level]
                drift_bps = 400 * (730 - (today - start).days) // 365 + rng.randint(-700, 700)
                allowed = base + money.pct(base, drift_bps)
                shares = apply_benefits(allowed, days, benefits)
                episode = f"demo-{payer.x12_payer_id}-{level}-{number}"
                for day, share in enumerate(shares):
                    service_date = start + timedelta(days=day + day // 5 * 2)  # five days a week
                    paid_on = service_date + timedelta(days=rng.randint(14, 45))
                    if paid_on > today:  # the rest of this stay is still with the payer
                        break
                    denied = rng.random() < 0.04
                    rows.append(dict(
                        source="import", source_key=f"demo:{episode}:{day}", payer_id=payer.id, plan_id=plan_id,
                        episode_key=episode, level_of_care=level, procedure_code=code, revenue_code=revenue,
                        service_date=service_date, paid_on=paid_on,
                        units=1, in_network=in_network, billed_cents=price, allowed_cents=0 if denied else allowed,
                        paid_cents=0 if denied else share.payer, patient_resp_cents=0 if denied else share.patient,
                        deductible_cents=0 if denied else share.deductible,
                        coinsurance_cents=0 if denied else share.coinsurance, copay_cents=0 if denied else share.copay,
                        claim_status="4" if denied else "1", denied=denied,
                        adjustments=[{"group": "CO", "carc": "50", "amount_cents": price}] if denied else
                        [{"group": "CO" if in_network else "PR", "carc": "45", "amount_cents": price - allowed}]))
    db.session.execute(insert(AdjudicatedLine), rows)
    db.session.commit()
    return len(rows)
