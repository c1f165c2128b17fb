"""Metrics of a churn model, as the customer-success team would judge it.

Ranking alone (ROC AUC) does not tell a CS leader whether the score is worth acting on. What
they need is: are the probabilities honest (Brier, log loss, calibration error), how much
better than random is the list they work (lift), how much of the churn and of the churned
revenue their capacity of ``k`` accounts catches (precision, recall and ARR recall at k), and
how early an at-risk flag shows up before an account leaves. Every function here is pure: it
takes arrays or DataFrames and returns numbers or tables, so the same code evaluates the model,
the baselines and any slice of the test period.

Churn labels are ``1`` for churned and ``0`` for retained; probabilities are churn
probabilities. Metrics that are undefined on the data given (an AUC with one class, a recall
with no churner) are ``nan`` rather than an error, so a report over many slices never stops
half-way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from healthscore.errors import DataError

_PROB_EPS = 1e-15

METRIC_KEYS: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "lift_top_decile",
    "precision_at_k",
    "recall_at_k",
    "arr_recall_at_k",
    "churn_rate",
    "n",
)
"""The keys of :func:`classification_metrics`, in report order."""

_TOP_K_KEYS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "arr_recall_at_k")


# ------------------------------------------------------------------ helpers


def _arrays(y_true: ArrayLike, prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(prob, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(
            f"labels and probabilities must be 1-D and of equal length, got {y.shape} and {p.shape}"
        )
    return y, p


def _has_both_classes(y: np.ndarray) -> bool:
    return bool(y.size) and 0 < y.sum() < y.size


def _top_order(prob: np.ndarray) -> np.ndarray:
    """Row positions by decreasing probability; ties keep their row order (deterministic)."""
    return np.argsort(-prob, kind="stable")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str | None], *, table: str) -> None:
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise DataError(
            f"{table} lacks column(s) {missing}; it has {list(frame.columns)}. "
            "Pass the right column names as keyword options."
        )


# ------------------------------------------------------------- calibration


def calibration_table(
    y_true: ArrayLike,
    prob: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> pd.DataFrame:
    """Mean predicted probability against the observed churn rate, bin by bin.

    ``quantile`` bins hold about equally many rows: their edges are the probability
    quantiles and each bin is closed on the right, so equal probabilities always share a bin
    and bins may merge. That suits churn models, whose probabilities crowd near zero.
    ``uniform`` bins split [0, 1] into ``n_bins`` equal widths, closed on the left (1.0 falls
    in the last). Empty bins are left out.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin``, ``n``, ``mean_probability``, ``observed_rate``.
    """
    y, p = _arrays(y_true, prob)
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)) if p.size else np.zeros(2)
        bins = np.searchsorted(edges[1:-1], p, side="left")
    elif strategy == "uniform":
        bins = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    table = (
        pd.DataFrame({"bin": bins, "y": y, "p": p})
        .groupby("bin", sort=True)
        .agg(n=("y", "size"), mean_probability=("p", "mean"), observed_rate=("y", "mean"))
        .reset_index()
    )
    return table


def expected_calibration_error(
    y_true: ArrayLike,
    prob: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> float:
    """Row-weighted mean gap between predicted probability and observed rate, over bins.

    ``ECE = sum_b (n_b / n) * |mean(prob in b) - mean(y in b)|``, with the bins of
    :func:`calibration_table`. Zero means every bin's average probability came true.

    Examples
    --------
    >>> expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], n_bins=2)
    0.0
    """
    table = calibration_table(y_true, prob, n_bins=n_bins, strategy=strategy)
    if table.empty:
        return float("nan")
    gaps = (table["mean_probability"] - table["observed_rate"]).abs()
    return float((gaps * table["n"]).sum() / table["n"].sum())


# ----------------------------------------------------------------- ranking


def _n_top(n: int, fraction: float) -> int:
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return max(1, math.ceil(round(fraction * n, 9)))


def lift_at(y_true: ArrayLike, prob: ArrayLike, *, fraction: float = 0.1) -> float:
    """Churn rate among the riskiest ``fraction`` of rows, divided by the overall churn rate.

    The top holds ``ceil(fraction * n)`` rows (at least one). A lift of 3 means a CSM working
    that list meets churners three times as often as one picking accounts at random.

    Examples
    --------
    >>> lift_at([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], [.9, .8, .1, .1, .7, .1, .1, .1, .1, .1],
    ...         fraction=0.2)
    2.5
    """
    y, p = _arrays(y_true, prob)
    if not y.size or y.sum() == 0:
        return float("nan")
    top = _top_order(p)[: _n_top(y.size, fraction)]
    return float(y[top].mean() / y.mean())


def cumulative_gains(y_true: ArrayLike, prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Share of rows contacted against share of churners caught, riskiest first.

    Returns
    -------
    tuple of numpy.ndarray
        ``(share_contacted, share_captured)``, both starting at 0 and ending at 1.
    """
    y, p = _arrays(y_true, prob)
    caught = np.cumsum(y[_top_order(p)])
    total = caught[-1] if caught.size and caught[-1] > 0 else np.nan
    contacted = np.arange(0, y.size + 1) / max(y.size, 1)
    return contacted, np.concatenate([[0.0], caught / total])


