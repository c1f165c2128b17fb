"""Batch scoring on Spark: the fitted model, drivers and playbooks, partition by partition.

The features of the scoring date (and of the previous cadence step, for ``score_change``)
are built by Spark (:mod:`healthscore.spark.features`). Each partition of that frame is
then scored by :func:`healthscore.scoring.score_frame`, the very function the local
``score`` uses, inside ``mapInPandas``: a health score needs the calibrated probability,
and drivers and playbooks need the whole row (SHAP contributions of every feature, the
context columns the rules read), so a one-column ``spark_udf`` would not do. Every part of
that function is per account but the ranking, which is done again over the whole book in
Spark (``priority_rank``). The model is the one ``healthscore score`` would use: a bundle
folder or a registered MLflow model (``models:/...``), loaded once on the driver, checked
against the data's fingerprint, and shipped to the executors with the function.

Output columns, their order and their values are those of the local ``score``; a test
checks them account by account.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.explain import FLAG_FEATURES, PEER_KEYS, candidate_features, peer_groups
from healthscore.features.build import FeaturesOffWarning
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue
from healthscore.playbooks.recommendations import BOOK_COLUMNS, decide_book
from healthscore.scoring import account_details, current_arr, output_columns, score_frame
from healthscore.snapshots import eligible_accounts, step_back
from healthscore.spark.features import spark_features
from healthscore.spark.source import SparkSource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

_PREVIOUS = "_previous_health_score"
_GROUP, _LABEL = "_peer_group", "_peer_label"
#: The columns decided over the whole book (:func:`decide_book`), replaced after scoring.
_BOOK_DECISIONS = ("holdout", "holdout_exclusion", "action_due", "owner", "owner_reason")
#: Rows scored on the driver to learn the output's schema.
_SCHEMA_ROWS = 200


def scoring_snapshots(
    source: SparkSource, dates: list[pd.Timestamp], config: Config
) -> pd.DataFrame:
    """The accounts eligible at each date (driver, small tables), ordered by ``dates``."""
    as_of = dates[0]
    if as_of > source.data_end:
        raise DataError(
            f"as_of {as_of.date()} is after the data's end ({source.data_end.date()}); "
            "features would be computed from an incomplete history"
        )
    small = source.small()
    snapshots = eligible_accounts(small, list(dict.fromkeys(dates)), config)
    position = {day: i for i, day in enumerate(dict.fromkeys(dates))}
    rank = pd.to_datetime(snapshots["as_of"]).map(position)
    snapshots = snapshots.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    if not (pd.to_datetime(snapshots["as_of"]) == as_of).any():
        first = small.scalar("SELECT min(start_date) FROM contracts")
        raise DataError(
            f"no account is eligible at {as_of.date()} (no contract covers that day); the "
            f"data's contracts start {pd.Timestamp(first).date()} and it ends "
            f"{source.data_end.date()}"
        )
    return snapshots


def _features(batch: pd.DataFrame) -> pd.DataFrame:
    """A Spark batch as the feature frame the local code path builds."""
    features = batch.drop(columns=["_row", _PREVIOUS, _GROUP, _LABEL], errors="ignore")
    features = features.reset_index(drop=True)
    features["as_of"] = pd.to_datetime(features["as_of"])
    return features


def _health_function(model: HealthModel) -> Callable[[Iterator[pd.DataFrame]], Iterator]:
    def health(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            features = _features(batch)
            if features.empty:
                continue
            scored = model.score(features)
            yield pd.DataFrame(
                {
                    "account_id": features["account_id"].astype(str).to_numpy(),
                    _PREVIOUS: scored["health_score"].to_numpy(dtype="float64"),
                }
            )

    return health


def _score_function(
    model: HealthModel,
    config: Config,
    catalogue: PlaybookCatalogue,
    *,
    model_version: str,
    model_check: str,
    medians: pd.DataFrame,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """One partition of features (with ``_previous_health_score`` and the peer group) -> its
    scores, drivers compared with the peer medians of the whole book (``medians``, one row
    per peer group)."""

    def score_batch(batch: pd.DataFrame) -> pd.DataFrame:
        features = _features(batch)
        groups = pd.DataFrame(
            {"peer_group": batch[_GROUP].to_numpy(), "peer_label": batch[_LABEL].to_numpy()},
            index=features.index,
        )
        peers = medians.reindex(groups["peer_group"].to_numpy()).set_axis(features.index)
        known = batch[_PREVIOUS].notna().to_numpy()
        previous = pd.DataFrame(
            {
                "account_id": batch["account_id"].to_numpy()[known],
                "health_score": batch[_PREVIOUS].to_numpy()[known],
            }
        )
        scores = score_frame(
            features,
            model,
            config,
            catalogue=catalogue,
            previous=previous,
            model_version=model_version,
            drivers=config.score.drivers,
            peers=peers,
            groups=groups,
        )
        out = scores[output_columns(scores)].copy()
        out["model_check"] = model_check
        for name in out.columns:
            if isinstance(out[name].dtype, pd.CategoricalDtype):
                out[name] = out[name].astype(object)
        return out

    return score_batch


def _schema(sample: pd.DataFrame) -> StructType:
    """The Spark schema of scored rows, from rows scored on the driver."""
    from pyspark.sql.pandas.types import from_arrow_schema

    table = pa.Table.from_pandas(sample, preserve_index=False)
    fields = [
        pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema
    ]
    return from_arrow_schema(pa.schema(fields), prefer_timestamp_ntz=True)


def _batches(
    function: Callable[[pd.DataFrame], pd.DataFrame],
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if len(batch):
                yield function(batch)

    return run


@contextmanager
def spark_scores(
    source: SparkSource,
    model: HealthModel,
    as_of: str | pd.Timestamp,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    previous: pd.DataFrame | None = None,
    model_version: str = "",
    model_check: str = "ok",
) -> Iterator[DataFrame]:
    """Score every eligible account at ``as_of`` in Spark: the local ``score``'s rows.

    Yields a Spark DataFrame (readable until the block ends) with the columns of
    :func:`healthscore.pipeline.score`, ranked by ``priority_rank``. ``previous`` is an
    earlier score file; without one the model is applied one cadence step earlier, in the
    same feature build, for ``score_change``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    as_of = pd.Timestamp(as_of).normalize()
    dates = [as_of] if previous is not None else [as_of, step_back(as_of, config)]
    snapshots = scoring_snapshots(source, dates, config)
    # Each Python worker scores one partition with one thread: Spark runs them side by side.
    worker_model = dataclasses.replace(model, num_threads=1)
    spark = source.spark
    small = source.small()
    with ExitStack() as stack:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FeaturesOffWarning)
            frame, _ = stack.enter_context(spark_features(source, snapshots, config))
        now = frame.where(F.col("as_of") == F.lit(as_of.date()))
        arr = current_arr(small, as_of)
        arr["account_id"] = arr["account_id"].astype(str)
        if len(arr):
            now = now.join(spark.createDataFrame(arr), "account_id", "left")
        else:
            now = now.withColumn("current_arr", F.lit(None).cast("double"))
        details = account_details(small)
        details["account_id"] = details["account_id"].astype(str)
        now = now.join(
            spark.createDataFrame(
                _plain(details), schema="account_id string, account_name string, csm string"
            ),
            "account_id",
            "left",
        )
        if previous is None:
            earlier = frame.where(F.col("as_of") == F.lit(dates[1].date()))
            before = earlier.mapInPandas(
                _health_function(worker_model), f"account_id string, {_PREVIOUS} double"
            )
        else:
            last = previous.drop_duplicates("account_id", keep="last")
            before = spark.createDataFrame(
                pd.DataFrame(
                    {
                        "account_id": last["account_id"].astype(str).to_numpy(),
                        _PREVIOUS: pd.to_numeric(last["health_score"]).astype("float64"),
                    }
                )
            )
        inputs = now.join(before, "account_id", "left")
        inputs, medians = _with_peers(inputs, now.columns)
        function = _score_function(
            worker_model,
            config,
            catalogue,
            model_version=model_version,
            model_check=model_check,
            medians=medians,
        )
        schema = _schema(function(inputs.limit(_SCHEMA_ROWS).toPandas()))
        scored = stack.enter_context(_persisted(inputs.mapInPandas(_batches(function), schema)))
        scored = _decide_book(scored, now, config, catalogue)
        order = Window.orderBy(
            F.col("arr_at_risk").desc_nulls_last(),
            F.col("churn_probability").desc_nulls_last(),
            F.col("account_id").asc(),
        )
        ranked = scored.withColumn("priority_rank", F.row_number().over(order).cast("long"))
        yield ranked.select(*schema.fieldNames())


