"""Fit and evaluate the health-score model on an out-of-time split (no I/O here).

The latest observation dates are the test period, the dates before them (after a purge gap
of lead + horizon) the validation period that drives early stopping and calibration, and
everything before that (after another gap) the training period. The model is compared on
the same test snapshots with a classic rule-based scorecard and a logistic regression, and,
when the simulator's ground truth exists, with the oracle: the true churn hazard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from healthscore.baselines import LogisticBaseline, RuleScorecard
from healthscore.config import Config
from healthscore.dataset import backtest_splits, time_split
from healthscore.errors import DataError
from healthscore.evaluate import (
    classification_metrics,
    days_flagged_before_churn,
    expected_calibration_error,
    metrics_by_slice,
)
from healthscore.features import CATALOGUE
from healthscore.leak_alarm import leak_suspects
from healthscore.model import HealthModel
from healthscore.tuning import tune_params

log = logging.getLogger(__name__)

KEYS = ["account_id", "as_of"]
ARR_FEATURE = "contract__arr"
SLICES = ("account__segment", "contract__lifecycle_stage")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The catalogue's features present in ``frame``, in catalogue order."""
    return [spec.name for spec in CATALOGUE if spec.name in frame.columns]


@dataclass
class Evaluation:
    """Everything training produced: the model, its test predictions, and the figures."""

    model: HealthModel
    metrics: dict[str, Any]
    test: pd.DataFrame
    slices: pd.DataFrame
    backtest: pd.DataFrame
    tuned_params: dict[str, object] = field(default_factory=dict)


def _fit(
    split_train: pd.DataFrame,
    split_valid: pd.DataFrame,
    features: list[str],
    config: Config,
    params: dict[str, object] | None,
) -> HealthModel:
    return HealthModel.fit(
        split_train,
        split_train["label"].to_numpy(int),
        split_valid,
        split_valid["label"].to_numpy(int),
        features=features,
        config=config.model,
        score_config=config.score,
        seed=config.seed,
        params=params,
    )


def _require_both_classes(part: str, rows: pd.DataFrame, key: str, config: Config) -> None:
    """A period whose snapshots all churned (or none did) cannot judge a model: stop."""
    if rows["label"].nunique() >= 2:
        return
    outcome = "churned" if rows["label"].iloc[0] == 1 else "stayed"
    raise DataError(
        f"the {part} period {_period(rows)} holds {len(rows):,} labelled snapshots and all of "
        f"them {outcome}: ROC and PR AUC cannot be measured, so the model cannot be judged or "
        f"compared with the baselines, and nothing was written. Widen the period with "
        f"split.{key} (now {getattr(config.split, key)}) or add history."
    )


def _period(frame: pd.DataFrame) -> str:
    return f"{frame['as_of'].min():%Y-%m-%d}..{frame['as_of'].max():%Y-%m-%d}"


def run_backtest(
    labelled: pd.DataFrame, features: list[str], config: Config, params: dict[str, object] | None
) -> pd.DataFrame:
    """Refit at several earlier cut-offs and measure each fold's test AUC."""
    rows = []
    for fold, split in enumerate(backtest_splits(labelled, config, config.split.backtest_cutoffs)):
        model = _fit(split.train, split.valid, features, config, params)
        y = split.test["label"].to_numpy(int)
        auc = roc_auc_score(y, model.predict_proba(split.test)) if 0 < y.sum() < len(y) else np.nan
        rows.append(
            {
                "fold": fold,
                "test_period": _period(split.test),
                "n_test": len(y),
                "churn_rate": float(y.mean()),
                "roc_auc": float(auc),
            }
        )
    return pd.DataFrame(rows)


