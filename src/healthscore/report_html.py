"""Small HTML pieces and number formats shared by the report's sections.

Every function that takes a value from the data escapes it; a missing value shows as
``n/a`` (:data:`NA`) instead of stopping the report.
"""

from __future__ import annotations

import html
import math

import pandas as pd

NA = "n/a"


def esc(value: object) -> str:
    """``value`` as HTML-escaped text."""
    return html.escape(str(value), quote=True)


def missing(value: object) -> bool:
    """Whether ``value`` is missing (None, NaN, NaT, NA)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text(value: object) -> str:
    """Escaped text, ``n/a`` when missing."""
    return NA if missing(value) else esc(value)


def as_float(value: object) -> float:
    """``value`` as a float; NaN when missing or not a number."""
    if missing(value) or isinstance(value, bool | str):
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def number(value: object, digits: int) -> str:
    """A number with thousands separators and ``digits`` decimals."""
    x = as_float(value)
    return NA if math.isnan(x) else f"{x:,.{digits}f}"


def count(value: object) -> str:
    """A whole number with thousands separators."""
    return number(value, 0)


def pct(value: object, digits: int = 1) -> str:
    """A percentage (the value is already in percent)."""
    x = as_float(value)
    return NA if math.isnan(x) else f"{x:.{digits}f}%"


def date(value: object) -> str:
    """An ISO date."""
    if missing(value):
        return NA
    try:
        return esc(pd.Timestamp(value).date().isoformat())
    except (TypeError, ValueError):
        return text(value)


def section(anchor: str, heading: str, body: str) -> str:
    """A report section with its anchor and heading."""
    return f'<section id="{anchor}"><h2>{esc(heading)}</h2>{body}</section>'


def table(head: list[str], rows: list[list[str]], *, css: str) -> str:
    """A table; ``head`` is escaped, cells are HTML already."""
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def tile(label: str, value: str, note: str, *, delta: str = "", formula: str | None = None) -> str:
    """A KPI tile: label, value (HTML), change (HTML) and a note."""
    hover = f' title="{esc(formula)}"' if formula else ""
    return (
        f'<div class="tile"{hover}><div class="label">{esc(label)}</div>'
        f'<div class="value">{value}</div>{delta}<div class="note">{esc(note)}</div></div>'
    )


def trend(change: float, shown: str, *, higher_is_better: bool | None, since: str) -> str:
    """A change with its arrow, green when it went the right way, red when the wrong way.

    ``higher_is_better=None`` means neither way is good or bad (grey).
    """
    if math.isnan(change):
        return ""
    arrow = "\u25b2" if change > 0 else "\u25bc" if change < 0 else "\u25b6"
    if change == 0 or higher_is_better is None:
        css = "flat"
    else:
        css = "up" if (change > 0) == higher_is_better else "down"
    return f'<div class="delta {css}">{arrow} {esc(shown)} vs {esc(since)}</div>'
