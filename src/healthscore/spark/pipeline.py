"""The commands on the Spark engine: ``build``, ``features``, ``score`` and ``train``'s input.

Each is the DuckDB command's counterpart in :mod:`healthscore.pipeline`, which hands over
to it when ``[engine] name = "spark"`` (``--engine spark``). Every function takes an
optional ``spark`` session (a notebook's); without one the active session, else one
started from ``[engine.spark]``, is used.

Checks: opening the data checks every table's schema (tables and required columns, in the
views), and the small tables (accounts, contracts) are checked in full on the driver, as
``healthscore score`` does. The full contract check that scans every event row is
``healthscore validate``, a DuckDB command (one machine).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from healthscore.config import Config
from healthscore.dataset import TrainingSet, save_training_set
from healthscore.errors import OutputError
from healthscore.model_loading import load_model
from healthscore.playbooks import load_playbooks
from healthscore.scoring import account_details
from healthscore.spark.dataset import build_training_set
from healthscore.spark.features import quiet_features_frame
from healthscore.spark.scoring import scoring_snapshots, spark_scores
from healthscore.spark.session import spark_session
from healthscore.spark.source import CATALOG_SCHEME, SparkSource, open_spark_source
from healthscore.storage import FRAME_SUFFIXES, check_writable, read_frame, write_frame
from healthscore.validation import check_for_scoring

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def open_checked(
    data: str | Path, config: Config, spark: SparkSession | None = None
) -> SparkSource:
    """Open ``data`` in healthscore's Spark session and check its small tables."""
    source = open_spark_source(str(data), config, spark=spark_session(config, spark))
    check_for_scoring(source.small(), config)
    return source


def build_dataset(
    data: str | Path,
    config: Config,
    *,
    out: str | Path,
    spark: SparkSession | None = None,
) -> TrainingSet:
    """Build the training set of ``data`` with Spark and write it (Parquet + ``.meta.json``)."""
    check_writable(out, suffixes=FRAME_SUFFIXES)
    training_set = build_training_set(open_checked(data, config, spark), config)
    save_training_set(training_set, out)
    return training_set


def training_inputs(
    data: str | Path, config: Config, spark: SparkSession | None = None
) -> tuple[SparkSource, TrainingSet]:
    """The source and the training set ``train`` fits on, built by Spark (sampled by
    ``[engine.spark] sample``)."""
    source = open_checked(data, config, spark)
    return source, build_training_set(source, config)


def features_table(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    out: str | Path | None = None,
    spark: SparkSession | None = None,
) -> pd.DataFrame:
    """Features of every account eligible at ``as_of``, built by Spark (``features``)."""
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)
    source = open_checked(data, config, spark)
    snapshots = scoring_snapshots(source, [pd.Timestamp(as_of).normalize()], config)
    features = quiet_features_frame(source, snapshots, config)
    if not features.empty:  # the names and CSMs of the accounts, as the local command gives
        features = features.merge(account_details(source.small()), on="account_id", how="left")
    if out is not None:
        write_frame(features, out)
    return features


@dataclass(frozen=True)
class ScoreSummary:
    """What ``score --engine spark`` reports: counts and the top of the worklist."""

    out: str
    accounts: int
    at_risk: int
    arr_at_risk: float
    top: pd.DataFrame
    model_check: str
    #: ``risk_tier``, ``holdout`` and ``holdout_exclusion`` of every account (the control
    #: group's summary).
    control: pd.DataFrame


def score(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    out: str,
    model: str | Path | None = None,
    previous: str | Path | None = None,
    force: bool = False,
    spark: SparkSession | None = None,
) -> ScoreSummary:
    """Score every eligible account at ``as_of`` with Spark; write the scores to ``out``.

    ``out`` is a Parquet path (a local folder or any URI Spark writes; Spark writes a
    folder of part files, under a temporary name first, then renamed), ``spark://<table>``
    for a table of the catalog, or a ``.csv`` file (collected on the driver: for books
    that fit in memory). ``model`` and ``force`` are those of the local ``score``.
    """
    from pyspark.sql import functions as F

    out = str(out)
    if out.lower().endswith(".csv"):
        check_writable(out, suffixes=FRAME_SUFFIXES)
    source = open_checked(data, config, spark)
    fitted = load_model(model, data, source, config, force=force)  # type: ignore[arg-type]
    catalogue = load_playbooks(config.playbooks.catalogue, locale=config.output.locale)
    prior = read_frame(previous) if previous else None
    with spark_scores(
        source,
        fitted.model,
        pd.Timestamp(as_of),
        config,
        catalogue=catalogue,
        previous=prior,
        model_version=fitted.version,
        model_check=fitted.check,
    ) as scores:
        written = scores.persist()
        write_scores(written, out, config)
        totals = written.agg(
            F.count("*").alias("n"),
            F.sum(F.when(F.col("risk_tier") == "at_risk", 1).otherwise(0)).alias("at_risk"),
            F.sum("arr_at_risk").alias("arr_at_risk"),
        ).collect()[0]
        top = written.orderBy("priority_rank").limit(5).toPandas()
        control = written.select("risk_tier", "holdout", "holdout_exclusion").toPandas()
        written.unpersist()
    return ScoreSummary(
        out,
        int(totals["n"]),
        int(totals["at_risk"] or 0),
        float(totals["arr_at_risk"] or 0.0),
        top,
        fitted.check,
        control,
    )


def write_scores(scores: DataFrame, out: str, config: Config) -> None:
    """Write the scores ranked by ``priority_rank``: Parquet, a catalog table, or CSV."""
    ranked = scores.orderBy("priority_rank")
    if out.startswith(CATALOG_SCHEME):
        ranked.write.mode("overwrite").saveAsTable(out[len(CATALOG_SCHEME) :])
    elif out.lower().endswith(".csv"):
        write_frame(ranked.toPandas(), out, output=config.output)
    else:
        _write_parquet(ranked, out)


def _write_parquet(frame: DataFrame, out: str) -> None:
    """Write a Parquet folder under a temporary name beside ``out``, then rename it."""
    spark = frame.sparkSession
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(out)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    parent = target.getParent()
    temporary = jvm.org.apache.hadoop.fs.Path(
        parent, f".{target.getName()}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    )
    try:
        frame.write.mode("overwrite").parquet(temporary.toString())
        if fs.exists(target):
            fs.delete(target, True)
        if not fs.rename(temporary, target):
            raise OutputError(f"cannot write {out}: renaming the finished folder into place failed")
    finally:
        with contextlib.suppress(Exception):
            fs.delete(temporary, True)
