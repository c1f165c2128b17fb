"""The churn model: LightGBM on point-in-time features, calibrated, with stable feature names.

One :class:`HealthModel` object serves training, scoring and explaining alike, so scoring can
never re-implement a transform differently: it owns the feature list, the categories of every
categorical feature (fixed at fit time; unseen values become missing), the booster and the
calibrator. A bundle on disk is plain files: ``model.txt`` (LightGBM's own text format) and
``model.json`` (everything else), so it loads without pickle and without a tracking server.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from healthscore.calibration import Calibrator, fit_calibrator
from healthscore.config import ModelConfig, ScoreConfig
from healthscore.errors import ModelError
from healthscore.health import health_score, risk_tier

BOOSTER_FILE = "model.txt"
META_FILE = "model.json"


def lightgbm_params(config: ModelConfig, *, seed: int) -> dict[str, object]:
    """LightGBM parameters from the config; threads are always explicit."""
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_data_in_leaf": config.min_child_samples,
        "feature_fraction": config.colsample_bytree,
        "bagging_fraction": config.subsample,
        "bagging_freq": 1 if config.subsample < 1 else 0,
        "lambda_l2": config.reg_lambda,
        "num_threads": config.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }


def prediction_threads(configured: int | None) -> int:
    """LightGBM threads for prediction and SHAP: ``configured``, else this machine's cores."""
    return configured or os.cpu_count() or 1


