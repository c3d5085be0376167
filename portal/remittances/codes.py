"""Words for the codes an 835 carries (CARC, RARC, groups), the import's error and result, progress reports."""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from portal import money
from portal.models import (
    Remittance,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Claim adjustment reason codes (X12 external code list), the ones a behavioral-health biller meets most.
CARC = {
    "1": "Deductible amount", "2": "Coinsurance amount", "3": "Co-payment amount",
    "4": "Procedure code inconsistent with the modifier", "5": "Procedure code inconsistent with place of service",
    "16": "Claim lacks information or has billing errors", "18": "Exact duplicate claim or service",
    "22": "May be covered by another payer (coordination of benefits)", "23": "Impact of prior payer adjudication",
    "26": "Expenses incurred before coverage", "27": "Expenses incurred after coverage ended",
    "29": "Time limit for filing has expired", "31": "Patient cannot be identified as our insured",
    "42": "Charges exceed our fee schedule or maximum allowable", "45": "Charge exceeds fee schedule or contracted fee",
    "50": "Not deemed a medical necessity", "94": "Processed in excess of charges",
    "96": "Non-covered charge", "97": "Included in the payment for another service",
    "109": "Not covered by this payer; send to the correct payer", "119": "Benefit maximum reached",
    "151": "Payer deems the information does not support this many services", "167": "Diagnosis not covered",
    "170": "Payment denied when performed by this type of provider", "197": "Precertification or authorization absent",
    "198": "Precertification or authorization exceeded", "204": "Service not covered under the current benefit plan",
    "242": "Services not provided by network providers", "253": "Sequestration (federal payment reduction)",
    "A1": "Claim or service denied", "A2": "Contractual adjustment", "A7": "Presumptive payment adjustment",
    "B7": "Provider not certified for this procedure on this date",
}
# Remittance advice remark codes seen with the reasons above.
RARC = {
    "M15": "Separately billed services were bundled", "M80": "Not covered when performed with another service",
    "MA01": "You may appeal this decision", "MA130": "Claim has incomplete or invalid information",
    "N14": "Payment based on a contractual amount or agreement",
    "N115": "Decision based on a local coverage determination",
    "N130": "Consult plan benefit documents", "N381": "Consult our contractual agreement for restrictions",
    "N56": "Procedure code billed is not correct for the service", "N20": "Service not payable with other service",
    "N95": "Provider type or specialty may not bill this service",
}
GROUPS = {"CO": "Contractual obligation", "PR": "Patient responsibility", "OA": "Other adjustment",
          "PI": "Payer-initiated reduction"}
PAYMENT_METHODS = {"ACH": "eft", "FWT": "eft", "BOP": "eft", "CHK": "insurance_check"}


def describe(group: str | None, code: str, on: date | None = None) -> str:
    """A CAS group + CARC (or a RARC alone) in words, e.g. 'CO-50 Not deemed a medical necessity': from the
    loaded code lists, else the words above. A code the list stopped before `on` says so."""
    from portal.remittances.code_lists import loaded

    listed = loaded().get(("carc" if group else "rarc", code)) or loaded().get(("rarc" if group else "carc", code))
    words = listed.description if listed else CARC.get(code) or RARC.get(code) or "see the X12 code list"
    if listed and listed.stop_date and on and listed.stop_date < on:
        words += f" (deactivated {listed.stop_date.isoformat()})"
    return f"{group}-{code} {words}" if group else f"{code} {words}"


class EraError(ValueError):
    """The file was refused; nothing changed. `problems` says what is wrong and where."""

    def __init__(self, summary: str, problems: list[str] | None = None, earlier: Remittance | None = None):
        self.summary = summary
        self.problems = problems or []
        self.earlier_id = earlier.id if earlier else None
        super().__init__(summary + (": " + "; ".join(self.problems[:5]) + (
            f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else "") if self.problems else ""))


@dataclass
class ImportResult:
    remittance_id: int
    filename: str
    payer: str
    trace_number: str
    payment_cents: int
    claims: int
    lines: int
    posted_lines: int
    denied_lines: int
    exceptions: int
    posted_paid_cents: int
    provider_adjustment_cents: int
    further: list["ImportResult"] = field(default_factory=list)  # the file's other payments, in order

    @property
    def auto_post_rate_bps(self) -> int:
        """Share of service lines posted without a person, in basis points."""
        return (self.posted_lines * 10000 // self.lines) if self.lines else 0

    def as_dict(self) -> dict:
        return {**self.__dict__, "auto_post_rate_bps": self.auto_post_rate_bps,
                "further": [result.as_dict() for result in self.further]}

    def summary(self) -> str:
        return (f"Remittance {self.remittance_id} ({self.payer}, trace {self.trace_number}): {self.claims} claims, "
                f"{self.posted_lines}/{self.lines} lines posted, {self.denied_lines} denied, "
                f"{self.exceptions} waiting in the exception queue; "
                f"{money.format_usd(self.posted_paid_cents)} paid posted"
                + "".join(f"\n{result.summary()}" for result in self.further))


def _tell(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)