def fit_and_evaluate(
    training_frame: pd.DataFrame,
    config: Config,
    *,
    oracle: pd.Series | None = None,
    tune_trials: int = 0,
) -> Evaluation:
    """Split by time, fit, calibrate and evaluate against the baselines (and the oracle).

    ``oracle``, if given, is the true churn probability of each row of ``training_frame``
    (same index), known only in simulated data.
    """
    labelled = training_frame[~training_frame["censored"].astype(bool)]
    labelled = labelled[labelled["label"].notna()]
    if labelled["label"].nunique() < 2:
        raise DataError("the labelled snapshots hold only one class; is there any churn?")
    features = feature_columns(labelled)
    split = time_split(labelled, config)
    for part, rows, key in (
        ("test", split.test, "test_dates"),
        ("validation", split.valid, "valid_dates"),
    ):
        _require_both_classes(part, rows, key, config)
    params: dict[str, object] = {}
    if tune_trials > 0:
        probe = _fit(split.train, split.valid, features, config, None)
        params = tune_params(
            split.train,
            split.train["label"].to_numpy(int),
            split.valid,
            split.valid["label"].to_numpy(int),
            features=features,
            categories=probe.categories,
            config=config.model,
            seed=config.seed,
            n_trials=tune_trials,
        )
    model = _fit(split.train, split.valid, features, config, params)

    test = split.test.copy()
    y_test = test["label"].to_numpy(int)
    test = pd.concat([test, model.score(test)], axis=1)
    test["raw_probability"] = model.uncalibrated_probability(test)
    scorecard = RuleScorecard().fit(split.train, split.train["label"].to_numpy(int))
    logreg = LogisticBaseline().fit(split.train[features], split.train["label"].to_numpy(int))
    test["rules_probability"] = scorecard.predict_proba(test)[:, 1]
    test["rules_score"] = scorecard.score(test)
    test["logreg_probability"] = logreg.predict_proba(test[features])[:, 1]
    arr_col = ARR_FEATURE if ARR_FEATURE in test.columns else None
    if arr_col is None:
        test["_arr"] = 1.0
        arr_col = "_arr"

    k = config.capacity.top_k
    metrics: dict[str, Any] = dict(
        classification_metrics(
            test, k=k, prob_col="churn_probability", label_col="label", arr_col=arr_col
        )
    )
    metrics["ece_uncalibrated"] = float(expected_calibration_error(y_test, test["raw_probability"]))
    for name in ("rules", "logreg"):
        base = classification_metrics(
            test, k=k, prob_col=f"{name}_probability", label_col="label", arr_col=arr_col
        )
        for key in ("roc_auc", "pr_auc", "brier", "precision_at_k", "arr_recall_at_k"):
            metrics[f"baseline_{name}_{key}"] = base[key]
    metrics["roc_auc_lift_over_rules"] = metrics["roc_auc"] - metrics["baseline_rules_roc_auc"]
    metrics["roc_auc_lift_over_logreg"] = metrics["roc_auc"] - metrics["baseline_logreg_roc_auc"]
    suspects = leak_suspects(
        contributions=model.contributions(test),
        train=split.train,
        y_train=split.train["label"].to_numpy(int),
        test=test,
        y_test=y_test,
        features=features,
        model_auc=float(metrics["roc_auc"]),
    )
    metrics["leak_alarm"] = len(suspects)
    metrics["leak_suspects"] = [s.as_dict() for s in suspects]
    flagged = days_flagged_before_churn(test)
    metrics.update({f"flagged_{k_}": v for k_, v in flagged.items()})
    metrics["median_days_flagged_before_churn"] = flagged.get("median")
    metrics.update(
        {
            "n_train": int(len(split.train)),
            "n_valid": int(len(split.valid)),
            "n_test": int(len(test)),
            "train_period": _period(split.train),
            "valid_period": _period(split.valid),
            "test_period": _period(test),
            "top_k": k,
            "n_features": len(features),
            "best_iteration": model.best_iteration,
        }
    )
    if oracle is not None:
        test["oracle_probability"] = oracle.reindex(test.index).to_numpy(float)
        metrics["oracle_roc_auc"] = float(roc_auc_score(y_test, test["oracle_probability"]))
        metrics["model_oracle_ratio"] = metrics["roc_auc"] / metrics["oracle_roc_auc"]

    slices = pd.concat(
        [
            metrics_by_slice(test, by=col, prob_col="churn_probability", label_col="label").assign(
                slice_by=col
            )
            for col in SLICES
            if col in test.columns
        ],
        ignore_index=True,
    )
    backtest = (
        run_backtest(labelled, features, config, params)
        if config.split.backtest_cutoffs
        else pd.DataFrame()
    )
    if not backtest.empty:
        metrics["backtest_roc_auc_mean"] = float(backtest["roc_auc"].mean())
        metrics["backtest_roc_auc_std"] = float(backtest["roc_auc"].std(ddof=0))
    model.info.update({"test_period": metrics["test_period"], "features": len(features)})
    return Evaluation(model, metrics, test, slices, backtest, params)
