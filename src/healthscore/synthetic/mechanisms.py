"""The churn mechanisms: latent states, how they move, and the hazard of each cause.

Each month an account carries latent states (engagement level, onboarding progress, feature
adoption, friction episode, sentiment, budget shock). They generate that month's behaviour,
which is summarised in an :class:`~healthscore.synthetic.experience.Experience`; the churn
hazard of each cause at the next term end is computed from that experience (and, for usage
decay, from the fall of engagement that logins and active users show). Because the hazards
read what the tables show, a model that sees only the tables can learn them; only the budget
and random components are invisible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthscore.synthetic.accounts import Accounts
from healthscore.synthetic.catalogue import CAUSES, CORE_FEATURES, FEATURE_USE_PER_LOGIN
from healthscore.synthetic.experience import Experience
from healthscore.synthetic.parameters import SimulatorParameters

_CAUSE = {name: i for i, name in enumerate(CAUSES)}
#: Day code standing for "never happened".
NEVER = np.iinfo(np.int64).max


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def ramp(x: np.ndarray, start: float, width: float) -> np.ndarray:
    """0 below ``start``, 1 above ``start + width``, a smooth S-curve between.

    Hazards use it so that an account whose driving state is normal carries none of that
    cause's hazard, and one whose state worsens carries more of it month by month.
    """
    t = np.clip((x - start) / width, 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass
class LatentState:
    """Hidden per-account states, advanced once a month (arrays of length ``n``)."""

    engagement: np.ndarray
    engagement_history: np.ndarray
    engagement_noise: np.ndarray
    decaying: np.ndarray
    decay_started_day: np.ndarray
    soured_day: np.ndarray
    core_count: np.ndarray
    advanced_count: np.ndarray
    friction: np.ndarray
    sentiment: np.ndarray
    sentiment_target: np.ndarray
    budget_months_left: np.ndarray
    budget_fresh: np.ndarray

    @property
    def engagement_fall(self) -> np.ndarray:
        """How far engagement fell in the four months before last month (log scale)."""
        return self.engagement_history[:, -1] - self.engagement_history[:, 0]

    @classmethod
    def initial(cls, accounts: Accounts) -> LatentState:
        n = accounts.n
        return cls(
            engagement=np.zeros(n),
            engagement_history=np.zeros((n, 5)),
            engagement_noise=np.zeros(n),
            decaying=np.zeros(n, dtype=bool),
            decay_started_day=np.full(n, NEVER, dtype=np.int64),
            soured_day=np.full(n, NEVER, dtype=np.int64),
            core_count=np.ones(n, dtype=np.int64),
            advanced_count=np.zeros(n, dtype=np.int64),
            friction=np.zeros(n),
            sentiment=accounts.sentiment_base.copy(),
            sentiment_target=accounts.sentiment_base.copy(),
            budget_months_left=np.zeros(n, dtype=np.int64),
            budget_fresh=np.zeros(n, dtype=bool),
        )


def onboarding_progress(accounts: Accounts, tenure_months: np.ndarray) -> np.ndarray:
    """Share of the account's eventual utilisation reached after ``tenure_months``.

    Strong activators ramp within a month to nearly full use; weak ones ramp slowly towards
    a low ceiling, which is what onboarding failure looks like in the data.
    """
    ceiling = sigmoid(1.5 + 1.5 * accounts.activation)
    pace = 1.2 * np.exp(0.5 * accounts.activation)
    return ceiling * -np.expm1(-(tenure_months + 0.5) * pace)


def advance_latent(
    state: LatentState,
    accounts: Accounts,
    *,
    live: np.ndarray,
    tenure_months: np.ndarray,
    month_start: int,
    rng: np.random.Generator,
    params: SimulatorParameters,
) -> None:
    """Move every live account's hidden states one month forward (in place)."""
    n = accounts.n
    established = live & (tenure_months >= 4)
    onset = (
        established
        & ~state.decaying
        & (rng.random(n) < params.decay_onset_rate * np.exp(-0.3 * accounts.fit))
    )
    state.decaying |= onset
    state.engagement_history = np.where(
        live[:, None],
        np.column_stack([state.engagement, state.engagement_history[:, :-1]]),
        state.engagement_history,
    )
    state.decay_started_day = np.where(onset, month_start, state.decay_started_day)
    falling = live & state.decaying
    state.engagement[falling] = np.maximum(
        state.engagement[falling] - accounts.decay_speed[falling], -3.5
    )
    state.engagement_noise[live] = 0.6 * state.engagement_noise[live] + 0.08 * rng.standard_normal(
        int(live.sum())
    )

    progress = onboarding_progress(accounts, tenure_months)
    core = np.clip(1 + np.floor(3.6 * progress), 1, 4).astype(np.int64)
    state.core_count = np.where(live, np.maximum(state.core_count, core), state.core_count)
    breadth = accounts.adoption_ceiling * -np.expm1(-tenure_months / accounts.adoption_pace)
    breadth = np.floor(breadth * np.minimum(1.0, progress + 0.2)).astype(np.int64)
    state.advanced_count = np.where(
        live, np.maximum(state.advanced_count, breadth), state.advanced_count
    )

    continuing = state.friction > 0
    continuing &= rng.random(n) < params.friction_episode_persistence
    starting = ~(state.friction > 0) & (
        rng.random(n) < params.friction_episode_rate * accounts.friction_propensity
    )
    state.friction = np.where(live & continuing, state.friction, 0.0)
    state.friction = np.where(live & starting, rng.uniform(0.6, 1.6, n), state.friction)

    souring = live & (tenure_months >= 3) & (rng.random(n) < params.souring_rate)
    state.sentiment_target = np.where(souring, state.sentiment_target - 2.2, state.sentiment_target)
    state.soured_day = np.where(
        souring & (state.soured_day == NEVER), month_start, state.soured_day
    )
    drift = (
        0.6 * state.sentiment
        + 0.4 * state.sentiment_target
        + 0.25 * rng.standard_normal(n)
        - 0.2 * state.friction
    )
    state.sentiment = np.where(live, drift, state.sentiment)

    shock = live & (state.budget_months_left == 0) & (rng.random(n) < params.budget_shock_rate)
    state.budget_months_left = np.where(
        shock, 2 + rng.geometric(0.25, n), np.maximum(state.budget_months_left - live, 0)
    )
    state.budget_fresh = shock


