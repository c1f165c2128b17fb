"""Hyper-parameter search with time-ordered validation.

Each trial fits on the training period and is judged on the later validation period (never
on a random fold of snapshots), so a trial cannot win by memorising accounts it will see
again. The sampler is seeded: the same seed and data give the same trials.
"""

from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import average_precision_score

from healthscore.config import ModelConfig
from healthscore.model import lightgbm_params, prepare_matrix

log = logging.getLogger(__name__)


def tune_params(
    train: pd.DataFrame,
    y_train: np.ndarray,
    valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    features: list[str],
    categories: dict[str, list[str]],
    config: ModelConfig,
    seed: int,
    n_trials: int,
) -> dict[str, object]:
    """Search LightGBM parameters for ``n_trials``; return the best (valid PR AUC) overrides."""
    x_train = prepare_matrix(train, features, categories)
    x_valid = prepare_matrix(valid, features, categories)
    base = lightgbm_params(config, seed=seed)

    def objective(trial: optuna.Trial) -> float:
        params = base | {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 96, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        }
        booster = lgb.train(
            params,
            lgb.Dataset(x_train, label=y_train),
            num_boost_round=config.n_estimators,
            valid_sets=[lgb.Dataset(x_valid, label=y_valid)],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
        return float(average_precision_score(y_valid, booster.predict(x_valid)))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials)
    log.info("best valid PR AUC %.4f with %s", study.best_value, study.best_params)
    return dict(study.best_params)
