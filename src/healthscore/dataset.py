"""The training set (features joined to labels) and its out-of-time splits.

A training set is one row per eligible ``(account_id, as_of)``: the keys, the catalogue's
active features, ``label`` (1/0, NaN when censored), ``censored`` and ``churned_at``. Censored
rows stay in the frame, for scoring and evaluation, and are left out by the splits. Its
metadata records everything needed to tell whether it is still valid: the config, the label
definition, a fingerprint of the data, the package version, the feature names and the data's
end.

Splits
------
Snapshots of the same account repeat over time, so splits are by observation date, never
random. :func:`time_split` takes the latest ``split.test_dates`` labelled dates as test, the
``split.valid_dates`` latest dates at least ``purge`` days before the first test date as
validation, and every date at least ``purge`` days before the first validation date as
training: ``as_of + purge <= first later date`` holds across each boundary, so no training
label window reaches into the validation period, nor a validation window into the test
period. ``purge`` is :func:`purge_days`: ``split.purge_days`` if set, else ``lead + horizon``
(rolling labels) or the longest renewal offset plus the grace period (renewal labels).

In renewal mode snapshot dates are not on the cadence; dates are then counted per cadence
period (month, week or quarter) while the purge is still measured on the exact dates.

:func:`backtest_splits` is a rolling-origin backtest: fold ``k`` (``k = 1..n``) drops the
latest ``k * step`` labelled periods and splits the rest like :func:`time_split`, so every
fold is an honest "what if we had trained ``k`` steps earlier"; folds are returned oldest
first and never coincide with the main split.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore.config import Config, recordable
from healthscore.errors import DataError, HealthscoreError
from healthscore.features import build_features
from healthscore.features.rollups import RollupCache
from healthscore.labels import churn_dates, make_labels
from healthscore.provenance import package_version
from healthscore.schema import TABLE_NAMES, TABLES
from healthscore.snapshots import make_snapshots, period_start
from healthscore.storage import (
    DataSource,
    quote,
    read_frame,
    read_metadata,
    write_frame_with_metadata,
)

log = logging.getLogger(__name__)

KEYS: tuple[str, str] = ("account_id", "as_of")
LABEL_COLUMNS: tuple[str, ...] = ("label", "censored", "churned_at")


@dataclass(frozen=True)
class TrainingSet:
    """Features and labels of every snapshot, with the metadata that produced them."""

    frame: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """The feature columns, in catalogue order."""
        return list(self.metadata.get("features", []))

    @property
    def labelled(self) -> pd.DataFrame:
        """The rows with a known label (not censored)."""
        return self.frame[~self.frame["censored"]]


@dataclass(frozen=True)
class Split:
    """Train, validation and test rows of an out-of-time split, and the purge between."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    purge_days: int = 0

    def dates(self) -> dict[str, list[pd.Timestamp]]:
        """The distinct observation dates of each part."""
        return {
            name: sorted(pd.to_datetime(part["as_of"]).unique())
            for name, part in (("train", self.train), ("valid", self.valid), ("test", self.test))
        }


