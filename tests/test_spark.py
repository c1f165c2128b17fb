"""The Spark engine gives DuckDB's results: features, labels, censoring, scores, the CLI.

Every comparison is the whole frame: same rows in the same order, numbers within 1e-9,
nulls in the same places, text and flags identical. The default run holds one real check
of each kind, sized for two cores: the translated expressions, the leakage fixture's
training set, ``healthscore build --engine spark`` on a small simulated world (every
feature of every snapshot, labels and censoring) and ``healthscore score --engine spark``
(every account). The larger worlds, the other label mode, sampling and the packaged JVM
without ``java`` on the PATH are ``spark_full`` (``make test-spark``). All share one local
Spark session (``spark`` in conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from healthscore.config import Config
from healthscore.dataset import build_training_set
from healthscore.storage import open_source, source_from_frames
from test_leakage import DATA_END, rich_tables

pytestmark = pytest.mark.spark


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same rows, order, columns and dtypes; numbers within 1e-9; the same nulls."""
    assert_frame_equal(duck, spark, check_exact=False, rtol=0, atol=1e-9)


def spark_training_set(frames_or_path, config: Config, spark, data_end=None):
    from healthscore.spark.dataset import build_training_set as spark_build
    from healthscore.spark.source import open_spark_source, spark_source_from_frames

    if isinstance(frames_or_path, dict):
        source = spark_source_from_frames(frames_or_path, config, spark=spark, data_end=data_end)
    else:
        source = open_spark_source(str(frames_or_path), config, spark=spark)
    return spark_build(source, config)


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return function(*args, **kwargs)


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    """A simulated world of 200 accounts over two years (the default run's Spark world)."""
    from healthscore.pipeline import generate_data

    folder = tmp_path_factory.mktemp("spark-world") / "data"
    generate_data(folder, n_accounts=200, start="2024-01-01", end="2026-01-01", seed=11)
    return folder


# --- default suite -------------------------------------------------------------------------


#: Edge cases of each translation rule: month ends, leap days, Unicode spaces, decimals.
CASES = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "a": pd.to_datetime(["2024-01-31", "2023-12-31", "2024-02-29", "2024-03-15"]),
        "b": pd.to_datetime(["2024-02-01", "2024-01-01", "2025-02-28", "2024-03-14"]),
        "n": [1, 2, 12, -1],
        "s": ["\u3000id\u00a0", " x ", "\ty", "plain"],
        "x": [1.0, 2.0, 10.0, 7.0],
    }
)
LEFT = pd.DataFrame({"id": [1, 2, 3, 4, 5], "k": ["a", "a", "a", "b", None], "t": [1, 5, 9, 3, 4]})
RIGHT = pd.DataFrame(
    {"k": ["a", "a", "a", "b", None], "u": [1, 5, 7, 4, 1], "v": [10, 50, 70, 40, 99]}
)
QUERIES = [
    """
    SELECT id, date_diff('month', CAST(a AS DATE), CAST(b AS DATE)) AS months,
           date_diff('day', CAST(a AS DATE), CAST(b AS DATE)) AS days,
           CAST(CAST(a AS DATE) + to_months(CAST(n AS INTEGER)) AS DATE) AS plus,
           CAST(CAST(a AS DATE) - to_months(CAST(n AS INTEGER)) AS DATE) AS minus,
           NULLIF(TRIM(s), '') AS trimmed, strlen(s) = length(s) AS ascii, x / 3.0 AS third
    FROM cases ORDER BY id
    """,
    """
    SELECT l.id, r.v FROM lefts l ASOF LEFT JOIN rights r ON l.k = r.k AND l.t > r.u
    ORDER BY l.id
    """,
    "SELECT l.id, r.v FROM lefts l ASOF JOIN rights r ON r.k = l.k AND r.u <= l.t ORDER BY l.id",
    """
    SELECT k, CAST(list_unique(list(u % 3)) AS BIGINT) AS distinct_values
    FROM rights WHERE k IS NOT NULL GROUP BY ALL ORDER BY k
    """,
]


