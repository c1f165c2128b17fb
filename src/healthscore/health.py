"""From a calibrated churn probability to a 0-100 health score and a risk tier.

Tiers are bands of churn probability, fixed by the config: ``healthy`` up to 5% churn risk
over the label horizon (score 60 and more), ``watch`` from 5% to about 12.6% (45 to 60),
``at_risk`` above (below 45). The band edges come from a logistic curve of the log-odds of
staying, ``L = ln((1 - p) / p)``:

    curve(p) = 100 * sigmoid(k * (L - c)),

with ``c`` and ``k`` set so that ``base_churn_probability`` (5%) scores ``base_score`` (60)
and, around it, every ``points_to_double_odds`` (10) points halve the odds of churning, as
in a credit score. ``churn_probability_at`` inverts it: the tier edges at 60 and 45 are 5%
and 12.6%.

*Within* a band, the score places the account among the accounts of that band in a
reference portfolio: the model's validation period, kept with the model
(:class:`ScoreReference`). A healthy account scores ``60 + 40 x`` the share of healthy
reference accounts that are riskier than it, a watch account ``45 + 15 x`` that share among
watch accounts, an at-risk account ``45 x`` that share among at-risk accounts. So a healthy
80 is safer than half of the healthy accounts, and the scores of a portfolio like the one
the model was validated on spread over the whole scale. This matters because the risk is
very unevenly spread: an annual contract far from its renewal cannot churn within 90 days,
and on the demo such accounts, four in ten, all sit between 0.03% and 0.05% churn risk,
which any fixed curve squeezes into one or two points. The mapping is a fixed, strictly
monotone function of the probability once the model is trained (the same probability
always gives the same score), continuous at the band edges, and it approaches but never
reaches 0 or 100. Without a reference (a bundle trained before it was kept), the curve
itself is the score. The probability is always kept beside the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from healthscore.config import ScoreConfig

RiskTier = Literal["healthy", "watch", "at_risk"]
#: The risk tiers, healthiest first: bands of churn probability (see the module docstring).
TIERS: tuple[RiskTier, ...] = get_args(RiskTier)
#: The tiers a CS team acts on this week: shown in the worklist, eligible for the control
#: group, compared by ``outcomes``.
FLAGGED_TIERS: tuple[RiskTier, ...] = ("at_risk", "watch")
_EPS = 1e-9


def _curve(config: ScoreConfig) -> tuple[float, float]:
    """The slope ``k`` and centre ``c`` of the logistic score curve for ``config``."""
    base = min(max(config.base_score / 100.0, 0.01), 0.99)
    p0 = config.base_churn_probability
    k = config.points_to_double_odds / np.log(2.0) / (100.0 * base * (1.0 - base))
    centre = np.log((1 - p0) / p0) - np.log(base / (1 - base)) / k
    return float(k), float(centre)


@dataclass(frozen=True)
class ScoreReference:
    """The reference portfolio's log-odds of staying, as quantiles: where each band's
    accounts sit, to place a new account among them.

    ``knots`` are the quantiles at the levels ``(i + 1) / (len(knots) + 1)``, strictly
    increasing; ``size`` is the number of reference rows they summarise.
    """

    knots: tuple[float, ...]
    size: int

    @classmethod
    def from_probabilities(cls, probability: np.ndarray, *, n_knots: int = 255) -> ScoreReference:
        """The reference of a set of calibrated probabilities (the validation period's)."""
        p = np.clip(np.asarray(probability, dtype=float), _EPS, 1 - _EPS)
        log_odds = np.log((1 - p) / p)
        levels = np.arange(1, n_knots + 1) / (n_knots + 1)
        knots = np.quantile(log_odds, levels) if len(log_odds) else np.array([])
        # Ties (many accounts with one probability) would make the map flat: nudge them apart.
        knots = np.maximum.accumulate(knots + np.arange(len(knots)) * 1e-9)
        return cls(tuple(float(k) for k in knots), int(len(log_odds)))

    def share_below(self, log_odds: np.ndarray) -> np.ndarray:
        """The share of reference accounts with lower log-odds of staying (riskier), smooth
        and strictly increasing: linear between the knots, exponential tails beyond."""
        knots = np.array(self.knots)
        levels = np.arange(1, len(knots) + 1) / (len(knots) + 1)
        x = np.asarray(log_odds, dtype=float)
        inside = np.interp(x, knots, levels)
        below = levels[0] * np.exp(np.minimum(x - knots[0], 0.0))
        above = 1 - (1 - levels[-1]) * np.exp(-np.maximum(x - knots[-1], 0.0))
        return np.where(x < knots[0], below, np.where(x > knots[-1], above, inside))

    def to_dict(self) -> dict[str, object]:
        return {"knots": list(self.knots), "size": self.size}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ScoreReference:
        return cls(tuple(raw["knots"]), int(raw["size"]))


#: A band holding fewer reference accounts than this is mapped by the curve instead.
MIN_BAND_REFERENCE = 50


def health_score(
    probability: np.ndarray | pd.Series,
    config: ScoreConfig,
    *,
    reference: ScoreReference | None = None,
) -> np.ndarray:
    """Map churn probabilities to health scores in [0, 100] (100 = healthiest).

    With a ``reference``, each tier's band of scores is filled by the account's position
    among that tier's reference accounts (see the module's docstring); without one, the
    logistic curve is the score. Cut to one decimal (59.96 is 59.9: below the watch edge).

    Examples
    --------
    >>> from healthscore.config import ScoreConfig
    >>> health_score(np.array([0.0001, 0.01, 0.05, 0.3, 0.8]), ScoreConfig()).tolist()
    [98.4, 80.1, 60.0, 29.8, 9.9]
    """
    p = np.clip(np.asarray(probability, dtype=float), _EPS, 1 - _EPS)
    curve = _curve_score(p, config)
    if reference is None or len(reference.knots) < 2:
        return _tenths(curve)
    log_odds = np.log((1 - p) / p)
    share = reference.share_below(log_odds)
    score = curve.copy()
    for low, high in _bands(config):
        # Band edges as log-odds of staying (lower = riskier) and their scores.
        lo_x = -np.inf if low == 0 else _log_odds_at(low, config)
        hi_x = np.inf if high == 100 else _log_odds_at(high, config)
        lo_share = 0.0 if low == 0 else float(reference.share_below(np.array([lo_x]))[0])
        hi_share = 1.0 if high == 100 else float(reference.share_below(np.array([hi_x]))[0])
        mass = hi_share - lo_share
        if mass * reference.size < MIN_BAND_REFERENCE:
            continue  # too few reference accounts in this band: keep the curve there
        inside = (log_odds >= lo_x) & (log_odds < hi_x)
        score[inside] = low + (high - low) * (share[inside] - lo_share) / mass
    return _tenths(np.clip(score, 0.0, 100.0))


def _tenths(score: np.ndarray) -> np.ndarray:
    """Scores cut (not rounded) to one decimal, so that no rounding carries an account over a
    tier edge: a churn risk just above 5% scores 59.9, never 60.0."""
    return np.floor(score * 10 + 1e-9) / 10


def _bands(config: ScoreConfig) -> list[tuple[float, float]]:
    """The score bands of the tiers, riskiest first."""
    edges = [0.0, config.at_risk_below, config.watch_below, 100.0]
    return [(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True) if hi > lo]


def _curve_score(p: np.ndarray, config: ScoreConfig) -> np.ndarray:
    k, centre = _curve(config)
    return 100.0 / (1.0 + np.exp(-k * (np.log((1 - p) / p) - centre)))


def _log_odds_at(score: float, config: ScoreConfig) -> float:
    p = churn_probability_at(score, config)
    return float(np.log((1 - p) / p))


def churn_probability_at(score: float, config: ScoreConfig) -> float:
    """The churn probability at which the curve equals ``score`` (0 < score < 100).

    At the tier edges (``watch_below``, ``at_risk_below``) it is the probability at which
    the health score equals them, with or without a reference.

    Examples
    --------
    >>> round(churn_probability_at(45, ScoreConfig()), 3)
    0.126
    """
    k, centre = _curve(config)
    s = min(max(score / 100.0, _EPS), 1 - _EPS)
    log_odds_stay = centre + np.log(s / (1 - s)) / k
    return float(1.0 / (1.0 + np.exp(log_odds_stay)))


def tier_bands(config: ScoreConfig) -> dict[str, str]:
    """Each tier as a band of churn probability, in words, for reports and help texts.

    Examples
    --------
    >>> tier_bands(ScoreConfig())["at_risk"]
    'churn risk above 12.6% (score below 45)'
    """
    watch = churn_probability_at(config.watch_below, config)
    at_risk = churn_probability_at(config.at_risk_below, config)
    return {
        "healthy": f"churn risk up to {watch:.1%} (score {config.watch_below:g} or more)",
        "watch": f"churn risk {watch:.1%} to {at_risk:.1%} "
        f"(score {config.at_risk_below:g} to {config.watch_below:g})",
        "at_risk": f"churn risk above {at_risk:.1%} (score below {config.at_risk_below:g})",
    }


def risk_tier(score: np.ndarray | pd.Series, config: ScoreConfig) -> np.ndarray:
    """``at_risk`` below ``at_risk_below``, ``watch`` below ``watch_below``, else ``healthy``."""
    s = np.asarray(score, dtype=float)
    return np.where(
        s < config.at_risk_below, "at_risk", np.where(s < config.watch_below, "watch", "healthy")
    )
