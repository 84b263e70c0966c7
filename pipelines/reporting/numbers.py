"""Rounding and French formatting of the report's figures.

Shares are whole percents rounded half up, changes whole percents rounded half away from zero
(indicators.md, *Trends*), both computed with Decimal so that 12.5 % prints 13 % and -18.5 %
prints -19 % whatever binary floats would say.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# French typography: a narrow no-break space groups thousands and precedes "%" and "€".
NNBSP = "\u202f"
ONE = Decimal(1)
HUNDRED = Decimal(100)


def share_pct(part: Decimal | int, total: Decimal | int) -> int | None:
    """`part` as a whole percent of `total`, rounded half up; None when total is 0."""
    total = Decimal(total)
    if total == 0:
        return None
    return int((Decimal(part) * HUNDRED / total).quantize(ONE, rounding=ROUND_HALF_UP))


def change_pct(value: Decimal | int, previous: Decimal | int | None) -> int | None:
    """(value - previous) / previous as a whole percent, rounded half away from zero
    (Decimal's ROUND_HALF_UP rounds ties away from zero); None when previous is 0 or absent."""
    if previous is None or Decimal(previous) == 0:
        return None
    previous = Decimal(previous)
    ratio = (Decimal(value) - previous) * HUNDRED / previous
    return int(ratio.quantize(ONE, rounding=ROUND_HALF_UP))


def has_cents(value: Decimal | int | float | None) -> bool:
    return value is not None and Decimal(str(value)) % 1 != 0


def group(digits: str) -> str:
    """'2135533' -> '2 135 533' (narrow no-break spaces)."""
    sign = "-" if digits.startswith("-") else ""
    digits = digits.lstrip("-")
    parts: list[str] = []
    while len(digits) > 3:
        parts.insert(0, digits[-3:])
        digits = digits[:-3]
    parts.insert(0, digits)
    return sign + NNBSP.join(parts)


def fr_count(value: Decimal | int) -> str:
    """A count for people: '3 750'."""
    return group(str(int(Decimal(value).quantize(ONE, rounding=ROUND_HALF_UP))))


def fr_amount(value: Decimal | int | float, cents: bool) -> str:
    """Euros for people: '2 135 533,46 €' with cents, '60 659 €' without."""
    amount = Decimal(str(value))
    if cents:
        whole, _, frac = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}".partition(
            "."
        )
        return f"{group(whole)},{frac}{NNBSP}€"
    return f"{fr_count(amount)}{NNBSP}€"


def fr_pct(pct: int) -> str:
    return f"{pct}{NNBSP}%"


def fr_change(pct: int) -> str:
    """The verb phrase of a year-over-year change, as the report writes it."""
    if pct > 0:
        return f"a progressé de {fr_pct(pct)}"
    if pct < 0:
        return f"a diminué de {fr_pct(-pct)}"
    return "est resté stable"


def fr_signed_pct(pct: int) -> str:
    return f"+{fr_pct(pct)}" if pct > 0 else fr_pct(pct).replace("-", "−")
