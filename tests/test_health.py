"""The probability -> health score mapping and the risk tiers."""

import numpy as np

from healthscore.config import ScoreConfig
from healthscore.health import churn_probability_at, health_score, risk_tier


def test_base_probability_scores_the_base_score():
    config = ScoreConfig()
    assert health_score(np.array([config.base_churn_probability]), config)[0] == config.base_score


def test_halving_the_odds_adds_points_to_double_odds():
    config = ScoreConfig(base_score=50, points_to_double_odds=20)
    p0 = config.base_churn_probability
    odds = p0 / (1 - p0) / 2
    p_half = odds / (1 + odds)
    assert health_score(np.array([p_half]), config)[0] == 70.0


def test_score_is_monotone_decreasing_and_bounded():
    p = np.linspace(0, 1, 501)
    score = health_score(p, ScoreConfig())
    assert np.all(np.diff(score) <= 0)
    assert score.min() >= 0 and score.max() <= 100


def test_tiers_at_their_edges():
    config = ScoreConfig(watch_below=70, at_risk_below=50)
    tiers = risk_tier(np.array([49.9, 50.0, 69.9, 70.0]), config)
    assert tiers.tolist() == ["at_risk", "watch", "watch", "healthy"]


def test_probability_at_score_inverts_the_mapping():
    config = ScoreConfig()
    p = churn_probability_at(50.0, config)
    assert abs(health_score(np.array([p]), config)[0] - 50.0) < 0.1