@dataclass
class HealthModel:
    """A fitted churn model with its feature contract and calibration."""

    features: list[str]
    categories: dict[str, list[str]]
    booster: lgb.Booster
    calibrator: Calibrator
    score_config: ScoreConfig
    best_iteration: int = 0
    num_threads: int = 2
    info: dict[str, object] = field(default_factory=dict)

    # ---------------------------------------------------------------- fitting
    @classmethod
    def fit(
        cls,
        train: pd.DataFrame,
        y_train: np.ndarray,
        valid: pd.DataFrame,
        y_valid: np.ndarray,
        *,
        features: list[str],
        config: ModelConfig,
        score_config: ScoreConfig,
        seed: int,
        params: dict[str, object] | None = None,
    ) -> HealthModel:
        """Fit LightGBM with early stopping on ``valid``, then calibrate on ``valid``."""
        categories = {
            col: sorted(str(v) for v in pd.unique(train[col].dropna()))
            for col in features
            if not pd.api.types.is_numeric_dtype(train[col])
            and not pd.api.types.is_bool_dtype(train[col])
        }
        x_train = prepare_matrix(train, features, categories)
        x_valid = prepare_matrix(valid, features, categories)
        all_params = lightgbm_params(config, seed=seed) | (params or {})
        train_set = lgb.Dataset(x_train, label=np.asarray(y_train, dtype=float), free_raw_data=True)
        valid_set = lgb.Dataset(
            x_valid, label=np.asarray(y_valid, dtype=float), reference=train_set
        )
        booster = lgb.train(
            all_params,
            train_set,
            num_boost_round=config.n_estimators,
            valid_sets=[valid_set],
            valid_names=["valid"],
            callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
        )
        best = int(booster.best_iteration or booster.current_iteration())
        raw_valid = np.asarray(booster.predict(x_valid, num_iteration=best, raw_score=True))
        calibrator = fit_calibrator(raw_valid, y_valid, kind=config.calibration)
        return cls(
            features,
            categories,
            booster,
            calibrator,
            score_config,
            best,
            num_threads=prediction_threads(config.predict_threads),
        )

    # ---------------------------------------------------------------- predicting
    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's input matrix for ``frame``; raises if features are missing."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
            raise ModelError(
                f"the data lacks {len(missing)} feature(s) the model was trained on: {shown}. "
                "Score with data that has the same tables and columns as the training data, "
                "or train a new model on this data."
            )
        return prepare_matrix(frame, self.features, self.categories)

    def raw_log_odds(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated LightGBM log-odds (what SHAP contributions add up to)."""
        return np.asarray(
            self.booster.predict(
                self.matrix(frame),
                num_iteration=self.best_iteration,
                raw_score=True,
                num_threads=self.num_threads,
            )
        )

    def uncalibrated_probability(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw_log_odds(frame)))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability per row."""
        return self.calibrator(self.raw_log_odds(frame))

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Probability, health score and risk tier per row of ``frame``."""
        probability = self.predict_proba(frame)
        score = health_score(probability, self.score_config, reference=self.calibrator.reference)
        return pd.DataFrame(
            {
                "churn_probability": probability,
                "health_score": score,
                "risk_tier": risk_tier(score, self.score_config),
            },
            index=frame.index,
        )

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Exact TreeSHAP contributions in log-odds, one column per feature plus ``bias``.

        LightGBM's own ``pred_contrib`` (exact path-dependent TreeSHAP, using its own
        threads). Each row sums to :meth:`raw_log_odds`.
        """
        contrib = self.booster.predict(
            self.matrix(frame),
            num_iteration=self.best_iteration,
            pred_contrib=True,
            num_threads=self.num_threads,
        )
        return pd.DataFrame(contrib, columns=[*self.features, "bias"], index=frame.index)

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        """Write ``model.txt`` and ``model.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE), num_iteration=self.best_iteration)
        meta = {
            "features": self.features,
            "categories": self.categories,
            "calibrator": self.calibrator.to_dict(),
            "score_config": self.score_config.model_dump(),
            "best_iteration": self.best_iteration,
            "info": self.info,
        }
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, threads: int | None = None) -> HealthModel:
        """Load a model saved by :meth:`save`, predicting on ``threads`` LightGBM threads.

        ``threads`` is the scoring machine's setting (``[model] predict_threads``; None: all
        its cores), never the training machine's: a model trained on a large server and
        scored on two cores would otherwise run dozens of threads on two.
        """
        directory = Path(directory)
        if not (directory / BOOSTER_FILE).is_file() or not (directory / META_FILE).is_file():
            raise ModelError(
                f"{directory} is not a model bundle (expected {BOOSTER_FILE} and {META_FILE}); "
                "train one with `healthscore train`."
            )
        try:
            meta = ModelMeta.model_validate_json((directory / META_FILE).read_text("utf-8"))
            calibrator = Calibrator.from_dict(meta.calibrator)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
            )
            raise ModelError(
                f"bundle {directory} is damaged or was edited: {META_FILE} ({problems})"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            first = str(exc).splitlines()[0]
            raise ModelError(
                f"bundle {directory} is damaged or was edited: {META_FILE} ({first})"
            ) from None
        booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        return cls(
            features=meta.features,
            categories=meta.categories,
            booster=booster,
            calibrator=calibrator,
            score_config=meta.score_config,
            best_iteration=meta.best_iteration,
            num_threads=prediction_threads(threads),
            info=meta.info,
        )


class ModelMeta(BaseModel):
    """The schema of ``model.json``: everything of a model but LightGBM's own file."""

    model_config = ConfigDict(extra="forbid")

    features: list[str]
    categories: dict[str, list[str]]
    calibrator: dict[str, Any]
    score_config: ScoreConfig
    best_iteration: int = Field(ge=0)
    #: Written by earlier versions (the training machine's threads) and ignored: the
    #: threads of prediction are the scoring machine's (:meth:`HealthModel.load`).
    num_threads: int | None = Field(None, ge=1)
    info: dict[str, Any] = Field(default_factory=dict)


def prepare_matrix(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]]
) -> pd.DataFrame:
    """Select ``features``; categoricals get the fitted categories (unseen -> missing)."""
    out = {}
    for col in features:
        values = frame[col]
        if col in categories:
            known = categories[col]
            as_text = _as_text(values)
            as_text = as_text.where(as_text.isin(known), None)
            out[col] = pd.Categorical(as_text, categories=known)
        else:
            out[col] = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def _as_text(values: pd.Series) -> pd.Series:
    """``values`` as text, missing as ``None``: the form the fitted categories are kept in.

    A column of text (the usual case) is taken as it is, without a Python call per value;
    any other is converted value by value, so that ``3`` matches the category ``"3"``.
    """
    if pd.api.types.is_string_dtype(values):
        return values.astype("object").where(values.notna(), None)
    return values.astype("object").map(lambda v: None if pd.isna(v) else str(v))
