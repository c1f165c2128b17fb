"""The churn definition and the labels: what happened to each snapshot after its ``as_of``.

Churn definition
----------------
``labels.churn_source = "contracts"`` (default) walks each account's contract coverage in
start order. Coverage that ends at ``e`` and is not continued by a contract starting at or
before ``e + grace_days`` is a churn at ``e`` (the exclusive end date, the first day without
coverage). A contract starting later still is a *win-back*: the account becomes eligible
again and can churn again, so one account may have several churn dates. A churn at ``e`` is
only *known* once ``e + grace_days`` has been observed, so :func:`churn_dates` returns only
churns with ``e + grace_days < data_end``; a contract that ended more recently may still be
renewed late.

``labels.churn_source = "churn_events"`` takes the dates logged in ``churn_events`` instead
(events on or after ``data_end`` are ignored). Either way churn dates are days (time of day
dropped) and only accounts listed in ``accounts`` count.

Labels
------
Rolling mode (default): ``label = 1`` when the account churns in
``(as_of + lead, as_of + lead + horizon]``. An account that churns during the lead period
itself, ``(as_of, as_of + lead]``, is also labelled 1: it is lost before the window opens, and
calling it a survivor would teach the model that the most urgent cases are healthy.
Renewal mode: each snapshot belongs to one renewal date (see :mod:`healthscore.snapshots`)
and ``label = 1`` when the account churns in ``(as_of, renewal_date]`` (contract churn), or in
``(as_of, renewal_date + grace_days]`` (logged churn events, which may be logged a little
after the end date): the account did not renew.

Censoring
---------
A window ending (inclusively) on day ``w`` is fully observed when day ``w`` lies before
``data_end`` (``w < data_end``) for logged churn events, and when ``w + grace_days < data_end``
for contract churn (a churn on ``w`` is only confirmed ``grace_days`` later). Snapshots whose
window is not fully observed are *censored*: ``label`` is NaN, never 0, and ``censored`` is
True, whatever happened inside the window so far (labelling the early churns 1 and leaving the
rest out would bias the latest snapshots towards churn). ``churned_at`` holds the first churn
inside the window whenever one is known, censored or not; use ``label``, not ``churned_at``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.contract_terms import shared_terms
from healthscore.errors import DataError
from healthscore.storage import DataSource


def churns_from_contracts(
    terms: pd.DataFrame, *, grace_days: int, data_end: pd.Timestamp
) -> pd.DataFrame:
    """Churn dates from contract coverage (pure function of the terms).

    Coverage ending at ``e`` with no contract starting in ``[e, e + grace_days]`` is a churn
    at ``e``; the last coverage of an account counts only once ``e + grace_days < data_end``.

    Examples
    --------
    >>> terms = pd.DataFrame({
    ...     "account_id": ["a", "a", "b"],
    ...     "start_date": pd.to_datetime(["2023-01-01", "2023-03-15", "2023-01-01"]),
    ...     "end_date": pd.to_datetime(["2023-02-01", "2023-06-01", "2023-12-01"])})
    >>> churns_from_contracts(terms, grace_days=30, data_end=pd.Timestamp("2023-09-01"))
      account_id churned_at
    0          a 2023-02-01
    1          a 2023-06-01
    """
    grace = pd.Timedelta(days=grace_days)
    data_end = pd.Timestamp(data_end).normalize()
    if terms.empty:
        return pd.DataFrame(
            {
                "account_id": pd.Series([], dtype="str"),
                "churned_at": pd.Series([], dtype="datetime64[us]"),
            }
        )
    same_account = _coverage_order(terms)
    if same_account is not None:
        return _churns_in_order(terms, same_account, grace=grace, data_end=data_end)
    ordered = terms.sort_values(["account_id", "start_date", "end_date"], ignore_index=True)
    covered_until = ordered.groupby("account_id", sort=False)["end_date"].cummax()
    previous_end = covered_until.groupby(ordered["account_id"], sort=False).shift(1)
    gap = previous_end.notna() & (ordered["start_date"] > previous_end + grace)
    middle = pd.DataFrame(
        {"account_id": ordered.loc[gap, "account_id"], "churned_at": previous_end[gap]}
    )
    last = ordered.groupby("account_id", sort=False)["end_date"].max().reset_index()
    last = last[last["end_date"] + grace < data_end]
    last = last.rename(columns={"end_date": "churned_at"})
    churns = pd.concat([middle, last], ignore_index=True)
    churns["churned_at"] = pd.to_datetime(churns["churned_at"])
    return churns.sort_values(["account_id", "churned_at"], ignore_index=True)


def _coverage_order(terms: pd.DataFrame) -> np.ndarray | None:
    """Whether each row's account is the previous row's, when the (non-empty) rows are
    already sorted by account, start and end without gaps in those; else None."""
    account, start, end = terms["account_id"], terms["start_date"], terms["end_date"]
    if not (
        pd.api.types.is_string_dtype(account)
        and pd.api.types.is_datetime64_dtype(start)
        and pd.api.types.is_datetime64_dtype(end)
    ) or (account.isna().any() or start.isna().any() or end.isna().any()):
        return None
    previous, following = account.array[:-1], account.array[1:]
    same = np.asarray(following == previous, dtype=bool)
    if not np.asarray(following >= previous, dtype=bool).all():
        return None
    start_values, end_values = start.to_numpy(), end.to_numpy()
    later_start = start_values[1:] > start_values[:-1]
    in_order = (
        ~same
        | later_start
        | ((start_values[1:] == start_values[:-1]) & (end_values[1:] >= end_values[:-1]))
    )
    if not in_order.all():
        return None
    return np.concatenate([[False], same])


def _churns_in_order(
    terms: pd.DataFrame, same_account: np.ndarray, *, grace: pd.Timedelta, data_end: pd.Timestamp
) -> pd.DataFrame:
    """:func:`churns_from_contracts` for terms already in coverage order (see
    :func:`_coverage_order`), with integer account codes in place of the identifiers."""
    start, end = terms["start_date"].to_numpy(), terms["end_date"].to_numpy()
    group = np.cumsum(~same_account)
    covered_until = pd.Series(end).groupby(group, sort=False).cummax().to_numpy()
    # in the unit of the end dates: far ends (9999-12-31) do not fit in nanoseconds
    unit = np.datetime_data(end.dtype)[0]
    step = grace.to_timedelta64().astype(f"timedelta64[{unit}]")
    gap = np.zeros(len(end), dtype=bool)
    gap[1:] = same_account[1:] & (start[1:] > covered_until[:-1] + step)
    middle = np.flatnonzero(gap)
    last = np.flatnonzero(np.append(~same_account[1:], True))
    last = last[covered_until[last] + step < data_end.to_datetime64().astype(end.dtype)]
    rows = np.concatenate([middle, last])
    dates = np.concatenate([covered_until[middle - 1], covered_until[last]])
    order = np.lexsort((dates, group[rows]))
    return pd.DataFrame(
        {
            "account_id": terms["account_id"].take(rows[order]).reset_index(drop=True),
            "churned_at": dates[order],
        }
    )


def churn_dates(source: DataSource, config: Config) -> pd.DataFrame:
    """Known churn dates ``[account_id, churned_at]`` under the configured churn definition.

    One row per churn (an account that was won back and churned again has two), sorted by
    account and date. Only churns known by ``source.data_end`` are returned.
    """
    if config.labels.churn_source == "churn_events":
        if not source.has("churn_events"):
            raise DataError(
                "labels.churn_source is 'churn_events' but the data has no churn_events table; "
                "add churn_events.csv/.parquet or set labels.churn_source = 'contracts'"
            )
        churns = source.query(
            """
            SELECT DISTINCT account_id, CAST(churned_at AS DATE) AS churned_at
            FROM churn_events
            WHERE churned_at IS NOT NULL AND churned_at < $data_end
              AND account_id IN (SELECT account_id FROM accounts)
            ORDER BY account_id, churned_at
            """,
            {"data_end": source.data_end},
        )
        churns["churned_at"] = pd.to_datetime(churns["churned_at"])
        return churns.reset_index(drop=True)
    terms = shared_terms(source, grace_days=config.labels.grace_days)
    return churns_from_contracts(
        terms, grace_days=config.labels.grace_days, data_end=source.data_end
    )


def label_window_end(snapshots: pd.DataFrame, config: Config) -> pd.Series:
    """The last day (inclusive) of each snapshot's label window."""
    as_of = pd.to_datetime(snapshots["as_of"])
    labels = config.labels
    if labels.mode == "rolling":
        return as_of + pd.Timedelta(days=labels.lead_days + labels.horizon_days)
    if "renewal_date" not in snapshots.columns:
        raise DataError(
            "labels.mode is 'renewal' but the snapshots have no renewal_date column; "
            "build them with make_snapshots(source, config) under the same config"
        )
    end = pd.to_datetime(snapshots["renewal_date"])
    if labels.churn_source == "churn_events":
        end = end + pd.Timedelta(days=labels.grace_days)
    return end


