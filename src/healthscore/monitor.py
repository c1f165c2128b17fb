"""Can the model still be trusted? Drift of the scored population, and churn as it came.

Three checks, each against what the model was trained on, end in one verdict:

* **Feature drift.** For every feature, the population stability index (PSI) of the accounts
  scored at ``as_of`` against the training population, over the training population's
  quantile bins (categories for text and booleans), and the change in the share of missing
  values. Features that carry at least ``monitor.min_importance`` of the model's gain decide
  the verdict; the others are listed. So are the context features (tenure, days to renewal,
  contract length, lifecycle stage, segment...: :data:`~healthscore.explain.CONTEXT_FEATURES`),
  which drift by design as the book ages and grows; a change of mix that matters shows in
  the score shift and in realised churn. Only a *rise* in the share missing counts (a feed
  that broke); a fall means the history got longer, as it does after the first months.
* **Score shift.** The PSI of the churn probabilities, over the training population's
  deciles of its own scores.
* **Realised churn.** For every past scoring date after the training period whose label
  window had ended by ``as_of``, the churn that happened against the churn predicted (mean
  probability), and the ROC AUC. Dates of the training period are left out: the model has
  seen their outcomes, so they would flatter it.
  The latest ``monitor.recent_dates`` of them decide: realised churn off the prediction by
  more than ``calibration_watch``/``calibration_retrain`` times (and unlikely under the
  prediction by a binomial test at ``alpha``), or an ROC AUC that fell below the test
  period's by ``auc_drop_watch``/``auc_drop_retrain``.

The verdict is the worst of the checks: ``ok``, ``watch`` (look again at the next run) or
``retrain``; every reason is a sentence naming the feature or date and the numbers.

PSI is ``sum((current - reference) * ln(current / reference))`` over the bins, each share
floored at 1e-4 so that an empty bin does not make it infinite. It is eight lines of numpy
here rather than a dependency: the monitoring libraries that compute it (evidently,
nannyml, alibi-detect) bring dashboards, servers or deep-learning stacks with them, and
their binning differs in ways that would have to be configured to match this one anyway.
The AUC comes from scikit-learn and the binomial test from scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from healthscore.config import MonitorConfig
from healthscore.explain import CONTEXT_FEATURES
from healthscore.i18n import N_, Message

VERDICTS: tuple[str, ...] = ("ok", "watch", "retrain")
_FLOOR = 1e-4


@dataclass
class MonitorReport:
    """What :func:`monitor_model` found; the tables are written by the pipeline.

    Attributes
    ----------
    verdict
        ``ok``, ``watch`` or ``retrain``.
    reasons
        One sentence per finding that set the verdict (or why all is well).
    drift
        One row per feature: importance, PSI, shares missing, status, whether it decides.
    score_bins
        The training population's deciles of churn probability with each population's share.
    performance
        One row per past scoring date with a complete window: accounts, realised and
        predicted churn, their ratio, ROC AUC, and the binomial test's p-value.
    calibration
        Realised against predicted churn by decile of the prediction, over the latest
        ``recent_dates`` completed dates.
    """

    as_of: pd.Timestamp
    verdict: str
    reasons: list[str]
    drift: pd.DataFrame
    score_psi: float
    score_bins: pd.DataFrame
    performance: pd.DataFrame
    calibration: pd.DataFrame
    reference_period: str
    test_roc_auc: float
    facts: dict[str, object] = field(default_factory=dict)


# ----------------------------------------------------------------------- PSI


def _shares(codes: np.ndarray, n_bins: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_bins).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins.

    Examples
    --------
    >>> round(psi_from_shares(np.array([0.5, 0.5]), np.array([0.25, 0.75])), 3)
    0.275
    """
    ref = np.maximum(np.asarray(reference, float), _FLOOR)
    cur = np.maximum(np.asarray(current, float), _FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def binned_shares(
    reference: pd.Series, current: pd.Series, *, bins: int
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin labels and each population's share per bin, missing values left out.

    Numbers go into the reference's quantile bins (fewer where values repeat); text and
    booleans into the reference's categories plus ``other``.
    """
    ref, cur = reference.dropna(), current.dropna()
    numeric = pd.api.types.is_numeric_dtype(reference) and not pd.api.types.is_bool_dtype(reference)
    if numeric and len(ref):
        values = ref.to_numpy(float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
        labels = _interval_labels(edges)
        ref_codes = np.searchsorted(edges, values, side="right")
        cur_codes = np.searchsorted(edges, cur.to_numpy(float), side="right")
        n = len(edges) + 1
        return labels, _shares(ref_codes, n), _shares(cur_codes, n)
    categories = sorted({str(v) for v in ref.unique()})
    index = {c: i for i, c in enumerate(categories)}
    n = len(categories) + 1
    ref_codes = np.array([index.get(str(v), n - 1) for v in ref], dtype=np.int64)
    cur_codes = np.array([index.get(str(v), n - 1) for v in cur], dtype=np.int64)
    return [*categories, "other"], _shares(ref_codes, n), _shares(cur_codes, n)


def _interval_labels(edges: np.ndarray) -> list[str]:
    if len(edges) == 0:
        return ["all"]
    shown = [f"{e:.4g}" for e in edges]
    return (
        [f"< {shown[0]}"]
        + [f"{a} to {b}" for a, b in zip(shown, shown[1:], strict=False)]
        + [f">= {shown[-1]}"]
    )


# ----------------------------------------------------------------------- the split


def period_bounds(text: object) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """``"2024-01-01..2024-12-01"`` (as metrics.json records periods) as two dates.

    Examples
    --------
    >>> period_bounds("2024-01-01..2024-12-01")[1]
    Timestamp('2024-12-01 00:00:00')
    """
    if not isinstance(text, str) or ".." not in text:
        return None
    first, last = text.split("..", 1)
    return pd.Timestamp(first), pd.Timestamp(last)


def split_periods(dates: pd.Series, metrics: Mapping[str, object]) -> list[str]:
    """Which period of the model's split each date fell in: ``train``, ``valid``, ``test``,
    the purge ``gap`` between them, ``before`` or ``after``."""
    named = [
        (name, period_bounds(metrics.get(f"{name}_period"))) for name in ("train", "valid", "test")
    ]
    out = []
    for date in pd.to_datetime(dates):
        last = named[-1][1]
        label = "after" if last and date > last[1] else "gap"
        for name, bounds in named:
            if bounds and bounds[0] <= date <= bounds[1]:
                label = name
        if all(b and date < b[0] for _, b in named if b):
            label = "before"
        out.append(label)
    return out


# ----------------------------------------------------------------------- the checks


def _status(value: float, watch: float, retrain: float) -> str:
    if math.isnan(value):
        return "ok"
    return "retrain" if value >= retrain else "watch" if value >= watch else "ok"


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: list[str],
    importance: pd.Series,
    config: MonitorConfig,
) -> pd.DataFrame:
    """PSI and missing shares of every feature, with its status and whether it decides."""
    rows = []
    for name in features:
        labels, ref, cur = binned_shares(reference[name], current[name], bins=config.bins)
        psi = psi_from_shares(ref, cur) if len(current[name].dropna()) else math.nan
        missing_ref = float(reference[name].isna().mean()) if len(reference) else math.nan
        missing_cur = float(current[name].isna().mean()) if len(current) else math.nan
        change = max(missing_cur - missing_ref, 0.0)
        worst = max(
            _status(psi, config.psi_watch, config.psi_retrain),
            _status(change, config.missing_watch, config.missing_retrain),
            key=VERDICTS.index,
        )
        share = float(importance.get(name, 0.0))
        rows.append(
            {
                "feature": name,
                "importance": share,
                "psi": psi,
                "missing_reference": missing_ref,
                "missing_current": missing_cur,
                "missing_change": missing_cur - missing_ref,
                "bins": len(labels),
                "status": worst,
                "context": name in CONTEXT_FEATURES,
                "decides": share >= config.min_importance and name not in CONTEXT_FEATURES,
            }
        )
    drift = pd.DataFrame(rows)
    if drift.empty:
        return drift
    order = drift["status"].map(VERDICTS.index)
    return (
        drift.assign(_order=order)
        .sort_values(["_order", "psi", "importance"], ascending=[False, False, False])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def score_shift(
    reference: np.ndarray, current: np.ndarray, *, bins: int
) -> tuple[float, pd.DataFrame]:
    """PSI of the churn probabilities over the reference's quantile bins, and the bins."""
    labels, ref, cur = binned_shares(pd.Series(reference), pd.Series(current), bins=bins)
    table = pd.DataFrame({"bin": labels, "reference_share": ref, "current_share": cur})
    return psi_from_shares(ref, cur), table


def realised_vs_predicted(scored: pd.DataFrame) -> pd.DataFrame:
    """Per scoring date: accounts, realised and predicted churn, their ratio, ROC AUC, and
    the two-sided binomial p-value of the realised churn under the prediction."""
    rows = []
    for as_of, group in scored.groupby("as_of", sort=True):
        y = group["label"].to_numpy(int)
        p = group["churn_probability"].to_numpy(float)
        churned, n, expected = int(y.sum()), len(y), float(p.mean())
        auc = roc_auc_score(y, p) if 0 < churned < n else math.nan
        test = stats.binomtest(churned, n, min(max(expected, 1e-9), 1 - 1e-9))
        rows.append(
            {
                "as_of": as_of,
                "accounts": n,
                "churned": churned,
                "realised_churn": churned / n,
                "predicted_churn": expected,
                "ratio": (churned / n) / expected if expected > 0 else math.nan,
                "roc_auc": float(auc),
                "p_value": float(test.pvalue),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "as_of",
            "accounts",
            "churned",
            "realised_churn",
            "predicted_churn",
            "ratio",
            "roc_auc",
            "p_value",
        ],
    )


def calibration_by_decile(scored: pd.DataFrame) -> pd.DataFrame:
    """Realised against predicted churn in deciles of the predicted probability."""
    if scored.empty:
        return pd.DataFrame(columns=["decile", "accounts", "predicted_churn", "realised_churn"])
    ranks = scored["churn_probability"].rank(method="first")
    decile = pd.qcut(ranks, q=min(10, len(scored)), labels=False) + 1
    return (
        scored.assign(decile=decile)
        .groupby("decile", sort=True)
        .agg(
            accounts=("label", "size"),
            predicted_churn=("churn_probability", "mean"),
            realised_churn=("label", "mean"),
        )
        .reset_index()
    )


# ----------------------------------------------------------------------- the verdict


def decide(
    drift: pd.DataFrame,
    *,
    score_psi: float,
    recent: pd.DataFrame,
    test_roc_auc: float,
    config: MonitorConfig,
) -> tuple[str, list[str]]:
    """The verdict and its reasons from the three checks (see the module docstring)."""
    findings: list[tuple[str, Message]] = []
    deciding = drift[drift["decides"] & (drift["status"] != "ok")] if len(drift) else drift
    for row in deciding.itertuples(index=False):
        findings.append(
            (
                str(row.status),
                Message(
                    "%(feature)s drifted: PSI %(psi).2f, missing %(before).0f%% in training and "
                    "%(now).0f%% now (%(gain).0f%% of the model's gain)",
                    feature=row.feature,
                    psi=row.psi,
                    before=row.missing_reference * 100,
                    now=row.missing_current * 100,
                    gain=row.importance * 100,
                ),
            )
        )
    status = _status(score_psi, config.psi_watch, config.psi_retrain)
    if status != "ok":
        findings.append(
            (
                status,
                Message(
                    "the churn probabilities shifted: PSI %(psi).2f against training",
                    psi=score_psi,
                ),
            )
        )
    if len(recent):
        churned, n = int(recent["churned"].sum()), int(recent["accounts"].sum())
        expected = float((recent["predicted_churn"] * recent["accounts"]).sum() / n)
        ratio = (churned / n) / expected if expected > 0 else math.nan
        p_value = stats.binomtest(churned, n, min(max(expected, 1e-9), 1 - 1e-9)).pvalue
        off = max(ratio, 1 / ratio) if ratio and not math.isnan(ratio) else math.inf
        status = _status(off, config.calibration_watch, config.calibration_retrain)
        period = f"{recent['as_of'].min():%Y-%m-%d}..{recent['as_of'].max():%Y-%m-%d}"
        if status != "ok" and p_value < config.alpha:
            findings.append(
                (
                    status,
                    Message(
                        "churn scored %(period)s came out at %(realised).1f%% against "
                        "%(expected).1f%% predicted (x%(ratio).2f, p = %(p).2g)",
                        period=period,
                        realised=churned / n * 100,
                        expected=expected * 100,
                        ratio=ratio,
                        p=p_value,
                    ),
                )
            )
        auc = _pooled_auc(recent)
        if not math.isnan(auc) and not math.isnan(test_roc_auc):
            drop = test_roc_auc - auc
            status = _status(drop, config.auc_drop_watch, config.auc_drop_retrain)
            if status != "ok":
                findings.append(
                    (
                        status,
                        Message(
                            "ROC AUC over %(period)s is %(auc).3f, %(drop).3f below the test "
                            "period's %(test).3f",
                            period=period,
                            auc=auc,
                            drop=drop,
                            test=test_roc_auc,
                        ),
                    )
                )
    if not findings:
        if len(recent):
            return "ok", [
                Message(
                    "no feature that matters drifted, the scores did not shift, and realised "
                    "churn agrees with the prediction"
                )
            ]
        return "ok", [
            Message(
                "no feature that matters drifted, the scores did not shift; no scoring date has "
                "a complete window yet to check realised churn"
            )
        ]
    verdict = max((status for status, _ in findings), key=VERDICTS.index)
    ordered = sorted(findings, key=lambda f: -VERDICTS.index(f[0]))
    return verdict, [Message(_FINDING[status], text=text) for status, text in ordered]


#: A finding as the verdict's reasons say it, by its status.
_FINDING = {"watch": N_("watch: %(text)s"), "retrain": N_("retrain: %(text)s")}


def _pooled_auc(recent: pd.DataFrame) -> float:
    """Mean of the dates' ROC AUC weighted by accounts (dates with one class left out)."""
    known = recent[recent["roc_auc"].notna()]
    if known.empty:
        return math.nan
    return float(np.average(known["roc_auc"], weights=known["accounts"]))


def gain_importance(booster, features: list[str]) -> pd.Series:
    """Each feature's share of the booster's total gain."""
    gain = pd.Series(booster.feature_importance(importance_type="gain"), index=features)
    total = float(gain.sum())
    return gain / total if total > 0 else gain * 0.0
