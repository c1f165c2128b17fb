"""The leak alarm: one feature that explains too much is usually the future in disguise.

A model trained on a real export that leaks (an end date rewritten at cancellation, a churn
flag exported as of today, a refund column) looks excellent: the leaking feature carries most
of the attributions, or alone ranks churners almost as well as the whole model. Honest churn
signals are spread over many features, so either pattern is worth a warning before anyone
trusts the figures:

* a driver feature carries more than :data:`SHAP_SHARE_LIMIT` (a third) of the total mean
  |SHAP| of the driver features on the test period; or
* any feature alone reaches at least :data:`AUC_RATIO_LIMIT` (0.95) of the model's test ROC
  AUC.

Both tests also ask the feature to predict on its own (its single-feature ROC AUC at least
:data:`SHARE_MIN_AUC`, 0.6, for the first; at least :data:`ALONE_MIN_AUC`, 0.75, for the
second): a leak makes a feature predictive, while a model that fits noise piles its
attributions on some feature that predicts nothing, and near chance every feature is "95%
of the model". On the RavenStack data set, where nothing predicts churn (test ROC AUC 0.52),
the two tests without these floors named 21 features; with them, none.

The share is taken among *driver* features (catalogue role ``driver``, the ones that say
why). Context features say when risk materialises, and in a business of term contracts one
of them legitimately dominates: an annual contract can only churn at its renewal, so days to
renewal carries about half of the attributions on the simulated demo world (48%), while it
alone ranks churners at a test ROC AUC of 0.75 against the model's 0.88. A leaked date does
both; the single-feature test is the one it cannot pass, and every feature faces it.

"Alone" is measured out of time like the model: the feature's values are cut into at most 20
quantile bins on the training period (missing values a bin of their own, each category its
own bin), each bin scores its training churn rate (shrunk towards the overall rate by 20
pseudo-rows), and that score is ranked on the test period. The alarm does not remove
anything: ``features.exclude`` in the config does, once a person has looked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from healthscore.features.catalogue import feature_spec

SHAP_SHARE_LIMIT = 1 / 3
AUC_RATIO_LIMIT = 0.95
#: A feature flagged for its attributions must predict on its own at least this well: on a
#: model that fits noise, attributions pile up on a feature that predicts nothing.
SHARE_MIN_AUC = 0.6
#: A feature flagged for ranking as well as the model must rank well in itself: near chance,
#: "95% of the model" is any feature at all.
ALONE_MIN_AUC = 0.75
_BINS = 20
_PRIOR_ROWS = 20.0


@dataclass(frozen=True)
class LeakSuspect:
    """A feature that set off the alarm, with both measures and why it was flagged."""

    feature: str
    shap_share: float
    single_feature_auc: float
    model_auc: float
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def shap_shares(contributions: pd.DataFrame) -> pd.Series:
    """Each feature's share of the total mean |SHAP| (``bias`` left out), summing to 1."""
    magnitude = contributions.drop(columns=["bias"], errors="ignore").abs().mean()
    total = float(magnitude.sum())
    return magnitude / total if total > 0 else magnitude * 0.0


def _bins(train: pd.Series, values: pd.Series) -> pd.Series:
    """Bin labels of ``values`` on bins fitted to ``train`` (text keys; missing is a bin)."""
    if not pd.api.types.is_numeric_dtype(train) or pd.api.types.is_bool_dtype(train):
        return values.astype("object").map(lambda v: "<missing>" if pd.isna(v) else f"={v}")
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    fitted = pd.to_numeric(train, errors="coerce").astype(float).dropna()
    if fitted.empty:
        return pd.Series("<missing>", index=values.index)
    edges = np.unique(np.quantile(fitted, np.linspace(0, 1, _BINS + 1)[1:-1]))
    codes = np.searchsorted(edges, numbers.to_numpy(), side="right")
    labels = pd.Series(codes, index=values.index).astype(str)
    return labels.where(numbers.notna(), "<missing>")


def single_feature_auc(
    train: pd.Series, y_train: np.ndarray, test: pd.Series, y_test: np.ndarray
) -> float:
    """Test ROC AUC of one feature's binned training churn rate (see the module docstring)."""
    y_train = np.asarray(y_train, dtype=float)
    y_test = np.asarray(y_test, dtype=float)
    if len(np.unique(y_test)) < 2 or len(y_train) == 0:
        return float("nan")
    base = float(y_train.mean())
    fitted = pd.DataFrame({"bin": _bins(train, train).to_numpy(), "y": y_train})
    stats = fitted.groupby("bin")["y"].agg(["sum", "count"])
    rate = (stats["sum"] + _PRIOR_ROWS * base) / (stats["count"] + _PRIOR_ROWS)
    score = _bins(train, test).map(rate).fillna(base).to_numpy(dtype=float)
    return float(roc_auc_score(y_test, score))


def leak_suspects(
    *,
    contributions: pd.DataFrame,
    train: pd.DataFrame,
    y_train: np.ndarray,
    test: pd.DataFrame,
    y_test: np.ndarray,
    features: list[str],
    model_auc: float,
) -> list[LeakSuspect]:
    """The features that set off the alarm, strongest first; empty when none does.

    ``contributions`` are the test period's SHAP contributions (one column per feature).
    ``shap_share`` is reported for driver features (NaN for context ones).
    """
    drivers = [f for f in features if feature_spec(f).role == "driver"]
    shares = shap_shares(contributions[drivers]) if drivers else pd.Series(dtype=float)
    suspects = []
    for feature in features:
        share = float(shares.get(feature, float("nan")))
        auc = single_feature_auc(train[feature], y_train, test[feature], y_test)
        reasons = []
        known = np.isfinite(auc) and np.isfinite(model_auc)
        if share > SHAP_SHARE_LIMIT and known and auc >= SHARE_MIN_AUC:
            reasons.append(f"carries {share:.0%} of the driver features' total mean |SHAP|")
        if known and auc >= AUC_RATIO_LIMIT * model_auc and auc >= ALONE_MIN_AUC:
            reasons.append(
                f"alone reaches test ROC AUC {auc:.3f}, {auc / model_auc:.0%} of the model's "
                f"{model_auc:.3f}"
            )
        if reasons:
            suspects.append(LeakSuspect(feature, share, auc, model_auc, "; ".join(reasons)))
    return sorted(suspects, key=lambda s: (-np.nan_to_num(s.shap_share), -s.single_feature_auc))


def describe(suspects: list[LeakSuspect]) -> str:
    """The warning printed by ``train`` and shown in the model card."""
    lines = [
        f"{s.feature} {s.reason}. Check that its data was known at each snapshot "
        "(docs/own-data.md#point-in-time-traps); drop it with features.exclude if not."
        for s in suspects
    ]
    return "possible leak: " + "\n".join(lines)
