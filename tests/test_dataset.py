"""The training set, its metadata and persistence, and the out-of-time splits."""

from __future__ import annotations

import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.dataset import (
    TrainingSet,
    backtest_splits,
    build_training_set,
    data_fingerprint,
    load_training_set,
    purge_days,
    save_training_set,
    time_split,
)
from healthscore.errors import DataError
from healthscore.labels import churn_dates, make_labels
from healthscore.snapshots import make_snapshots
from healthscore.storage import read_metadata, source_from_frames

DATA_END = "2024-01-01"


def small_tables(seed: int = 3, n_accounts: int = 30) -> dict[str, pd.DataFrame]:
    """Accounts on yearly terms from 2022; some stop renewing, a few are won back."""
    rng = np.random.default_rng(seed)
    ids = [f"acc{i:02d}" for i in range(n_accounts)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "created_at": "2022-01-01",
            "segment": rng.choice(["smb", "enterprise"], n_accounts),
        }
    )
    rows = []
    for i, account in enumerate(ids):
        start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        for term in range(3):
            end = start + pd.DateOffset(years=1)
            rows.append((f"k{i}_{term}", account, start, end, float(rng.integers(1, 50)) * 1000))
            if rng.random() < 0.35:
                break
            start = end + pd.Timedelta(days=int(rng.choice([0, 10, 60])))
    contracts = pd.DataFrame(
        rows, columns=["contract_id", "account_id", "start_date", "end_date", "arr"]
    )
    n = 3000
    logins = pd.DataFrame(
        {
            "account_id": rng.choice(ids, n),
            "user_id": rng.integers(1, 6, n).astype(str),
            "ts": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(rng.integers(0, 730 * 86400, n), "s"),
        }
    )
    return {"accounts": accounts, "contracts": contracts, "logins": logins}


@pytest.fixture(scope="module")
def source():
    return source_from_frames(small_tables(), data_end=DATA_END)


@pytest.fixture(scope="module")
def training_set(source) -> TrainingSet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_training_set(source, Config())


def test_training_set_is_features_beside_labels(source, training_set):
    frame, config = training_set.frame, Config()
    snapshots = make_snapshots(source, config)
    labels = make_labels(snapshots, churn_dates(source, config), config, data_end=source.data_end)
    assert list(frame.columns) == (
        ["account_id", "as_of"] + training_set.features + ["label", "censored", "churned_at"]
    )
    assert not frame.duplicated(["account_id", "as_of"]).any()
    pd.testing.assert_frame_equal(frame[labels.columns.tolist()], labels)
    assert frame.loc[frame["censored"], "label"].isna().all()
    assert frame.loc[~frame["censored"], "label"].isin([0.0, 1.0]).all()
    assert 0 < frame["label"].sum() < (~frame["censored"]).sum()
    assert training_set.labelled["censored"].eq(False).all()


def test_metadata_describes_how_it_was_built(source, training_set):
    meta = training_set.metadata
    assert meta["lead_days"] == 0 and meta["horizon_days"] == 90 and meta["grace_days"] == 30
    assert meta["label_mode"] == "rolling" and meta["churn_source"] == "contracts"
    assert meta["purge_days"] == 90
    assert meta["healthscore_version"] == version("healthscore")
    assert meta["data_end"] == pd.Timestamp(DATA_END).isoformat()
    assert meta["data_fingerprint"] == data_fingerprint(source)
    assert meta["config"] == Config().model_dump(mode="json")
    assert meta["features"] == [
        c
        for c in training_set.frame.columns
        if c.split("__")[0] in ("usage", "contract", "account")
    ]
    assert meta["n_rows"] == len(training_set.frame)


def test_save_and_load_round_trip(tmp_path, training_set):
    path = save_training_set(training_set, tmp_path / "training_set.parquet")
    assert (tmp_path / "training_set.parquet.meta.json").is_file()
    loaded = load_training_set(path)
    pd.testing.assert_frame_equal(loaded.frame, training_set.frame, check_dtype=False)
    assert loaded.frame["censored"].dtype == bool
    assert loaded.metadata == read_metadata(path) == training_set.metadata
    assert loaded.features == training_set.features


