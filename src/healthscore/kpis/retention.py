"""Retention KPIs per month or quarter: logo flows, revenue retention, ARPA, LTV, NPS.

Customers and ARR are read at period boundaries. "At the start" of a period means on the
last day before it, "at the end" on its last day, so the end of one period is the start of
the next and the logo flows add up: ``customers_end = customers_start + new - churned``.
Acquisitions and churns are dated on their day (see :mod:`healthscore.kpis._customers`) and
counted in the period holding that day: a contract whose exclusive ``end_date`` is 1 February
and is not renewed is a February churn, the first month without its revenue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.kpis._customers import (
    CustomerHistory,
    check_freq,
    complete_periods,
    customer_history,
    customers_on,
)
from healthscore.kpis._engagement import nps_by_period, onboarding_by_period
from healthscore.snapshots import default_start
from healthscore.storage import DataSource

#: Columns of :func:`compute_kpis`, in order.
KPI_COLUMNS: tuple[str, ...] = (
    "period",
    "period_start",
    "period_end",
    "provisional",
    "customers_start",
    "new_customers",
    "reactivated_customers",
    "churned_customers",
    "customers_end",
    "retention_rate_pct",
    "logo_churn_rate_pct",
    "arr_start",
    "arr_end",
    "expansion_arr",
    "contraction_arr",
    "churned_arr",
    "grr_pct",
    "nrr_pct",
    "upsell_rate_pct",
    "arpa",
    "ltv",
    "nps_responses",
    "nps",
    "onboarding_eligible",
    "onboarding_completion_pct",
)

_DAY = pd.Timedelta(days=1)


def compute_kpis(
    source: DataSource, config: Config | None = None, *, freq: str = "month"
) -> pd.DataFrame:
    """Retention KPIs for every complete month or quarter of the history.

    Parameters
    ----------
    source
        The input tables; ``contracts`` and ``accounts`` are required, ``nps_responses`` and
        ``logins`` feed NPS and onboarding when present.
    config
        ``labels.grace_days`` sets how late a renewal may start and not be churn;
        ``kpis`` holds the gross margin and the onboarding thresholds. Default: the defaults.
    freq
        ``"month"`` or ``"quarter"``. It also sets the unit of ARPA, the churn rate and LTV.

    Returns
    -------
    pandas.DataFrame
        One row per complete period from the one holding :func:`history_start` on
        (``period_end <= source.data_end``; the partial period at the data's end is dropped),
        with the columns of :data:`KPI_COLUMNS`, described with
        their formulas in :data:`healthscore.kpis.KPI_DEFINITIONS`. Rates are percentages,
        NaN where their denominator is zero. ``provisional`` marks periods ending less than
        ``grace_days`` before the data's end, whose churns a late renewal may still undo.

    Example (illustration, not run)::

        kpis = compute_kpis(source, config, freq="quarter")
        kpis[["period", "customers_end", "nrr_pct"]]
    """
    config = config or Config()
    _, _, per_year = check_freq(freq)
    history = customer_history(
        source.table("contracts"), grace_days=config.labels.grace_days, data_end=source.data_end
    )
    periods = complete_periods(history_start(source, config), source.data_end, freq)
    if periods.empty:
        return pd.DataFrame({column: pd.Series(dtype="float64") for column in KPI_COLUMNS})

    kpis = periods.assign(
        provisional=periods["period_end"] + pd.Timedelta(days=config.labels.grace_days)
        > source.data_end
    )
    boundary = _boundary_customers(history, periods)
    kpis = kpis.merge(_logo_flows(history, periods, boundary), on="period_start", how="left")
    kpis = kpis.merge(_revenue_flows(periods, boundary), on="period_start", how="left")
    kpis = _add_rates(kpis, gross_margin=config.kpis.gross_margin, per_year=per_year)
    kpis = kpis.merge(nps_by_period(source, freq=freq), on="period_start", how="left")
    onboarding = onboarding_by_period(source, config.kpis, freq=freq)
    kpis = kpis.merge(onboarding, on="period_start", how="left")
    # A period's onboarding is reported once every account it signed up had its full window.
    unfinished = (
        kpis["period_end"] + pd.Timedelta(days=config.kpis.activation_days) > source.data_end
    )
    kpis.loc[unfinished, ["onboarding_eligible", "onboarding_completion_pct"]] = np.nan
    kpis["nps_responses"] = kpis["nps_responses"].fillna(0).astype("int64")
    kpis["onboarding_eligible"] = kpis["onboarding_eligible"].fillna(0).astype("int64")
    return kpis[list(KPI_COLUMNS)]


def history_start(source: DataSource, config: Config) -> pd.Timestamp:
    """Where the observed history starts: the first KPI period is the one holding this day.

    ``snapshots.start`` when set; otherwise the later of the first contract start and the
    first recorded activity (:func:`healthscore.snapshots.default_start`). Exports often
    carry accounts signed up, or multi-year contracts started, years before the rest of the
    data: counting periods from those would report years of a book that was never observed.
    """

    if config.snapshots.start is not None:
        return pd.Timestamp(config.snapshots.start)
    if (
        source.scalar(
            "SELECT count(*) FROM contracts WHERE start_date < $end", {"end": source.data_end}
        )
        == 0
    ):
        raise DataError(
            f"{source.origin}: no contract starts before the data's end "
            f"({source.data_end.date()}); there is no period to compute KPIs for"
        )
    return default_start(source)


def _in_period(events: pd.Series, periods: pd.DataFrame) -> pd.Series:
    """The ``period_start`` of the period holding each event day (NaT when none does)."""
    edges = pd.DatetimeIndex(periods["period_start"]).append(
        pd.DatetimeIndex(periods["period_end"].iloc[-1:])
    )
    position = edges.searchsorted(events, side="right") - 1
    valid = (position >= 0) & (position < len(periods))
    starts = periods["period_start"].to_numpy()
    return pd.Series(
        np.where(valid, starts[np.clip(position, 0, len(periods) - 1)], np.datetime64("NaT")),
        index=events.index,
        dtype=periods["period_start"].dtype,
    )


def _boundary_customers(history: CustomerHistory, periods: pd.DataFrame) -> pd.DataFrame:
    """Per period and account: ARR at start and end (NaN when not a customer then)."""
    start_days = periods["period_start"] - _DAY
    end_days = periods["period_end"] - _DAY
    status = customers_on(history, pd.concat([start_days, end_days]))
    at_start = periods[["period_start"]].assign(day=start_days).merge(status, on="day")
    at_end = periods[["period_start"]].assign(day=end_days).merge(status, on="day")
    return at_start.drop(columns="day").merge(
        at_end.drop(columns="day"),
        on=["period_start", "account_id"],
        how="outer",
        suffixes=("_start", "_end"),
    )


def _logo_flows(
    history: CustomerHistory, periods: pd.DataFrame, boundary: pd.DataFrame
) -> pd.DataFrame:
    """Customers at start and end, and acquisitions and churns dated within each period."""
    spells = history.spells
    acquired = spells.assign(period_start=_in_period(spells["spell_start"], periods))
    churned = spells.assign(period_start=_in_period(spells["spell_end"], periods))
    counts = {
        "customers_start": boundary.dropna(subset=["arr_start"]).groupby("period_start").size(),
        "new_customers": acquired.groupby("period_start").size(),
        "reactivated_customers": acquired[acquired["spell_number"] > 1]
        .groupby("period_start")
        .size(),
        "churned_customers": churned.groupby("period_start").size(),
        "customers_end": boundary.dropna(subset=["arr_end"]).groupby("period_start").size(),
    }
    flows = periods[["period_start"]].copy()
    for name, count in counts.items():
        flows[name] = flows["period_start"].map(count).fillna(0).astype("int64")
    return flows


def _revenue_flows(periods: pd.DataFrame, boundary: pd.DataFrame) -> pd.DataFrame:
    """ARR movements of the customers at each period's start, between its start and end."""
    arr_end = boundary.groupby("period_start")["arr_end"].sum()
    cohort = boundary.dropna(subset=["arr_start"])
    start, end = cohort["arr_start"], cohort["arr_end"]
    retained = end.notna()
    moves = pd.DataFrame(
        {
            "period_start": cohort["period_start"],
            "arr_start": start,
            "expansion_arr": (end - start).clip(lower=0).where(retained, 0.0),
            "contraction_arr": (start - end).clip(lower=0).where(retained, 0.0),
            "churned_arr": start.where(~retained, 0.0),
            "upsold": retained & (end > start),
        }
    )
    sums = moves.groupby("period_start").sum()
    flows = periods[["period_start"]].copy()
    for name in ("arr_start", "expansion_arr", "contraction_arr", "churned_arr", "upsold"):
        flows[name] = flows["period_start"].map(sums[name]).fillna(0)
    flows["arr_end"] = flows["period_start"].map(arr_end).fillna(0.0)
    return flows


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator`` as floats, NaN where the denominator is zero."""
    return numerator.astype("float64") / denominator.astype("float64").where(denominator != 0)


def _add_rates(kpis: pd.DataFrame, *, gross_margin: float, per_year: int) -> pd.DataFrame:
    """Rates, revenue retention, ARPA and LTV from the counts and ARR sums."""
    start = kpis["customers_start"]
    churn_rate = _ratio(kpis["churned_customers"], start)
    arpa = _ratio(kpis["arr_start"], start) / per_year
    lost = kpis["contraction_arr"] + kpis["churned_arr"]
    return kpis.assign(
        retention_rate_pct=100 * _ratio(kpis["customers_end"] - kpis["new_customers"], start),
        logo_churn_rate_pct=100 * churn_rate,
        grr_pct=100 * _ratio(kpis["arr_start"] - lost, kpis["arr_start"]),
        nrr_pct=100 * _ratio(kpis["arr_start"] + kpis["expansion_arr"] - lost, kpis["arr_start"]),
        upsell_rate_pct=100 * _ratio(kpis["upsold"], start),
        arpa=arpa,
        ltv=arpa * gross_margin / churn_rate.where(churn_rate > 0),
    ).drop(columns="upsold")
