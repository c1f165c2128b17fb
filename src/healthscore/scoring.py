"""Score accounts at one date: health score, drivers, playbook, ranked by ARR at risk.

Scoring runs the very code path of training minus the labels: the same feature builder at
``as_of``, the same fitted :class:`~healthscore.model.HealthModel` (which owns every
transform), exact TreeSHAP contributions from the same booster, and the playbook rules on
top. One row per eligible account, ranked by ARR at risk (probability x ARR).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.explain import describe_drivers, family_contributions
from healthscore.features import features_at
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue, recommend_playbooks
from healthscore.storage import DataSource

N_DRIVERS = 3
ARR = "contract__arr"
CONTEXT = {
    "contract__lifecycle_stage": "lifecycle_stage",
    "contract__days_to_renewal": "days_to_renewal",
    "account__segment": "segment",
}
OUTPUT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "account_name",
    "csm",
    "as_of",
    "churn_probability",
    "health_score",
    "risk_tier",
    "score_change",
    "arr",
    "arr_at_risk",
    "touch_tier",
    "priority_rank",
    *[
        f"driver_{k}{s}"
        for k in range(1, N_DRIVERS + 1)
        for s in ("", "_family", "_contribution", "_points", "_value", "_peer_median", "_text")
    ],
    "peer_group",
    "playbook_id",
    "playbook_title",
    "playbook_actions",
    "owner",
    "owner_reason",
    "action_due",
    "channel",
    "due_by",
    "holdout",
    "holdout_exclusion",
    "model_version",
    "segment",
    "lifecycle_stage",
    "days_to_renewal",
    "top_family",
)
#: Output columns that depend on the data (context the rules used) rather than the contract.
OPTIONAL_OUTPUT_COLUMNS: tuple[str, ...] = (
    "account_name",
    "csm",
    "channel",
    "segment",
    "lifecycle_stage",
    "days_to_renewal",
    "top_family",
)


def step_back(as_of: pd.Timestamp, config: Config) -> pd.Timestamp:
    """The previous observation date on the configured cadence."""
    offsets = {
        "month": pd.DateOffset(months=1),
        "quarter": pd.DateOffset(months=3),
        "week": pd.DateOffset(weeks=1),
    }
    return pd.Timestamp(as_of) - offsets[config.snapshots.cadence]


def eligible_features(source: DataSource, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """Features of every eligible account at ``as_of``, or a clear error if there are none."""
    as_of = pd.Timestamp(as_of)
    if as_of > source.data_end:
        raise DataError(
            f"as_of {as_of.date()} is after the data's end ({source.data_end.date()}); "
            "features would be computed from an incomplete history"
        )
    features = features_at(source, as_of, config)
    if not features.empty:
        features = features.merge(current_arr(source, as_of), on="account_id", how="left")
        features = features.merge(account_details(source), on="account_id", how="left")
    if features.empty:
        first = source.scalar("SELECT min(start_date) FROM contracts")
        raise DataError(
            f"no account is eligible at {as_of.date()} (no contract covers that day); the "
            f"data's contracts start {pd.Timestamp(first).date()} and it ends "
            f"{source.data_end.date()}"
        )
    return features.reset_index(drop=True)


def current_arr(source: DataSource, as_of: pd.Timestamp) -> pd.DataFrame:
    """ARR under contract on ``as_of`` itself (``current_arr``), what is at stake now.

    The feature ``contract__arr`` only knows contracts started before ``as_of``; an account
    whose first contract starts that very day still has revenue at stake.
    """
    return source.query(
        "SELECT account_id, sum(arr) AS current_arr FROM contracts "
        "WHERE start_date <= $as_of AND end_date > $as_of GROUP BY account_id",
        {"as_of": pd.Timestamp(as_of).to_pydatetime()},
    )


def account_details(source: DataSource, account_ids: list[str] | None = None) -> pd.DataFrame:
    """``account_id, account_name, csm``: the display name and the CSM of record.

    From the optional ``accounts.name`` and ``accounts.owner`` columns; missing when the data
    has none. ``account_ids`` limits the rows read.
    """
    columns = {"name": "account_name", "owner": "csm"}
    present = [c for c in columns if source.has_column("accounts", c)]
    select = ", ".join(
        [f"CAST(min({c}) AS VARCHAR) AS {columns[c]}" for c in present]
        + [f"CAST(NULL AS VARCHAR) AS {columns[c]}" for c in columns if c not in present]
    )
    where = "WHERE account_id IN (SELECT unnest($ids))" if account_ids is not None else ""
    params = {"ids": list(account_ids)} if account_ids is not None else None
    details = source.query(
        f"SELECT account_id, {select} FROM accounts {where} GROUP BY account_id", params
    )
    for column in columns.values():
        details[column] = details[column].astype("str")
    return details


def score_frame(
    features: pd.DataFrame,
    model: HealthModel,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    previous: pd.DataFrame | None = None,
    model_version: str = "",
    peers: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score a feature frame (one row per account at one ``as_of``); no I/O.

    The drivers are compared with the peers among ``features``, unless the peer medians and
    groups (:func:`healthscore.explain.peer_medians`, :func:`~healthscore.explain.peer_groups`)
    are given, as the account card does for one account.
    """
    scored = model.score(features)
    contributions = model.contributions(features)
    families = family_contributions(contributions, drivers_only=True)
    drivers = describe_drivers(
        features, contributions, model.calibrator, n=N_DRIVERS, medians=peers, groups=groups
    )
    names = [c for c in ("account_name", "csm") if c in features]
    out = pd.concat([features[["account_id", *names, "as_of"]], scored], axis=1)
    out["arr"] = features[ARR].astype(float) if ARR in features else np.nan
    if "current_arr" in features:
        out["arr"] = features["current_arr"].astype(float).fillna(out["arr"])
    out["arr_at_risk"] = out["churn_probability"] * out["arr"]
    for feature, column in CONTEXT.items():
        out[column] = features.get(feature, np.nan)
    out = pd.concat([out, families, drivers], axis=1)
    context = pd.concat(
        [
            out,
            features.drop(columns=["account_id", "as_of"]).loc[
                :, lambda f: ~f.columns.isin(out.columns)
            ],
        ],
        axis=1,
    )
    rules = config.playbooks
    plays = recommend_playbooks(
        context,
        catalogue,
        touch=config.touch,
        holdout_share=rules.holdout_share,
        holdout_exclude_touch_tiers=rules.holdout_exclude_touch_tiers,
        holdout_exclude_renewal_days=rules.holdout_exclude_renewal_days,
        holdout_exclude_top=rules.holdout_exclude_top,
        capacity=config.capacity,
    )
    out = pd.concat(
        [out, plays.drop(columns=["account_id", "as_of", "arr_at_risk"], errors="ignore")], axis=1
    )
    out["score_change"] = _score_change(out, previous)
    out["model_version"] = model_version
    out = out.sort_values(
        ["arr_at_risk", "churn_probability", "account_id"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    )
    out["priority_rank"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


def _score_change(scores: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    if previous is None or previous.empty:
        return pd.Series(np.nan, index=scores.index)
    before = previous.drop_duplicates("account_id", keep="last").set_index("account_id")
    prior = scores["account_id"].map(before["health_score"])
    return (scores["health_score"] - prior.astype(float)).round(1)


def score_accounts(
    source: DataSource,
    model: HealthModel,
    as_of: str | pd.Timestamp,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    previous: pd.DataFrame | None = None,
    model_version: str = "",
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``.

    ``previous`` is an earlier scoring output; without one, the model is re-applied one
    cadence step earlier so that ``score_change`` is always filled where it can be.
    """
    as_of = pd.Timestamp(as_of)
    features = eligible_features(source, as_of, config)
    if previous is None:
        previous = previous_scores(source, model, as_of, config)
    scores = score_frame(
        features, model, config, catalogue=catalogue, previous=previous, model_version=model_version
    )
    return scores[
        [c for c in OUTPUT_COLUMNS if c in scores.columns]
        + [c for c in scores.columns if c.startswith("family__")]
    ]


def previous_scores(
    source: DataSource, model: HealthModel, as_of: pd.Timestamp, config: Config
) -> pd.DataFrame | None:
    """Health scores one cadence step before ``as_of`` (None when no account was eligible)."""
    before = step_back(as_of, config)
    features = features_at(source, before, config)
    if features.empty:
        return None
    scored = model.score(features.reset_index(drop=True))
    return pd.DataFrame(
        {
            "account_id": features["account_id"].to_numpy(),
            "health_score": scored["health_score"].to_numpy(),
        }
    )
