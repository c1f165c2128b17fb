"""The probability -> health score mapping and the risk tiers."""

import numpy as np
import pytest

from healthscore.config import ScoreConfig
from healthscore.health import (
    ScoreReference,
    churn_probability_at,
    health_score,
    risk_tier,
    tier_bands,
)


def test_base_probability_scores_the_base_score():
    config = ScoreConfig()
    assert health_score(np.array([config.base_churn_probability]), config)[0] == config.base_score


def test_around_the_base_points_to_double_odds_halve_the_odds():
    config = ScoreConfig(base_score=50, points_to_double_odds=20)
    p0 = config.base_churn_probability
    for factor in (0.9, 1 / 0.9):  # small moves: the slope at the base is exact
        odds = p0 / (1 - p0) * factor
        moved = health_score(np.array([odds / (1 + odds)]), config)[0] - 50
        assert moved == pytest.approx(-20 * np.log2(factor), abs=0.1)


def test_score_is_monotone_and_never_runs_off_the_scale():
    p = np.linspace(0, 1, 501)
    score = health_score(p, ScoreConfig())
    assert np.all(np.diff(score) <= 0)
    assert score.min() >= 0 and score.max() <= 100
    # From 0.001% to 99.9% churn risk the score stays strictly inside the scale: a portfolio
    # cannot pile up at 0 or 100.
    inside = health_score(np.array([1e-5, 1e-4, 0.5, 0.99, 0.999]), ScoreConfig())
    assert (inside > 0).all() and (inside < 100).all()
    assert np.all(np.diff(inside) < 0)


def test_the_scale_uses_the_whole_range_for_realistic_risks():
    config = ScoreConfig()
    table = dict(
        zip([0.0001, 0.001, 0.01, 0.05, 0.3, 0.8], health_score(
            np.array([0.0001, 0.001, 0.01, 0.05, 0.3, 0.8]), config), strict=True)
    )  # fmt: skip
    assert table == {0.0001: 98.4, 0.001: 94.1, 0.01: 80.1, 0.05: 60.0, 0.3: 29.8, 0.8: 9.9}


def test_tiers_at_their_edges():
    config = ScoreConfig(watch_below=70, at_risk_below=50)
    tiers = risk_tier(np.array([49.9, 50.0, 69.9, 70.0]), config)
    assert tiers.tolist() == ["at_risk", "watch", "watch", "healthy"]


def test_tiers_are_bands_of_churn_probability():
    config = ScoreConfig()
    assert churn_probability_at(config.watch_below, config) == pytest.approx(0.05)
    at_risk = churn_probability_at(config.at_risk_below, config)
    assert at_risk == pytest.approx(0.126, abs=0.001)
    p = np.array([0.049, 0.051, at_risk - 0.001, at_risk + 0.001])
    assert risk_tier(health_score(p, config), config).tolist() == [
        "healthy",
        "watch",
        "watch",
        "at_risk",
    ]
    assert tier_bands(config)["at_risk"] == "churn risk above 12.6% (score below 45)"


def test_probability_at_score_inverts_the_mapping():
    config = ScoreConfig()
    for score in (5.0, 30.0, 50.0, 90.0, 99.0):
        p = churn_probability_at(score, config)
        assert abs(health_score(np.array([p]), config)[0] - score) < 0.1


def clustered_reference(seed: int = 5) -> ScoreReference:
    """A portfolio like the demo's: four in ten accounts far from renewal, packed between
    0.03% and 0.05% churn risk, the rest spread from 0.5% to 70%."""
    rng = np.random.default_rng(seed)
    packed = rng.uniform(0.0003, 0.0005, 4000)
    spread = 1 / (1 + np.exp(-rng.normal(-3.0, 1.2, 6000)))
    return ScoreReference.from_probabilities(np.concatenate([packed, spread]))


def test_with_a_reference_each_tier_spreads_over_its_band():
    print("seed=5")
    reference = clustered_reference()
    rng = np.random.default_rng(6)
    portfolio = np.concatenate(
        [rng.uniform(0.0003, 0.0005, 800), 1 / (1 + np.exp(-rng.normal(-3.0, 1.2, 1200)))]
    )
    config = ScoreConfig()
    curve = health_score(portfolio, config)
    spread = health_score(portfolio, config, reference=reference)
    # A fixed curve squeezes the packed accounts into a point or two; the reference spreads
    # them over the healthy band.
    assert pd_share(curve) > 0.03
    assert pd_share(spread) <= 0.03
    assert np.isin(spread, [0.0, 100.0]).mean() <= 0.01
    assert spread.min() < 10 and spread.max() > 95
    # The tiers are the same bands of churn probability either way.
    assert (risk_tier(spread, config) == risk_tier(curve, config)).all()
    # A healthy 80 is safer than half of the healthy reference accounts.
    healthy = 1 / (1 + np.exp(reference.knots))  # churn probability at each knot
    at_80 = np.median(healthy[healthy < 0.05])
    assert health_score(np.array([at_80]), config, reference=reference)[0] == pytest.approx(
        80, abs=1
    )


def test_the_reference_mapping_is_strictly_monotone_and_continuous_at_the_edges():
    reference = clustered_reference()
    config = ScoreConfig()
    p = np.logspace(-6, np.log10(0.999), 20001)
    score = health_score(p, config, reference=reference)
    assert np.all(np.diff(score) <= 0)
    # Between reference accounts (safer and safer) the score keeps rising: no flat stretch.
    knots = 1 / (1 + np.exp(np.array(reference.knots[::2])))
    assert np.all(np.diff(health_score(knots, config, reference=reference)) > 0)
    edges = [0.05, churn_probability_at(45, config)]
    for edge in edges:
        around = health_score(
            np.array([edge * 0.999, edge, edge * 1.001]), config, reference=reference
        )
        assert np.ptp(around) < 0.5
    assert health_score(np.array([0.05]), config, reference=reference)[0] == 60.0


def test_a_band_without_enough_reference_accounts_keeps_the_curve():
    reference = ScoreReference.from_probabilities(np.full(500, 0.01))  # nobody at risk
    config = ScoreConfig()
    p = np.array([0.2, 0.5])
    assert health_score(p, config, reference=reference).tolist() == health_score(p, config).tolist()


def pd_share(scores: np.ndarray) -> float:
    """The largest share of accounts holding one score value."""
    _, counts = np.unique(scores, return_counts=True)
    return counts.max() / len(scores)
