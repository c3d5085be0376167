"""The backtest: how close past estimates came to what was paid, and the settings it tunes."""
from datetime import date, timedelta

from sqlalchemy import func, or_, select

from portal import audit, facility, money
from portal.estimates.config import PROCESSED
from portal.estimates.estimator import Request, estimate
from portal.estimates.evidence import line
from portal.extensions import db
from portal.models import (
    EstimateSettings,
    Payer,
)

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


def backtest(since: date | None = None, *, as_of: date | None = None) -> dict:
    """Estimate each past episode from the lines paid before its first date of service only, and score it.

    An episode is the evidence lines (not denied, not reversed) sharing an `episode_key`; its days are their
    units. The estimate uses no benefits (none are on record for past stays): the payer's and the
    patient's medians per day times the days, compared with what the payer paid and the patient owed.
    With `as_of`, the stays are scored as known on that day: later payments and reversals are left out.
    """
    not_reversed = line.reversed_on.is_(None) if as_of is None else or_(line.reversed_on.is_(None),
                                                                         line.reversed_on > as_of)
    query = (
        select(line.episode_key, func.min(line.payer_id), func.min(line.plan_id), func.min(line.level_of_care),
               func.min(line.service_date), func.sum(line.units), func.sum(line.paid_cents),
               func.sum(line.patient_resp_cents))
        .where(line.episode_key.is_not(None), line.level_of_care.is_not(None), not_reversed,
               line.denied.is_(False), line.allowed_cents > 0,
               or_(line.claim_status.is_(None), line.claim_status.in_(PROCESSED)))
        .group_by(line.episode_key).order_by(func.min(line.service_date), line.episode_key)
    )
    if since:
        query = query.having(func.min(line.service_date) >= since)
    if as_of:
        query = query.where(line.paid_on <= as_of)
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


def update_settings(config: EstimateSettings, *, actor: str, ip: str | None = None, user_agent: str | None = None,
                    **values) -> None:
    facility.save_settings(config)
    changes = {k: [getattr(config, k), v] for k, v in values.items() if getattr(config, k) != v}
    for key, (_, new) in changes.items():
        setattr(config, key, new)
    if changes:
        audit.record("estimate_settings.updated", "estimate_settings", actor=actor, object_id=config.id,
                     detail=changes, ip=ip, user_agent=user_agent)
    db.session.flush()
