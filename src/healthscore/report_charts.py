"""The figures of the HTML report, drawn as PNG images inlined as base64 data URIs.

A report that is mailed around or opened from a shared drive must carry its own pictures:
every chart is drawn on its own :class:`matplotlib.figure.Figure` with an Agg canvas (never
pyplot's global state, so nothing leaks between calls and no display is needed), encoded as
PNG and returned as a ``data:`` URI ready for an ``<img src>``. Nothing here is random and no
timestamp is written into the PNGs, so the same inputs give byte-identical images.

Each chart function returns ``None`` when its input holds nothing to draw (no complete period,
no cohort, no account scored); the report then says so in words instead of showing an empty
frame.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from healthscore.health import TIERS
from healthscore.kpis.cohorts import mean_retention_curve
from healthscore.touch import TOUCH_TIERS

_DPI = 100

TIER_COLOURS: dict[str, str] = {"healthy": "#2e7d32", "watch": "#e0a100", "at_risk": "#c62828"}
"""One colour per risk tier, shared by the charts and the report's badges."""

_OTHER_COLOUR = "#9e9e9e"
_LINE_COLOUR = "#1f4e79"


def compact_amount(value: object) -> str:
    """A money amount in few characters (``1.24M``, ``356k``, ``980``); ``n/a`` if missing.

    ARR carries no currency in the data, so none is printed.

    Examples
    --------
    >>> compact_amount(1_240_000), compact_amount(356_400.0), compact_amount(float("nan"))
    ('1.24M', '356k', 'n/a')
    """
    number = _as_float(value)
    if math.isnan(number):
        return "n/a"
    size = abs(number)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= threshold:
            scaled = number / threshold
            return f"{scaled:.3g}{suffix}" if abs(scaled) < 1000 else f"{scaled:,.0f}{suffix}"
    return f"{number:,.0f}"


def png_data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI holding ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure_data_uri(figure: Figure) -> str:
    """Render ``figure`` to PNG with the Agg canvas and return it as a data URI.

    The figure is cleared afterwards: it was never registered with pyplot, so clearing it
    releases its artists and nothing else keeps it alive.
    """
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    figure.clear()
    return png_data_uri(buffer.getvalue())


def kpi_trends(kpis: pd.DataFrame) -> str | None:
    """Logo churn rate, GRR/NRR and customers per period, side by side.

    Provisional periods (whose churn a late renewal may still undo) are shaded grey, so a
    dip in the latest month is not read as final.
    """
    if kpis.empty:
        return None
    ordered = kpis.sort_values("period_start")
    x = np.arange(len(ordered))
    labels = [str(label) for label in ordered["period"]]
    provisional = ordered["provisional"].fillna(False).astype(bool).to_numpy()

    figure = Figure(figsize=(13, 3.6), layout="constrained")
    churn_ax, revenue_ax, customers_ax = figure.subplots(1, 3)
    churn_ax.plot(x, _floats(ordered["logo_churn_rate_pct"]), marker="o", color="#c62828")
    churn_ax.set(title="Logo churn rate", ylabel="% of customers at start")
    churn_ax.set_ylim(bottom=0)
    revenue_ax.axhline(100, color="grey", linestyle="--", linewidth=1)
    revenue_ax.plot(x, _floats(ordered["grr_pct"]), marker="o", label="GRR", color="#6a1b9a")
    revenue_ax.plot(x, _floats(ordered["nrr_pct"]), marker="o", label="NRR", color=_LINE_COLOUR)
    revenue_ax.set(title="Revenue retention", ylabel="% of ARR at start")
    revenue_ax.legend(loc="best")
    customers_ax.plot(x, _floats(ordered["customers_end"]), marker="o", color=_LINE_COLOUR)
    customers_ax.set(title="Customers at period end", ylabel="accounts")
    for ax in (churn_ax, revenue_ax, customers_ax):
        _period_axis(ax, x, labels)
        for position in x[provisional]:
            ax.axvspan(position - 0.5, position + 0.5, color="0.9", zorder=0)
        ax.grid(axis="y", alpha=0.3)
    return figure_data_uri(figure)


