"""The training set built by Spark: snapshots and labels on the driver, features in Spark.

Training stays on one machine. The training set is accounts x observation dates (50,000
accounts over two years of monthly snapshots is 1.2 million rows of 58 features, a few
hundred megabytes), small next to the event logs it summarises (billions of rows), and
LightGBM, its early stopping, calibration, SHAP and the evaluation all want the whole set
in one process. So Spark reduces the logs to the features and the driver collects the
result; ``[engine.spark] sample`` (a share of accounts, all their snapshots, the same
accounts on every run) keeps the collected set small when even that is too much.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.dataset import TrainingSet, assemble_training_set
from healthscore.labels import churn_dates, make_labels
from healthscore.schema import TABLE_NAMES, TABLES
from healthscore.snapshots import default_start, make_snapshots
from healthscore.spark.features import features_frame
from healthscore.spark.source import SparkSource


def spark_snapshots(source: SparkSource, config: Config) -> pd.DataFrame:
    """The observation rows, by the DuckDB engine's code on the small tables (driver).

    Only the default first date reads the event logs (their first day), in Spark.
    """
    start = config.snapshots.start
    if start is None:
        start = default_start(source)  # type: ignore[arg-type]
    return make_snapshots(source.small(), config, start=start)


def sample_accounts(snapshots: pd.DataFrame, share: float, *, seed: int) -> pd.DataFrame:
    """The snapshots of a fixed ``share`` of the accounts (all their dates).

    An account is in when the first 53 bits of ``sha256("<seed>:<account_id>")`` fall below
    ``share``: the same accounts on every run and machine, whatever the other accounts.

    Examples
    --------
    >>> rows = pd.DataFrame({"account_id": [f"a{i}" for i in range(1000)], "as_of": 0})
    >>> len(sample_accounts(rows, 0.2, seed=42))
    200
    """
    if share >= 1:
        return snapshots
    ids = snapshots["account_id"].astype(str)
    draw = {
        a: (int.from_bytes(hashlib.sha256(f"{seed}:{a}".encode()).digest()[:8], "big") >> 11)
        / 2**53
        for a in ids.unique()
    }
    keep = ids.map(draw).to_numpy(dtype="float64") < share
    return snapshots[keep].reset_index(drop=True)


def spark_fingerprint(source: SparkSource) -> str:
    """A stable hash of the input data as Spark reads it (rows, date range, row hashes).

    The same idea as :func:`healthscore.dataset.data_fingerprint`, with Spark's 64-bit row
    hash, so its value differs from DuckDB's for the same data.
    """
    stats: dict[str, object] = {"engine": "spark", "data_end": source.data_end.isoformat()}
    for name in TABLE_NAMES:
        if not source.has(name):
            continue
        spec = TABLES[name]
        columns = [c for c in source.columns.get(name, ()) if c in {x.name for x in spec.columns}]
        time_column = f"`{spec.event_time or 'created_at'}`"
        hashed = ", ".join(f"`{c}`" for c in columns)
        row = (
            source.frame(name)
            .selectExpr(
                "count(*) AS n",
                f"CAST(min({time_column}) AS STRING) AS first",
                f"CAST(max({time_column}) AS STRING) AS last",
                f"CAST(sum(CAST(xxhash64({hashed}) AS DECIMAL(38, 0))) AS STRING) AS h",
            )
            .collect()[0]
        )
        stats[name] = {"columns": columns, **row.asDict()}
    blob = json.dumps(stats, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def build_training_set(
    source: SparkSource, config: Config, *, sample: float | None = None
) -> TrainingSet:
    """Snapshots, labels (driver) and features (Spark) as one training set with metadata.

    ``sample`` (default ``[engine.spark] sample``) keeps that share of the accounts; the
    metadata records it. With the whole set the frame equals
    :func:`healthscore.dataset.build_training_set` on the same data.
    """
    share = config.engine.spark.sample if sample is None else sample
    snapshots = sample_accounts(spark_snapshots(source, config), share, seed=config.seed)
    small = source.small()
    labels = make_labels(snapshots, churn_dates(small, config), config, data_end=source.data_end)
    features = features_frame(source, snapshots, config)
    extra: dict[str, object] = {"engine": "spark"}
    if share < 1:
        extra["account_sample"] = share
        extra["n_accounts_sampled"] = int(np.unique(snapshots["account_id"]).size)
    return assemble_training_set(
        features,
        labels,
        config,
        fingerprint=spark_fingerprint(source),
        data_end=source.data_end,
        extra=extra,
    )
