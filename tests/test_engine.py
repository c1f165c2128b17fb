"""The query engine's resources: memory limit and spill folder from the config."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Config, ConfigError, config_from_dict
from healthscore.storage import SPILL_PREFIX, default_memory_limit, source_from_frames

FRAMES = {
    "accounts": pd.DataFrame({"account_id": ["a"], "created_at": ["2024-01-01"]}),
    "contracts": pd.DataFrame(
        {
            "contract_id": ["c"],
            "account_id": ["a"],
            "start_date": ["2024-01-01"],
            "end_date": ["2025-01-01"],
            "arr": [1200.0],
        }
    ),
}


def _setting(source, name):
    return source.scalar(f"SELECT current_setting('{name}')")


def test_memory_limit_and_temp_directory_come_from_the_config(tmp_path):
    config = Config().with_overrides(
        engine={"memory_limit": "300MB", "temp_directory": str(tmp_path), "threads": 1}
    )
    source = source_from_frames(FRAMES, config)
    assert _setting(source, "memory_limit") == "286.1 MiB"
    assert int(_setting(source, "threads")) == 1
    spill = Path(_setting(source, "temp_directory"))
    assert spill.parent == tmp_path and spill.name.startswith(f"{SPILL_PREFIX}{os.getpid()}-")


def test_defaults_spill_under_the_system_temp_dir_with_half_the_memory():
    source = source_from_frames(FRAMES, Config())
    spill = Path(_setting(source, "temp_directory"))
    assert spill.parent == Path(tempfile.gettempdir())
    assert Path.cwd() not in spill.parents
    assert default_memory_limit() is not None
    limit_mib = int(default_memory_limit().removesuffix("MiB"))
    assert abs(float(_setting(source, "memory_limit").split()[0]) * 1024 - limit_mib) < 2 or (
        _setting(source, "memory_limit").endswith("GiB")
    )


def test_a_bad_memory_limit_is_a_config_error():
    with pytest.raises(ConfigError, match="engine.memory_limit"):
        config_from_dict({"engine": {"memory_limit": "lots"}})


def test_spilling_uses_its_folder_and_removes_it_when_closed(tmp_path):
    config = Config().with_overrides(
        engine={"memory_limit": "64MB", "temp_directory": str(tmp_path), "threads": 1}
    )
    source = source_from_frames(FRAMES, config)
    spill = Path(_setting(source, "temp_directory"))
    source.con.execute(
        "CREATE TEMP TABLE big AS SELECT range AS i, md5(CAST(range AS VARCHAR)) AS h "
        "FROM range(3000000)"
    )
    rows = source.con.execute(
        "SELECT count(*) FROM (SELECT h, count(*) FROM big GROUP BY h ORDER BY h)"
    ).fetchall()
    assert rows[0][0] == 3_000_000
    assert spill.is_dir()
    source.con.close()
    del source
    import gc

    gc.collect()
    assert not spill.exists()


def test_folders_left_by_a_killed_run_are_removed_at_the_next_start(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = tmp_path / f"{SPILL_PREFIX}{dead.stdout.strip()}-abc"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "spill.tmp").write_bytes(b"x" * 1000)
    mine = tmp_path / f"{SPILL_PREFIX}{os.getpid()}-keep"
    mine.mkdir()
    other = tmp_path / "unrelated"
    other.mkdir()
    source_from_frames(FRAMES, Config().with_overrides(engine={"temp_directory": str(tmp_path)}))
    assert not stale.exists()
    assert mine.exists() and other.exists()


# --------------------------------------------------------------------------- bounded scans


def test_one_date_builds_equal_the_rows_of_a_many_date_build(world_dir):
    """Each family reads only its windows before the dates built; the values do not move."""
    import warnings

    from healthscore.features import build_features, features_on
    from healthscore.snapshots import make_snapshots
    from healthscore.storage import open_source

    source = open_source(world_dir, Config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshots = make_snapshots(source, Config())
        everything = build_features(source, snapshots, Config())
        dates = sorted(pd.to_datetime(snapshots["as_of"]).unique())
        for day in (dates[3], dates[-1]):
            alone = features_on(source, [day], Config())
            expected = everything[everything["as_of"] == day].sort_values("account_id")
            pd.testing.assert_frame_equal(
                alone.sort_values("account_id").reset_index(drop=True),
                expected.reset_index(drop=True),
            )
        pair = features_on(source, [dates[-1], dates[-2]], Config())
    assert pair["as_of"].iloc[0] == dates[-1] and pair["as_of"].iloc[-1] == dates[-2]
    both = everything[everything["as_of"].isin(dates[-2:])]
    assert len(pair) == len(both)


def test_event_rows_in_account_order_give_the_same_features(world_dir, tmp_path, monkeypatch):
    """A large build stores the window's rows in account order (for the grouping's memory);
    the features are the same in either order, from the log and from the roll-ups."""
    import warnings

    from healthscore.features import build_features, engine
    from healthscore.features.rollups import RollupCache
    from healthscore.snapshots import make_snapshots
    from healthscore.storage import open_source

    source = open_source(world_dir, Config())
    statements: list[str] = []
    original = engine.Session.execute

    def record(self, sql, **params):
        statements.append(sql)
        return original(self, sql, **params)

    monkeypatch.setattr(engine.Session, "execute", record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshots = make_snapshots(source, Config())
        assert len(snapshots) < engine.ACCOUNT_ORDER_FROM_ROWS
        as_they_come = build_features(source, snapshots, Config())
        assert not any("ORDER BY aid" in sql for sql in statements)
        monkeypatch.setattr(engine, "ACCOUNT_ORDER_FROM_ROWS", 1)
        ordered = build_features(source, snapshots, Config())
        rollups = RollupCache.for_data(tmp_path, "same-data")
        ordered_cached = build_features(source, snapshots, Config(), rollups=rollups)
    # logins and feature usage from the log; and from the roll-ups, feature users as well
    assert sum("ORDER BY aid" in sql for sql in statements) == 5
    pd.testing.assert_frame_equal(ordered, as_they_come, check_exact=True)
    pd.testing.assert_frame_equal(ordered_cached, as_they_come, check_exact=True)


def test_day_aggregates_hold_only_the_days_the_windows_read(world_dir, monkeypatch):
    """The de-duplicated login and feature-usage rows cover [first as_of - 90 days, last as_of)."""
    import warnings

    from healthscore.features import engine, features_on
    from healthscore.storage import open_source

    seen: dict[str, tuple] = {}
    original = engine.Session.drop

    def record(self, *tables):
        for table in ("_hs_login_rows", "_hs_feature_rows"):
            if table in tables:
                seen[table] = self.source.con.execute(
                    f"SELECT min(day), max(day), count(*) FROM {table}"
                ).fetchall()[0]
        return original(self, *tables)

    monkeypatch.setattr(engine.Session, "drop", record)
    source = open_source(world_dir, Config())
    first, last = pd.Timestamp("2025-06-01"), pd.Timestamp("2025-07-01")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features_on(source, [last, first], Config())
    for table in ("_hs_login_rows", "_hs_feature_rows"):
        low, high, rows = seen[table]
        assert rows > 0
        assert pd.Timestamp(low) >= first - pd.Timedelta(days=90), table
        assert pd.Timestamp(high) < last, table


# --------------------------------------------------------------------------- LightGBM threads


def test_lightgbm_fits_on_one_thread_and_predicts_on_every_core():
    """Measured default (docs/performance.md): fitting on one thread; threads always explicit."""
    import numpy as np

    from healthscore.model import HealthModel, lightgbm_params

    config = Config()
    assert config.model.num_threads == 1
    assert lightgbm_params(config.model, seed=1)["num_threads"] == 1
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400)})
    label = (frame["x"] + rng.normal(size=400) > 0).astype(int).to_numpy()
    model = HealthModel.fit(
        frame,
        label,
        frame,
        label,
        features=["x"],
        config=config.model,
        score_config=config.score,
        seed=1,
    )
    assert model.num_threads == (os.cpu_count() or 1)
    two = config.model.model_copy(update={"predict_threads": 2})
    again = HealthModel.fit(
        frame, label, frame, label, features=["x"], config=two, score_config=config.score, seed=1
    )
    assert again.num_threads == 2


def test_prediction_threads_are_the_scoring_machines_not_the_training_ones(tmp_path):
    """A bundle does not carry the training machine's threads into scoring: a model trained
    on a large server would otherwise run dozens of threads on a two-core laptop."""
    import json

    import numpy as np

    from healthscore.model import META_FILE, HealthModel

    config = Config()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    label = (frame["x"] + rng.normal(size=300) > 0).astype(int).to_numpy()
    server = config.model.model_copy(update={"predict_threads": 64})
    model = HealthModel.fit(
        frame, label, frame, label, features=["x"], config=server, score_config=config.score, seed=1
    )
    assert model.num_threads == 64
    folder = model.save(tmp_path / "bundle")
    assert "num_threads" not in json.loads((folder / META_FILE).read_text())
    assert HealthModel.load(folder).num_threads == (os.cpu_count() or 1)
    assert HealthModel.load(folder, threads=2).num_threads == 2
    # A bundle of an earlier version stored them; they are ignored.
    meta = json.loads((folder / META_FILE).read_text())
    (folder / META_FILE).write_text(json.dumps({**meta, "num_threads": 64}))
    loaded = HealthModel.load(folder)
    assert loaded.num_threads == (os.cpu_count() or 1)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


# --------------------------------------------------------------------------- day roll-up cache


def test_cached_rollups_give_the_same_features_and_are_reused(world_dir, tmp_path, monkeypatch):
    import warnings

    from healthscore.dataset import data_fingerprint
    from healthscore.features import build_features, features_on
    from healthscore.features.rollups import RollupCache
    from healthscore.snapshots import make_snapshots
    from healthscore.storage import open_source

    source = open_source(world_dir, Config())
    cache = RollupCache.for_data(tmp_path / "rollups", data_fingerprint(source))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snapshots = make_snapshots(source, Config())
        plain = build_features(source, snapshots, Config())
        cached = build_features(source, snapshots, Config(), rollups=cache)
        assert cache.complete
        months = sorted(p.name for p in (cache.directory / "logins").iterdir())
        assert months[0].startswith("month=") and len(months) > 12
        pd.testing.assert_frame_equal(cached, plain)

        # A later build reads the cache, never the raw logs.
        monkeypatch.setattr(RollupCache, "ensure", lambda self, source: None)
        for table in ("logins", "feature_usage"):
            source.con.execute(f"CREATE TEMP TABLE _empty_{table} AS FROM {table} LIMIT 0")
            source.con.execute(f"CREATE OR REPLACE VIEW {table} AS FROM _empty_{table}")
        day = pd.to_datetime(snapshots["as_of"]).max()
        again = build_features(
            source, snapshots[pd.to_datetime(snapshots["as_of"]) == day], Config(), rollups=cache
        )
        expected = plain[plain["as_of"] == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(again, expected)
        assert not features_on(source, [day], Config()).equals(expected)  # control


def test_rollups_of_other_data_are_removed_and_partial_ones_never_read(tmp_path):
    from healthscore.features.rollups import RollupCache

    old = RollupCache.for_data(tmp_path, "a" * 64)
    (old.directory / "logins").mkdir(parents=True)
    assert not old.complete  # no completion mark: a killed write is rebuilt, not read
    new = RollupCache.for_data(tmp_path, "b" * 64)
    assert not old.directory.exists() and new.directory.parent == tmp_path


def test_training_reuses_the_rollups_of_the_same_data(world_dir, tmp_path, monkeypatch):
    from healthscore.dataset import training_set_for
    from healthscore.features.rollups import RollupCache
    from healthscore.storage import open_source

    writes = []
    original = RollupCache.ensure

    def counting(self, source):
        writes.append(self.complete)
        return original(self, source)

    monkeypatch.setattr(RollupCache, "ensure", counting)
    source = open_source(world_dir, Config())
    first = training_set_for(source, Config(), tmp_path)
    other = Config().with_overrides(labels={"horizon_days": 60})
    second = training_set_for(source, other, tmp_path)
    assert writes == [False, True]  # built once, then found complete
    assert first.features == second.features
    pd.testing.assert_frame_equal(first.frame[first.features], second.frame[second.features])


def _spelled(ids: pd.Series, every: int, pad: str) -> pd.Series:
    """Every ``every``-th id spelled with ``pad`` around it (the same id once typed)."""
    out = ids.astype("object").copy()
    picked = out.notna() & (pd.RangeIndex(len(out)) % every == 0)
    out[picked] = pad + out[picked] + pad[::-1]
    return out


def test_ids_spelled_with_spaces_give_the_features_of_clean_ids(world_dir, tmp_path):
    """The event logs are grouped and joined on their ids as read, and only the distinct ids
    are typed: ids padded with ASCII or ideographic spaces, a user spelled two ways, blank
    user ids and duplicates that are exact only once typed give the clean data's features."""
    import warnings

    from healthscore.features import features_on
    from healthscore.storage import open_source

    clean_dir, messy_dir = tmp_path / "clean", tmp_path / "messy"
    clean_dir.mkdir()
    messy_dir.mkdir()
    for name in ("accounts", "contracts", "churn_events", "support_tickets", "nps_responses"):
        if (world_dir / f"{name}.parquet").exists():
            frame = pd.read_parquet(world_dir / f"{name}.parquet")
            frame.to_parquet(clean_dir / f"{name}.parquet")
            frame.to_parquet(messy_dir / f"{name}.parquet")
    for name in ("logins", "feature_usage"):
        log = pd.read_parquet(world_dir / f"{name}.parquet")
        log["user_id"] = log["user_id"].astype("object")
        log.loc[log.index % 97 == 0, "user_id"] = None  # no user: the same either way
        messy = log.copy()
        messy["account_id"] = _spelled(_spelled(log["account_id"], 3, " "), 7, "\u3000")
        messy["user_id"] = _spelled(_spelled(log["user_id"], 4, "  "), 11, "\u3000")
        blank = messy.index % 89 == 0  # blank user ids are missing ones
        messy.loc[blank, "user_id"] = " \u3000"
        log.loc[blank, "user_id"] = None
        # Rows repeated in another spelling: duplicates once typed, so they count once.
        again = log.iloc[::50].copy()
        again["account_id"] = again["account_id"] + " "
        again["user_id"] = again["user_id"].where(
            again["user_id"].isna(), "\u3000" + again["user_id"]
        )
        log.to_parquet(clean_dir / f"{name}.parquet")
        pd.concat([messy, again], ignore_index=True).to_parquet(messy_dir / f"{name}.parquet")
    built = {}
    for folder in (clean_dir, messy_dir):
        source = open_source(folder, Config())
        dates = [source.data_end - pd.DateOffset(months=k) for k in (0, 1, 7)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built[folder.name] = features_on(source, dates, Config())
    assert len(built["clean"]) > 500
    assert built["clean"]["usage__logins_30d"].sum() > 0
    pd.testing.assert_frame_equal(built["messy"], built["clean"], check_exact=True)


def test_integer_type_is_the_narrowest_that_holds_the_largest_key():
    from healthscore.features.engine import integer_type

    assert [integer_type(v) for v in (None, float("nan"), 0, 127)] == ["TINYINT"] * 4
    assert [integer_type(v) for v in (128, 32_767)] == ["SMALLINT"] * 2
    assert [integer_type(v) for v in (32_768, 2**31 - 1)] == ["INTEGER"] * 2
    assert integer_type(2**31) == "BIGINT"


def test_keys_wider_than_a_byte_count_every_feature_and_user():
    """The event rows carry feature numbers and users' words in the narrowest type their
    largest value fits: 300 features and 5,000 users of one account (words up to 156)
    need more than a byte, and are each counted once."""
    import warnings

    from healthscore.features import features_on

    day = pd.Timestamp("2024-05-20")
    users = [f"u{i:05d}" for i in range(5_000)]
    features = [f"f{i:03d}" for i in range(300)]
    logins = pd.DataFrame({"account_id": "a", "user_id": users, "ts": day})
    usage = pd.DataFrame(
        {
            "account_id": "a",
            "user_id": [users[i % len(users)] for i in range(len(features) * 20)],
            "feature": [features[i % len(features)] for i in range(len(features) * 20)],
            "ts": day,
        }
    )
    source = source_from_frames(
        {**FRAMES, "logins": logins, "feature_usage": usage}, data_end="2024-06-01"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = features_on(source, ["2024-06-01"], Config()).iloc[0]
    assert built["usage__active_users_30d"] == 5_000
    assert built["usage__logins_30d"] == 5_000
    assert built["adoption__distinct_features_30d"] == 300
    assert built["adoption__feature_events_30d"] == 6_000
    assert built["adoption__events_per_user_30d"] == 6_000 / 5_000