def top_k_metrics(
    y_true: ArrayLike,
    prob: ArrayLike,
    *,
    k: int,
    arr: ArrayLike | None = None,
) -> dict[str, float]:
    """What a team that works the ``k`` riskiest rows of one list would catch.

    Parameters
    ----------
    y_true, prob
        Churn labels (1 = churned) and churn probabilities.
    k
        Capacity: rows worked. With fewer than ``k`` rows, all are worked and precision is
        over the rows there are.
    arr
        Annual recurring revenue per row; without it ``arr_recall_at_k`` is ``nan``.

    Returns
    -------
    dict
        ``precision_at_k`` (churners among the worked rows), ``recall_at_k`` (share of all
        churners worked) and ``arr_recall_at_k`` (share of churned ARR worked). Ties in
        probability are broken by row order.

    Examples
    --------
    >>> top_k_metrics([1, 0, 1, 0], [.9, .8, .3, .1], k=2, arr=[10, 5, 30, 1])
    {'precision_at_k': 0.5, 'recall_at_k': 0.5, 'arr_recall_at_k': 0.25}
    """
    y, p = _arrays(y_true, prob)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    top = _top_order(p)[:k]
    n_churned = y.sum()
    result = {
        "precision_at_k": float(y[top].mean()) if top.size else float("nan"),
        "recall_at_k": float(y[top].sum() / n_churned) if n_churned > 0 else float("nan"),
        "arr_recall_at_k": float("nan"),
    }
    if arr is not None:
        a = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0)
        if a.shape != y.shape:
            raise ValueError(f"arr has shape {a.shape}, labels {y.shape}")
        churned_arr = (a * y).sum()
        if churned_arr > 0:
            result["arr_recall_at_k"] = float((a[top] * y[top]).sum() / churned_arr)
    return result


def top_k_by_date(
    frame: pd.DataFrame,
    *,
    k: int,
    prob_col: str = "churn_probability",
    label_col: str = "label",
    arr_col: str | None = "arr",
    date_col: str = "as_of",
) -> dict[str, float]:
    """Top-``k`` metrics computed within each observation date, then averaged over dates.

    The CS team works a list per observation date: at each ``as_of`` it takes the ``k``
    riskiest accounts of that date. Pooling every date of a test period into one ranking
    would instead let one bad month fill the whole list, and would compare ``k`` with a
    multiple of the portfolio. So each date gets :func:`top_k_metrics` on its own rows and
    the reported value is the unweighted mean over dates; a date where a metric is undefined
    (no churner for recall, no churned ARR for ARR recall) is left out of that metric's mean.

    Returns
    -------
    dict
        ``precision_at_k``, ``recall_at_k``, ``arr_recall_at_k`` and ``n_dates``.
    """
    _require_columns(frame, [prob_col, label_col, arr_col, date_col], table="scored frame")
    per_date = [
        top_k_metrics(
            group[label_col],
            group[prob_col],
            k=k,
            arr=None if arr_col is None else group[arr_col],
        )
        for _, group in frame.groupby(date_col, sort=True)
    ]
    table = pd.DataFrame(per_date, columns=list(_TOP_K_KEYS), dtype=float)
    means = {
        name: float(table[name].mean()) if table[name].notna().any() else float("nan")
        for name in table.columns
    }
    return {**means, "n_dates": len(per_date)}


