"""Playbooks: from an account's risk drivers and context to the customer-success play to run.

The catalogue (:mod:`~healthscore.playbooks.catalogue`) is data a CS team edits in TOML; the
choice (:mod:`~healthscore.playbooks.recommendations`) is one pure, vectorised function over it.
See ``docs/playbooks.md`` for what each shipped playbook is for and why the rules are ordered
as they are.
"""

from healthscore.playbooks.catalogue import (
    FALLBACK_PLAYBOOK,
    FALLBACK_RULE,
    FAMILIES,
    LIFECYCLE_STAGES,
    RISK_TIERS,
    Channels,
    Playbook,
    PlaybookCatalogue,
    Rule,
    catalogue_from_dict,
    load_playbooks,
)
from healthscore.playbooks.recommendations import (
    HOLDOUT_RISK_TIERS,
    OUTPUT_COLUMNS,
    holdout_draws,
    recommend_playbooks,
)

__all__ = [
    "FALLBACK_PLAYBOOK",
    "FALLBACK_RULE",
    "FAMILIES",
    "HOLDOUT_RISK_TIERS",
    "LIFECYCLE_STAGES",
    "OUTPUT_COLUMNS",
    "RISK_TIERS",
    "Channels",
    "Playbook",
    "PlaybookCatalogue",
    "Rule",
    "catalogue_from_dict",
    "holdout_draws",
    "load_playbooks",
    "recommend_playbooks",
]