@pytest.mark.parametrize("query", QUERIES, ids=["functions", "asof-left", "asof-inner", "aggs"])
def test_translated_sql_gives_duckdbs_values(spark, query):
    from healthscore.spark.dialect import to_spark

    tables = {"cases": CASES, "lefts": LEFT, "rights": RIGHT}
    con = duckdb.connect()
    for name, frame in tables.items():
        con.register(name, frame)
        spark.createDataFrame(frame).createOrReplaceTempView(name)
    expected = con.sql(query).df()
    got = spark.sql(to_spark(query)).toPandas()
    assert list(got.columns) == list(expected.columns)
    for column in expected.columns:
        want, have = expected[column], got[column]
        if pd.api.types.is_datetime64_any_dtype(want):
            want = want.dt.date
        assert [None if pd.isna(v) else v for v in want] == [
            None if pd.isna(v) else v for v in have
        ], column


@pytest.mark.slow
def test_build_command_with_spark_equals_duckdbs_training_set(spark, small_world, tmp_path):
    """``healthscore build --engine spark``, as a user runs it: every feature of every
    snapshot, labels and censoring equal DuckDB's."""
    from healthscore.cli import main

    out = tmp_path / "training.parquet"
    args = ["build", "--engine", "spark", "--data", str(small_world), "--out", str(out)]
    assert quietly(main, args) == 0
    config = Config()
    duck = quietly(build_training_set, open_source(small_world, config), config)
    ours = pd.read_parquet(out)
    assert len(duck.frame) > 1_000
    assert duck.frame["censored"].any() and duck.labelled["label"].any()
    assert_same(duck.frame, ours)


SCORE_AS_OF = "2025-12-01"


@pytest.mark.slow
def test_score_command_with_spark_writes_the_local_scores(spark, trained, tmp_path, capsys):
    """``healthscore score --engine spark``: the local scores, account by account, ranked
    the same, the columns in the same order."""
    from healthscore.cli import main

    local_out, spark_out = tmp_path / "local.parquet", tmp_path / "spark.parquet"
    common = ["--data", str(trained.data), "--as-of", SCORE_AS_OF, "--model"]
    common.append(str(trained.outcome.latest))
    assert main(["score", *common, "--out", str(local_out)]) == 0
    assert main(["score", *common, "--out", str(spark_out), "--engine", "spark"]) == 0
    printed = capsys.readouterr().out.split("Scored")
    assert len(printed) == 3, "both runs report their totals"
    local_report, spark_report = (p[p.index("Control group") :] for p in printed[1:])
    assert spark_report == local_report, "the same control group and top 5, in the same words"
    local, ours = pd.read_parquet(local_out), pd.read_parquet(spark_out)
    assert len(ours) == len(local) > 100
    assert list(ours.columns) == list(local.columns)
    assert ours["priority_rank"].tolist() == list(range(1, len(ours) + 1))
    assert ours["account_id"].tolist() == local["account_id"].tolist()
    _same_scores(local, ours)


# --- spark_full (make test-spark): larger worlds, the other modes, the packaged JVM ----------


@pytest.mark.slow
@pytest.mark.spark_full
def test_training_set_from_spark_equals_duckdbs_on_the_leakage_fixture(spark):
    """Snapshots, every feature, labels and censoring of a small but rich world."""
    tables = rich_tables()
    config = Config()
    duck = quietly(build_training_set, source_from_frames(tables, data_end=DATA_END), config)
    ours = quietly(spark_training_set, tables, config, spark, data_end=DATA_END)
    assert len(duck.frame) > 50 and duck.frame["censored"].any() and duck.labelled["label"].any()
    assert_same(duck.frame, ours.frame)
    assert ours.features == duck.features


@pytest.mark.slow
@pytest.mark.spark_full
def test_every_feature_of_every_snapshot_equals_duckdbs_on_the_simulated_world(spark, world_dir):
    config = Config()
    duck = quietly(build_training_set, open_source(world_dir, config), config)
    ours = quietly(spark_training_set, world_dir, config, spark)
    assert len(duck.frame) > 10_000
    assert_same(duck.frame, ours.frame)
    assert ours.metadata["n_labelled"] == duck.metadata["n_labelled"]
    assert ours.metadata["n_churned"] == duck.metadata["n_churned"]


@pytest.mark.slow
@pytest.mark.spark_full
def test_renewal_labels_and_logged_churns_equal_duckdbs(spark):
    tables = rich_tables()
    tables["churn_events"] = pd.DataFrame(
        {
            "account_id": ["a2", "a4", "zz"],
            "churned_at": pd.to_datetime(["2023-07-01", "2023-09-10", "2023-05-01"]),
        }
    )
    config = Config().with_overrides(
        labels={"mode": "renewal", "churn_source": "churn_events"},
        snapshots={"start": "2023-01-01"},
    )
    duck = quietly(build_training_set, source_from_frames(tables, data_end=DATA_END), config)
    ours = quietly(spark_training_set, tables, config, spark, data_end=DATA_END)
    assert len(duck.frame) > 5
    assert_same(duck.frame, ours.frame)


