"""From a calibrated churn probability to a 0-100 health score and a risk tier.

The mapping is the points-to-double-the-odds scaling that credit scores use: the score is
linear in the log-odds of *staying*, so every ``points_to_double_odds`` points halve the odds
of churning, and ``base_score`` sits at ``base_churn_probability``. It is monotone (a higher
probability never gives a higher score) and spreads accounts usefully where CS teams act:
with the defaults, 5% churn risk (about the base rate over 90 days) scores 60, about 13%
scores 45 (the at-risk line), 1% scores about 84, and 0.3% or less scores 100.
The probability is always kept beside the score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import ScoreConfig

TIERS: tuple[str, ...] = ("healthy", "watch", "at_risk")
_EPS = 1e-6


def health_score(probability: np.ndarray | pd.Series, config: ScoreConfig) -> np.ndarray:
    """Map churn probabilities to health scores in [0, 100] (100 = healthiest).

    Examples
    --------
    >>> from healthscore.config import ScoreConfig
    >>> float(health_score(np.array([0.05]), ScoreConfig())[0])
    60.0
    """
    p = np.clip(np.asarray(probability, dtype=float), _EPS, 1 - _EPS)
    p0 = config.base_churn_probability
    factor = config.points_to_double_odds / np.log(2.0)
    score = config.base_score + factor * (np.log((1 - p) / p) - np.log((1 - p0) / p0))
    return np.clip(np.round(score, 1), 0.0, 100.0)


def churn_probability_at(score: float, config: ScoreConfig) -> float:
    """The churn probability at which the (unclipped) health score equals ``score``."""
    p0 = config.base_churn_probability
    factor = config.points_to_double_odds / np.log(2.0)
    log_odds_good = (score - config.base_score) / factor + np.log((1 - p0) / p0)
    return float(1.0 / (1.0 + np.exp(log_odds_good)))


def risk_tier(score: np.ndarray | pd.Series, config: ScoreConfig) -> np.ndarray:
    """``at_risk`` below ``at_risk_below``, ``watch`` below ``watch_below``, else ``healthy``."""
    s = np.asarray(score, dtype=float)
    return np.where(
        s < config.at_risk_below, "at_risk", np.where(s < config.watch_below, "watch", "healthy")
    )