@contextmanager
def _persisted(frame: DataFrame) -> Iterator[DataFrame]:
    """``frame`` computed once (the book's decisions and the output read it twice)."""
    kept = frame.persist()
    try:
        yield kept
    finally:
        kept.unpersist()


def _with_peers(inputs: DataFrame, columns: list[str]) -> tuple[DataFrame, pd.DataFrame]:
    """``inputs`` with each account's peer group, and the peer medians of every group.

    The groups are sized over the whole book, so they are found on the driver from the
    two columns that define them (:func:`healthscore.explain.peer_groups`); the medians of
    every driver feature per group are aggregated by Spark (exact medians; the share of
    the group for a flag), as :func:`healthscore.explain.peer_medians` does.
    """
    from pyspark.sql import functions as F

    keys = ["account_id", "as_of", *[k for k in PEER_KEYS if k in columns]]
    rows = inputs.select(*keys).toPandas()
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    groups = peer_groups(rows)
    spark = inputs.sparkSession
    labelled = spark.createDataFrame(
        pd.DataFrame(
            {
                "account_id": rows["account_id"].astype(str).to_numpy(),
                _GROUP: groups["peer_group"].astype(str).to_numpy(),
                _LABEL: groups["peer_label"].astype(str).to_numpy(),
            }
        ),
        schema=f"account_id string, {_GROUP} string, {_LABEL} string",
    )
    inputs = inputs.join(labelled, "account_id", "left")
    wanted = candidate_features(columns)

    def number(name: str) -> Any:
        value = F.col(name).cast("double")
        return F.when(F.isnan(value), F.lit(None)).otherwise(value)

    aggregates = [
        (F.avg(number(c)) if c in FLAG_FEATURES else F.percentile(number(c), 0.5)).alias(c)
        for c in wanted
    ]
    medians = inputs.groupBy(_GROUP).agg(*aggregates).toPandas().set_index(_GROUP)
    return inputs, medians[wanted].astype("float64")


