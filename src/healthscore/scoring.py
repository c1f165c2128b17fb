"""Score accounts at one date: health score, drivers, playbook, ranked by ARR at risk.

Scoring runs the very code path of training minus the labels: the same feature builder at
``as_of``, the same fitted :class:`~healthscore.model.HealthModel` (which owns every
transform), exact TreeSHAP contributions from the same booster, and the playbook rules on
top. One row per eligible account, ranked by ARR at risk (probability x ARR).

The scoring date and the previous cadence step (for ``score_change``) are built together,
in one pass over the event logs. Drivers are computed where they are read: with
``score.drivers = "watch"`` (the default) only accounts in ``watch`` and ``at_risk`` get
SHAP contributions, unless a playbook rule for healthy accounts reads the driver families,
in which case every account does; healthy accounts still get their playbook either way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.explain import describe_drivers, family_contributions
from healthscore.features import features_on
from healthscore.i18n import Language
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue, recommend_playbooks
from healthscore.snapshots import step_back
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


@contextmanager
def _stage(timings: MutableMapping[str, float] | None, name: str) -> Iterator[None]:
    """Add the wall time of the block to ``timings[name]`` (when timings are collected)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def eligible_features(source: DataSource, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """Features of every eligible account at ``as_of``, or a clear error if there are none."""
    return eligible_features_on(source, [pd.Timestamp(as_of)], config)[0]


def eligible_features_on(
    source: DataSource, dates: list[pd.Timestamp], config: Config
) -> list[pd.DataFrame]:
    """Features at each of ``dates`` (built in one pass); the first must have accounts.

    The first date's frame also carries ``current_arr``.
    """
    as_of = pd.Timestamp(dates[0])
    if as_of > source.data_end:
        raise DataError(
            f"as_of {as_of.date()} is after the data's end ({source.data_end.date()}); "
            "features would be computed from an incomplete history"
        )
    built = features_on(source, dates, config)
    days = pd.to_datetime(built["as_of"])
    parts = [built[days == pd.Timestamp(d).normalize()].reset_index(drop=True) for d in dates]
    features = parts[0]
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
    return [features.reset_index(drop=True), *parts[1:]]


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


def _spread(frame: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """``frame`` (computed for some rows) on the whole ``index``: None/NaN elsewhere."""
    out = frame.reindex(index)
    for column in out.columns:
        if frame[column].dtype == object:
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def rows_to_explain(
    scored: pd.DataFrame, catalogue: PlaybookCatalogue, *, drivers: str = "all"
) -> pd.Series:
    """Which scored rows get SHAP drivers: all, or those in watch and at_risk.

    With ``drivers="watch"`` healthy rows are skipped unless a rule that can pick a healthy
    account's playbook reads the driver families (``top_families`` or a ``family__``
    bound): then their playbook depends on the drivers, and every row is explained.
    """
    if drivers == "all" or _healthy_rules_read_families(catalogue):
        return pd.Series(True, index=scored.index)
    return scored["risk_tier"].isin(("watch", "at_risk"))


def _healthy_rules_read_families(catalogue: PlaybookCatalogue) -> bool:
    for rule in catalogue.rules:
        if rule.risk_tiers is not None and "healthy" not in rule.risk_tiers:
            continue
        bounds = [*rule.at_least, *rule.at_most]
        if rule.top_families is not None or any(c.startswith("family__") for c in bounds):
            return True
    return False


def score_frame(
    features: pd.DataFrame,
    model: HealthModel,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    previous: pd.DataFrame | None = None,
    model_version: str = "",
    drivers: str = "all",
    timings: MutableMapping[str, float] | None = None,
    peers: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score a feature frame (one row per account at one ``as_of``); no I/O.

    ``drivers`` is ``"all"`` (every row gets its SHAP drivers) or ``"watch"`` (see
    :func:`rows_to_explain`); rows without drivers have empty driver and ``family__``
    columns. The drivers are compared with the peers among ``features``, unless the peer
    medians and groups (:func:`healthscore.explain.peer_medians`,
    :func:`~healthscore.explain.peer_groups`) are given, as the account card does for one
    account. ``timings``, when given, collects the seconds spent per stage.
    """
    with _stage(timings, "predict"):
        scored = model.score(features)
    with _stage(timings, "drivers"):
        explained = rows_to_explain(scored, catalogue, drivers=drivers).to_numpy(bool)
        subset = features if explained.all() else features[explained]
        contributions = (
            model.contributions(subset)
            if len(subset)
            else pd.DataFrame(columns=[*model.features, "bias"], index=subset.index, dtype=float)
        )
        families = family_contributions(contributions, drivers_only=True)
        described = describe_drivers(
            features,
            contributions,
            model.calibrator,
            n=N_DRIVERS,
            medians=peers,
            groups=groups,
            lang=Language.of(config),
        )
        if not explained.all():
            families = families.reindex(features.index)
            described = _spread(described, features.index)
    with _stage(timings, "playbooks"):
        names = [c for c in ("account_name", "csm") if c in features]
        out = pd.concat([features[["account_id", *names, "as_of"]], scored], axis=1)
        out["arr"] = features[ARR].astype(float) if ARR in features else np.nan
        if "current_arr" in features:
            out["arr"] = features["current_arr"].astype(float).fillna(out["arr"])
        out["arr_at_risk"] = out["churn_probability"] * out["arr"]
        for feature, column in CONTEXT.items():
            out[column] = features.get(feature, np.nan)
        out = pd.concat([out, families, described], axis=1)
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
            touch=config.touch.for_currency(config.output.currency),
            holdout_share=rules.holdout_share,
            holdout_exclude_touch_tiers=rules.holdout_exclude_touch_tiers,
            holdout_exclude_renewal_days=rules.holdout_exclude_renewal_days,
            holdout_exclude_top=rules.holdout_exclude_top,
            capacity=config.capacity,
        )
        out = pd.concat(
            [out, plays.drop(columns=["account_id", "as_of", "arr_at_risk"], errors="ignore")],
            axis=1,
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
    timings: MutableMapping[str, float] | None = None,
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``.

    ``previous`` is an earlier scoring output; without one, the model is re-applied one
    cadence step earlier (built in the same pass as ``as_of``) so that ``score_change`` is
    always filled where it can be. Drivers follow ``config.score.drivers``. ``timings``,
    when given, collects the seconds spent per stage (features, predict, drivers, playbooks).
    """
    as_of = pd.Timestamp(as_of)
    dates = [as_of] if previous is not None else [as_of, step_back(as_of, config)]
    with _stage(timings, "features"):
        features, *earlier = eligible_features_on(source, dates, config)
    if previous is None:
        with _stage(timings, "predict"):
            previous = _health_scores(model, earlier[0])
    scores = score_frame(
        features,
        model,
        config,
        catalogue=catalogue,
        previous=previous,
        model_version=model_version,
        drivers=config.score.drivers,
        timings=timings,
    )
    return scores[output_columns(scores)]


def output_columns(scores: pd.DataFrame) -> list[str]:
    """The columns a score file holds, in their documented order: those of
    :data:`OUTPUT_COLUMNS` present, then the per-family risk shares."""
    return [c for c in OUTPUT_COLUMNS if c in scores.columns] + [
        c for c in scores.columns if c.startswith("family__")
    ]


def _health_scores(model: HealthModel, features: pd.DataFrame) -> pd.DataFrame | None:
    if features.empty:
        return None
    scored = model.score(features.reset_index(drop=True))
    return pd.DataFrame(
        {
            "account_id": features["account_id"].to_numpy(),
            "health_score": scored["health_score"].to_numpy(),
        }
    )


def previous_scores(
    source: DataSource, model: HealthModel, as_of: pd.Timestamp, config: Config
) -> pd.DataFrame | None:
    """Health scores one cadence step before ``as_of`` (None when no account was eligible)."""
    before = step_back(as_of, config)
    return _health_scores(model, features_on(source, [before], config))
