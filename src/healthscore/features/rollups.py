"""Day-level roll-ups of the event logs, kept on disk and reused by later builds of the same data.

A training build reduces the whole login and feature-usage logs to day aggregates; building
again from the same data (another label or snapshot setting, ``build`` then ``train``) would
reduce them again. :class:`RollupCache` writes those aggregates once, partitioned by month,
under a folder named after the data's fingerprint, and later builds read the months their
windows need instead of the raw logs:

* ``logins``: ``account_id, user_id, day, logins`` (exact duplicate logins count once);
* ``feature_days``: ``account_id, feature, day, events`` (exact duplicate rows count once,
  rows without usage left out);
* ``feature_user_days``: ``account_id, user_id, day, events``, the same per user.

The values are those the families compute from the raw logs, so a build gives the same
features with or without the cache (a test checks it). The fingerprint covers every row of
every table (:func:`healthscore.dataset.data_fingerprint`): when the data changes, the folder
name changes, and :meth:`RollupCache.for_data` removes the roll-ups of other data.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore.mapping import literal
from healthscore.storage import DataSource

ROLLUPS = ("logins", "feature_days", "feature_user_days")
_DONE = "complete"


def _quantity(source: DataSource) -> str:
    return "coalesce(quantity, 1)" if source.has_column("feature_usage", "quantity") else "1"


def _feature_rows(source: DataSource) -> str:
    columns = ["account_id", "feature", "ts"]
    columns += [c for c in ("user_id", "quantity") if source.has_column("feature_usage", c)]
    user = "user_id" if source.has_column("feature_usage", "user_id") else "NULL AS user_id"
    return f"""
        SELECT account_id, feature, {user}, CAST(ts AS DATE) AS day,
               CAST({_quantity(source)} AS DOUBLE) AS events
        FROM (SELECT DISTINCT {", ".join(columns)} FROM feature_usage
              WHERE ts < $data_end AND feature IS NOT NULL AND account_id IS NOT NULL)
        WHERE CAST({_quantity(source)} AS DOUBLE) > 0
    """


def _queries(source: DataSource) -> dict[str, str]:
    queries = {}
    if source.has("logins"):
        queries["logins"] = """
            SELECT account_id, user_id, CAST(ts AS DATE) AS day,
                   CAST(list_unique(list(ts)) AS BIGINT) AS logins
            FROM logins
            WHERE ts < $data_end AND user_id IS NOT NULL AND account_id IS NOT NULL
            GROUP BY ALL
        """
    if source.has("feature_usage"):
        queries["feature_days"] = """
            SELECT account_id, feature, day, sum(events) AS events FROM _hs_rollup_rows
            GROUP BY ALL
        """
        queries["feature_user_days"] = """
            SELECT account_id, user_id, day, sum(events) AS events FROM _hs_rollup_rows
            WHERE user_id IS NOT NULL GROUP BY ALL
        """
    return queries


@dataclass(frozen=True)
class RollupCache:
    """The day roll-ups of one data set (one fingerprint), in ``directory``."""

    directory: Path

    @classmethod
    def for_data(cls, root: str | Path, fingerprint: str) -> RollupCache:
        """The cache of the data with ``fingerprint`` under ``root``; other data's is removed."""
        root = Path(root)
        name = fingerprint[:16]
        if root.is_dir():
            for other in root.iterdir():
                if other.is_dir() and other.name != name:
                    shutil.rmtree(other, ignore_errors=True)
        return cls(root / name)

    @property
    def complete(self) -> bool:
        return (self.directory / _DONE).is_file()

    def ensure(self, source: DataSource) -> None:
        """Write the roll-ups of ``source`` unless they are already there.

        Written into a temporary folder beside the cache and renamed into place, so a killed
        run never leaves a partial cache that a later build would read.
        """
        if self.complete:
            return
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".rollups.", dir=self.directory.parent))
        con = source.con
        try:
            if source.has("feature_usage"):
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _hs_rollup_rows AS {_feature_rows(source)}",
                    {"data_end": source.data_end},
                )
            for name, query in _queries(source).items():
                target = literal(str(scratch / name))
                params = {"data_end": source.data_end} if "$data_end" in query else {}
                con.execute(
                    f"COPY (SELECT *, strftime(day, '%Y-%m') AS month FROM ({query})) "
                    f"TO {target} (FORMAT parquet, PARTITION_BY (month))",
                    params,
                )
            (scratch / _DONE).write_text("ok\n")
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(self.directory)
            scratch.rename(self.directory)
        finally:
            con.execute("DROP TABLE IF EXISTS _hs_rollup_rows")
            shutil.rmtree(scratch, ignore_errors=True)

    def has(self, name: str) -> bool:
        return (self.directory / name).is_dir()

    def relation(self, name: str) -> str:
        """SQL reading roll-up ``name`` (filter on ``month`` to read only some months)."""
        pattern = literal(str(self.directory / name / "*" / "*.parquet"))
        return (
            f"read_parquet({pattern}, hive_partitioning = true, hive_types = {{'month': VARCHAR}})"
        )

    @staticmethod
    def month(day: object) -> str:
        """The partition holding ``day``: ``YYYY-MM``."""

        return f"{pd.Timestamp(day):%Y-%m}"
