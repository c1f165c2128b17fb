"""The figures of the HTML report, drawn as PNG images inlined as base64 data URIs.

A report that is mailed around or opened from a shared drive must carry its own pictures:
every chart is drawn on its own :class:`matplotlib.figure.Figure` with an Agg canvas (never
pyplot's global state, so nothing leaks between calls and no display is needed), encoded as
PNG and returned as a ``data:`` URI ready for an ``<img src>``. Nothing here is random and no
timestamp is written into the PNGs, so the same inputs give byte-identical images.

:class:`Charts` draws in the page's language. Japanese labels need a font with Japanese
glyphs: :func:`japanese_font` looks for one at run time (Noto Sans CJK, IPA, Hiragino, Yu
Gothic, Meiryo...) among the fonts matplotlib knows and the system's font files. Without one
the charts fall back to English labels, so they never show empty boxes in place of glyphs.

Each chart method returns ``None`` when its input holds nothing to draw (no complete period,
no cohort, no account scored); the report then says so in words instead of showing an empty
frame.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from healthscore.health import TIERS
from healthscore.i18n import Language
from healthscore.kpis.cohorts import mean_retention_curve
from healthscore.touch import TOUCH_TIERS

log = logging.getLogger(__name__)

_DPI = 100

TIER_COLOURS: dict[str, str] = {"healthy": "#2e7d32", "watch": "#e0a100", "at_risk": "#c62828"}
"""One colour per risk tier, shared by the charts and the report's badges."""

_OTHER_COLOUR = "#9e9e9e"
_LINE_COLOUR = "#1f4e79"

#: Font families that draw Japanese, in order of preference.
JAPANESE_FONTS: tuple[str, ...] = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "Hiragino Sans",
    "Hiragino Kaku Gothic ProN",
    "Yu Gothic",
    "Meiryo",
    "TakaoGothic",
    "VL Gothic",
    "MS Gothic",
)
#: Parts of font file names worth opening when no known family is registered yet.
_FONT_FILE_HINTS = ("cjk", "jp", "ipa", "takao", "vl-gothic", "hiragino", "yugoth", "meiryo")
#: Characters a Japanese label font must have: 日 (kanji), あ (hiragana), ア (katakana).
_JAPANESE_PROBE = (0x65E5, 0x3042, 0x30A2)
_found_font: str | None = None


def japanese_font() -> str | None:
    """The family name of a font that draws Japanese, found at run time; None if there is none.

    Looks among the fonts matplotlib has registered, then opens the system's font files whose
    names suggest CJK and registers the first that has kanji and kana. A font found is kept
    for the process; a font installed while the process runs is found by the next call.
    """
    global _found_font
    if _found_font is not None:
        return _found_font
    registered = {entry.name for entry in font_manager.fontManager.ttflist}
    for family in JAPANESE_FONTS:
        if family in registered:
            _found_font = family
            return family
    candidates = [
        path
        for path in font_manager.findSystemFonts()
        if any(hint in Path(path).name.lower() for hint in _FONT_FILE_HINTS)
    ]
    # The regular weight first: a bold face registered alone would draw every label bold.
    for path in sorted(
        candidates, key=lambda p: ("regular" not in p.lower(), "bold" in p.lower(), p)
    ):
        found = _family_with_japanese(path)
        if found is not None:
            _found_font = found
            return found
    return None


def _family_with_japanese(path: str) -> str | None:
    """Register the font file ``path`` and return its family if it has Japanese glyphs."""
    try:
        font = FT2Font(path)
        if not all(font.get_char_index(code) for code in _JAPANESE_PROBE):
            return None
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError, ValueError):
        return None
    return font_manager.FontProperties(fname=path).get_name()


@contextmanager
def labels_in(lang: Language) -> Iterator[Language]:
    """Draw the figures created inside in ``lang``: with its font first, and in English when
    no font can draw it (Japanese without a Japanese font). Yields the language drawn in."""
    font = japanese_font() if lang.locale == "ja" else None
    if lang.locale == "ja" and font is None:
        log.warning(
            "no font with Japanese glyphs found (install fonts-noto-cjk or IPAex fonts); "
            "the charts are labelled in English"
        )
        lang = Language("en", lang.currency)
    if font is None:
        yield lang
        return
    families = [font, *matplotlib.rcParams["font.sans-serif"]]
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": families}):
        yield lang


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


