"""The knobs of the simulator, in one frozen dataclass with documented defaults.

The defaults are tuned so that the default world (3,000 accounts over three years) has a
monthly logo churn of about 2.4%, about a third of churn in an account's first 90 days, and
an oracle AUC (the true 90-day churn probability against what happened) of about 0.9, while
nearly all of the hazard is carried by states the observable tables reflect, so that a model
of the tables alone gets close to the oracle. ``docs/simulator.md`` explains each mechanism;
the names below follow it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorParameters:
    """Every tunable number of the simulated world.

    Rates are per calendar month unless the name says otherwise. Hazards named ``*_max`` are
    the ceiling a component reaches when its driving state is at its worst.
    """

    # Acquisition.
    pre_existing_share: float = 0.30
    """Share of accounts already customers at ``start`` (with contracts running)."""
    acquisition_growth_per_year: float = 0.45
    """Log growth of the sign-up rate per year (0.45: about 57% more sign-ups a year)."""
    warmup_months: int = 6
    """Months simulated before ``start`` (unobserved, churn-free) to settle pre-existing states."""

    halfyear_share: float = 0.0
    """Share of one-year terms drawn as half-year terms instead (0: none, the default world)."""

    # Engagement and onboarding.
    logins_per_user_month: float = 4.5
    """Mean logins per active user in a full month for an average account."""
    onboarding_months: int = 3
    """Terms (months) during which weak activation can end a monthly contract."""

    # Usage decay.
    decay_onset_rate: float = 0.013
    """Monthly probability that an established account starts to disengage."""
    decay_speed: tuple[float, float] = (0.12, 0.35)
    """Range of the monthly fall of the engagement log-level once decay started."""

    # Support friction.
    tickets_per_seat_power: float = 0.05
    """Calm-month ticket rate per ``seats ** 0.6``."""
    friction_episode_rate: float = 0.020
    """Monthly probability that a calm account enters a friction episode."""
    friction_episode_persistence: float = 0.80
    """Probability that a friction episode continues into the next month."""

    # Sentiment.
    souring_rate: float = 0.008
    """Monthly probability that an account's sentiment starts to sour for good."""
    survey_response_rate: float = 0.30
    """Share of active users answering the NPS survey each quarter."""

    # Budget pressure (invisible in product data).
    budget_shock_rate: float = 0.008
    """Monthly probability of a budget shock lasting a few months."""

    # Component hazards (monthly-contract scale).
    onboarding_max: float = 0.75
    """Hazard of a stalled new account at its second monthly renewal."""
    decay_max: float = 0.08
    """Hazard once engagement fell by 1.3 (log scale) over four months."""
    adoption_max: float = 0.02
    """Hazard of an established account using no advanced feature."""
    friction_max: float = 0.15
    """Hazard after four or more support pain points in three months."""
    detractor_max: float = 0.10
    """Hazard when the recent mean NPS score is 4 or lower."""
    budget_hazard: float = 0.025
    """Hazard while a budget shock lasts (after its first month)."""
    random_hazard: float = 0.002
    """Hazard of leaving for reasons no data shows (acquisition, closure)."""

    # Term contracts decide only at renewal: a component hazard h becomes 1 - (1 - h) ** w.
    renewal_weight: tuple[float, ...] = (0.0, 4.0, 10.0, 4.0, 4.0, 4.0, 5.0)
    """Per cause (order of ``CAUSES``), the months-equivalent weight at a term renewal."""

    # Seat changes.
    expansion_rate_at_renewal: float = 0.35
    """Chance that a yearly renewal with at least 80% of seats active adds seats."""
    contraction_rate_at_renewal: float = 0.30
    """Chance that a yearly renewal with under 45% of seats active cuts seats."""
    midterm_upgrade_rate: float = 0.03
    """Monthly chance that a term account with 85% of seats active adds seats mid-term."""
