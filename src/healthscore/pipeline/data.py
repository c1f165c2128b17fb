"""Data commands: simulate a world, build the training set, compute features at a date."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from healthscore import simulation_defaults as default
from healthscore.config import Config
from healthscore.dataset import TrainingSet, build_training_set, save_training_set
from healthscore.scoring import eligible_features
from healthscore.storage import FRAME_SUFFIXES, check_writable, write_frame, write_tables
from healthscore.synthetic import TRUTH_DIR, generate_world
from healthscore.validation import validated_source


def generate_data(
    out: str | Path,
    *,
    n_accounts: int = default.ACCOUNTS,
    start: str = default.START,
    end: str = default.END,
    seed: int = default.SEED,
    fmt: str = "parquet",
    currency: str = "USD",
    names: str = "en",
) -> dict[str, int]:
    """Simulate a world and write its tables to ``out`` and its ground truth to ``out/_truth``.

    ``currency`` and ``names`` write it in yen with Japanese names (``"JPY"``, ``"ja"``).
    Returns the row count of every table written.
    """

    world = generate_world(
        n_accounts, start=start, end=end, seed=seed, currency=currency, names=names
    )
    out = Path(out)
    write_tables(world.tables, out, fmt=fmt)
    write_tables(world.truth, out / TRUTH_DIR, fmt="parquet")
    return {name: len(frame) for name, frame in world.tables.items()}


def build_dataset(data: str | Path, config: Config, *, out: str | Path) -> TrainingSet:
    """Build the training set of ``data`` and write it (Parquet + ``.meta.json``) to ``out``."""
    check_writable(out, suffixes=FRAME_SUFFIXES)

    training_set = build_training_set(validated_source(data, config), config)
    save_training_set(training_set, out)
    return training_set


def features_table(
    data: str | Path, as_of: str, config: Config, *, out: str | Path | None = None
) -> pd.DataFrame:
    """Features of every account eligible at ``as_of`` (the scoring code path)."""
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)

    features = eligible_features(validated_source(data, config), pd.Timestamp(as_of), config)
    features = features.drop(columns=["current_arr"], errors="ignore")
    if out is not None:
        write_frame(features, out)
    return features
