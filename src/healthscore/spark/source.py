"""The input contract as typed Spark views: files at any Hadoop-compatible path, or tables.

``--data`` for the Spark engine is one of

* a folder, local or any URI Spark reads (``s3a://bucket/crm``, ``abfss://...``,
  ``gs://...``, ``hdfs://...``), holding ``<table>.parquet`` (a file or a folder of part
  files), ``<table>.csv`` / ``.csv.gz``, or a folder ``<table>/`` of Parquet files;
* ``spark://<catalog>.<schema>`` (or ``spark://<schema>``): tables of the session's catalog,
  ``<catalog>.<schema>.<table>``; a ``[data.tables.<table>] source`` holding a dot is taken
  as a whole table name (``source = "prod.events.logins"``).

Each table becomes the view ``_hs_in_<table>`` with the contract's names and types, built
by the same SQL as DuckDB's typed views (:func:`healthscore.sql.typed_expression` and the
config's renames from :func:`healthscore.mapping.raw_select`), translated by
:mod:`healthscore.spark.dialect`. Of the config's mapping the Spark engine applies
``source``, ``columns`` (renames), ``drop``, ``enabled`` and ``encoding``; joins,
derivations, formats, recodings, ``keep`` and ``expand`` are refused with a clear error
(prepare such a table as a view in Spark, or use the DuckDB engine).

The small tables (``accounts``, ``contracts``, ``churn_events``) are also brought to the
driver as a DuckDB source (:meth:`SparkSource.small`): contract terms, churn dates and
eligibility are computed there, by the very code of the DuckDB engine, and shipped back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from healthscore.config import Config, DataConfig, TableMapping
from healthscore.errors import ConfigError, SchemaError
from healthscore.mapping import raw_select, source_name, wanted_tables
from healthscore.redaction import redact_url
from healthscore.schema import EVENT_TABLES, TABLES
from healthscore.spark.dialect import to_spark
from healthscore.sql import quote, raw_id_twins, typed_expression
from healthscore.storage import DataSource, TablePresence, source_from_frames

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Prefix of the views holding the contract's tables in healthscore's Spark session.
VIEW_PREFIX = "_hs_in_"
CATALOG_SCHEME = "spark://"
#: Tables small enough to compute on the driver: contract terms, churns, eligibility.
SMALL_TABLES: tuple[str, ...] = ("accounts", "contracts", "churn_events")
_MAPPING_SUPPORTED = frozenset({"source", "columns", "enabled", "drop", "encoding"})
#: Spark's types under DuckDB's names, for :func:`healthscore.sql.typed_expression`.
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp_ntz": "TIMESTAMP",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
}


@dataclass
class SparkSource(TablePresence):
    """The input tables of one data set as typed Spark views (see the module docstring).

    The same questions as :class:`~healthscore.storage.DataSource` (``present``,
    ``has_column``, ``data_end``), so the feature families read it alike.
    """

    spark: SparkSession
    present: frozenset[str]
    data_end: pd.Timestamp
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    origin: str = "data"
    memo: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def views(self) -> dict[str, str]:
        """Contract table -> the view holding it (for the SQL translation)."""
        return {name: VIEW_PREFIX + name for name in TABLES}

    def sql(self, query: str, **params: Any) -> DataFrame:
        """Run a DuckDB-dialect query over the contract's views, binding ``params``."""
        text = to_spark(query, self.views)
        return self.spark.sql(text, args=_bound(text, params) or None)

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> object:
        """Run a DuckDB-dialect query that returns one value, and return it."""
        return self.sql(sql, **(params or {})).collect()[0][0]

    def frame(self, table: str) -> DataFrame:
        """The typed table as a Spark DataFrame."""
        if table not in self.present:
            raise SchemaError(f"{self.origin}: table '{table}' is not present")
        return self.spark.table(VIEW_PREFIX + table)

    def small(self) -> DataSource:
        """The small tables on the driver, as a DuckDB source with the same ``data_end``."""
        cached = self.memo.get("small")
        if isinstance(cached, DataSource):
            return cached
        frames = {name: _to_pandas(self.frame(name)) for name in SMALL_TABLES if self.has(name)}
        small = source_from_frames(frames, Config(), data_end=self.data_end)
        small.origin = self.origin
        self.memo["small"] = small
        return small


