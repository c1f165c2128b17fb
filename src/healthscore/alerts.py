"""Health-score drops since the previous cadence step, with the driver families that moved.

A CSM needs to hear about an account whose score fell sharply this month even when it is
not yet at risk: the drop is the early signal. The families that moved most are the change
in each family's summed SHAP contribution between the two dates (positive = more risk).
"""

from __future__ import annotations

import pandas as pd

from healthscore.config import Config
from healthscore.explain import FAMILIES, family_contributions
from healthscore.model import HealthModel
from healthscore.scoring import eligible_features, step_back
from healthscore.storage import DataSource


def _scores_and_families(
    source: DataSource, model: HealthModel, as_of: pd.Timestamp, config: Config
) -> pd.DataFrame:
    features = eligible_features(source, as_of, config)
    scored = model.score(features)
    families = family_contributions(model.contributions(features), drivers_only=True)
    names = [c for c in ("account_name", "csm") if c in features.columns]
    out = pd.concat(
        [features[["account_id", *names]], scored[["health_score", "risk_tier"]], families],
        axis=1,
    )
    return out.set_index("account_id")


def score_drops(
    source: DataSource,
    model: HealthModel,
    as_of: str | pd.Timestamp,
    config: Config,
    *,
    drop: float = 10.0,
    families_shown: int = 2,
) -> pd.DataFrame:
    """Accounts whose health score fell by more than ``drop`` points since the last step.

    Columns: account_id, account_name and csm (when the data has them), as_of,
    previous_score, health_score, change, risk_tier, moved_families (the families whose
    contribution rose most, with the rise in log-odds).
    """
    as_of = pd.Timestamp(as_of)
    now = _scores_and_families(source, model, as_of, config)
    before = _scores_and_families(source, model, step_back(as_of, config), config)
    both = now.merge(before, left_index=True, right_index=True, suffixes=("", "_before"))
    change = (both["health_score"] - both["health_score_before"]).round(1)
    fallen = both[change < -drop]
    moved = []
    for _, row in fallen.iterrows():
        deltas = {f: row[f"family__{f}"] - row[f"family__{f}_before"] for f in FAMILIES}
        top = sorted(deltas.items(), key=lambda kv: kv[1], reverse=True)[:families_shown]
        moved.append(", ".join(f"{f} (+{d:.2f})" for f, d in top if d > 0) or "none")
    details = {
        column: fallen[column].to_numpy()
        for column in ("account_name", "csm")
        if column in fallen.columns
    }
    out = pd.DataFrame(
        {
            "account_id": fallen.index,
            **details,
            "as_of": as_of,
            "previous_score": fallen["health_score_before"].to_numpy(),
            "health_score": fallen["health_score"].to_numpy(),
            "change": change[fallen.index].to_numpy(),
            "risk_tier": fallen["risk_tier"].to_numpy(),
            "moved_families": moved,
        }
    )
    return out.sort_values(["change", "account_id"]).reset_index(drop=True)