def test_fingerprint_is_stable_and_sensitive():
    tables = small_tables()
    first = data_fingerprint(source_from_frames(tables, data_end=DATA_END))
    shuffled = {name: frame.sample(frac=1, random_state=1) for name, frame in tables.items()}
    assert data_fingerprint(source_from_frames(shuffled, data_end=DATA_END)) == first
    edited = dict(
        tables,
        logins=tables["logins"].assign(
            user_id=lambda f: f["user_id"].where(f.index != 5, "someone")
        ),
    )
    assert data_fingerprint(source_from_frames(edited, data_end=DATA_END)) != first
    assert data_fingerprint(source_from_frames(tables, data_end="2024-02-01")) != first


# --- splits --------------------------------------------------------------------------------


def monthly_frame(months: int = 24, *, accounts: int = 3) -> pd.DataFrame:
    dates = pd.date_range("2022-01-01", periods=months, freq="MS")
    frame = pd.DataFrame(
        [(f"a{i}", d) for d in dates for i in range(accounts)], columns=["account_id", "as_of"]
    )
    frame["label"] = (np.arange(len(frame)) % 4 == 0).astype(float)
    frame["censored"] = frame["as_of"] >= dates[max(months - 3, 0)]
    frame.loc[frame["censored"], "label"] = np.nan
    return frame


def _dates(part: pd.DataFrame) -> list[pd.Timestamp]:
    return sorted(part["as_of"].unique())


def test_time_split_respects_the_purge_and_never_overlaps():
    frame, config = monthly_frame(), Config()
    split = time_split(frame, config)
    train, valid, test = (_dates(p) for p in (split.train, split.valid, split.test))
    labelled = _dates(frame[~frame["censored"]])
    assert test == labelled[-3:]  # the latest 3 labelled dates, censored ones left out
    assert len(valid) == 3 and len(train) > 0
    purge = pd.Timedelta(days=90)
    assert max(valid) + purge <= min(test)
    assert max(train) + purge <= min(valid)
    assert set(train).isdisjoint(valid) and set(valid).isdisjoint(test)
    # The dates right before each boundary are dropped, not moved elsewhere.
    assert max(valid) == max(d for d in labelled if d + purge <= min(test))
    assert split.purge_days == 90 and split.dates()["test"] == test
    assert not split.train["censored"].any() and split.train["label"].notna().all()


def test_purge_follows_lead_and_horizon_or_the_override():
    config = Config().with_overrides(labels={"lead_days": 30, "horizon_days": 60})
    assert purge_days(config) == 90
    config = Config().with_overrides(split={"purge_days": 0})
    split = time_split(monthly_frame(), config)
    assert _dates(split.valid)[-1] == _dates(split.test)[0] - pd.DateOffset(months=1)
    renewal = Config().with_overrides(labels={"mode": "renewal"})
    assert purge_days(renewal) == 180 + 30


def test_too_few_dates_is_a_clear_error():
    with pytest.raises(DataError, match="too few labelled observation dates.*found 7"):
        time_split(monthly_frame(10), Config())
    with pytest.raises(DataError, match="found 0"):
        time_split(monthly_frame(3), Config())


def test_renewal_snapshot_dates_are_counted_per_month():
    frame = monthly_frame(24)
    frame["as_of"] = frame["as_of"] + pd.to_timedelta(frame.index % 3 * 9, "D")
    config = Config().with_overrides(split={"purge_days": 0})
    split = time_split(frame, config)
    months = split.test["as_of"].dt.to_period("M").unique()
    assert len(months) == 3 and split.test["as_of"].nunique() > 3


def test_backtest_moves_the_cut_off_back_one_step_per_fold():
    frame, config = monthly_frame(30), Config()
    folds = backtest_splits(frame, config, 3)
    main = time_split(frame, config)
    test_ends = [max(_dates(f.test)) for f in folds]
    assert test_ends == sorted(test_ends)  # oldest first
    assert [d.month for d in test_ends] == [
        (max(_dates(main.test)) - pd.DateOffset(months=k)).month for k in (3, 2, 1)
    ]
    for fold in folds:
        assert max(_dates(fold.valid)) + pd.Timedelta(days=90) <= min(_dates(fold.test))
        assert max(_dates(fold.train)) + pd.Timedelta(days=90) <= min(_dates(fold.valid))
    assert backtest_splits(frame, config, 0) == []
    assert len(backtest_splits(frame, config, 2, step=3)) == 2
    with pytest.raises(DataError):
        backtest_splits(frame, config, 20)