class Charts:
    """The report's charts with labels in ``lang``, or in English when no font can draw it.

    Examples
    --------
    >>> Charts(Language()).health_histogram(pd.DataFrame()) is None
    True
    """

    def __init__(self, lang: Language) -> None:
        self.font = japanese_font() if lang.locale == "ja" else None
        if lang.locale == "ja" and self.font is None:
            log.warning(
                "no font with Japanese glyphs found (install fonts-noto-cjk or IPAex "
                "fonts); the report's charts are labelled in English"
            )
            lang = Language("en", lang.currency)
        self.lang = lang

    @contextmanager
    def _drawing(self) -> Iterator[None]:
        """Matplotlib settings of one chart: the Japanese font first when there is one."""
        if self.font is None:
            yield
            return
        families = [self.font, *matplotlib.rcParams["font.sans-serif"]]
        with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": families}):
            yield

    def _money_axis(self, ax: Axes) -> None:
        ax.yaxis.set_major_formatter(lambda value, _: self.lang.compact_money(value))

    def kpi_trends(self, kpis: pd.DataFrame) -> str | None:
        """Logo churn rate, GRR/NRR and customers per period, side by side.

        Provisional periods (whose churn a late renewal may still undo) are shaded grey, so a
        dip in the latest month is not read as final.
        """
        if kpis.empty:
            return None
        t = self.lang.t
        ordered = kpis.sort_values("period_start")
        x = np.arange(len(ordered))
        labels = [self.lang.period(label) for label in ordered["period"]]
        provisional = ordered["provisional"].fillna(False).astype(bool).to_numpy()
        with self._drawing():
            figure = Figure(figsize=(13, 3.6), layout="constrained")
            churn_ax, revenue_ax, customers_ax = figure.subplots(1, 3)
            churn_ax.plot(x, _floats(ordered["logo_churn_rate_pct"]), marker="o", color="#c62828")
            churn_ax.set(title=t("Logo churn rate"), ylabel=t("%% of customers at start"))
            churn_ax.set_ylim(bottom=0)
            revenue_ax.axhline(100, color="grey", linestyle="--", linewidth=1)
            revenue_ax.plot(
                x, _floats(ordered["grr_pct"]), marker="o", label=t("GRR"), color="#6a1b9a"
            )
            revenue_ax.plot(
                x, _floats(ordered["nrr_pct"]), marker="o", label=t("NRR"), color=_LINE_COLOUR
            )
            revenue_ax.set(title=t("Revenue retention"), ylabel=t("%% of ARR at start"))
            revenue_ax.legend(loc="best")
            customers_ax.plot(x, _floats(ordered["customers_end"]), marker="o", color=_LINE_COLOUR)
            customers_ax.set(title=t("Customers at period end"), ylabel=t("accounts"))
            for ax in (churn_ax, revenue_ax, customers_ax):
                _period_axis(ax, x, labels)
                for position in x[provisional]:
                    ax.axvspan(position - 0.5, position + 0.5, color="0.9", zorder=0)
                ax.grid(axis="y", alpha=0.3)
            return figure_data_uri(figure)

    def cohort_curves(self, cohorts: pd.DataFrame, *, max_cohorts: int = 12) -> str | None:
        """Share of each recent cohort's logos retained, by periods since acquisition.

        One line per cohort (the latest ``max_cohorts``, newest in the brightest colour) and the
        average cohort as a dashed black line (:func:`healthscore.kpis.mean_retention_curve`:
        it never rises and stops where fewer than three cohorts are old enough), the curve a
        new cohort is judged against.
        """
        table = cohorts.dropna(how="all")
        if table.empty or table.shape[1] == 0:
            return None
        t = self.lang.t
        steps = pd.to_numeric(pd.Series(table.columns), errors="coerce").to_numpy(dtype=float)
        recent = table.tail(max_cohorts)
        colours = matplotlib.colormaps["viridis"](np.linspace(0.05, 0.9, len(recent)))
        with self._drawing():
            figure = Figure(figsize=(7, 4.2), layout="constrained")
            ax = figure.add_subplot()
            for (label, row), colour in zip(recent.iterrows(), colours, strict=True):
                name = self.lang.period(label)
                ax.plot(steps, 100 * _floats(row), color=colour, linewidth=1.4, label=name)
            mean = 100 * mean_retention_curve(table).to_numpy(dtype=float)
            ax.plot(
                steps, mean, color="black", linestyle="--", linewidth=2, label=t("average cohort")
            )
            top = np.nanmax(100 * table.to_numpy(dtype=float, na_value=np.nan))
            ax.set(
                xlabel=t("months since acquisition"),
                ylabel=t("%% of cohort's logos retained"),
                title=t("Cohort retention (logos)"),
                ylim=(0, max(105.0, float(top) + 5)),
            )
            ax.grid(alpha=0.3)
            ax.legend(
                loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small", frameon=False
            )
            return figure_data_uri(figure)

    def health_histogram(self, scores: pd.DataFrame) -> str | None:
        """Health scores of the accounts scored, in 5-point bins stacked by risk tier."""
        if scores.empty:
            return None
        t = self.lang.t
        health = _floats(scores["health_score"])
        tiers = scores["risk_tier"].astype("str").to_numpy()
        groups, colours, names = [], [], []
        other = ~np.isin(tiers, TIERS)
        for tier in TIERS:
            groups.append(health[tiers == tier])
            colours.append(TIER_COLOURS[tier])
            word = self.lang.word("risk tier", tier)
            names.append(f"{word} ({self.lang.count(int((tiers == tier).sum()))})")
        if other.any():
            groups.append(health[other])
            colours.append(_OTHER_COLOUR)
            names.append(f"{t('other')} ({self.lang.count(int(other.sum()))})")
        groups = [group[~np.isnan(group)] for group in groups]
        with self._drawing():
            figure = Figure(figsize=(6.4, 4.2), layout="constrained")
            ax = figure.add_subplot()
            ax.hist(groups, bins=list(range(0, 105, 5)), stacked=True, color=colours, label=names)
            ax.set(
                xlabel=t("health score (0 = about to churn, 100 = healthiest)"),
                ylabel=t("accounts"),
                title=t("Health score distribution"),
                xlim=(0, 100),
            )
            ax.legend(title=t("risk tier"), loc="upper left")
            ax.grid(axis="y", alpha=0.3)
            return figure_data_uri(figure)

    def arr_at_risk_bars(self, scores: pd.DataFrame) -> str | None:
        """ARR at risk summed by touch tier and, when the scores carry one, by segment."""
        if scores.empty:
            return None
        t = self.lang.t
        at_risk = scores.assign(_arr_at_risk=_floats(scores["arr_at_risk"]))
        by_touch = at_risk.groupby(at_risk["touch_tier"].astype("str"))["_arr_at_risk"].sum()
        order = [tier for tier in TOUCH_TIERS if tier in by_touch.index]
        by_touch = by_touch.reindex(order + sorted(set(by_touch.index) - set(order)))
        has_segment = "segment" in scores.columns
        with self._drawing():
            figure = Figure(figsize=(6.4 * (2 if has_segment else 1), 4.2), layout="constrained")
            axes = figure.subplots(1, 2 if has_segment else 1, squeeze=False)[0]
            touch_names = [self.lang.word("touch tier", tier) for tier in by_touch.index]
            self._bars(
                axes[0],
                by_touch,
                touch_names,
                title=t("ARR at risk by touch tier"),
                colour=_LINE_COLOUR,
            )
            if has_segment:
                segments = at_risk["segment"].astype("str").fillna("unknown")
                by_segment = (
                    at_risk.groupby(segments)["_arr_at_risk"].sum().sort_values(ascending=False)
                )
                top = by_segment.head(10)
                self._bars(
                    axes[1],
                    top,
                    [self.lang.word("segment", s).replace("_", " ") for s in top.index],
                    title=t("ARR at risk by segment"),
                    colour="#00838f",
                )
            return figure_data_uri(figure)

    def _bars(
        self, ax: Axes, totals: pd.Series, labels: list[str], *, title: str, colour: str
    ) -> None:
        container = ax.bar(labels, totals.to_numpy(dtype=float), color=colour)
        ax.bar_label(container, labels=[self.lang.compact_money(v) for v in totals], padding=2)
        ax.set(title=title, ylabel=self.lang.t("ARR at risk (ARR x churn probability)"))
        ax.margins(y=0.15)
        self._money_axis(ax)
        ax.tick_params(axis="x", labelrotation=20)
        ax.grid(axis="y", alpha=0.3)

    def outcome_differences(self, compared: pd.DataFrame) -> str | None:
        """Churn of treated minus held-out accounts per playbook, with its interval."""
        rows = compared[(compared["tier"] == "all")].iloc[::-1]
        rows = rows[rows["churn_difference"].notna()]
        if rows.empty:
            return None
        with self._drawing():
            figure = Figure(figsize=(8.0, 0.45 * len(rows) + 1.2), dpi=100)
            ax = figure.add_subplot()
            y = np.arange(len(rows))
            estimate = rows["churn_difference"].to_numpy(float) * 100
            low = rows["churn_difference_low"].to_numpy(float) * 100
            high = rows["churn_difference_high"].to_numpy(float) * 100
            colours = [
                "#2e7d32" if h < 0 else "#c62828" if lo > 0 else "#5b6b7f"
                for lo, h in zip(low, high, strict=True)
            ]
            ax.hlines(y, low, high, colors=colours, linewidth=2.5)
            ax.scatter(estimate, y, color=colours, zorder=3)
            ax.axvline(0, color="#1d2733", linewidth=1)
            names = [
                self.lang.t("All playbooks") if p == "all" else str(p) for p in rows["playbook_id"]
            ]
            ax.set_yticks(y, names)
            ax.set_xlabel(
                self.lang.t("churn rate, treated minus held out (points; left of 0: fewer churned)")
            )
            ax.grid(axis="x", alpha=0.3)
            figure.tight_layout()
            return figure_data_uri(figure)

    def monitor_performance(
        self, performance: pd.DataFrame, calibration: pd.DataFrame
    ) -> str | None:
        """Realised against predicted churn by scoring date, and by decile of the prediction."""
        if performance.empty:
            return None
        t = self.lang.t
        with self._drawing():
            figure = Figure(figsize=(11.0, 3.4), dpi=100)
            left, right = figure.subplots(1, 2)
            dates = pd.to_datetime(performance["as_of"])
            left.plot(dates, performance["realised_churn"] * 100, marker="o", label=t("realised"))
            left.plot(dates, performance["predicted_churn"] * 100, marker="s", label=t("predicted"))
            left.set_ylabel(t("churn in the window (%%)"))
            left.set_title(t("Churn by scoring date"))
            left.legend(frameon=False)
            left.tick_params(axis="x", labelrotation=30)
            if not calibration.empty:
                top = (
                    max(calibration["predicted_churn"].max(), calibration["realised_churn"].max())
                    * 100
                )
                right.plot([0, top], [0, top], color="#8a97a8", linestyle="--", linewidth=1)
                right.plot(
                    calibration["predicted_churn"] * 100,
                    calibration["realised_churn"] * 100,
                    marker="o",
                    color="#1f4e79",
                )
            right.set_xlabel(t("predicted (%%)"))
            right.set_ylabel(t("realised (%%)"))
            right.set_title(t("Latest dates by decile of the prediction"))
            figure.tight_layout()
            return figure_data_uri(figure)


def _period_axis(ax: Axes, x: np.ndarray, labels: Sequence[str]) -> None:
    """Period labels on the x axis, thinned to at most about eight ticks."""
    step = max(1, math.ceil(len(labels) / 8))
    ticks = x[::-1][::step][::-1]  # always label the latest period
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.5, len(labels) - 0.5)


def _floats(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