def data_fingerprint(source: DataSource) -> str:
    """A stable hash of the input data: per table its row count, date range and row hashes.

    Cheap (one scan per table inside DuckDB) and independent of row order and file names;
    any added, removed or edited row changes it.
    """
    stats: dict[str, object] = {"data_end": source.data_end.isoformat()}
    for name in TABLE_NAMES:
        if not source.has(name):
            continue
        spec = TABLES[name]
        columns = [c for c in source.columns.get(name, ()) if c in {x.name for x in spec.columns}]
        time_column = spec.event_time or "created_at"
        hashed = ", ".join(quote(c) for c in columns)
        row = source.query(
            f"SELECT count(*) AS n, CAST(min({quote(time_column)}) AS VARCHAR) AS first, "
            f"CAST(max({quote(time_column)}) AS VARCHAR) AS last, "
            f"CAST(sum(hash({hashed})) AS VARCHAR) AS h FROM {quote(name)}"
        ).iloc[0]
        stats[name] = {
            "columns": columns,
            **{k: (None if pd.isna(v) else str(v)) for k, v in row.items()},
        }
    blob = json.dumps(stats, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def purge_days(config: Config) -> int:
    """Days between training, validation and test dates (see the module docstring)."""
    if config.split.purge_days is not None:
        return config.split.purge_days
    if config.labels.mode == "renewal":
        return max(config.labels.renewal_offsets_days, default=0) + config.labels.grace_days
    return config.labels.lead_days + config.labels.horizon_days


def build_training_set(
    source: DataSource, config: Config, *, rollups: RollupCache | None = None
) -> TrainingSet:
    """Snapshots, their features and their labels, as one frame with metadata.

    Example (illustration, not run)::

        ts = build_training_set(source, config)
        ts.labelled[ts.features + ["label"]]
    """
    snapshots = make_snapshots(source, config)
    churns = churn_dates(source, config)
    labels = make_labels(snapshots, churns, config, data_end=source.data_end)
    features = build_features(source, snapshots, config, rollups=rollups)
    return assemble_training_set(
        features,
        labels,
        config,
        fingerprint=data_fingerprint(source),
        data_end=source.data_end,
    )


def assemble_training_set(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    config: Config,
    *,
    fingerprint: str,
    data_end: pd.Timestamp,
    extra: dict[str, Any] | None = None,
) -> TrainingSet:
    """Features and labels of the same snapshots (same rows, same order) as a training set.

    ``extra`` adds metadata entries (the engine that built it, a sample share).
    """
    frame = features.copy()
    for column in LABEL_COLUMNS:
        frame[column] = labels[column].to_numpy()
    names = [c for c in features.columns if c not in KEYS]
    labelled = frame[~frame["censored"]]
    metadata = {
        "config": recordable(config),
        "label_mode": config.labels.mode,
        "churn_source": config.labels.churn_source,
        "lead_days": config.labels.lead_days,
        "horizon_days": config.labels.horizon_days,
        "grace_days": config.labels.grace_days,
        "purge_days": purge_days(config),
        "data_fingerprint": fingerprint,
        "data_end": data_end.isoformat(),
        "healthscore_version": package_version(),
        "features": names,
        "n_rows": int(len(frame)),
        "n_labelled": int(len(labelled)),
        "n_churned": int(labelled["label"].sum()),
        **(extra or {}),
    }
    return TrainingSet(frame, metadata)


def save_training_set(training_set: TrainingSet, path: str | Path) -> Path:
    """Write the frame as Parquet and the metadata as ``<file>.meta.json`` beside it."""
    return write_frame_with_metadata(training_set.frame, path, training_set.metadata)


def load_training_set(path: str | Path) -> TrainingSet:
    """Read a training set written by :func:`save_training_set`."""
    frame = read_frame(path)
    frame["censored"] = frame["censored"].astype(bool)
    return TrainingSet(frame, dict(read_metadata(path)))


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    keep = frame["label"].notna()
    if "censored" in frame.columns:
        keep &= ~frame["censored"].astype(bool)
    return frame[keep]


def _split_rows(frame: pd.DataFrame, config: Config, periods: pd.Series) -> Split:
    purge = pd.Timedelta(days=purge_days(config))
    as_of = pd.to_datetime(frame["as_of"])
    ordered = sorted(periods.unique())
    n_test, n_valid = config.split.test_dates, config.split.valid_dates
    nothing = pd.Series(False, index=periods.index)
    test_mask = periods.isin(ordered[-n_test:]) if len(ordered) >= n_test else nothing
    test_start = as_of[test_mask].min() if test_mask.any() else None
    valid_mask = train_mask = nothing
    if len(ordered) > n_test and test_start is not None:
        before_test = (periods < ordered[-n_test]) & (as_of + purge <= test_start)
        valid_periods = sorted(periods[before_test].unique())[-n_valid:]
        if len(valid_periods) == n_valid:
            valid_mask = before_test & periods.isin(valid_periods)
            valid_start = as_of[valid_mask].min()
            train_mask = (periods < valid_periods[0]) & (as_of + purge <= valid_start)
    if not (test_mask.any() and valid_mask.any() and train_mask.any()):
        span = f"{min(ordered):%Y-%m-%d} to {max(ordered):%Y-%m-%d}" if ordered else "none"
        raise DataError(
            f"too few labelled observation dates for an out-of-time split: found "
            f"{len(ordered)} ({span}); need {n_test} test + {n_valid} validation dates + at "
            f"least one training date, with {purge.days} days of purge between periods. "
            "Add history, or lower split.test_dates, split.valid_dates or split.purge_days."
        )
    return Split(frame[train_mask], frame[valid_mask], frame[test_mask], purge.days)


def time_split(frame: pd.DataFrame, config: Config) -> Split:
    """Out-of-time train | purge | valid | purge | test split of the labelled rows.

    Censored rows and rows without a label are left out. Raises
    :class:`~healthscore.errors.DataError` when there are too few labelled dates.
    """
    labelled = _labelled(frame)
    periods = period_start(labelled["as_of"], cadence=config.snapshots.cadence)
    return _split_rows(labelled, config, periods)


def backtest_splits(
    frame: pd.DataFrame, config: Config, n: int | None = None, *, step: int = 1
) -> list[Split]:
    """Rolling-origin backtest: ``n`` splits whose cut-off moves back ``step`` periods each.

    Fold ``k`` (1..n) drops the latest ``k * step`` labelled periods and splits the rest like
    :func:`time_split`; folds are returned oldest first. ``n`` defaults to
    ``split.backtest_cutoffs``; ``n = 0`` gives no folds. Raises
    :class:`~healthscore.errors.DataError` when a fold has too few dates left.
    """
    n = config.split.backtest_cutoffs if n is None else n
    if step < 1:
        raise ValueError("step must be at least 1")
    labelled = _labelled(frame)
    periods = period_start(labelled["as_of"], cadence=config.snapshots.cadence)
    ordered = sorted(periods.unique())
    folds = []
    for k in range(n, 0, -1):
        if k * step >= len(ordered):
            raise DataError(
                f"backtest fold {k} needs more than {k * step} labelled periods, found "
                f"{len(ordered)}; lower split.backtest_cutoffs"
            )
        keep = periods <= ordered[-1 - k * step]
        folds.append(_split_rows(labelled[keep], config, periods[keep]))
    return folds


# --------------------------------------------------------------------------- the cache

#: The folder, under a models folder, where training sets (and their roll-ups) are cached.
CACHE_DIR = "cache"


def training_set_for(source: DataSource, config: Config, cache_dir: Path) -> TrainingSet:
    """Build the training set, or reuse the cached one built from the same data and config.

    A cache entry that cannot be read (a half-written file of a run killed long ago, a disk
    error) counts as a miss and is built again.
    """
    key_material = config.model_dump_json(include={"data", "labels", "snapshots", "features"})
    fingerprint = data_fingerprint(source)
    key = hashlib.sha256(f"{fingerprint}|{key_material}".encode()).hexdigest()[:16]
    cached = cache_dir / f"training_set_{key}.parquet"
    if cached.is_file():
        try:
            training_set = load_training_set(cached)
        except (HealthscoreError, OSError, ValueError, KeyError) as exc:
            log.warning(
                "the cached training set %s is unreadable (%s); building it again", cached, exc
            )
        else:
            log.info("reusing the training set %s", cached)
            return training_set
    rollups = RollupCache.for_data(cache_dir / "rollups", fingerprint)
    ts = build_training_set(source, config, rollups=rollups)
    save_training_set(ts, cached)
    return ts
