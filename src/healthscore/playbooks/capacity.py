"""Who carries each play this cadence step: the account's CSM up to their capacity, else a team.

The touch tier says who *should* run a play: the account's own CSM for ``high_touch``, the
pooled CS team for ``low_touch``, an automated sequence for ``tech_touch``. A CSM can only
work so many accounts in one cadence step (``[capacity] accounts_per_csm``), so each CSM's
list is capped: their accounts with an action due are taken in order of ARR at risk, the
first ``accounts_per_csm`` stay with them and the rest go to the pooled CS team, with the
reason in ``owner_reason``. Accounts without a CSM on record share the team's capacity
(``csms x accounts_per_csm``) under the role "account CSM".

An action is due for every account whose playbook is not ``monitor`` and that is not in the
control group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import CapacityConfig
from healthscore.playbooks.catalogue import FALLBACK_PLAYBOOK
from healthscore.touch import OWNERS

POOLED = OWNERS["low_touch"]
UNNAMED_CSM = OWNERS["high_touch"]


def assign_owners(table: pd.DataFrame, *, capacity: CapacityConfig) -> pd.DataFrame:
    """The owner of each account's play this cadence step, and why.

    Parameters
    ----------
    table
        One row per account: ``account_id``, ``touch_tier``, ``playbook_id``, ``holdout``,
        ``arr_at_risk`` and, when known, ``csm`` (the account's CSM from ``accounts.owner``).
    capacity
        ``accounts_per_csm`` caps each CSM's list; ``csms`` sizes the shared list of
        high-touch accounts without a CSM on record.

    Returns
    -------
    pandas.DataFrame
        On ``table``'s index: ``action_due`` (bool), ``owner`` (a CSM's name, ``account CSM``,
        ``pooled CS team`` or ``automated sequence``) and ``owner_reason``.

    Examples
    --------
    >>> from healthscore.config import CapacityConfig
    >>> table = pd.DataFrame({"account_id": ["a", "b", "c"], "touch_tier": "high_touch",
    ...     "playbook_id": "usage_reengagement", "holdout": False,
    ...     "arr_at_risk": [300.0, 200.0, 100.0], "csm": "Dana Reyes"})
    >>> assign_owners(table, capacity=CapacityConfig(accounts_per_csm=2))["owner"].tolist()
    ['Dana Reyes', 'Dana Reyes', 'pooled CS team']
    """
    tiers = table["touch_tier"].astype("str")
    csm = (
        table["csm"].astype("object").where(table["csm"].notna(), None)
        if "csm" in table.columns
        else pd.Series(None, index=table.index, dtype="object")
    )
    csm = csm.map(lambda name: name.strip() or None if isinstance(name, str) else None)
    holdout = table["holdout"].fillna(False).astype(bool)
    monitor = table["playbook_id"].astype("str") == FALLBACK_PLAYBOOK
    due = ~holdout & ~monitor
    high = tiers == "high_touch"
    person = csm.where(high, None).fillna(UNNAMED_CSM).where(high, None)
    owner = tiers.map(dict(OWNERS)).astype("object")
    owner[high] = person[high]
    reason = pd.Series(
        np.select(
            [holdout, monitor, high & csm.notna(), high, tiers == "low_touch"],
            [
                "control group: no action",
                "no action due (monitor)",
                "high touch: the account's CSM",
                "high touch: no CSM on record",
                "low touch: pooled team",
            ],
            default="tech touch: automated",
        ),
        index=table.index,
        dtype="object",
    )
    # Cap each CSM's list at their capacity, the most ARR at risk first.
    worked = due & high
    limit = pd.Series(capacity.accounts_per_csm, index=table.index)
    limit[person == UNNAMED_CSM] = capacity.csms * capacity.accounts_per_csm
    queue = pd.DataFrame(
        {
            "person": person,
            "risk": pd.to_numeric(table["arr_at_risk"]).fillna(0.0),
            "id": table["account_id"].astype(str),
        }
    )[worked]
    queue = queue.sort_values(["person", "risk", "id"], ascending=[True, False, True])
    position = queue.groupby("person").cumcount()
    over = position[position >= limit[position.index]].index
    for index in over:
        who = person[index]
        reason[index] = (
            f"overflow: {who}'s list is full ({limit[index]} accounts with more ARR at risk)"
        )
    owner[over] = POOLED
    return pd.DataFrame(
        {"action_due": due.astype(bool), "owner": owner.astype("str"), "owner_reason": reason},
        index=table.index,
    )