def _top_k(
    frame: pd.DataFrame,
    *,
    k: int,
    prob_col: str,
    label_col: str,
    arr_col: str | None,
    date_col: str | None,
) -> dict[str, float]:
    """Per-date top-k metrics, or one pooled list when there is no date column."""
    if date_col is not None:
        return top_k_by_date(
            frame, k=k, prob_col=prob_col, label_col=label_col, arr_col=arr_col, date_col=date_col
        )
    _require_columns(frame, [arr_col], table="scored frame")
    arr = None if arr_col is None else frame[arr_col]
    return top_k_metrics(frame[label_col], frame[prob_col], k=k, arr=arr)


# ------------------------------------------------------------ the summary


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _PROB_EPS, 1 - _PROB_EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def classification_metrics(
    frame: pd.DataFrame,
    *,
    k: int,
    prob_col: str = "churn_probability",
    label_col: str = "label",
    arr_col: str | None = "arr",
    date_col: str | None = "as_of",
) -> dict[str, float | int]:
    """The headline metrics of one scored table, as plain JSON-serialisable numbers.

    Parameters
    ----------
    frame
        One row per scored snapshot with probability and label columns.
    k
        CS capacity per observation date (``CapacityConfig.top_k``).
    prob_col, label_col, arr_col, date_col
        Column names. ``arr_col=None`` leaves ARR recall ``nan``; ``date_col=None`` ranks
        all rows as one list instead of per date.

    Returns
    -------
    dict
        Exactly the keys of :data:`METRIC_KEYS`: ``roc_auc``, ``pr_auc`` (average
        precision), ``brier``, ``log_loss`` (natural log), ``ece`` (10 quantile bins),
        ``lift_top_decile``, ``precision_at_k``, ``recall_at_k`` and ``arr_recall_at_k``
        (per-date, see :func:`top_k_by_date`), ``churn_rate`` and ``n``.
    """
    _require_columns(frame, [prob_col, label_col], table="scored frame")
    y, p = _arrays(frame[label_col], frame[prob_col])
    both = _has_both_classes(y)
    top = _top_k(
        frame, k=k, prob_col=prob_col, label_col=label_col, arr_col=arr_col, date_col=date_col
    )
    metrics: dict[str, float | int] = {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)) if y.size else float("nan"),
        "log_loss": _log_loss(y, p) if y.size else float("nan"),
        "ece": expected_calibration_error(y, p) if y.size else float("nan"),
        "lift_top_decile": lift_at(y, p, fraction=0.1),
        "precision_at_k": top["precision_at_k"],
        "recall_at_k": top["recall_at_k"],
        "arr_recall_at_k": top["arr_recall_at_k"],
        "churn_rate": float(y.mean()) if y.size else float("nan"),
        "n": int(y.size),
    }
    return metrics


def metrics_by_slice(
    frame: pd.DataFrame,
    *,
    by: str,
    k: int | None = None,
    prob_col: str = "churn_probability",
    label_col: str = "label",
    arr_col: str | None = "arr",
    date_col: str | None = "as_of",
) -> pd.DataFrame:
    """The key metrics per value of one column (segment, lifecycle stage, touch tier).

    A model can look good overall and still be blind in one segment, or calibrated overall
    but over-confident for new accounts; comparing ``mean_probability`` with ``churn_rate``
    per slice shows the latter. Missing slice values form their own row.

    Returns
    -------
    pandas.DataFrame
        One row per slice value: ``by``, ``n``, ``churn_rate``, ``mean_probability``,
        ``roc_auc`` and ``pr_auc`` (``nan`` where the slice has one class), ``brier``; with
        ``k``, also ``precision_at_k``, ``recall_at_k`` and ``arr_recall_at_k`` (the top ``k``
        of the slice per date).
    """
    _require_columns(frame, [by, prob_col, label_col], table="scored frame")
    rows = []
    for value, group in frame.groupby(by, sort=True, dropna=False, observed=True):
        y, p = _arrays(group[label_col], group[prob_col])
        both = _has_both_classes(y)
        row: dict[str, object] = {
            by: value,
            "n": int(y.size),
            "churn_rate": float(y.mean()),
            "mean_probability": float(p.mean()),
            "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
            "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
            "brier": float(brier_score_loss(y, p)),
        }
        if k is not None:
            top = _top_k(
                group,
                k=k,
                prob_col=prob_col,
                label_col=label_col,
                arr_col=arr_col,
                date_col=date_col,
            )
            row.update({name: top[name] for name in _TOP_K_KEYS})
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------ early warning


