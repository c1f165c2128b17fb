"""Treated against held-out accounts: differences, their intervals, and the sample they need.

Each comparison is between two randomised arms of one group of recommendations: the
accounts assigned the play and those held out. Three questions are answered per group:

* **Churn.** The difference of churn rates (treated minus held out) with Newcombe's hybrid
  score interval, built from the two arms' Wilson intervals as scipy's
  :meth:`scipy.stats.binomtest` gives them. It keeps its coverage with small arms and rates
  near 0, where the textbook normal interval does not.
* **ARR.** The ARR retained in each arm (ARR at the window's end over ARR at the scoring
  date, summed over the arm) and the difference, with a percentile bootstrap interval from
  :func:`scipy.stats.bootstrap` resampling accounts within each arm.
* **Sample size.** How many more accounts, in the arms' current proportions, a two-sided
  test at the interval's level needs to detect the observed churn difference with the
  configured power (the usual two-proportion formula, Fleiss 1981). It is 0 once the interval
  excludes zero, and unknown when no difference is seen.

The formula is a few lines of ``scipy.stats.norm`` rather than a dependency on statsmodels:
statsmodels' power classes solve the same equation, and the intervals come from scipy, which
scikit-learn already brings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Interval:
    """An estimate and its interval; NaN where it cannot be computed."""

    estimate: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


_NAN = Interval(math.nan, math.nan, math.nan)


def wilson_interval(events: int, n: int, *, confidence: float) -> Interval:
    """A proportion and its Wilson score interval.

    Examples
    --------
    >>> round(wilson_interval(3, 10, confidence=0.95).low, 3)
    0.108
    """
    if n <= 0:
        return _NAN
    ci = stats.binomtest(int(events), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return Interval(events / n, float(ci.low), float(ci.high))


def rate_difference(
    events_a: int, n_a: int, events_b: int, n_b: int, *, confidence: float
) -> Interval:
    """``rate_a - rate_b`` with Newcombe's hybrid score interval (his method 10).

    Examples
    --------
    >>> d = rate_difference(12, 100, 20, 100, confidence=0.95)
    >>> round(d.estimate, 2), round(d.low, 3), round(d.high, 3)
    (-0.08, -0.182, 0.023)
    """
    a = wilson_interval(events_a, n_a, confidence=confidence)
    b = wilson_interval(events_b, n_b, confidence=confidence)
    if math.isnan(a.estimate) or math.isnan(b.estimate):
        return _NAN
    diff = a.estimate - b.estimate
    low = diff - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = diff + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(diff, low, high)


def retained_share(start: np.ndarray, end: np.ndarray) -> float:
    """ARR at the end over ARR at the start, summed over accounts (NaN without ARR)."""
    total = float(np.nansum(start))
    return float(np.nansum(end)) / total if total > 0 else math.nan


def retained_difference(
    start_a: np.ndarray,
    end_a: np.ndarray,
    start_b: np.ndarray,
    end_b: np.ndarray,
    *,
    confidence: float,
    resamples: int,
    seed: int,
) -> Interval:
    """Difference of ARR retained (arm a minus arm b) with a percentile bootstrap interval.

    Accounts are resampled within each arm, keeping each account's start and end ARR
    together. Arms with fewer than two accounts or no ARR give NaN.
    """
    start_a, end_a = np.asarray(start_a, float), np.asarray(end_a, float)
    start_b, end_b = np.asarray(start_b, float), np.asarray(end_b, float)
    estimate = retained_share(start_a, end_a) - retained_share(start_b, end_b)
    if len(start_a) < 2 or len(start_b) < 2 or math.isnan(estimate):
        return Interval(estimate, math.nan, math.nan)

    def statistic(index_a: np.ndarray, index_b: np.ndarray, axis: int = -1) -> np.ndarray:
        ia, ib = index_a.astype(np.int64), index_b.astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ra = np.nansum(end_a[ia], axis=axis) / np.nansum(start_a[ia], axis=axis)
            rb = np.nansum(end_b[ib], axis=axis) / np.nansum(start_b[ib], axis=axis)
        return ra - rb

    result = stats.bootstrap(
        (np.arange(len(start_a)), np.arange(len(start_b))),
        statistic,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high))


def more_accounts_needed(
    events_a: int,
    n_a: int,
    events_b: int,
    n_b: int,
    *,
    confidence: float,
    power: float,
) -> int | None:
    """Accounts to add (both arms, current proportions) to read the churn difference.

    The two-proportion sample size for a two-sided test at level ``1 - confidence`` with
    ``power``, at the observed rates. 0 when the interval already excludes zero; None when
    the arms are empty or show no difference.

    Examples
    --------
    >>> more_accounts_needed(12, 100, 20, 100, confidence=0.95, power=0.8)
    457
    """
    if n_a <= 0 or n_b <= 0:
        return None
    if rate_difference(events_a, n_a, events_b, n_b, confidence=confidence).excludes_zero:
        return 0
    p_a, p_b = events_a / n_a, events_b / n_b
    diff = abs(p_a - p_b)
    if diff == 0:
        return None
    ratio = n_a / n_b  # accounts of arm a per account of arm b
    pooled = (ratio * p_a + p_b) / (1 + ratio)
    z_alpha = stats.norm.ppf(1 - (1 - confidence) / 2)
    z_beta = stats.norm.ppf(power)
    root = z_alpha * math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio)) + z_beta * math.sqrt(
        p_b * (1 - p_b) + p_a * (1 - p_a) / ratio
    )
    n_b_needed = root**2 / diff**2
    total = math.ceil(n_b_needed * (1 + ratio))
    return max(0, total - (n_a + n_b))
