"""Money is an integer number of cents; rates are integer basis points (10000 = 100%).

This is the one place where rounding happens: half-up to the cent.
"""
import re
from decimal import Decimal

BPS_DENOMINATOR = 10_000


def round_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((abs(numerator) * 2 + denominator) // (2 * denominator))


def pct(amount_cents: int, bps: int) -> int:
    """`bps` basis points of `amount_cents`, rounded half-up to the cent."""
    return round_half_up(amount_cents * bps, BPS_DENOMINATOR)


# Digits with an optional sign, dollar sign, thousands separators in the right places and cents: no exponent
# ("1e3" is not $1,000) and no stray commas ("1,2,3" is not $123).
AMOUNT_RE = re.compile(r"(?P<sign>[-+]?)\$?(?P<whole>\d{1,3}(?:,\d{3})+|\d*)(?P<frac>\.\d*)?")
# No amount in this portal comes near a billion dollars; anything larger is a typo or an attack (and would
# overflow the database's integer columns).
MAX_CENTS = 100_000_000_000


def parse_cents(text: str) -> int:
    """'1,234.5' -> 123450. Refuses fractions of a cent, exponents, misplaced commas, amounts of a billion
    dollars or more and anything that is not a number: always with ValueError."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValueError("empty amount")
    match = AMOUNT_RE.fullmatch(cleaned) if len(cleaned) <= 40 else None
    if not match or not (match["whole"] or (match["frac"] or ".")[1:]):
        raise ValueError(f"not an amount: {text!r}")
    value = Decimal(match["sign"] + (match["whole"] or "0").replace(",", "") + (match["frac"] or ""))
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount has fractions of a cent: {text!r}")
    if abs(cents) >= MAX_CENTS:
        raise ValueError(f"amount too large: {text!r}")
    return int(cents)


def format_usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def format_deduction(cents: int) -> str:
    """An amount taken off a line, after a minus sign; "$0.00" when nothing was (never a minus zero)."""
    return f"\u2212{format_usd(cents)}" if cents else format_usd(0)


def format_usd_short(cents: int) -> str:
    """'$400' for whole dollars, '$400.50' otherwise: figures in headings."""
    return format_usd(cents).removesuffix(".00")


def format_plain(cents: int) -> str:
    """'1234.50' for form fields and exports."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"
