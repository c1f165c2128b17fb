"""What an account visibly experienced lately: the inputs of the churn hazards.

Every quantity here is a plain window aggregate of the observable tables (active users per
seat, logins per active user and core features since sign-up; advanced features used in the
last three months; support pain and NPS in the months before last month), the kind of
number a feature pipeline computes from the same tables. Most hazards read only these (plus
tenure and contract terms), which is what lets a model that sees only the tables approach
the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from healthscore.synthetic.catalogue import CORE_FEATURES, FEATURES

#: Months of monthly aggregates kept per account.
HISTORY_MONTHS = 8


@dataclass
class Experience:
    """Recent monthly aggregates per account; column 0 of each history is last month."""

    n: int
    utilisation: np.ndarray = field(init=False)
    seen: np.ndarray = field(init=False)
    live_share: np.ndarray = field(init=False)
    active_share: np.ndarray = field(init=False)
    active_users: np.ndarray = field(init=False)
    raw_logins: np.ndarray = field(init=False)
    pain: np.ndarray = field(init=False)
    nps_sum: np.ndarray = field(init=False)
    nps_count: np.ndarray = field(init=False)
    months_since_used: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n, HISTORY_MONTHS)
        self.utilisation = np.zeros(self.n)
        self.seen = np.zeros(shape, dtype=bool)
        self.live_share = np.zeros(shape)
        self.active_share = np.zeros(shape)
        self.active_users = np.zeros(shape)
        self.raw_logins = np.zeros(shape)
        self.pain = np.zeros(shape)
        self.nps_sum = np.zeros(shape)
        self.nps_count = np.zeros(shape)
        self.months_since_used = np.full((self.n, len(FEATURES)), 99)

    @property
    def activation(self) -> np.ndarray:
        """How well a new account took off, from all its months so far (at most eight).

        ``1.8 * share of seats active + 0.25 * core features used + 0.35 * log(1 + logins
        per active user)``, the share weighted by how much of each month it was a customer.
        About 2 for a healthy start, below 1 for a stalled one.
        """
        weight = self.live_share * self.seen
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (self.active_share * weight).sum(axis=1) / weight.sum(axis=1)
            per_user = self.raw_logins.sum(axis=1) / self.active_users.sum(axis=1)
        core_used = (self.months_since_used[:, : len(CORE_FEATURES)] < HISTORY_MONTHS).sum(axis=1)
        return (
            1.8 * np.nan_to_num(share) + 0.25 * core_used + 0.35 * np.log1p(np.nan_to_num(per_user))
        )

    @property
    def months_observed(self) -> np.ndarray:
        """Months of behaviour in the history (a partial first month counts partly)."""
        return (self.live_share * self.seen).sum(axis=1)

    @property
    def support_pain(self) -> np.ndarray:
        """Support pain points of the three months before last month.

        Customers act on bad experiences with a delay, so last month does not count yet.
        """
        return self.pain[:, 1:4].sum(axis=1)

    @property
    def nps_mean(self) -> np.ndarray:
        """Mean NPS score of the six months before last month (NaN without responses)."""
        count = self.nps_count[:, 1:7].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, self.nps_sum[:, 1:7].sum(axis=1) / count, np.nan)

    @property
    def advanced_breadth(self) -> np.ndarray:
        """Distinct advanced features used in the last three months."""
        return (self.months_since_used[:, len(CORE_FEATURES) :] < 3).sum(axis=1)


def _push(history: np.ndarray, latest: np.ndarray, where: np.ndarray) -> np.ndarray:
    shifted = np.concatenate([latest[:, None], history[:, :-1]], axis=1)
    return np.where(where[:, None], shifted, history)


def update_experience(
    exp: Experience,
    *,
    live: np.ndarray,
    seats: np.ndarray,
    active_users: np.ndarray,
    logins: np.ndarray,
    live_share: np.ndarray,
    pain: np.ndarray,
    nps_sum: np.ndarray,
    nps_count: np.ndarray,
    feature_sessions: np.ndarray,
) -> None:
    """Add one month of realised behaviour to the accounts' histories (in place).

    ``active_users`` is the number of users who logged in at least once; ``live_share`` the
    share of the month the account was a customer (it weighs a partial first month less).
    ``pain`` is the month's support pain points, ``nps_sum`` and ``nps_count`` the sum and
    number of its NPS scores, ``feature_sessions`` the sessions that touched each feature.
    """
    seen = live & (live_share > 0)
    exp.utilisation = np.where(seen, active_users / np.maximum(seats, 1), exp.utilisation)
    exp.seen = _push(exp.seen, seen, live)
    exp.live_share = _push(exp.live_share, np.where(seen, live_share, 0.0), live)
    exp.active_share = _push(exp.active_share, active_users / np.maximum(seats, 1), live)
    exp.active_users = _push(exp.active_users, active_users, live)
    exp.raw_logins = _push(exp.raw_logins, logins, live)
    exp.pain = _push(exp.pain, pain, live)
    exp.nps_sum = _push(exp.nps_sum, nps_sum, live)
    exp.nps_count = _push(exp.nps_count, nps_count, live)
    used = feature_sessions > 0
    exp.months_since_used = np.where(
        live[:, None], np.where(used, 0, exp.months_since_used + 1), exp.months_since_used
    )
