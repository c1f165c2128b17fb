"""What each KPI column means, as data, and the headline figures of the latest period.

The definitions are kept as data so that the documentation (``docs/kpis.md``) and the report
tiles are generated from, and tested against, one list instead of drifting apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from healthscore.errors import DataError


@dataclass(frozen=True)
class KpiDefinition:
    """One output column of :func:`healthscore.kpis.compute_kpis`."""

    column: str
    formula: str
    unit: str


KPI_DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition("period", "label of the period, e.g. `2024-03` or `2024Q1`", "text"),
    KpiDefinition("period_start", "first day of the period", "date"),
    KpiDefinition("period_end", "first day after the period (exclusive end)", "date"),
    KpiDefinition(
        "provisional",
        "`period_end + grace_days > data_end`: a late renewal may still undo some churns",
        "bool",
    ),
    KpiDefinition(
        "customers_start", "customers on the last day before the period (CS)", "accounts"
    ),
    KpiDefinition(
        "new_customers",
        "customer spells starting in the period, win-backs included (CN)",
        "accounts",
    ),
    KpiDefinition(
        "reactivated_customers", "the part of `new_customers` that are win-backs", "accounts"
    ),
    KpiDefinition("churned_customers", "customer spells ending in the period (CC)", "accounts"),
    KpiDefinition(
        "customers_end",
        "customers on the last day of the period (CE = CS + CN - CC)",
        "accounts",
    ),
    KpiDefinition("retention_rate_pct", "(CE - CN) / CS x 100 (equals 100 - logo churn)", "%"),
    KpiDefinition("logo_churn_rate_pct", "CC / CS x 100", "% per period"),
    KpiDefinition("arr_start", "ARR of the customers at the start (the cohort)", "currency/year"),
    KpiDefinition("arr_end", "ARR of all customers at the end", "currency/year"),
    KpiDefinition(
        "expansion_arr",
        "sum over the cohort still customers at the end of max(ARR end - ARR start, 0)",
        "currency/year",
    ),
    KpiDefinition(
        "contraction_arr",
        "sum over the cohort still customers at the end of max(ARR start - ARR end, 0)",
        "currency/year",
    ),
    KpiDefinition(
        "churned_arr",
        "starting ARR of the cohort's accounts that are not customers at the end",
        "currency/year",
    ),
    KpiDefinition("grr_pct", "(arr_start - contraction_arr - churned_arr) / arr_start x 100", "%"),
    KpiDefinition(
        "nrr_pct",
        "(arr_start + expansion_arr - contraction_arr - churned_arr) / arr_start x 100",
        "%",
    ),
    KpiDefinition("upsell_rate_pct", "cohort accounts with ARR end > ARR start, / CS x 100", "%"),
    KpiDefinition(
        "arpa",
        "arr_start / CS / periods per year: revenue per account per period "
        "(MRR per account with monthly periods)",
        "currency/period",
    ),
    KpiDefinition(
        "ltv",
        "arpa x gross_margin / (CC / CS); NaN when nothing churned",
        "currency (lifetime gross margin per account)",
    ),
    KpiDefinition("nps_responses", "NPS responses given in the period", "responses"),
    KpiDefinition(
        "nps", "% promoters (9-10) - % detractors (0-6) among the period's responses", "-100..100"
    ),
    KpiDefinition(
        "onboarding_eligible",
        "accounts created in the period, once its last day + `activation_days` is before "
        "data_end (0 until then)",
        "accounts",
    ),
    KpiDefinition(
        "onboarding_completion_pct",
        "eligible accounts with >= `activation_min_active_users` distinct users logging in "
        "within their first `activation_days` days, / eligible x 100; NaN until the period's "
        "windows are over, and without logins",
        "%",
    ),
)

#: Headline figures of :func:`kpi_summary`: tile name -> KPI column.
_HEADLINES: dict[str, str] = {
    "period": "period",
    "provisional": "provisional",
    "customers": "customers_end",
    "arr": "arr_end",
    "logo_churn_rate_pct": "logo_churn_rate_pct",
    "retention_rate_pct": "retention_rate_pct",
    "grr_pct": "grr_pct",
    "nrr_pct": "nrr_pct",
    "upsell_rate_pct": "upsell_rate_pct",
    "arpa": "arpa",
    "ltv": "ltv",
    "nps": "nps",
    "onboarding_completion_pct": "onboarding_completion_pct",
}


def kpis_markdown() -> str:
    """The KPI columns as a Markdown table (column, formula, unit), for the docs."""
    lines = ["| column | formula | unit |", "|---|---|---|"]
    lines += [f"| `{d.column}` | {d.formula} | {d.unit} |" for d in KPI_DEFINITIONS]
    return "\n".join(lines) + "\n"


def _plain(value: object) -> object:
    """A JSON-friendly scalar: Python numbers and strings, ``None`` for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar -> Python scalar
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def kpi_summary(kpis: pd.DataFrame) -> dict[str, Any]:
    """Headline figures for report tiles: the latest *final* period, and its onboarding.

    ``period`` is the latest period that is not provisional (its churn can no longer be
    undone by a late renewal), or the latest one when all are provisional (then
    ``provisional`` is True). ``customers`` and ``arr`` are its closing figures; rates are
    those of :func:`healthscore.kpis.compute_kpis`. Onboarding is reported on signups, so it
    comes from the latest period whose accounts all finished their onboarding window:
    ``onboarding_period`` names it. ``later_periods`` lists the provisional periods after
    ``period``. Missing values (a rate with a zero denominator) are ``None`` so the result
    serialises to JSON as is.

    Example (illustration, not run)::

        kpi_summary(compute_kpis(source))["nrr_pct"]
        # -> 101.9
    """
    if kpis.empty:
        raise DataError(
            "no complete period to summarise: the history ends before its first month or "
            "quarter is over; set data.end later or supply more history"
        )
    ordered = kpis.sort_values("period_start")
    final = ordered[~ordered["provisional"].fillna(False).astype(bool)]
    latest = final.iloc[-1] if len(final) else ordered.iloc[-1]
    summary = {tile: _plain(latest[column]) for tile, column in _HEADLINES.items()}
    onboarded = ordered.dropna(subset=["onboarding_completion_pct"])
    if len(onboarded):
        summary["onboarding_completion_pct"] = _plain(
            onboarded["onboarding_completion_pct"].iloc[-1]
        )
        summary["onboarding_period"] = _plain(onboarded["period"].iloc[-1])
    else:
        summary["onboarding_completion_pct"] = None
        summary["onboarding_period"] = None
    later = ordered[ordered["period_start"] > latest["period_start"]]
    summary["later_periods"] = [str(p) for p in later["period"]]
    return summary