def is_observed(window_end: pd.Series, config: Config, *, data_end: pd.Timestamp) -> pd.Series:
    """Whether a label window ending on ``window_end`` is fully observed by ``data_end``."""
    known_at = window_end
    if config.labels.churn_source == "contracts":
        known_at = window_end + pd.Timedelta(days=config.labels.grace_days)
    return known_at < pd.Timestamp(data_end).normalize()


def make_labels(
    snapshots: pd.DataFrame, churns: pd.DataFrame, config: Config, *, data_end: pd.Timestamp
) -> pd.DataFrame:
    """Label each snapshot: did the account churn in its label window?

    Parameters
    ----------
    snapshots
        ``[account_id, as_of]`` (plus ``renewal_date`` in renewal mode), as from
        :func:`healthscore.snapshots.make_snapshots`.
    churns
        ``[account_id, churned_at]`` as from :func:`churn_dates`.
    config
        The label definition (mode, lead, horizon, grace, churn source).
    data_end
        Exclusive end of the observed history; decides censoring.

    Returns
    -------
    DataFrame
        ``[account_id, as_of, label, censored, churned_at]`` in the snapshots' order:
        ``label`` is 1.0, 0.0, or NaN when ``censored``.
    """
    keys = snapshots[["account_id", "as_of"]].reset_index(drop=True)
    as_of = pd.to_datetime(keys["as_of"])
    window_end = label_window_end(snapshots.reset_index(drop=True), config)
    probe = pd.DataFrame(
        {
            "_pos": range(len(keys)),
            "account_id": keys["account_id"].astype("str"),
            "as_of": as_of.astype("datetime64[us]"),
        }
    )
    events = churns[["account_id", "churned_at"]].dropna().copy()
    events["account_id"] = events["account_id"].astype("str")
    events["churned_at"] = pd.to_datetime(events["churned_at"]).astype("datetime64[us]")
    nxt = pd.merge_asof(
        probe.sort_values("as_of"),
        events.sort_values("churned_at"),
        left_on="as_of",
        right_on="churned_at",
        by="account_id",
        direction="forward",
        allow_exact_matches=False,
    ).sort_values("_pos")
    next_churn = pd.Series(nxt["churned_at"].to_numpy(), index=keys.index)
    in_window = next_churn.notna() & (next_churn <= window_end)
    censored = ~is_observed(window_end, config, data_end=data_end)
    label = in_window.astype("float64").where(~censored)
    return pd.DataFrame(
        {
            "account_id": keys["account_id"],
            "as_of": keys["as_of"],
            "label": label,
            "censored": censored.astype(bool),
            "churned_at": next_churn.where(in_window),
        }
    )
