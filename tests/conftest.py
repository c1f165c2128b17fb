"""Shared fixtures: one small simulated world, and one model trained on it, per session.

Generating and training once keeps the suite fast; tests that need their own copy (to break
it, or to train again) copy the folder first. Nothing here reads the network or the
repository's own data/, models/ or mlruns/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from healthscore.config import Config

WORLD_SEED = 7


def small_config() -> Config:
    """The defaults with a lighter model, so that tests train in seconds."""
    return Config().with_overrides(
        model={"n_estimators": 300, "learning_rate": 0.06},
        split={"backtest_cutoffs": 1},
        capacity={"csms": 2, "accounts_per_csm": 10},
    )


@dataclass
class Trained:
    data: Path
    workdir: Path
    config: Config
    outcome: object

    @property
    def tracking(self):
        """The tracking config with this project's experiment and registered model."""
        return self.config.tracking.for_project(self.outcome.project)

    @property
    def champion_uri(self) -> str:
        return f"models:/{self.tracking.registered_model}@champion"


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory) -> Path:
    """A small simulated world (900 accounts over 2.5 years) in the contract format."""
    from healthscore.pipeline import generate_data

    folder = tmp_path_factory.mktemp("world") / "data"
    print(f"world seed={WORLD_SEED}")
    generate_data(folder, n_accounts=900, start="2023-07-01", end="2026-01-01", seed=WORLD_SEED)
    return folder


@pytest.fixture(scope="session")
def trained(world_dir, tmp_path_factory) -> Trained:
    """A model trained on the small world, tracked in a temporary MLflow store."""
    from healthscore.pipeline import train

    workdir = tmp_path_factory.mktemp("work")
    config = small_config()
    cwd = Path.cwd()
    os.chdir(workdir)
    try:
        outcome = train(world_dir, config, model_dir=workdir / "models", root=workdir)
    finally:
        os.chdir(cwd)
    return Trained(world_dir, workdir, config, outcome)


@pytest.fixture(scope="session")
def spark():
    """A local Spark session (two cores) for the whole run.

    Started once: the JVM's start-up is the largest part of a small Spark test. pyspark is
    part of the dev extras, so a missing one is an error here, never a skipped test.
    """
    from healthscore.spark.session import spark_session

    config = Config().with_overrides(
        engine={"spark": {"conf": {"spark.sql.shuffle.partitions": "2"}}}
    )
    session = spark_session(config)
    yield session
    session.sparkContext.stop()


#: Fixtures that train a model: a test using one (even through another fixture) is slow.
TRAINING_FIXTURES = {"trained"}

#: Markers of tests that start a JVM: slow as well, so ``make test-fast`` leaves them out.
SPARK_MARKERS = {"spark", "spark_full"}


def pytest_collection_modifyitems(items) -> None:
    """Mark every test that trains (directly or through a fixture) or starts Spark as ``slow``."""
    for item in items:
        trains = TRAINING_FIXTURES & set(getattr(item, "fixturenames", ()))
        starts_spark = SPARK_MARKERS & {mark.name for mark in item.iter_markers()}
        if trains or starts_spark:
            item.add_marker(pytest.mark.slow)
