"""The known truths of a simulated world, and the churn log a CS team would have kept.

``truth["accounts"]`` holds each account's churn date, its one true cause and the latent
traits that drove it; ``truth["hazard"]`` the true monthly hazard with its split by cause.
``churn_events`` is what a CS team logs: the right date, and a reason that names the true
cause about three times in four. The rest of the time it names a plausible other cause,
most often price or value, the reasons customers find easiest to give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.synthetic import catalogue as cat
from healthscore.synthetic.accounts import Accounts
from healthscore.synthetic.behaviour import string_column
from healthscore.synthetic.dates import timestamps
from healthscore.synthetic.dynamics import NOT_CHURNED, Simulation

#: Probability that the logged reason names the true cause.
REASON_AGREEMENT = 0.75
#: How a misattributed churn is logged instead (weights per cause, true cause excluded).
_MISATTRIBUTION_WEIGHTS = np.array([0.08, 0.08, 0.25, 0.08, 0.08, 0.35, 0.08])


def _day_timestamps(days: np.ndarray) -> np.ndarray:
    stamps = timestamps(np.where(days == NOT_CHURNED, 0, days))
    stamps[days == NOT_CHURNED] = np.datetime64("NaT")
    return stamps


def truth_accounts(accounts: Accounts, simulation: Simulation) -> pd.DataFrame:
    """Per account: churn date (NaT if alive), true cause (None if alive), latent traits."""
    cause = np.array(cat.CAUSES + (None,), dtype=object)[simulation.cause]
    return pd.DataFrame(
        {
            "account_id": pd.array(accounts.ids, dtype="str"),
            "churned_at": _day_timestamps(simulation.churn_day),
            "cause": pd.Series(cause, dtype=object),
            "pre_existing": accounts.pre_existing,
            "term_months": accounts.term_months,
            "fit": accounts.fit,
            "activation": accounts.activation,
            "adoption_ceiling": accounts.adoption_ceiling,
            "friction_propensity": accounts.friction_propensity,
            "sentiment_base": accounts.sentiment_base,
            "decay_speed": accounts.decay_speed,
            "decay_started_at": _day_timestamps(simulation.latent.decay_started_day),
            "soured_at": _day_timestamps(simulation.latent.soured_day),
        }
    )


def truth_hazard(accounts: Accounts, simulation: Simulation) -> pd.DataFrame:
    """Per account and month from sign-up on: the true churn probability that month.

    ``decision_date`` is the day the running term ended that month (the only day the account
    could leave), NaT in months without a term end; ``hazard_<cause>`` split the hazard by
    cause. Months after an account churned (``alive`` false) hold the hazard it would have
    had had it stayed: the simulation follows every account to the end whether it churned
    or not, so the hazards never depend on the churn draws, and the oracle's probability of
    churn in a window is then exact for churners and stayers alike.
    """
    hazard = simulation.hazard
    table = pd.DataFrame(
        {
            "account_id": string_column(hazard["account"], accounts.ids),
            "month": timestamps(hazard["month_start"]),
            "alive": hazard["alive"],
            "hazard": hazard["hazard"],
            "decision_date": _day_timestamps(hazard["decision_day"]),
        }
    )
    for i, name in enumerate(cat.CAUSES):
        table[f"hazard_{name}"] = hazard["components"][:, i]
    return table.sort_values(["account_id", "month"], kind="stable").reset_index(drop=True)


def churn_log(accounts: Accounts, simulation: Simulation, rng: np.random.Generator) -> pd.DataFrame:
    """The ``churn_events`` table: churn date and a logged reason, by churn date."""
    churned = np.flatnonzero(simulation.cause >= 0)
    churned = churned[np.argsort(simulation.churn_day[churned], kind="stable")]
    true_cause = simulation.cause[churned]
    weights = np.broadcast_to(_MISATTRIBUTION_WEIGHTS, (len(churned), len(cat.CAUSES))).copy()
    weights[np.arange(len(churned)), true_cause] = 0.0
    cumulative = np.cumsum(weights, axis=1)
    other = (rng.random(len(churned))[:, None] * cumulative[:, -1:] >= cumulative).sum(axis=1)
    agrees = rng.random(len(churned)) < REASON_AGREEMENT
    logged = np.where(agrees, true_cause, np.minimum(other, len(cat.CAUSES) - 1))
    variant = rng.integers(0, 2, len(churned))
    reasons = [cat.CAUSE_REASONS[cat.CAUSES[c]][v] for c, v in zip(logged, variant, strict=True)]
    return pd.DataFrame(
        {
            "account_id": pd.array(accounts.ids[churned], dtype="str"),
            "churned_at": timestamps(simulation.churn_day[churned]),
            "reason": pd.array(reasons, dtype="str"),
        }
    )
