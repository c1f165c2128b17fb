"""Observation dates and eligibility: the ``(account_id, as_of)`` rows everything is keyed by.

An ``as_of`` is a day: features read the days strictly before it, labels the days after it.
An account is *eligible* at ``as_of`` when a contract covers that day
(``start_date <= as_of < end_date``; the end date is exclusive) and the account is not in a
churned state: its latest churn on or before ``as_of`` (if any) was followed by a contract
starting after the churn and on or before ``as_of`` (a win-back). With contract churn the
coverage test alone implies this; with logged ``churn_events`` it also removes accounts that
were logged as churned while a contract still nominally ran. Only accounts listed in
``accounts`` are eligible.

Cadences: ``month`` = the first of every month, ``quarter`` = the first of January, April,
July and October, ``week`` = every Monday. By default the dates run from the first cadence
date on or after the earliest contract start to ``data_end`` (inclusive: a snapshot on
``data_end`` reads only the past and is what scoring uses; its labels are censored).

In renewal mode (``labels.mode = "renewal"``) the snapshots are instead taken
``renewal_offsets_days`` before each renewal date. The renewal date of a snapshot is the
latest renewal date known at ``as_of`` among the contracts active then (term grid, scheduled
end or recorded cancellation: see :mod:`healthscore.contract_terms`; the same date
``contract__days_to_renewal`` counts down to), so a snapshot is kept only when the renewal it
counts down to is the one then in force: a cancellation rewritten into ``end_date`` later
does not move it. The snapshots carry a ``renewal_date`` column for
:func:`healthscore.labels.make_labels`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from healthscore.config import Config
from healthscore.contract_terms import known_renewal_sql, present_columns, register_terms
from healthscore.errors import ConfigError, DataError
from healthscore.labels import churn_dates
from healthscore.schema import EVENT_TABLES, TABLES
from healthscore.storage import DataSource

CADENCE_FREQ: dict[str, str] = {"month": "MS", "quarter": "QS", "week": "W-MON"}
CADENCE_PERIOD: dict[str, str] = {"month": "M", "quarter": "Q", "week": "W-SUN"}


def observation_dates(start: object, end: object, *, cadence: str = "month") -> pd.DatetimeIndex:
    """Cadence dates in ``[start, end]`` (both inclusive, as days).

    Examples
    --------
    >>> list(observation_dates("2024-01-15", "2024-04-01").strftime("%Y-%m-%d"))
    ['2024-02-01', '2024-03-01', '2024-04-01']
    """
    if cadence not in CADENCE_FREQ:
        raise ConfigError(f"unknown snapshot cadence {cadence!r}; use month, week or quarter")
    first, last = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    return pd.date_range(first, last, freq=CADENCE_FREQ[cadence], name="as_of")


def period_start(as_of: pd.Series, *, cadence: str = "month") -> pd.Series:
    """The first day of the cadence period holding each date (identity on cadence dates)."""
    return pd.to_datetime(as_of).dt.to_period(CADENCE_PERIOD[cadence]).dt.start_time


def _pairs_filter_sql(terms: str, pairs: str, *, covered: bool = False) -> str:
    """SQL keeping the eligible rows of the CTE ``pairs(account_id, as_of, ...)``.

    ``covered`` says that every pair is known to be covered by a contract of its account
    (and distinct), so that the coverage join can be left out.
    """
    coverage = (
        "SELECT * FROM pairs"
        if covered
        else """SELECT DISTINCT p.* FROM pairs p JOIN terms t
              ON t.account_id = p.account_id AND t.start_date <= p.as_of AND p.as_of < t.end_date"""
    )
    # Only accounts that churned need the latest contract start before as_of.
    return f"""
        WITH terms AS NOT MATERIALIZED (SELECT * FROM {terms}),
        pairs AS ({pairs}),
        covered AS ({coverage}),
        churns AS (SELECT account_id, CAST(churned_at AS DATE) AS churned_at FROM _hs_churns),
        last_churn AS (
            SELECT c.*, ch.churned_at AS _churned_at FROM covered c
            ASOF LEFT JOIN churns ch ON c.account_id = ch.account_id AND c.as_of >= ch.churned_at
        ),
        starts AS (
            SELECT DISTINCT account_id, start_date FROM terms
            WHERE account_id IN (SELECT account_id FROM churns)
        ),
        last_start AS (
            SELECT lc.*, s.start_date AS _started_at FROM last_churn lc
            ASOF LEFT JOIN starts s ON lc.account_id = s.account_id AND lc.as_of >= s.start_date
        )
        SELECT * EXCLUDE (_churned_at, _started_at) FROM last_start
        WHERE _churned_at IS NULL OR _started_at > _churned_at
        ORDER BY as_of, account_id
    """


def _run_filtered(
    source: DataSource,
    config: Config,
    pairs: str,
    params: dict[str, object],
    churns: pd.DataFrame | None,
    *,
    covered: bool = False,
) -> pd.DataFrame:
    if churns is None:
        churns = churn_dates(source, config)
    terms = register_terms(source, grace_days=config.labels.grace_days)
    source.con.register("_hs_churns", churns[["account_id", "churned_at"]])
    try:
        out = source.query(_pairs_filter_sql(terms, pairs, covered=covered), {**params})
    finally:
        source.con.unregister("_hs_churns")
    for column in ("as_of", "renewal_date"):
        if column in out.columns:
            out[column] = pd.to_datetime(out[column])
    out["account_id"] = out["account_id"].astype("str")
    return out.reset_index(drop=True)


def eligible_accounts(
    source: DataSource,
    dates: Iterable[object],
    config: Config,
    *,
    churns: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every eligible ``(account_id, as_of)`` at the given dates, sorted by date and account.

    ``churns`` (from :func:`healthscore.labels.churn_dates`) may be passed to avoid
    recomputing it.
    """
    days = sorted({pd.Timestamp(d).normalize().date() for d in dates})
    pairs = """
        SELECT DISTINCT t.account_id, d.as_of
        FROM terms t, (SELECT unnest($dates::DATE[]) AS as_of) d
        WHERE t.start_date <= d.as_of AND d.as_of < t.end_date
    """
    return _run_filtered(source, config, pairs, {"dates": days}, churns, covered=True)


