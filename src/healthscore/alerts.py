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
from healthscore.scoring import eligible_features_on, step_back
from healthscore.storage import DataSource


def _families(model: HealthModel, features: pd.DataFrame) -> pd.DataFrame:
    families = family_contributions(model.contributions(features), drivers_only=True)
    return families.set_axis(features["account_id"].to_numpy())


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
    contribution rose most, with the rise in log-odds). Both dates are built in one pass;
    contributions are computed for the fallen accounts only.
    """
    as_of = pd.Timestamp(as_of)
    now_features, before_features = eligible_features_on(
        source, [as_of, step_back(as_of, config)], config
    )
    names = [c for c in ("account_name", "csm") if c in now_features.columns]
    now = pd.concat(
        [
            now_features[["account_id", *names]],
            model.score(now_features)[["health_score", "risk_tier"]],
        ],
        axis=1,
    ).set_index("account_id")
    before = pd.DataFrame(
        {
            "health_score": (
                model.score(before_features)["health_score"].to_numpy()
                if len(before_features)
                else []
            )
        },
        index=before_features["account_id"].to_numpy(),
    )
    both = now.merge(before, left_index=True, right_index=True, suffixes=("", "_before"))
    change = (both["health_score"] - both["health_score_before"]).round(1)
    fallen = both[change < -drop]
    is_fallen = now_features["account_id"].isin(fallen.index)
    was_fallen = before_features["account_id"].isin(fallen.index)
    rise = _families(model, now_features[is_fallen]) - _families(
        model, before_features[was_fallen]
    ).reindex(fallen.index)
    moved = []
    for account in fallen.index:
        deltas = {f: rise.at[account, f"family__{f}"] for f in FAMILIES}
        top = sorted(deltas.items(), key=lambda kv: kv[1], reverse=True)[:families_shown]
        moved.append(", ".join(f"{f} (+{d:.2f})" for f, d in top if d > 0) or "none")
    out = pd.DataFrame(
        {
            "account_id": fallen.index,
            **{column: fallen[column].to_numpy() for column in names},
            "as_of": as_of,
            "previous_score": fallen["health_score_before"].to_numpy(),
            "health_score": fallen["health_score"].to_numpy(),
            "change": change[fallen.index].to_numpy(),
            "risk_tier": fallen["risk_tier"].to_numpy(),
            "moved_families": moved,
        }
    )
    return out.sort_values(["change", "account_id"]).reset_index(drop=True)
