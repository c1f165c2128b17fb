"""Run a healthscore command under spark-submit, with the session spark-submit configures.

spark-submit starts Python programs from a ``.py`` file; this one hands its arguments to
the ``healthscore`` command line, so every command and option works as usual. The master,
executors and ``--conf`` settings are spark-submit's (``[engine.spark] master`` is only for
sessions healthscore starts itself)::

    spark-submit --master yarn --deploy-mode client \\
        --conf spark.executor.memory=8g --conf spark.sql.shuffle.partitions=400 \\
        examples/spark_submit.py score --engine spark --data s3a://lake/crm \\
        --as-of 2025-12-01 --out s3a://lake/health/scores-2025-12-01.parquet

See docs/scale.md for installing healthscore where the executors can import it.
"""

from healthscore.cli import run

if __name__ == "__main__":
    run()