def utilisation(state: LatentState, accounts: Accounts, tenure_months: np.ndarray) -> np.ndarray:
    """Expected share of seats active this month."""
    level = state.engagement + state.engagement_noise
    share = (
        accounts.utilisation_target
        * onboarding_progress(accounts, tenure_months)
        * np.exp(0.9 * level)
    )
    return np.clip(share, 0.02, 0.98)


def component_hazards(
    exp: Experience,
    state: LatentState,
    *,
    tenure_months: np.ndarray,
    terms_completed: np.ndarray,
    monthly_billing: np.ndarray,
    params: SimulatorParameters,
) -> np.ndarray:
    """Monthly hazard of each cause (columns in ``CAUSES`` order).

    Each column is the cause's ceiling times a :func:`ramp` of one driving quantity: weak
    activation over the first terms, the fall of engagement over four months, few advanced
    features, support pain, low NPS. Only the ``budget`` column (a hidden shock) and the
    ``random`` column do not come from what the tables show.
    """
    n = len(tenure_months)
    hazards = np.zeros((n, len(CAUSES)))
    onboarding = monthly_billing & (terms_completed < params.onboarding_months)
    term_weight = np.array([0.7, 1.0, 0.8, 0.6])[np.minimum(terms_completed, 3)]
    evidence = np.clip(exp.months_observed / 0.6, 0.0, 1.0)
    hazards[:, _CAUSE["onboarding_failure"]] = np.where(
        onboarding,
        params.onboarding_max * term_weight * evidence * ramp(2.0 - exp.activation, 0.0, 1.4),
        0,
    )

    established = tenure_months >= 4
    hazards[:, _CAUSE["usage_decay"]] = np.where(
        established, params.decay_max * ramp(state.engagement_fall, 0.3, 1.0), 0
    )
    hazards[:, _CAUSE["poor_adoption"]] = np.where(
        established, params.adoption_max * np.exp(-exp.advanced_breadth / 2.5), 0
    )
    hazards[:, _CAUSE["support_friction"]] = params.friction_max * ramp(exp.support_pain, 0.5, 3.5)
    hazards[:, _CAUSE["detractor"]] = params.detractor_max * np.nan_to_num(
        ramp(7.0 - exp.nps_mean, 0.0, 3.0)
    )
    squeezed = (state.budget_months_left > 0) & ~state.budget_fresh
    hazards[:, _CAUSE["budget"]] = np.where(squeezed, params.budget_hazard, 0)
    hazards[:, _CAUSE["random"]] = params.random_hazard
    return np.clip(hazards, 0, 0.95)


def decision_probabilities(
    hazards: np.ndarray, *, monthly_billing: np.ndarray, params: SimulatorParameters
) -> np.ndarray:
    """Per-cause probabilities of leaving at a term's end.

    A month-to-month term ends every month, so its probabilities are the monthly hazards. A
    one- to three-year term can only end at renewal, where the state then decides: a cause's
    monthly hazard ``h`` becomes ``1 - (1 - h) ** w`` with its ``renewal_weight`` ``w``.
    """
    weight = np.asarray(params.renewal_weight)[None, :]
    at_renewal = -np.expm1(weight * np.log1p(-hazards))
    return np.where(monthly_billing[:, None], hazards, at_renewal)


def feature_sessions(
    state: LatentState, accounts: Accounts, logins: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Login sessions of the month that touch each feature, shape ``(n, len(FEATURES))``.

    A session touches an activated core feature or an adopted advanced feature with that
    feature's probability; features not yet activated or adopted are not touched.
    """
    n_core = len(CORE_FEATURES)
    core = np.arange(n_core)[None, :] < state.core_count[:, None]
    advanced = accounts.advanced_rank < state.advanced_count[:, None]
    enabled = np.concatenate([core, advanced], axis=1)
    chance = np.asarray(FEATURE_USE_PER_LOGIN)[None, :] * enabled
    return rng.binomial(logins[:, None], chance)