def _bound(text: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if f":{k}" in text}


def _to_pandas(frame: DataFrame) -> pd.DataFrame:
    return frame.toPandas()


def describe_data(data: str) -> str:
    """Where the data is, as it may be printed."""
    return redact_url(str(data))


def open_spark_source(data: str, config: Config, *, spark: SparkSession) -> SparkSource:
    """Open the input tables at ``data`` (see the module docstring) in ``spark``.

    ``spark`` should be healthscore's own session
    (:func:`~healthscore.spark.session.spark_session`): the views are created in it.
    """
    data_config = config.data
    _check_mapping(data_config)
    origin = describe_data(data)
    columns: dict[str, tuple[str, ...]] = {}
    for name, must_exist in wanted_tables(data_config).items():
        stem = source_name(data_config, name)
        raw = _read(spark, str(data), stem, data_config.tables.get(name))
        if raw is None:
            if TABLES[name].required:
                raise SchemaError(
                    f"{origin}: required table '{name}' not found (expected {stem}.parquet or "
                    f"{stem}.csv there, or a table {stem} in the catalog)"
                )
            if must_exist:
                raise SchemaError(
                    f"{origin}: table '{name}' is listed in data.optional_tables but "
                    f"'{stem}' was not found"
                )
            continue
        columns[name] = _define_view(spark, name, raw, data_config, origin)
    present = frozenset(columns)
    source = SparkSource(spark, present, pd.NaT, columns, origin)
    if data_config.end is not None:
        source.data_end = pd.Timestamp(data_config.end).normalize()
    else:
        source.data_end = infer_data_end(source)
    return source


def spark_source_from_frames(
    frames: dict[str, pd.DataFrame],
    config: Config | None = None,
    *,
    spark: SparkSession,
    data_end: str | pd.Timestamp | None = None,
) -> SparkSource:
    """Wrap in-memory DataFrames as a :class:`SparkSource` (tests, notebooks).

    The Spark counterpart of :func:`healthscore.storage.source_from_frames`: the same
    frames give the same typed tables.
    """
    config = config or Config()
    data_config = config.data
    if data_end is not None:
        data_config = data_config.model_copy(update={"end": str(pd.Timestamp(data_end).date())})
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise SchemaError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    _check_mapping(data_config)
    wanted = wanted_tables(data_config)
    columns = {
        name: _define_view(spark, name, _frame(spark, frame), data_config, "data")
        for name, frame in frames.items()
        if name in wanted
    }
    missing = [n for n, spec in TABLES.items() if spec.required and n not in columns]
    if missing:
        raise SchemaError(f"data: required table(s) {', '.join(missing)} not given")
    source = SparkSource(spark, frozenset(columns), pd.NaT, columns)
    if data_config.end is not None:
        source.data_end = pd.Timestamp(data_config.end).normalize()
    else:
        source.data_end = infer_data_end(source)
    return source


def _frame(spark: SparkSession, frame: pd.DataFrame) -> DataFrame:
    """A pandas frame in Spark; empty object columns (all missing) become text."""
    from pyspark.sql.types import StringType, StructField, StructType

    if len(frame) and not any(frame[c].isna().all() for c in frame.columns):
        return spark.createDataFrame(frame)
    fixed = frame.copy()
    text = [c for c in frame.columns if frame[c].dtype == object and frame[c].isna().all()]
    for name in text:
        fixed[name] = fixed[name].astype("str").where(fixed[name].notna(), None)
    if len(fixed) == 0:
        schema = StructType([StructField(str(c), StringType()) for c in fixed.columns])
        return spark.createDataFrame(fixed.astype(object), schema=schema)
    return spark.createDataFrame(fixed)


def _check_mapping(data: DataConfig) -> None:
    for name, mapping in data.tables.items():
        used = {k for k in mapping.model_fields_set if getattr(mapping, k) != _default(k)}
        unsupported = sorted(used - _MAPPING_SUPPORTED)
        if unsupported:
            raise ConfigError(
                f"data.tables.{name}: {', '.join(unsupported)} is not supported by the Spark "
                "engine (it applies source, columns, drop and encoding); prepare the table as "
                "a view or table in Spark and name it in `source`, or use the DuckDB engine"
            )


