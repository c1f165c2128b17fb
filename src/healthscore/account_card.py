"""The account card: what a CSM reads before calling the customer.

Score history over the last months, the top drivers with their actual values in plain
sentences, and the recommended playbook with its steps and due date.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.features import features_at
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue
from healthscore.scoring import N_DRIVERS, eligible_features, score_frame, step_back
from healthscore.storage import DataSource


@dataclass(frozen=True)
class AccountCard:
    """One account's health at ``as_of`` and how it got there."""

    account_id: str
    scores: pd.Series
    history: pd.DataFrame
    drivers: list[tuple[str, str, float]]
    actions: list[str]

    def render(self) -> str:
        s = self.scores
        lines = [
            f"Account {self.account_id} at {pd.Timestamp(s['as_of']).date()}",
            f"  health score {s['health_score']:.1f} ({s['risk_tier']}), churn probability "
            f"{s['churn_probability']:.1%}, ARR {s['arr']:,.0f}, ARR at risk "
            f"{s['arr_at_risk']:,.0f}, {s['touch_tier']}",
            "",
            "Score history:",
        ]
        for _, row in self.history.iterrows():
            lines.append(
                f"  {pd.Timestamp(row['as_of']).date()}  {row['health_score']:5.1f}  "
                f"{row['risk_tier']}"
            )
        lines += ["", "Top risk drivers:"]
        if not self.drivers:
            lines.append("  none: no feature raises this account's risk")
        for family, text, contribution in self.drivers:
            lines.append(f"  [{family}] {text} (+{contribution:.2f} log-odds)")
        lines += [
            "",
            f"Playbook: {s['playbook_title']} ({s['playbook_id']}), owner "
            f"{s['owner']}, due by {pd.Timestamp(s['due_by']).date()}"
            + (" [holdout: no action, control group]" if s["holdout"] else ""),
        ]
        lines += [f"  {i}. {step}" for i, step in enumerate(self.actions, start=1)]
        return "\n".join(lines)


def account_card(
    source: DataSource,
    model: HealthModel,
    account_id: str,
    as_of: str | pd.Timestamp,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    months: int = 6,
) -> AccountCard:
    """Build the card of ``account_id`` at ``as_of``; unknown or ineligible ids are errors."""
    as_of = pd.Timestamp(as_of)
    features = eligible_features(source, as_of, config)
    row = features[features["account_id"] == account_id]
    if row.empty:
        known = source.scalar(
            "SELECT count(*) FROM accounts WHERE account_id = $id", {"id": account_id}
        )
        reason = (
            "it has no contract covering that day (churned or not yet a customer)"
            if known
            else "no such account_id in the accounts table"
        )
        raise DataError(f"account {account_id!r} cannot be scored at {as_of.date()}: {reason}")
    scores = score_frame(row.reset_index(drop=True), model, config, catalogue=catalogue).iloc[0]
    history = []
    date = as_of
    for _ in range(months):
        past = features_at(source, date, config)
        past = past[past["account_id"] == account_id]
        if past.empty:
            break
        scored = model.score(past.reset_index(drop=True)).iloc[0]
        history.append(
            {
                "as_of": date,
                "health_score": scored["health_score"],
                "risk_tier": scored["risk_tier"],
            }
        )
        date = step_back(date, config)
    drivers = [
        (
            scores[f"driver_{k}_family"],
            scores[f"driver_{k}_text"],
            float(scores[f"driver_{k}_contribution"]),
        )
        for k in range(1, N_DRIVERS + 1)
        if isinstance(scores[f"driver_{k}"], str)
    ]
    actions = catalogue.playbook(scores["playbook_id"]).actions
    return AccountCard(account_id, scores, pd.DataFrame(history[::-1]), drivers, list(actions))
