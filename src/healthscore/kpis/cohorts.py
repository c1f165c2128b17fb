"""Cohort retention tables: how much of each acquisition cohort is still a customer.

A cohort is the set of accounts first acquired in one month (or quarter): the period holding
the start of their first customer spell, from the start of the observed history on
(:func:`healthscore.kpis.retention.history_start`; accounts already customers then belong to
no cohort, since their acquisition was not observed). Accounts that never had a contract
belong to no cohort, so the table measures retention, not trial conversion.

Logo retention is a survival curve: the share of the cohort still in its first customer
spell, so it can only fall (a win-back is a new acquisition in the KPIs, not a return to its
old cohort). :func:`mean_retention_curve` averages the cohorts the same way, so the average
never rises either, and only over the cohorts old enough to have reached each period.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.kpis._customers import (
    CustomerHistory,
    complete_periods,
    customer_history,
    customers_on,
)
from healthscore.kpis.retention import history_start
from healthscore.storage import DataSource


def cohort_retention(
    source: DataSource,
    config: Config | None = None,
    *,
    by: Literal["logos", "revenue"] = "logos",
    freq: str = "month",
) -> pd.DataFrame:
    """The share of each acquisition cohort retained, by periods since acquisition.

    Parameters
    ----------
    source
        The input tables (only ``contracts`` is read).
    config
        ``labels.grace_days`` decides which gaps are churn. Default: the defaults.
    by
        ``"logos"``: the share of the cohort's accounts still in their first customer spell
        on the last day of the period (never rises). ``"revenue"``: the cohort's ARR on that
        day over its ARR on each account's acquisition day; above 1 when expansion outweighs
        churn and contraction.
    freq
        ``"month"`` or ``"quarter"``: the length of a cohort and of a step.

    Returns
    -------
    pandas.DataFrame
        One row per cohort with a complete acquisition period, indexed by its label
        (``2024-03``, ``2024Q1``); columns ``0..N`` periods since acquisition, where column 0
        is the acquisition period itself. Cells for periods not yet complete at the data's end
        are NaN.

    Example (illustration, not run)::

        cohort_retention(source, config, by="revenue").round(2)
    """
    if by not in ("logos", "revenue"):
        raise DataError(f"unknown cohort measure {by!r}: use 'logos' or 'revenue'")
    config = config or Config()
    history = customer_history(
        source.table("contracts"), grace_days=config.labels.grace_days, data_end=source.data_end
    )
    firsts = history.spells[history.spells["spell_number"] == 1]
    empty = pd.DataFrame(index=pd.Index([], name="cohort", dtype="str"), dtype="float64")
    if firsts.empty:
        return empty
    periods = complete_periods(history_start(source, config), source.data_end, freq)
    if periods.empty:
        return empty
    periods["step"] = np.arange(len(periods))

    members = _cohort_members(history, firsts, periods)
    grid = members.merge(periods[["step", "period_end"]], how="cross")
    grid = grid[grid["step"] >= grid["cohort_step"]]
    grid["day"] = grid["period_end"] - pd.Timedelta(days=1)
    status = customers_on(history, grid["day"].drop_duplicates())
    grid = grid.merge(status, on=["account_id", "day"], how="left")

    if by == "logos":
        first_end = grid["account_id"].map(firsts.set_index("account_id")["spell_end"])
        grid["value"] = (grid["day"] < first_end).astype("float64")
        size = members.groupby("cohort")["account_id"].size().astype("float64")
    else:
        grid["value"] = grid["arr"].fillna(0.0)
        size = members.groupby("cohort")["starting_arr"].sum()
    grid["since"] = grid["step"] - grid["cohort_step"]
    retained = grid.pivot_table(
        index="cohort", columns="since", values="value", aggfunc="sum", sort=True
    )
    table = retained.div(size.where(size > 0), axis=0)
    table.columns = pd.Index([int(c) for c in table.columns], name="periods_since_acquisition")
    return table


def _cohort_members(
    history: CustomerHistory, firsts: pd.DataFrame, periods: pd.DataFrame
) -> pd.DataFrame:
    """Each acquired account's cohort label, cohort step and ARR on its acquisition day."""
    edges = pd.DatetimeIndex(periods["period_start"])
    step = edges.searchsorted(firsts["spell_start"], side="right") - 1
    observed = (step >= 0) & (firsts["spell_start"] < periods["period_end"].iloc[-1]).to_numpy()
    members = firsts.loc[observed, ["account_id", "spell_start"]].assign(cohort_step=step[observed])
    members["cohort"] = periods["period"].to_numpy()[members["cohort_step"]]
    starting = customers_on(history, members["spell_start"].drop_duplicates())
    starting = starting.rename(columns={"day": "spell_start", "arr": "starting_arr"})
    members = members.merge(starting, on=["account_id", "spell_start"], how="left")
    return members.drop(columns="spell_start")


def mean_retention_curve(cohorts: pd.DataFrame, *, min_cohorts: int = 3) -> pd.Series:
    """The average cohort's retention by periods since acquisition, never rising.

    Chained like a life table: the step from period ``k - 1`` to ``k`` is the mean, over the
    cohorts observed at ``k``, of their retention at ``k`` over their retention at ``k - 1``;
    the curve is the running product. Each step is at most 1 for logo retention, so the
    curve never rises, and a period reached by fewer than ``min_cohorts`` cohorts ends it
    (NaN), rather than letting one or two old cohorts stand for the average.

    Examples
    --------
    >>> table = pd.DataFrame([[1.0, 0.9, 0.8], [1.0, 0.7, None], [1.0, 0.8, None]])
    >>> mean_retention_curve(table, min_cohorts=2).round(3).tolist()
    [1.0, 0.8, nan]
    """
    values = cohorts.to_numpy(dtype="float64", na_value=np.nan)
    curve = np.full(values.shape[1], np.nan)
    if values.size == 0:
        return pd.Series(curve, index=cohorts.columns, dtype="float64")
    start = values[:, 0]
    known = ~np.isnan(start)
    if known.sum() >= min_cohorts:
        curve[0] = float(np.mean(start[known]))
    for k in range(1, values.shape[1]):
        before, now = values[:, k - 1], values[:, k]
        usable = ~np.isnan(now) & ~np.isnan(before) & (before > 0)
        if usable.sum() < min_cohorts or np.isnan(curve[k - 1]):
            break
        curve[k] = curve[k - 1] * float(np.mean(now[usable] / before[usable]))
    return pd.Series(curve, index=cohorts.columns, dtype="float64")
