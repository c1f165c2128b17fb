"""The feature catalogue on Spark: the same family SQL, run as Spark SQL.

:func:`spark_features` runs every family module of :mod:`healthscore.features` unchanged:
it hands them a :class:`SparkRun`, which has the questions and answers of the DuckDB
:class:`~healthscore.features.engine.Session` (the source's columns, the windows' bounds,
``execute`` and ``query`` with bound parameters) but translates each statement with
:mod:`healthscore.spark.dialect` and runs it in Spark. The shared relations of a build are
the same queries as DuckDB's (:data:`~healthscore.features.engine.SHARED_RELATIONS`).

What runs where:

* the event-log families (usage, adoption, support, satisfaction) and the contract and
  account families run distributed, as Spark SQL over the contract's views;
* the rows to compute (the snapshots: eligibility on the small tables) and the contract
  terms (term grids, anchors) are computed on the driver by the DuckDB engine's own code
  and shipped to Spark as small DataFrames, broadcast to the joins.

Each "temporary table" of a family becomes a cached DataFrame behind a view; a family's
result is cached and counted before the family drops its intermediate tables, so nothing
is computed twice. The result is one Spark DataFrame with ``_row``, ``account_id``,
``as_of`` and the features (:func:`spark_features`), or the pandas frame that
:func:`healthscore.features.build_features` gives for the same rows (:func:`features_frame`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.contract_terms import TERMS_TABLE, contract_terms
from healthscore.errors import DataError
from healthscore.features.build import (
    FAMILY_COMPUTE,
    FeaturesOffWarning,
    _empty,
    _typed,
    _warn,
    check_snapshots,
    excluded,
    switched_off,
)
from healthscore.features.catalogue import CATALOGUE, FAMILIES, FeatureSpec
from healthscore.features.engine import _TEMP_TABLES, Session, keys_table, prepare
from healthscore.spark.dialect import split_create, to_spark
from healthscore.spark.source import SparkSource

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class SparkRun(Session):
    """A feature build in Spark: :class:`~healthscore.features.engine.Session`'s interface.

    ``query`` returns a cached, computed Spark DataFrame instead of a pandas frame.
    """

    cached: list[Any] = field(default_factory=list)

    @property
    def account_order(self) -> str:
        """Nothing: a Spark table keeps no row order for a later grouping to use."""
        return ""

    @property
    def spark_source(self) -> SparkSource:
        assert isinstance(self.source, SparkSource)
        return self.source

    def _sql(self, sql: str, params: dict[str, object]) -> DataFrame:
        values = {"data_end": self.data_end, **params}
        text = to_spark(sql, self.spark_source.views)
        bound = {k: _literal(v) for k, v in values.items() if f":{k}" in text}
        return self.spark_source.spark.sql(text, args=bound or None)

    def query(self, sql: str, **params: object) -> DataFrame:
        """Run ``sql`` (DuckDB dialect) in Spark; the result is cached and computed."""
        return self._materialise(self._sql(sql, params))

    def scalar(self, sql: str, **params: object) -> object:
        return self._sql(sql, params).collect()[0][0]

    def execute(self, sql: str, **params: object) -> None:
        """Run ``CREATE OR REPLACE TEMP TABLE t AS q``: ``q`` cached behind the view ``t``."""
        table, select = split_create(sql)
        if table is None:
            raise DataError(f"the Spark engine only creates temporary tables, not: {sql[:60]}")
        self._materialise(self._sql(select, params)).createOrReplaceTempView(table)

    def _materialise(self, frame: DataFrame) -> DataFrame:
        """``frame`` computed now and kept, its plan cut (later queries start from the rows)."""
        kept = frame.localCheckpoint(eager=True)
        self.cached.append(kept)
        return kept

    def drop(self, *tables: str) -> None:
        """Views stay until the build ends: a computed result may still read their cache."""

    def register(self, name: str, table: Any) -> None:
        frame = table.to_pandas() if hasattr(table, "to_pandas") else table
        self.spark_source.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark_source.spark.catalog.dropTempView(name)

    def close(self) -> None:
        """Drop the build's views and free its cache."""
        catalog = self.spark_source.spark.catalog
        for name in (*_TEMP_TABLES, "_hs_keys", TERMS_TABLE):
            catalog.dropTempView(name)
        for frame in self.cached:
            frame.unpersist()
        self.cached.clear()


