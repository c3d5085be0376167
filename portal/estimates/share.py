"""The patient's share (rules.md §2): deductible, coinsurance or copay, out-of-pocket maximum, per day."""
from dataclasses import dataclass

from portal import money
from portal.estimates.config import EstimateError

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


def grouped_days(days: list[dict]) -> list[dict]:
    """The day-by-day arithmetic with runs of identical days folded into one row ("Days 3-20"), so that a
    20-day stay reads as the two or three rows where something changes."""
    rows: list[dict] = []
    figures = ("allowed", "copay", "deductible", "coinsurance", "patient", "balance_bill")
    for day in days:
        same = rows and all(rows[-1][key] == day[key] for key in figures)
        if same:
            rows[-1]["last"] = day["day"]
        else:
            rows.append({**{key: day[key] for key in figures}, "first": day["day"], "last": day["day"]})
    for row in rows:
        row["count"] = row["last"] - row["first"] + 1
        row["you"] = row["patient"] + row["balance_bill"]
    return rows
