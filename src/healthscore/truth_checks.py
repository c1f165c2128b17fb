"""Checks against the simulator's ground truth, which only evaluation ever reads.

The simulator knows why each account churned. If the drivers are right, the playbook the
rules recommend for an account flagged at risk should address that cause. Random churns
have no cause to address and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

CAUSE_TO_PLAYBOOK: dict[str, str] = {
    "onboarding_failure": "onboarding_rescue",
    "usage_decay": "usage_reengagement",
    "poor_adoption": "adoption_campaign",
    "support_friction": "support_escalation",
    "detractor": "exec_sponsor",
    "budget": "renewal_review",
}


@dataclass(frozen=True)
class CauseAgreement:
    """How often the recommended playbook addresses the true churn cause."""

    match_rate: float
    n_accounts: int
    confusion: pd.DataFrame
    per_cause: pd.DataFrame


def playbook_cause_agreement(
    scores: pd.DataFrame,
    truth_accounts: pd.DataFrame,
    *,
    horizon_days: int,
    lead_days: int = 0,
    flagged: tuple[str, ...] = ("at_risk",),
) -> CauseAgreement:
    """Compare playbooks with true causes for accounts flagged before they churned.

    ``scores`` holds scored snapshots (account_id, as_of, risk_tier, playbook_id), possibly
    at several dates. An account counts once: with the playbook of its last flagged snapshot
    whose label window, ``(as_of + lead, as_of + lead + horizon]``, contains its churn date.
    """
    truth = truth_accounts[["account_id", "churned_at", "cause"]].dropna(subset=["churned_at"])
    rows = scores[scores["risk_tier"].isin(flagged)].merge(truth, on="account_id")
    start = rows["as_of"] + pd.Timedelta(days=lead_days)
    end = start + pd.Timedelta(days=horizon_days)
    rows = rows[(rows["churned_at"] > start) & (rows["churned_at"] <= end)]
    rows = rows[rows["cause"].isin(CAUSE_TO_PLAYBOOK)]
    last = rows.sort_values(["account_id", "as_of"]).drop_duplicates("account_id", keep="last")
    matched = last["playbook_id"].to_numpy() == last["cause"].map(CAUSE_TO_PLAYBOOK).to_numpy()
    last = last.assign(matched=matched)
    confusion = pd.crosstab(last["cause"], last["playbook_id"]).reindex(
        index=list(CAUSE_TO_PLAYBOOK), fill_value=0
    )
    per_cause = (
        last.groupby("cause")["matched"]
        .agg(["size", "mean"])
        .rename(columns={"size": "accounts", "mean": "match_rate"})
    )
    rate = float(matched.mean()) if len(last) else float("nan")
    return CauseAgreement(rate, int(len(last)), confusion, per_cause)
