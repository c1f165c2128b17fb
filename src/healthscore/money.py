"""Money in the portfolio's currency: how amounts are written, and what counts as a big account.

ARR carries no currency in the data; ``[output] currency`` says which one it is (an ISO 4217
code such as ``"USD"`` or ``"JPY"``). Amounts are written by Babel from the locale's CLDR data:
yen without decimals, and in Japanese text large amounts in 万 and 億 of 円, as Japanese
business writing has them (``1,235万円``, ``1.23億円``); without a currency, amounts carry no
symbol.

The touch tiers split accounts by ARR, so their thresholds depend on the currency: 50,000 is a
mid-sized account in dollars but a tiny one in yen. :data:`TOUCH_DEFAULTS` gives the default
thresholds per currency; a currency not listed needs them set in ``[touch]``.

Examples
--------
>>> format_money(1_234_567, "JPY", "ja"), compact_money(1_234_567, "JPY", "ja")
('￥1,234,567', '123万円')
>>> compact_money(356_400, "JPY", "ja"), compact_money(123_456_789, "JPY", "ja")
('35.6万円', '1.23億円')
>>> compact_money(12_345_678, "JPY", "ja"), compact_money(5_000, "JPY", "ja")
('1,235万円', '5,000円')
>>> compact_money(1_240_000, None, "en"), compact_money(356_400, None, "en")
('1.24M', '356K')
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from babel import Locale
from babel.numbers import (
    UnknownCurrencyError,
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    get_currency_name,
)

#: Significant digits of a compact amount (``1.24M``, ``356K``, ``1235万``).
COMPACT_DIGITS = 3

#: Default ARR thresholds of the touch tiers, ``(high_touch_min_arr, low_touch_min_arr)``,
#: per currency. ``None`` (no currency given) keeps the historical dollar-sized defaults; the
#: yen defaults are the dollar ones at about 150 yen to the dollar, rounded to 万.
TOUCH_DEFAULTS: dict[str | None, tuple[float, float]] = {
    None: (50_000.0, 10_000.0),
    "USD": (50_000.0, 10_000.0),
    "EUR": (50_000.0, 10_000.0),
    "JPY": (7_500_000.0, 1_500_000.0),
}


def check_currency(currency: str) -> str:
    """``currency`` if it is an ISO 4217 code Babel knows, else a ``ValueError``."""
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"currency {currency!r} is not an ISO 4217 code such as 'USD' or 'JPY'")
    try:
        get_currency_name(currency, locale="en")
    except UnknownCurrencyError:
        raise ValueError(f"unknown currency {currency!r}") from None
    return currency


def touch_defaults(currency: str | None) -> tuple[float, float]:
    """The default ``(high_touch_min_arr, low_touch_min_arr)`` of ``currency``.

    Raises ``ValueError`` for a currency without defaults: the thresholds must then be set.

    Examples
    --------
    >>> touch_defaults("JPY")
    (7500000.0, 1500000.0)
    """
    try:
        return TOUCH_DEFAULTS[currency]
    except KeyError:
        known = ", ".join(c for c in TOUCH_DEFAULTS if c)
        raise ValueError(
            f"the touch tiers have no default thresholds in {currency}; set "
            "touch.high_touch_min_arr and touch.low_touch_min_arr in that currency (defaults "
            f"exist for {known})"
        ) from None


def format_money(amount: float, currency: str | None, locale: str) -> str:
    """``amount`` in full: ``$1,234,568``, ``￥1,234,567``; without a currency ``1,234,568``.

    Amounts are whole units: ARR is a yearly figure where cents add nothing to read.
    """
    with half_up():
        if currency is None:
            return format_decimal(amount, format="#,##0", locale=locale)
        return format_currency(
            amount, currency, format="¤#,##0", locale=locale, currency_digits=False
        )


def compact_money(amount: float, currency: str | None, locale: str) -> str:
    """``amount`` in at most three significant digits with the locale's compact units.

    English writes ``1.24M`` and ``356K``; Japanese counts in 万 (10^4) and 億 (10^8):
    ``35.6万``, ``1235万``, ``1.23億``. With a currency its symbol comes first (``$1.24M``),
    except yen in Japanese, written as prose writes it: ``1,235万円``, ``1.23億円``. An amount
    below the locale's first compact unit is written in full (``980``, ``5,000円``).
    """
    if currency == "JPY" and Locale.parse(locale).language == "ja":
        # 4-digit counts of 万 are grouped as in print (1,235万円); decimals never are.
        plain = compact_money(amount, None, locale)
        return re.sub(r"\d{4,}", lambda m: f"{int(m.group()):,}", plain, count=1) + "円"
    if abs(amount) < _first_compact_unit(locale):
        with half_up():
            return format_money(amount, currency, locale)

    def compact(fraction_digits: int) -> str:
        with half_up():
            if currency is None:
                return format_compact_decimal(
                    amount, locale=locale, fraction_digits=fraction_digits
                )
            return format_compact_currency(
                amount, currency, locale=locale, fraction_digits=fraction_digits
            )

    for fraction_digits in (2, 1):
        shown = compact(fraction_digits)
        if len(re.sub(r"\D", "", shown)) <= COMPACT_DIGITS:
            return shown
    return compact(0)


@cache
def _first_compact_unit(locale: str) -> int:
    """The smallest amount the locale's CLDR data writes in a compact unit (1000; 10000 in ja)."""
    patterns = Locale.parse(locale).compact_decimal_formats["short"]["other"]
    return min(int(size) for size, pattern in patterns.items() if pattern.pattern.strip("0"))


@contextmanager
def half_up() -> Iterator[None]:
    """Round halves up while Babel formats (1.05 -> 1.1), as a reader of a report expects."""
    with decimal.localcontext(rounding=decimal.ROUND_HALF_UP):
        yield