def _decide_book(
    scored: DataFrame, features: DataFrame, config: Config, catalogue: PlaybookCatalogue
) -> DataFrame:
    """``scored`` with the control group and the owners decided over the whole book.

    Each partition decided them over its own accounts; :func:`decide_book` takes them again
    on the driver over the few columns it reads of every account, as the local ``score``
    does over the book it holds.
    """
    from pyspark.sql.types import StructType

    present = [c for c in BOOK_COLUMNS if c in scored.columns]
    book = scored.select(*present).toPandas()
    if "contract__length_days" in features.columns:
        terms = features.select("account_id", "contract__length_days").toPandas()
        book = book.merge(terms, on="account_id", how="left")
    allowed = {playbook.id: playbook.holdout for playbook in catalogue.playbooks}
    book["holdout_allowed"] = book["playbook_id"].map(allowed).fillna(False).astype(bool)
    rules = config.playbooks
    decided = decide_book(
        book,
        holdout_share=rules.holdout_share,
        holdout_exclude_touch_tiers=rules.holdout_exclude_touch_tiers,
        holdout_exclude_renewal_days=rules.holdout_exclude_renewal_days,
        holdout_exclude_top=rules.holdout_exclude_top,
        capacity=config.capacity,
    )
    decided.insert(0, "account_id", book["account_id"].astype(str).to_numpy())
    names = ["account_id", *[c for c in _BOOK_DECISIONS if c in scored.columns]]
    fields = {f.name: f for f in scored.schema.fields}
    decisions = scored.sparkSession.createDataFrame(
        _plain(decided[names]), schema=StructType([fields[c] for c in names])
    )
    return scored.drop(*names[1:]).join(decisions, "account_id", "left")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Python objects (missing: None), as Spark takes them from pandas."""
    out = frame.copy()
    for name in out.columns:
        if not pd.api.types.is_bool_dtype(out[name]):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out
