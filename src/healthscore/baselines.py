"""Two baselines the churn model has to beat on the same test period.

:class:`RuleScorecard` is the health score most CS teams start from: a handful of signals,
each banded into a 0-100 sub-score by hand-set thresholds, averaged with hand-set weights.
Nothing in it is learned except a one-dimensional Platt map from its score to a churn
probability, so that its probabilities can be compared with the model's on the same metrics.
If the learned model cannot beat it, the scorecard is what should ship.

:class:`LogisticBaseline` is the simplest learned model on the full feature set: imputation,
missing-value indicators, scaling, one-hot encoding and a logistic regression. It tells how
much of the model's gain comes from non-linearity and interactions rather than the features.

Both follow scikit-learn's estimator API (``fit``, ``predict_proba``) and take the same
feature frame as the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from healthscore.errors import DataError

log = logging.getLogger(__name__)

NEUTRAL_SCORE = 50.0
"""Sub-score given to a component whose inputs are missing: neither healthy nor at risk."""

# Bands are (lower bound, sub-score), checked from the top: the first bound the value reaches
# gives the sub-score. Values under every bound score 0.
USAGE_BANDS: tuple[tuple[float, float], ...] = ((20, 100), (10, 75), (4, 50), (1, 25))
"""Logins per active user in the last 30 days: 20+ daily habit, 10+ weekly, 4+ occasional."""

ADOPTION_BANDS: tuple[tuple[float, float], ...] = ((8, 100), (5, 75), (3, 50), (1, 25))
"""Distinct product features used in the last 30 days."""

TICKET_BANDS: tuple[tuple[float, float], ...] = ((11, 25), (6, 50), (3, 75), (0, 100))
"""Support tickets in the last 90 days (more tickets, lower score): 0-2, 3-5, 6-10, 11+."""

URGENT_TICKET_PENALTY = 25.0
"""Points taken off the support sub-score per high or urgent ticket (floored at 0)."""

NPS_BANDS: tuple[tuple[float, float], ...] = ((9, 100), (7, 50), (0, 0))
"""Last NPS answer: promoter (9-10) 100, passive (7-8) 50, detractor (0-6) 0."""

RENEWAL_BANDS: tuple[tuple[float, float], ...] = ((120, 100), (60, 60))
"""Days to the next renewal: 120+ is safe, 60-119 is close, under 60 (or overdue) is a risk."""

RENEWAL_RISK_SCORE = 25.0
"""Renewal sub-score under 60 days: a renewal this close is a risk, not a certainty."""

COMPONENTS: tuple[str, ...] = ("usage", "adoption", "support", "nps", "renewal")


@dataclass(frozen=True)
class ScorecardColumns:
    """Which feature columns the scorecard reads; ``None`` marks a signal as unavailable.

    The defaults are names declared in :mod:`healthscore.features.catalogue`. A column set to
    ``None`` is treated as missing for every account, so its component scores neutral.
    ``urgent_tickets`` counts high and urgent tickets, as the catalogue's feature does.
    """

    logins: str | None = "usage__logins_30d"
    active_users: str | None = "usage__active_users_30d"
    distinct_features: str | None = "adoption__distinct_features_30d"
    tickets: str | None = "support__tickets_90d"
    urgent_tickets: str | None = "support__urgent_tickets_90d"
    nps: str | None = "satisfaction__last_nps"
    days_to_renewal: str | None = "contract__days_to_renewal"


@dataclass(frozen=True)
class ScorecardWeights:
    """Weights of the components in the overall score; they must sum to 1."""

    usage: float = 0.30
    adoption: float = 0.20
    support: float = 0.20
    nps: float = 0.20
    renewal: float = 0.10

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(v < 0 for v in values) or not np.isclose(sum(values), 1.0):
            raise ValueError(f"scorecard weights must be non-negative and sum to 1, got {values}")

    def as_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


def banded(
    values: np.ndarray, bands: Sequence[tuple[float, float]], *, below: float = 0.0
) -> np.ndarray:
    """Sub-score of each value from ``(lower bound, score)`` bands; missing values are neutral.

    Examples
    --------
    >>> banded(np.array([0.0, 3.0, 25.0, np.nan]), USAGE_BANDS)
    array([  0.,  25., 100.,  50.])
    """
    values = np.asarray(values, dtype=float)
    conditions = [values >= bound for bound, _ in bands]
    scores = np.select(conditions, [score for _, score in bands], default=below)
    return np.where(np.isnan(values), NEUTRAL_SCORE, scores)


class RuleScorecard(BaseEstimator):
    """A hand-weighted health scorecard with a Platt map to churn probability.

    Sub-scores (0-100, 100 healthy; missing inputs give :data:`NEUTRAL_SCORE`):

    - **usage**: logins per active user in 30 days, banded by :data:`USAGE_BANDS`
      (no active user counts as zero logins per user);
    - **adoption**: distinct features used in 30 days, :data:`ADOPTION_BANDS`;
    - **support**: tickets in 90 days by :data:`TICKET_BANDS`, minus
      :data:`URGENT_TICKET_PENALTY` per high or urgent ticket in 90 days (a missing count of
      those is zero);
    - **nps**: last NPS answer, :data:`NPS_BANDS` (no answer = passive = neutral);
    - **renewal**: days to renewal, :data:`RENEWAL_BANDS`, :data:`RENEWAL_RISK_SCORE` below.

    Parameters
    ----------
    columns
        Feature column names (see :class:`ScorecardColumns`).
    weights
        Component weights (see :class:`ScorecardWeights`); they are not learned.
    strict
        When false (the default), a column the feature table lacks counts as missing for
        every row, because the feature catalogue switches features off when their source
        data is absent (no ticket priorities, no NPS survey); the columns concerned are
        logged at fit time and kept in ``unavailable_columns_``. When true, it is an error.
    """

    def __init__(
        self,
        *,
        columns: ScorecardColumns | None = None,
        weights: ScorecardWeights | None = None,
        strict: bool = False,
    ) -> None:
        self.columns = columns
        self.weights = weights
        self.strict = strict

    def _columns(self) -> ScorecardColumns:
        return self.columns if self.columns is not None else ScorecardColumns()

    def _absent(self, X: pd.DataFrame) -> list[str]:
        names = [getattr(self._columns(), f.name) for f in fields(ScorecardColumns)]
        return [name for name in names if name is not None and name not in X.columns]

    def _column(self, X: pd.DataFrame, name: str | None) -> np.ndarray:
        if name is None or (name not in X.columns and not self.strict):
            return np.full(len(X), np.nan)
        if name not in X.columns:
            raise DataError(
                f"the rule scorecard needs column {name!r}, which the feature table lacks. "
                "Pass RuleScorecard(columns=ScorecardColumns(...)) with the right name, None "
                "to score that signal as neutral, or strict=False."
            )
        return pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    def sub_scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """The five component scores (0-100) of every row, on ``X``'s index."""
        cols = self._columns()
        logins = self._column(X, cols.logins)
        users = self._column(X, cols.active_users)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_user = np.where(users > 0, logins / users, np.where(users == 0, 0.0, np.nan))
        per_user = np.where(np.isnan(logins), np.nan, per_user)
        urgent = np.nan_to_num(self._column(X, cols.urgent_tickets), nan=0.0)
        support = banded(self._column(X, cols.tickets), TICKET_BANDS) - (
            URGENT_TICKET_PENALTY * urgent
        )
        renewal = banded(
            self._column(X, cols.days_to_renewal), RENEWAL_BANDS, below=RENEWAL_RISK_SCORE
        )
        return pd.DataFrame(
            {
                "usage": banded(per_user, USAGE_BANDS),
                "adoption": banded(self._column(X, cols.distinct_features), ADOPTION_BANDS),
                "support": np.clip(support, 0.0, 100.0),
                "nps": banded(self._column(X, cols.nps), NPS_BANDS),
                "renewal": renewal,
            },
            index=X.index,
        )

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """The weighted health score in [0, 100], 100 healthiest."""
        weights = (self.weights if self.weights is not None else ScorecardWeights()).as_dict()
        parts = self.sub_scores(X)
        return np.asarray(sum(weights[c] * parts[c].to_numpy() for c in COMPONENTS), dtype=float)

    def fit(self, X: pd.DataFrame, y: Sequence[float]) -> RuleScorecard:
        """Fit only the Platt map from score to churn probability; the weights stay fixed."""
        labels = np.asarray(y, dtype=int)
        if len(np.unique(labels)) < 2:
            raise DataError("the rule scorecard's calibration needs both churned and retained rows")
        self.unavailable_columns_ = self._absent(X)
        if self.unavailable_columns_:
            log.warning(
                "rule scorecard: column(s) %s absent, scored as neutral",
                ", ".join(self.unavailable_columns_),
            )
        self.platt_ = LogisticRegression(C=1e6, max_iter=1000).fit(self._feature(X), labels)
        self.classes_ = np.array([0, 1])
        return self

    def _feature(self, X: pd.DataFrame) -> np.ndarray:
        return (self.score(X) / 100.0).reshape(-1, 1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability in column 1, as an ``(n, 2)`` array."""
        if not hasattr(self, "platt_"):
            raise DataError("fit the rule scorecard before asking it for probabilities")
        return self.platt_.predict_proba(self._feature(X))


def _as_float(X: pd.DataFrame) -> np.ndarray:
    """Numeric columns (nullable dtypes included) as floats with NaN for missing."""
    return X.astype("float64").to_numpy(dtype=float, na_value=np.nan)


def _as_object(X: pd.DataFrame) -> np.ndarray:
    """Categorical columns (str, object, category) as objects with NaN for missing."""
    frame = X.astype(object)
    return frame.where(frame.notna(), np.nan).to_numpy(dtype=object)


class LogisticBaseline(BaseEstimator):
    """Logistic regression on the full feature table, with standard preprocessing.

    Numeric columns: median imputation plus missing-value indicators, then standard scaling.
    Categorical columns (string, object or category dtype): missing becomes its own level,
    then one-hot encoding; levels unseen at fit time are all-zero. Column roles are fixed at
    fit time from the dtypes.

    Parameters
    ----------
    C
        Inverse L2 regularisation strength.
    max_iter
        Solver iterations.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000) -> None:
        self.C = C
        self.max_iter = max_iter

    def _pipeline(self, X: pd.DataFrame) -> Pipeline:
        numeric, categorical = [], []
        for name, dtype in X.dtypes.items():
            if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
                numeric.append(name)
            elif isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
                categorical.append(name)
            else:
                raise DataError(
                    f"the logistic baseline cannot use column {name!r} of dtype {dtype}; "
                    "pass numeric, string or category feature columns only."
                )
        numeric_steps = make_pipeline(
            FunctionTransformer(_as_float, feature_names_out="one-to-one"),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
        )
        categorical_steps = make_pipeline(
            FunctionTransformer(_as_object, feature_names_out="one-to-one"),
            SimpleImputer(strategy="constant", fill_value="(missing)", keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore"),
        )
        preprocess = ColumnTransformer(
            [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)]
        )
        return Pipeline(
            [
                ("preprocess", preprocess),
                ("classifier", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        )

    def fit(self, X: pd.DataFrame, y: Sequence[float]) -> LogisticBaseline:
        """Fit preprocessing and the regression on a feature table and churn labels."""
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.pipeline_ = self._pipeline(X).fit(X, np.asarray(y, dtype=int))
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability in column 1, as an ``(n, 2)`` array."""
        if not hasattr(self, "pipeline_"):
            raise DataError("fit the logistic baseline before asking it for probabilities")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise DataError(f"the feature table lacks the fitted column(s) {missing}")
        return self.pipeline_.predict_proba(X[list(self.feature_names_in_)])
