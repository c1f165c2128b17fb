"""The Spark session healthscore runs in: the user's, or one started from ``[engine.spark]``.

Spark is configured the way its users already do it: ``spark-submit --master ... --conf ...``
(the session it starts is used as it is), an existing session passed in from Python or a
Databricks notebook, or ``[engine.spark] master`` and ``conf`` in the config for a session
healthscore starts itself (``local[2]`` when nothing says otherwise).

healthscore then works in a *new session of the same context* (``newSession()``): its
temporary views and its SQL settings (the UTC session time zone that the contract's times
need) stay out of the caller's session, while the cluster, the cache and the catalog are
shared.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from healthscore.config import Config
from healthscore.errors import ConfigError
from healthscore.spark.java import ensure_java

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
#: Settings of a session healthscore starts on this machine, unless the config sets them.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}
#: Settings of every healthscore session (its own, isolated from the caller's).
SESSION_SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def require_pyspark() -> None:
    """Raise a clear :class:`ConfigError` when pyspark is not installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the Spark engine needs pyspark: pip install 'healthscore[spark]' (or run where "
            "pyspark is installed, e.g. on Databricks)"
        ) from None


def spark_session(config: Config, spark: SparkSession | None = None) -> SparkSession:
    """healthscore's own session over ``spark``, the active session, or a new one.

    Parameters
    ----------
    config
        ``[engine.spark]``: ``master``, ``app_name`` and extra ``conf`` for a session
        started here.
    spark
        An existing session (a notebook's ``spark``); default: the active one, if any.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    base = spark or SparkSession.getActiveSession()
    if base is None:
        base = _start(config)
    return isolated(base)


def isolated(spark: SparkSession) -> SparkSession:
    """A new session of ``spark``'s context with healthscore's SQL settings."""
    try:
        session = spark.newSession()
    except Exception:
        session = spark
    for key, value in SESSION_SETTINGS.items():
        session.conf.set(key, value)
    return session


def _launched_by_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


def session_settings(config: Config) -> dict[str, Any]:
    """The settings a session started here gets: defaults, then the config's."""
    spark = config.engine.spark
    settings: dict[str, Any] = {}
    master = spark.master
    if master is None and not _launched_by_spark_submit():
        master = DEFAULT_MASTER
    if master is not None:
        settings["spark.master"] = master
    if master is not None and master.startswith("local"):
        settings.update(LOCAL_DEFAULTS)
        logging_file = Path(__file__).with_name("log4j2.properties")
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={logging_file}"
    settings["spark.app.name"] = spark.app_name
    settings.update(SESSION_SETTINGS)
    settings.update(spark.conf)
    return settings


def _start(config: Config) -> SparkSession:
    from pyspark.sql import SparkSession

    settings = session_settings(config)
    if not _launched_by_spark_submit():
        ensure_java()
    if str(settings.get("spark.master", "")).startswith("local"):
        # Python workers (scoring) run this interpreter, where healthscore is installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in settings.items():
        builder = builder.config(key, value)
    log.info("starting Spark (%s)", settings.get("spark.master", "from spark-submit"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
