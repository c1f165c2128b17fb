"""The oracle: the true probability of churn in a window, read off the true hazard table.

It is the ceiling any model can reach on a simulated world (the best calibrated scores one
could have), so evaluations report a model's AUC beside the oracle's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.storage import read_frame

_NS_PER_DAY = 86_400 * 10**9


def _nanoseconds(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(np.asarray(values))).astype("datetime64[ns]")
    return stamps.to_numpy().astype(np.int64)


def oracle_churn_probability(
    hazard: pd.DataFrame, snapshots: pd.DataFrame, *, horizon_days: int = 90, lead_days: int = 0
) -> pd.Series:
    """True probability that each snapshot's account churns in its label window.

    The window is ``(as_of + lead_days, as_of + lead_days + horizon_days]``, the label
    window used downstream. Given that the account is a live customer at ``as_of``, the
    probability is ``S(a) - S(b)`` with ``S`` the survival from ``as_of`` and ``a``, ``b``
    the window's ends (so with a lead, churning during the lead does not count).

    Parameters
    ----------
    hazard : DataFrame
        ``world.truth["hazard"]``: ``account_id``, ``month`` (first day of the month),
        ``hazard`` (P(churn during that month | alive at its start)) and optionally
        ``decision_date``.
    snapshots : DataFrame
        ``account_id`` and ``as_of``; any index.
    horizon_days, lead_days
        Length of the window and its delay after ``as_of``.

    Returns
    -------
    Series
        Probabilities aligned to ``snapshots.index``.

    Notes
    -----
    Partial months. When ``decision_date`` is given (the simulator always gives it), a
    month's hazard is concentrated on that day, the only day its term could end, and counts
    fully when the day lies in the window and not at all otherwise, which is exact. Rows
    without a decision date spread their hazard evenly over the month's days (a constant
    daily hazard), so a window covering a fraction ``f`` of the month gets ``1 - (1 - h) **
    f`` of it. Months after the last hazard row (beyond the data's end, or after churn)
    contribute nothing, so windows should end before the data's end.

    Examples
    --------
    >>> hazard = pd.DataFrame({"account_id": ["A1", "A1"], "hazard": [0.1, 0.2],
    ...     "month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...     "decision_date": pd.to_datetime(["2024-01-15", "2024-02-15"])})
    >>> snapshots = pd.DataFrame({"account_id": ["A1"], "as_of": pd.to_datetime(["2024-01-01"])})
    >>> round(float(oracle_churn_probability(hazard, snapshots, horizon_days=60).iloc[0]), 3)
    0.28
    """
    missing = {"account_id", "month", "hazard"} - set(hazard.columns)
    if missing or not {"account_id", "as_of"} <= set(snapshots.columns):
        raise ValueError(
            "hazard needs account_id, month, hazard; snapshots need account_id, "
            f"as_of (missing from hazard: {sorted(missing)})"
        )
    accounts = pd.Index(pd.unique(hazard["account_id"]))
    row_account = accounts.get_indexer(hazard["account_id"])
    order = np.argsort(row_account, kind="stable")
    row_account = row_account[order]
    month_start = _nanoseconds(hazard["month"])[order]
    month_end = _nanoseconds(pd.to_datetime(hazard["month"]) + pd.offsets.MonthBegin(1))[order]
    if "decision_date" in hazard.columns:
        decision = _nanoseconds(hazard["decision_date"])[order]
        has_decision = ~pd.isna(hazard["decision_date"]).to_numpy()[order]
    else:
        decision = np.zeros(len(order), dtype=np.int64)
        has_decision = np.zeros(len(order), dtype=bool)
    log_survival = np.log1p(-np.clip(hazard["hazard"].to_numpy(float)[order], 0.0, 1.0 - 1e-12))

    snap_account = accounts.get_indexer(snapshots["account_id"])
    as_of = _nanoseconds(snapshots["as_of"])
    window_start = as_of + lead_days * _NS_PER_DAY
    window_end = window_start + horizon_days * _NS_PER_DAY

    first = np.searchsorted(row_account, snap_account, side="left")
    last = np.searchsorted(row_account, snap_account, side="right")
    counts = np.where(snap_account >= 0, last - first, 0)
    pair_snapshot = np.repeat(np.arange(len(snapshots)), counts)
    pair_row = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())

    def elapsed(t: np.ndarray) -> np.ndarray:
        """Share of each paired row's hazard already resolved by time ``t``."""
        r = pair_row
        spread = np.clip((t - month_start[r]) / (month_end[r] - month_start[r]), 0.0, 1.0)
        return np.where(has_decision[r], (decision[r] <= t).astype(float), spread)

    t0, ta, tb = (x[pair_snapshot] for x in (as_of, window_start, window_end))
    done_at_a, done_at_b = elapsed(ta), elapsed(tb)
    weights = log_survival[pair_row]
    n = len(snapshots)
    lead = np.bincount(pair_snapshot, weights * (done_at_a - elapsed(t0)), minlength=n)
    window = np.bincount(pair_snapshot, weights * (done_at_b - done_at_a), minlength=n)
    probability = np.exp(lead) * -np.expm1(window)
    return pd.Series(probability, index=snapshots.index, name="oracle_churn_probability")


#: The folder, inside a simulated data set, that holds its ground truth.
TRUTH_DIR = "_truth"


def oracle_probability(
    data: str | Path, snapshots: pd.DataFrame, config: Config
) -> pd.Series | None:
    """The simulator's true churn probability of each snapshot, if ``data`` has ground truth."""
    hazard_file = Path(data) / TRUTH_DIR / "hazard.parquet"
    if not hazard_file.is_file():
        return None
    hazard = read_frame(hazard_file)
    return oracle_churn_probability(
        hazard,
        snapshots[["account_id", "as_of"]],
        horizon_days=config.labels.horizon_days,
        lead_days=config.labels.lead_days,
    )
