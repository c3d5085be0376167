"""Money is an integer number of cents; rates are integer basis points (10000 = 100%).

This is the one place where rounding happens: half-up to the cent.
"""
from decimal import Decimal, InvalidOperation

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


def parse_cents(text: str) -> int:
    """'1,234.5' -> 123450. Refuses fractions of a cent and anything that is not a number."""
    cleaned = (text or "").strip().replace(",", "").replace("$", "")
    if not cleaned:
        raise ValueError("empty amount")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {text!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount has fractions of a cent: {text!r}")
    return int(cents)


def format_usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}${whole:,}.{frac:02d}"


def format_usd_short(cents: int) -> str:
    """'$400' for whole dollars, '$400.50' otherwise: figures in headings."""
    return format_usd(cents).removesuffix(".00")


def format_plain(cents: int) -> str:
    """'1234.50' for form fields and exports."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"