def _default(key: str) -> object:
    return TableMapping.model_fields[key].get_default(call_default_factory=True)


def _read(
    spark: SparkSession, data: str, stem: str, mapping: TableMapping | None
) -> DataFrame | None:
    """The export ``stem`` at ``data``, as Spark reads it, or None when it is not there."""
    if data.startswith(CATALOG_SCHEME):
        namespace = data[len(CATALOG_SCHEME) :].strip("/")
        name = stem if "." in stem or not namespace else f"{namespace}.{stem}"
        return spark.table(name) if spark.catalog.tableExists(name) else None
    base = data.rstrip("/")
    for suffix in (".parquet", ".csv", ".csv.gz", ""):
        path = f"{base}/{stem}{suffix}"
        kind = _path_kind(spark, path)
        if kind is None or (suffix == "" and kind != "folder"):
            continue
        if suffix.startswith(".csv"):
            reader = spark.read.options(
                header=True, inferSchema=False, multiLine=True, escape='"', mode="FAILFAST"
            )
            if mapping is not None and mapping.encoding:
                reader = reader.option("encoding", mapping.encoding)
            return reader.csv(path)
        return spark.read.parquet(path)
    return None


def _path_kind(spark: SparkSession, path: str) -> str | None:
    """``"file"``, ``"folder"`` or None, asked of the path's Hadoop file system."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        return None
    return "folder" if fs.getFileStatus(hadoop_path).isDirectory() else "file"


def _define_view(
    spark: SparkSession, name: str, raw: DataFrame, data: DataConfig, origin: str
) -> tuple[str, ...]:
    """Create ``_hs_in_<name>``: the config's renames, then the contract's types."""
    export = f"_hs_export_{name}"
    raw.createOrReplaceTempView(export)
    scratch = duckdb.connect()
    try:
        # The renames are DuckDB's own SQL, generated over an empty stand-in of the export.
        columns = ", ".join(f"{quote(c)} VARCHAR" for c in raw.columns)
        scratch.execute(f"CREATE TABLE {quote(export)} ({columns})")
        renamed = raw_select(scratch, name, quote(export), data, lambda _: None, origin=origin)
    finally:
        scratch.close()
    mapped = spark.sql(to_spark(renamed))
    spec = TABLES[name]
    present = tuple(mapped.columns)
    missing = [c for c in spec.required_columns if c not in present]
    if missing:
        raise SchemaError(
            f"{origin}: table '{name}' lacks required column(s) {', '.join(missing)}; "
            f"found {', '.join(present)}. Rename them in the [data.tables.{name}.columns] "
            "section of the config if they exist under other names."
        )
    types = {f.name: _DUCKDB_TYPES.get(f.dataType.simpleString(), "OTHER") for f in mapped.schema}
    contract = {c.name for c in spec.columns}
    typed = [
        f"{typed_expression(quote(c.name), c, types[c.name])} AS {quote(c.name)}"
        for c in spec.columns
        if c.name in present
    ]
    typed += [quote(c) for c in present if c not in contract]
    typed += raw_id_twins(spec, present)
    mapped.createOrReplaceTempView(f"_hs_mapped_{name}")
    query = f"SELECT {', '.join(typed)} FROM {quote('_hs_mapped_' + name)}"
    spark.sql(to_spark(query)).createOrReplaceTempView(VIEW_PREFIX + name)
    return present


def infer_data_end(source: SparkSource) -> pd.Timestamp:
    """The day after the latest recorded activity, as :func:`healthscore.storage.infer_data_end`."""
    parts = ["SELECT max(created_at) AS t FROM accounts", "SELECT max(start_date) FROM contracts"]
    for name in EVENT_TABLES:
        if source.has(name):
            parts.append(f"SELECT max({TABLES[name].event_time}) FROM {name}")
    query = f"SELECT max(t) AS t FROM ({' UNION ALL '.join(parts)}) AS latest"
    latest = source.sql(query).collect()[0][0]
    if latest is None:
        raise SchemaError("data: no parseable dates in accounts or contracts; is the data empty?")
    return pd.Timestamp(latest).normalize() + pd.Timedelta(days=1)
