"""The estimate: a request, the evidence for it, the patient's share, and the result with its steps."""
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from portal import money
from portal.clock import facility_today
from portal.estimates.config import BASIS_NAMES, LEVEL_NAMES, EstimateError, count_of, settings, unit_name
from portal.estimates.evidence import DENIAL, SERIES, Evidence, Step, gather
from portal.estimates.share import Benefits, apply_benefits
from portal.extensions import db
from portal.models import (
    LEVELS_OF_CARE,
    AdjudicatedLine,
    BillingCode,
    InsurancePlan,
    Payer,
)

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
    oop_reached: dict = field(default_factory=dict)  # scenario -> the share is the out-of-pocket maximum

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
            "arithmetic": self.arithmetic, "oop_reached": self.oop_reached,
            "oop_max_cents": self.request.benefits.oop_remaining_cents if self.request.benefits else None,
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
                 f"  patient's share for {count_of(self.request.days, self.unit)} ({self.share_basis}): "
                 f"{usd(self.patient_total['low'])} to {usd(self.patient_total['high'])} "
                 f"(most likely {usd(self.patient_total['mid'])})"
                 + (", the out-of-pocket maximum" if self.oop_reached.get("mid") else "")]
        lines += [f"  step {s.level}: {s.reason}" for s in self.steps]
        return "\n".join(lines)


def offered_levels() -> list[str]:
    """The programs a prospect may ask about: those with payments on record within the lookback, or a
    self-pay price (a level the facility never billed has nothing to estimate from)."""
    config = settings()
    since = facility_today() - timedelta(days=config.lookback_days)
    paid = set(db.session.scalars(select(AdjudicatedLine.level_of_care).distinct().where(
        AdjudicatedLine.paid_on >= since, ~DENIAL)))
    priced = set(db.session.scalars(select(BillingCode.level_of_care).distinct().where(
        BillingCode.kind == "billable", BillingCode.default_price_cents > 0)))
    return [level for level in LEVELS_OF_CARE if level != "other" and level in paid | priced]


def estimate(request: Request, *, as_of: date, before: date | None = None, detail: bool = False) -> Result:
    """The estimate for a stay starting after `as_of`; evidence is what was paid by then (or before `before`)."""
    if request.level not in LEVELS_OF_CARE:
        raise EstimateError(_("Unknown level of care %(level)s; choose one of %(levels)s.",
                              level=repr(request.level), levels=", ".join(LEVELS_OF_CARE)))
    if not 1 <= request.days <= 366:
        raise EstimateError(_("The number of days or sessions must be between 1 and 366."))
    payer = db.session.get(Payer, request.payer_id) if request.payer_id else None
    if request.payer_id and payer is None:
        raise EstimateError(_("Unknown insurer."))
    plan = db.session.get(InsurancePlan, request.plan_id) if request.plan_id else None
    if request.plan_id and (plan is None or payer is None or plan.payer_id != payer.id):
        raise EstimateError(_("The plan does not belong to the insurer."))
    if request.benefits:
        request.benefits.validate()
    config = settings()
    oon = request.benefits is not None and not request.benefits.in_network and not config.waive_balance_bill
    # The patient's share comes from the benefits when given (plus the balance bill out of network), else from
    # what patients owed: the quartiles of the other series are not computed.
    series: tuple[str, ...]
    if request.benefits is None:
        series = ("allowed", "paid", "patient_resp")
    else:
        series = ("allowed", "paid", "balance_bill") if oon else ("allowed", "paid")
    evidence, steps = gather(request.level, payer, request.plan_id, before or as_of + timedelta(days=1), config,
                             series=SERIES if detail else series, detail=detail)
    unit = unit_name(request.level)
    result = Result(request, as_of, payer.name if payer else None, plan.name if plan else None, unit, evidence,
                    steps, "")
    # The message is saved with the estimate: plain text, in the language of the page asking (English for staff).
    level = str(LEVEL_NAMES[request.level])
    if evidence is None:
        widest = steps[-1].level if steps else "all"
        source = _("any insurer") if widest == "all" else str(BASIS_NAMES[widest])
        result.message = _("Not enough history: no %(level)s payments from %(source)s on record to estimate from, "
                           "so we give no figure.", level=level, source=source)
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
            cap = request.benefits.oop_remaining_cents
            result.oop_reached[scenario] = cap is not None and sum(line.patient for line in lines) >= cap
        else:
            result.patient_total[scenario] = evidence.patient_resp[scenario] * days
            result.paid_total[scenario] = evidence.paid[scenario] * days
            result.balance_bill_total[scenario] = 0
    result.share_basis = "benefits" if request.benefits is not None else "history"
    stay, basis = count_of(days, unit), evidence.label
    if payer is None:
        result.message = _("Estimate for %(stay)s of %(level)s (all insurers), based on %(basis)s.",
                           stay=stay, level=level, basis=basis)
    elif plan is None:
        result.message = _("Estimate for %(stay)s of %(level)s with %(payer)s, based on %(basis)s.",
                           stay=stay, level=level, payer=payer.name, basis=basis)
    else:
        result.message = _("Estimate for %(stay)s of %(level)s with %(payer)s, %(plan)s, based on %(basis)s.",
                           stay=stay, level=level, payer=payer.name, plan=plan.name, basis=basis)
    return result
