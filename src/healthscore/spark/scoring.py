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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.features.build import FeaturesOffWarning
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue
from healthscore.scoring import OUTPUT_COLUMNS, current_arr, score_frame, step_back
from healthscore.snapshots import eligible_accounts
from healthscore.spark.features import spark_features
from healthscore.spark.source import SparkSource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

_PREVIOUS = "_previous_health_score"
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
    features = batch.drop(columns=["_row", _PREVIOUS], errors="ignore").reset_index(drop=True)
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
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """One partition of features (with ``_previous_health_score``) -> its scores."""

    def score_batch(batch: pd.DataFrame) -> pd.DataFrame:
        features = _features(batch)
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
        )
        columns = [c for c in OUTPUT_COLUMNS if c in scores.columns]
        columns += [c for c in scores.columns if c.startswith("family__")]
        out = scores[columns].copy()
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
        function = _score_function(
            worker_model, config, catalogue, model_version=model_version, model_check=model_check
        )
        schema = _schema(function(inputs.limit(_SCHEMA_ROWS).toPandas()))
        scored = inputs.mapInPandas(_batches(function), schema)
        order = Window.orderBy(
            F.col("arr_at_risk").desc_nulls_last(),
            F.col("churn_probability").desc_nulls_last(),
            F.col("account_id").asc(),
        )
        ranked = scored.withColumn("priority_rank", F.row_number().over(order).cast("long"))
        yield ranked.select(*schema.fieldNames())