def _renewal_snapshots(
    source: DataSource,
    config: Config,
    first: pd.Timestamp,
    last: pd.Timestamp,
    churns: pd.DataFrame,
) -> pd.DataFrame:
    offsets = sorted(set(config.labels.renewal_offsets_days))
    if not offsets or min(offsets) <= 0:
        raise ConfigError("labels.renewal_offsets_days must be positive numbers of days")
    known = known_renewal_sql(present_columns(source), t="t", as_of="c.as_of")
    pairs = f"""
        WITH offsets AS (SELECT unnest($offsets::INTEGER[]) AS offset_days),
        grid AS (
            SELECT t.account_id, t.anchor, t.term_months,
                   unnest(range(1, CAST(ceil((date_diff('month', t.anchor, t.end_date)
                                             + $max_offset_months) / t.term_months) AS BIGINT) + 2))
                       AS k
            FROM terms t WHERE t.term_months IS NOT NULL
        ),
        boundaries AS (
            SELECT account_id,
                   CAST(anchor + to_months(CAST(k * term_months AS INTEGER)) AS DATE)
                       AS renewal_date
            FROM grid
            UNION SELECT account_id, end_date FROM terms
            {
        "UNION SELECT account_id, scheduled_end FROM terms WHERE scheduled_end IS NOT NULL"
        if "scheduled_end" in present_columns(source)
        else ""
    }
        ),
        candidates AS (
            SELECT DISTINCT b.account_id, b.renewal_date - o.offset_days AS as_of, b.renewal_date
            FROM boundaries b, offsets o
        ),
        current AS (
            SELECT c.account_id, c.as_of, c.renewal_date, max({known}) AS current_renewal
            FROM candidates c JOIN terms t
              ON t.account_id = c.account_id AND t.start_date < c.as_of AND c.as_of <= t.end_date
            GROUP BY ALL
        )
        SELECT account_id, as_of, renewal_date FROM current
        WHERE current_renewal = renewal_date AND as_of >= $first AND as_of <= $last
    """
    params = {
        "offsets": offsets,
        "first": first.date(),
        "last": last.date(),
        "max_offset_months": max(offsets) // 28 + 1,
    }
    return _run_filtered(source, config, pairs, params, churns)