def days_flagged_before_churn(
    scored: pd.DataFrame,
    *,
    flag_col: str = "risk_tier",
    flagged_values: Sequence[str] = ("at_risk",),
    window_days: int = 365,
) -> dict[str, float | int]:
    """How early the score raised a flag before each churn.

    For each churn (an ``account_id`` with a non-missing ``churned_at``), look at its
    snapshots with ``churned_at - window_days <= as_of < churned_at``. The warning time is
    ``churned_at - as_of`` in days for the *earliest* of those snapshots whose ``flag_col``
    is in ``flagged_values``. A flag that later cleared still counts: it is when the CS team
    was first told, and a tier that flickers around a threshold should not reset the clock.
    Flags older than ``window_days`` are treated as unrelated to this churn.

    Churns with no snapshot in their window are left out (the score never had a chance);
    ``n_churned`` counts the rest.

    Parameters
    ----------
    scored
        Columns ``account_id``, ``as_of``, ``churned_at`` (``NaT`` for accounts that did not
        churn) and ``flag_col``.

    Returns
    -------
    dict
        ``median`` and ``mean`` warning time in days over flagged churns (``nan`` if none),
        ``share_flagged`` (flagged churns / ``n_churned``), ``n_flagged``, ``n_churned``.
    """
    _require_columns(scored, ["account_id", "as_of", "churned_at", flag_col], table="scored frame")
    table = pd.DataFrame(
        {
            "account_id": scored["account_id"],
            "as_of": pd.to_datetime(scored["as_of"]),
            "churned_at": pd.to_datetime(scored["churned_at"]),
            "flagged": scored[flag_col].isin(list(flagged_values)),
        }
    )
    table = table[table["churned_at"].notna()]
    lead = (table["churned_at"] - table["as_of"]).dt.days
    table = table[(lead > 0) & (lead <= window_days)].assign(lead_days=lead)
    churns = table.groupby(["account_id", "churned_at"], sort=True)
    n_churned = int(churns.ngroups)
    warned = table[table["flagged"]].groupby(["account_id", "churned_at"])["lead_days"].max()
    return {
        "median": float(warned.median()) if len(warned) else float("nan"),
        "mean": float(warned.mean()) if len(warned) else float("nan"),
        "share_flagged": len(warned) / n_churned if n_churned else float("nan"),
        "n_flagged": int(len(warned)),
        "n_churned": n_churned,
    }


def oracle_ratio(model_auc: float, oracle_auc: float, *, above_chance: bool = False) -> float:
    """How much of the achievable ranking quality the model reaches.

    On simulated data the true churn probabilities are known, and their AUC (the oracle) is
    the best any model could score. The plain ratio is ``model_auc / oracle_auc``; with
    ``above_chance`` it is ``(model_auc - 0.5) / (oracle_auc - 0.5)``, the share of the
    oracle's gain over random ranking, which does not flatter weak models.

    Examples
    --------
    >>> round(oracle_ratio(0.72, 0.80), 4)
    0.9
    >>> round(oracle_ratio(0.72, 0.80, above_chance=True), 4)
    0.7333
    """
    if above_chance:
        gain = oracle_auc - 0.5
        return float((model_auc - 0.5) / gain) if gain > 0 else float("nan")
    return float(model_auc / oracle_auc) if oracle_auc > 0 else float("nan")
