"""A simulated B2B SaaS customer base with known truths: the embedded default data.

:func:`generate_world` returns the input tables of the data contract (accounts, contracts,
logins, feature usage, support tickets, NPS responses, churn events) together with what is
never observable in real data: each account's true churn cause and its true monthly churn
hazard. :func:`oracle_churn_probability` turns the hazard into the best possible churn
score, the ceiling against which a model is judged. ``docs/simulator.md`` describes the
mechanisms.

Examples
--------
>>> from healthscore.synthetic import generate_world
>>> world = generate_world(100, start="2024-01-01", end="2024-07-01", seed=1)
>>> world.data_end
Timestamp('2024-07-01 00:00:00')
"""

from healthscore.synthetic.billing_export import BillingExport
from healthscore.synthetic.catalogue import (
    ADVANCED_FEATURES,
    CAUSE_REASONS,
    CAUSES,
    CORE_FEATURES,
    FEATURES,
    REASON_CAUSE,
)
from healthscore.synthetic.oracle import TRUTH_DIR, oracle_churn_probability, oracle_probability
from healthscore.synthetic.parameters import SimulatorParameters
from healthscore.synthetic.world import World, generate_world

__all__ = [
    "ADVANCED_FEATURES",
    "BillingExport",
    "CAUSES",
    "CAUSE_REASONS",
    "CORE_FEATURES",
    "FEATURES",
    "REASON_CAUSE",
    "SimulatorParameters",
    "TRUTH_DIR",
    "World",
    "generate_world",
    "oracle_churn_probability",
    "oracle_probability",
]