def default_start(source: DataSource) -> pd.Timestamp:
    """Where observation starts by default: when both contracts and activity are recorded.

    Exports often carry contracts that began long before the product's event logs do
    (customers who were already there when tracking started). Snapshots from those years
    have contracts but no behaviour, and would teach a model that silence is safe, so the
    default start is the later of the first contract start and the first recorded activity
    (login, feature use, ticket or NPS response) of the tables present.
    """
    first_contract = source.scalar("SELECT min(CAST(start_date AS DATE)) FROM contracts")
    if first_contract is None or pd.isna(first_contract):
        raise DataError("contracts holds no start dates; cannot place observation dates")
    firsts = [
        source.scalar(f"SELECT min(CAST({TABLES[name].event_time} AS DATE)) FROM {name}")
        for name in EVENT_TABLES
        if source.has(name)
    ]
    firsts = [pd.Timestamp(f) for f in firsts if f is not None and not pd.isna(f)]
    activity = min(firsts) if firsts else pd.Timestamp(first_contract)
    return max(pd.Timestamp(first_contract), activity)


def make_snapshots(
    source: DataSource,
    config: Config,
    *,
    start: object | None = None,
    end: object | None = None,
) -> pd.DataFrame:
    """The eligible ``(account_id, as_of)`` rows on the configured cadence.

    Parameters
    ----------
    source
        The input tables.
    config
        ``snapshots`` (cadence, default range) and ``labels`` (mode, churn definition).
    start, end
        Inclusive date range; default ``config.snapshots.start``/``end``, else from
        :func:`default_start` to ``source.data_end``. Dates after ``data_end`` are dropped: nothing
        after it has been observed.

    Returns
    -------
    DataFrame
        ``[account_id, as_of]`` sorted by ``as_of`` then ``account_id``; renewal mode adds
        ``renewal_date``.
    """
    data_end = source.data_end
    start = start if start is not None else config.snapshots.start
    end = end if end is not None else config.snapshots.end
    if start is None:
        start = default_start(source)
    last = min(pd.Timestamp(end).normalize(), data_end) if end is not None else data_end
    first = pd.Timestamp(start).normalize()
    churns = churn_dates(source, config)
    if config.labels.mode == "renewal":
        return _renewal_snapshots(source, config, first, last, churns)
    dates = observation_dates(first, last, cadence=config.snapshots.cadence)
    if len(dates) == 0:
        raise DataError(
            f"no {config.snapshots.cadence} observation dates between {first:%Y-%m-%d} and "
            f"{last:%Y-%m-%d}; widen [snapshots] start/end or check the data's dates"
        )
    return eligible_accounts(source, dates, config, churns=churns)


# --------------------------------------------------------------------------- cadence


def latest_as_of(source: DataSource, config: Config) -> pd.Timestamp:
    """The last observation date on the cadence that the data fully covers."""
    end = pd.Timestamp(source.data_end)
    if config.snapshots.cadence == "week":
        return end - pd.Timedelta(days=end.dayofweek)
    month = end.to_period("M").to_timestamp()
    if config.snapshots.cadence == "quarter":
        month = end.to_period("Q").to_timestamp()
    return month


def step_back(as_of: pd.Timestamp, config: Config) -> pd.Timestamp:
    """The previous observation date on the configured cadence."""
    offsets = {
        "month": pd.DateOffset(months=1),
        "quarter": pd.DateOffset(months=3),
        "week": pd.DateOffset(weeks=1),
    }
    return pd.Timestamp(as_of) - offsets[config.snapshots.cadence]