def cohort_curves(cohorts: pd.DataFrame, *, max_cohorts: int = 12) -> str | None:
    """Share of each recent cohort's logos retained, by periods since acquisition.

    One line per cohort (the latest ``max_cohorts``, newest in the brightest colour) and the
    average cohort as a dashed black line (:func:`healthscore.kpis.mean_retention_curve`:
    it never rises and stops where fewer than three cohorts are old enough), the curve a new
    cohort is judged against.
    """
    table = cohorts.dropna(how="all")
    if table.empty or table.shape[1] == 0:
        return None
    steps = pd.to_numeric(pd.Series(table.columns), errors="coerce").to_numpy(dtype=float)
    recent = table.tail(max_cohorts)
    colours = matplotlib.colormaps["viridis"](np.linspace(0.05, 0.9, len(recent)))

    figure = Figure(figsize=(7, 4.2), layout="constrained")
    ax = figure.add_subplot()
    for (label, row), colour in zip(recent.iterrows(), colours, strict=True):
        ax.plot(steps, 100 * _floats(row), color=colour, linewidth=1.4, label=str(label))
    mean = 100 * mean_retention_curve(table).to_numpy(dtype=float)
    ax.plot(steps, mean, color="black", linestyle="--", linewidth=2, label="average cohort")
    top = np.nanmax(100 * table.to_numpy(dtype=float, na_value=np.nan))
    ax.set(
        xlabel="months since acquisition",
        ylabel="% of cohort's logos retained",
        title="Cohort retention (logos)",
        ylim=(0, max(105.0, float(top) + 5)),
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False)
    return figure_data_uri(figure)


def health_histogram(scores: pd.DataFrame) -> str | None:
    """Health scores of the accounts scored, in 5-point bins stacked by risk tier."""
    if scores.empty:
        return None
    health = _floats(scores["health_score"])
    tiers = scores["risk_tier"].astype("str").to_numpy()
    groups, colours, names = [], [], []
    other = ~np.isin(tiers, TIERS)
    for tier in TIERS:
        groups.append(health[tiers == tier])
        colours.append(TIER_COLOURS[tier])
        names.append(f"{tier.replace('_', ' ')} ({int((tiers == tier).sum())})")
    if other.any():
        groups.append(health[other])
        colours.append(_OTHER_COLOUR)
        names.append(f"other ({int(other.sum())})")
    groups = [group[~np.isnan(group)] for group in groups]

    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = figure.add_subplot()
    ax.hist(groups, bins=list(range(0, 105, 5)), stacked=True, color=colours, label=names)
    ax.set(
        xlabel="health score (0 = about to churn, 100 = healthiest)",
        ylabel="accounts",
        title="Health score distribution",
        xlim=(0, 100),
    )
    ax.legend(title="risk tier", loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return figure_data_uri(figure)


def arr_at_risk_bars(scores: pd.DataFrame) -> str | None:
    """ARR at risk summed by touch tier and, when the scores carry one, by segment."""
    if scores.empty:
        return None
    at_risk = scores.assign(_arr_at_risk=_floats(scores["arr_at_risk"]))
    by_touch = at_risk.groupby(at_risk["touch_tier"].astype("str"))["_arr_at_risk"].sum()
    order = [t for t in TOUCH_TIERS if t in by_touch.index]
    by_touch = by_touch.reindex(order + sorted(set(by_touch.index) - set(order)))
    has_segment = "segment" in scores.columns

    figure = Figure(figsize=(6.4 * (2 if has_segment else 1), 4.2), layout="constrained")
    axes = figure.subplots(1, 2 if has_segment else 1, squeeze=False)[0]
    _bars(axes[0], by_touch, title="ARR at risk by touch tier", colour=_LINE_COLOUR)
    if has_segment:
        segments = at_risk["segment"].astype("str").fillna("unknown")
        by_segment = at_risk.groupby(segments)["_arr_at_risk"].sum().sort_values(ascending=False)
        _bars(axes[1], by_segment.head(10), title="ARR at risk by segment", colour="#00838f")
    return figure_data_uri(figure)


def _bars(ax: Axes, totals: pd.Series, *, title: str, colour: str) -> None:
    labels = [str(label).replace("_", " ") for label in totals.index]
    container = ax.bar(labels, totals.to_numpy(dtype=float), color=colour)
    ax.bar_label(container, labels=[compact_amount(v) for v in totals], padding=2)
    ax.set(title=title, ylabel="ARR at risk (ARR x churn probability)")
    ax.margins(y=0.15)
    ax.yaxis.set_major_formatter(lambda value, _: compact_amount(value))
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", alpha=0.3)


def _period_axis(ax: Axes, x: np.ndarray, labels: Sequence[str]) -> None:
    """Period labels on the x axis, thinned to at most about eight ticks."""
    step = max(1, math.ceil(len(labels) / 8))
    ticks = x[::-1][::step][::-1]  # always label the latest period
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.5, len(labels) - 0.5)


def _floats(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _as_float(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return number