@pytest.mark.slow
@pytest.mark.spark_full
def test_a_sample_keeps_whole_accounts(spark):
    tables = rich_tables()
    config = Config().with_overrides(engine={"spark": {"sample": 0.5}})
    full = quietly(build_training_set, source_from_frames(tables, data_end=DATA_END), Config())
    ours = quietly(spark_training_set, tables, config, spark, data_end=DATA_END)
    kept = full.frame["account_id"].isin(ours.frame["account_id"].unique())
    assert 0 < kept.sum() < len(full.frame)
    assert_same(full.frame[kept].reset_index(drop=True), ours.frame)
    assert ours.metadata["account_sample"] == 0.5


@pytest.mark.slow
@pytest.mark.spark_full
def test_scores_from_spark_equal_the_local_score_for_every_account(spark, trained, tmp_path):
    from healthscore.pipeline import score
    from healthscore.spark.pipeline import score as spark_score

    model = str(trained.outcome.latest)
    local = quietly(score, trained.data, SCORE_AS_OF, trained.config, model=model)
    out = tmp_path / "scores.parquet"
    summary = spark_score(
        trained.data, SCORE_AS_OF, trained.config, out=str(out), model=model, spark=spark
    )
    ours = pd.read_parquet(out)
    assert summary.accounts == len(local) == len(ours)
    assert summary.at_risk == int((local["risk_tier"] == "at_risk").sum())
    assert list(ours.columns) == list(local.columns)
    assert ours["priority_rank"].tolist() == list(range(1, len(ours) + 1))
    _same_scores(local, ours)


def _same_scores(local: pd.DataFrame, ours: pd.DataFrame) -> None:
    by_account = [x.set_index("account_id").sort_index() for x in (local, ours)]
    for column in by_account[0].columns:
        want, have = (x[column] for x in by_account)
        if pd.api.types.is_float_dtype(want):
            np.testing.assert_allclose(
                have.to_numpy(float), want.to_numpy(float), rtol=0, atol=1e-9, err_msg=column
            )
        elif pd.api.types.is_datetime64_any_dtype(want):
            assert (pd.to_datetime(have) == want).all(), column
        else:
            values = [[None if pd.isna(v) else v for v in x] for x in (want, have)]
            assert values[0] == values[1], column


@pytest.mark.slow
@pytest.mark.spark_full
def test_features_command_with_spark_equals_duckdbs(spark, small_world, tmp_path):
    """``healthscore features --engine spark``: the local command's table, names included."""
    from healthscore.cli import main

    outs = {engine: tmp_path / f"{engine}.parquet" for engine in ("duckdb", "spark")}
    for engine, out in outs.items():
        args = ["features", "--engine", engine, "--data", str(small_world)]
        assert quietly(main, [*args, "--as-of", "2025-12-01", "--out", str(out)]) == 0
    duck, ours = (pd.read_parquet(out) for out in outs.values())
    assert {"account_name", "csm"} <= set(duck.columns) and len(duck) > 50
    assert_same(duck, ours)


def _path_without_java(folder: Path) -> str:
    """A PATH with every program of this one but java (and the venv first)."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name != "java" and not target.exists():
                target.symlink_to(entry.path)
    return os.pathsep.join([str(Path(sys.executable).parent), str(folder)])


@pytest.mark.slow
@pytest.mark.spark_full
def test_build_command_with_spark_runs_on_the_packaged_java(tmp_path):
    """``healthscore build --engine spark`` with no JAVA_HOME and no java on the PATH."""
    from healthscore.pipeline import generate_data

    data = tmp_path / "small"
    generate_data(data, n_accounts=60, start="2024-06-01", end="2025-06-01", seed=5)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = _path_without_java(tmp_path / "bin")
    assert shutil.which("java", path=env["PATH"]) is None
    exe = Path(sys.executable).with_name("healthscore")
    out = tmp_path / "training.parquet"
    done = subprocess.run(
        [str(exe), "build", "--engine", "spark", "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Wrote" in done.stdout
    config = Config()
    duck = quietly(build_training_set, open_source(data, config), config)
    assert_same(duck.frame, pd.read_parquet(out))