def _literal(value: object) -> object:
    """A parameter as Spark binds it: days as dates, instants as naive UTC datetimes."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.integer | np.floating):
        return value.item()
    return value


def terms_frame(source: SparkSource, config: Config) -> pd.DataFrame:
    """The contract terms, computed on the driver by the DuckDB engine's code."""
    terms = contract_terms(source.small(), grace_days=config.labels.grace_days)
    dates = ("start_date", "end_date", "scheduled_end", "canceled_at", "anchor")
    for column in dates:
        if column in terms.columns:
            terms[column] = pd.to_datetime(terms[column]).dt.date
    terms["term_months"] = terms["term_months"].astype("float64")
    return terms


@contextmanager
def spark_session_run(
    source: SparkSource, snapshots: pd.DataFrame, config: Config
) -> Iterator[SparkRun]:
    """A :class:`SparkRun` with the shared relations of ``snapshots`` in place."""
    as_of = pd.to_datetime(snapshots["as_of"])
    # A SparkSource answers the questions a Session asks of its DataSource.
    run = SparkRun(
        source,  # type: ignore[arg-type]
        config,
        as_of.min().normalize(),
        as_of.max().normalize(),
    )
    spark = source.spark
    try:
        run.register("_hs_keys", keys_table(snapshots))
        terms = spark.createDataFrame(terms_frame(source, config))
        terms.selectExpr(
            "* EXCEPT (term_months)", "CAST(term_months AS INT) AS term_months"
        ).createOrReplaceTempView(TERMS_TABLE)
        prepare(run, terms=TERMS_TABLE)
        yield run
    finally:
        run.close()


def _family_frame(family: str, computed: DataFrame, specs: list[FeatureSpec]) -> DataFrame:
    return computed.select("_row", *[s.name for s in specs])


@contextmanager
def spark_features(
    source: SparkSource, snapshots: pd.DataFrame, config: Config
) -> Iterator[tuple[DataFrame, list[FeatureSpec]]]:
    """The active features of each row of ``snapshots``, as a Spark DataFrame.

    Yields ``(frame, specs)``: ``frame`` has ``_row`` (the row's position in
    ``snapshots``), ``account_id``, ``as_of`` (a date) and the features of ``specs``, in
    catalogue order; it stays readable until the block ends (its inputs are cached until
    then). Warns like :func:`~healthscore.features.build_features` about features the data
    cannot feed.
    """
    specs = _specs(source, config)
    with spark_session_run(source, snapshots, config) as run:
        frame = run.spark_source.spark.table("_hs_snapshots").select("_row", "account_id", "as_of")
        for family in FAMILIES:
            wanted = [s for s in specs if s.family == family]
            if wanted:
                computed = FAMILY_COMPUTE[family](run)
                frame = frame.join(_family_frame(family, computed, wanted), "_row", "left")
        yield frame.select("_row", "account_id", "as_of", *[s.name for s in specs]), specs


def _specs(source: SparkSource, config: Config) -> list[FeatureSpec]:
    off = switched_off(source)  # type: ignore[arg-type]
    if off:
        _warn(off)
    left_out = excluded(config)
    return [s for s in CATALOGUE if s.name not in off and s.name not in left_out]


def features_frame(source: SparkSource, snapshots: pd.DataFrame, config: Config) -> pd.DataFrame:
    """What :func:`healthscore.features.build_features` returns, computed by Spark.

    One row per row of ``snapshots``, in its order: ``account_id``, ``as_of`` and the
    active features with the same dtypes.
    """
    as_of = check_snapshots(snapshots, source.data_end)
    out = pd.DataFrame(
        {"account_id": snapshots["account_id"].astype("str").to_numpy(), "as_of": as_of.to_numpy()}
    )
    if out.empty:
        specs = _specs(source, config)
        return pd.concat([out, pd.DataFrame(_empty(specs))], axis=1)
    with spark_features(source, out, config) as (frame, specs):
        computed = frame.drop("account_id", "as_of").toPandas()
    order = np.argsort(computed["_row"].to_numpy(), kind="stable")
    computed = computed.iloc[order].reset_index(drop=True)
    if len(computed) != len(out) or not (computed["_row"].to_numpy() == np.arange(len(out))).all():
        raise RuntimeError("the Spark features did not come back one row per snapshot")
    columns = {s.name: _typed(computed[s.name], s) for s in specs}
    return pd.DataFrame({**{c: out[c] for c in out.columns}, **columns}, copy=False)


def quiet_features_frame(
    source: SparkSource, snapshots: pd.DataFrame, config: Config
) -> pd.DataFrame:
    """:func:`features_frame` without the switched-off warning (scoring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeaturesOffWarning)
        return features_frame(source, snapshots, config)
