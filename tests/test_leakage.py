"""Leakage: nothing dated on or after ``as_of`` may change a snapshot's features.

A small but rich fixture (six accounts with renewals, an upgrade, a churn and a win-back,
every event table, duplicates and an unknown account) is perturbed at random after a
cut-off: rows dated on or after it are deleted, added and altered (including a ticket's
``closed_at`` moved but kept on or after the cut-off, its rating and escalation flag, NPS
answers, contracts that start later), and rows are *rewritten* the way real exports rewrite
them: the ``end_date`` of a contract running at the cut-off moves anywhere on or after it,
with a cancellation recorded that day. Every feature of every snapshot on or before the
cut-off must stay identical. The seed is printed; set ``HEALTHSCORE_LEAKAGE_SEED`` to replay.

Two controls show the check has teeth: the same change one second *before* the cut-off
does change features, and a builder that leaks one day is caught.

The Spark engine runs the same check (``test_on_spark_*``): in the default run, one random
round at the last cut-off, whose features on or before it must equal DuckDB's unperturbed
ones (so the one build checks leakage and equality at once); with ``make test-spark``
(``spark_full``) one round per cut-off and the control, since each build starts Spark jobs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.features import CATALOGUE, build_features
from healthscore.storage import source_from_frames

DATA_END = pd.Timestamp("2024-07-01")
START = pd.Timestamp("2023-01-01")
DATES = pd.to_datetime(["2023-09-01", "2024-01-01", "2024-03-15", "2024-06-01"])
ACCOUNTS = ["a1", "a2", "a3", "a4", "a5", "a6"]
SEED = int(os.environ.get("HEALTHSCORE_LEAKAGE_SEED", "20240601"))
ROUNDS = 6
SPARK_ROUNDS = 1
CONFIG = Config()

Tables = dict[str, pd.DataFrame]


def _times(rng: np.random.Generator, n: int, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    seconds = rng.integers(0, int((hi - lo).total_seconds()), n)
    return pd.Series(lo + pd.to_timedelta(seconds, unit="s"))


def rich_tables(seed: int = 7) -> Tables:
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {
            "account_id": ACCOUNTS,
            "created_at": pd.to_datetime(
                ["2022-11-15", "2023-01-01", "2023-02-10", "2023-03-01", "2022-06-01", "2023-05-20"]
            ),
            "segment": ["smb", "mid_market", "enterprise", "smb", "mid_market", None],
            "industry": ["saas", "retail", "finance", "saas", "health", "retail"],
            "region": ["emea", "na", "na", "apac", "emea", "na"],
            "employees": [40, 300, 5000, 25, 800, np.nan],
        }
    )
    contracts = pd.DataFrame(
        [
            ("c1", "a1", "2023-01-01", "2024-01-01", 12000, "pro", 10, "year", True),
            ("c2", "a1", "2024-01-01", "2025-01-01", 15000, "pro", 12, "year", True),
            ("c3", "a2", "2023-01-01", "2023-07-01", 6000, "basic", 5, "month", False),
            ("c4", "a2", "2023-07-20", "2024-07-20", 6500, "basic", 6, "month", False),
            ("c5", "a2", "2023-11-01", "2024-07-20", 3000, "addon", 4, "month", False),
            ("c6", "a3", "2023-02-10", "2024-02-10", 50000, "enterprise", 100, "year", True),
            ("c7", "a3", "2024-02-10", "2025-02-10", 42000, "enterprise", 80, "year", True),
            ("c8", "a4", "2023-03-01", "2023-09-01", 3000, "basic", 3, "month", False),
            ("c9", "a4", "2024-01-15", "2025-01-15", 3600, "basic", 3, "month", True),
            ("c10", "a5", "2022-06-01", "2023-06-01", 20000, "pro", 20, "year", True),
            ("c11", "a5", "2023-06-01", "2024-06-01", 24000, "pro", 25, "year", False),
            ("c12", "a6", "2023-05-20", "2024-05-20", 9000, "pro", 8, "year", None),
            ("c13", "zz", "2023-01-01", "2025-01-01", 1000, "pro", 1, "year", True),
        ],
        columns=[
            "contract_id",
            "account_id",
            "start_date",
            "end_date",
            "arr",
            "plan",
            "seats",
            "billing_period",
            "auto_renew",
        ],
    )
    contracts["start_date"] = pd.to_datetime(contracts["start_date"])
    contracts["end_date"] = pd.to_datetime(contracts["end_date"])
    # a6 gave notice on 2024-02-01 (its contract still runs to term end); c9 was signed to a
    # scheduled end beside its end_date.
    contracts["canceled_at"] = pd.to_datetime(
        np.where(contracts["contract_id"] == "c12", "2024-02-01", None)
    )
    contracts["scheduled_end"] = pd.to_datetime(
        np.where(contracts["contract_id"] == "c9", "2025-01-15", None)
    )
    everyone = [*ACCOUNTS, "zz"]
    n = 1500
    logins = pd.DataFrame(
        {
            "account_id": rng.choice(everyone, n),
            "user_id": np.minimum(rng.geometric(0.3, n), 9).astype(str),
            "ts": _times(rng, n, START, DATA_END),
        }
    )
    logins["user_id"] = logins["account_id"] + "_u" + logins["user_id"]
    logins = pd.concat([logins, logins.sample(40, random_state=seed)], ignore_index=True)
    features = [f"f{k}" for k in range(1, 9)]
    m = 1200
    usage = pd.DataFrame(
        {
            "account_id": rng.choice(everyone, m),
            "feature": rng.choice(features, m, p=np.arange(8, 0, -1) / 36),
            "ts": _times(rng, m, START, DATA_END),
            "user_id": rng.integers(1, 5, m).astype(str),
            "quantity": np.where(rng.random(m) < 0.2, np.nan, rng.integers(0, 5, m)),
        }
    )
    launched = usage["feature"].isin(["f7", "f8"])  # launched later: new adoptions
    usage.loc[launched, "ts"] = _times(
        rng, int(launched.sum()), pd.Timestamp("2023-12-01"), DATA_END
    ).to_numpy()
    k = 160
    opened = _times(rng, k, START, DATA_END)
    closed = (opened + pd.to_timedelta(rng.integers(3600, 40 * 86400, k), unit="s")).where(
        rng.random(k) > 0.15
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(k)],
            "account_id": rng.choice(everyone, k),
            "opened_at": opened,
            "closed_at": closed,
            "priority": rng.choice(["low", "normal", "high", "urgent"], k),
            "category": rng.choice(["bug", "billing", "howto"], k),
            "csat": np.where(closed.isna() | (rng.random(k) < 0.3), np.nan, rng.integers(1, 6, k)),
            "escalated": rng.random(k) < 0.25,
        }
    )
    r = 120
    nps = pd.DataFrame(
        {
            "account_id": rng.choice(everyone, r),
            "responded_at": _times(rng, r, START, DATA_END),
            "score": rng.integers(0, 11, r),
            "user_id": rng.integers(1, 5, r).astype(str),
        }
    )
    return {
        "accounts": accounts,
        "contracts": contracts,
        "logins": logins,
        "feature_usage": usage,
        "support_tickets": tickets,
        "nps_responses": nps,
    }


ROWS = pd.DataFrame([(a, d) for d in DATES for a in ACCOUNTS], columns=["account_id", "as_of"])


def _build(tables: Tables, rows: pd.DataFrame = ROWS) -> pd.DataFrame:
    return build_features(source_from_frames(tables, data_end=DATA_END), rows, CONFIG)


# --- random changes on or after a cut-off --------------------------------------------------


def _later(rng: np.random.Generator, cutoff: pd.Timestamp, n: int) -> pd.Series:
    """Times on or after ``cutoff`` (a fifth of them exactly on it), some past the data's end."""
    seconds = rng.integers(0, 120 * 86400, n)
    seconds[rng.random(n) < 0.2] = 0
    return pd.Series(cutoff + pd.to_timedelta(seconds, unit="s"))


def _drop_some(frame: pd.DataFrame, late: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    candidates = frame.index[late]
    size = min(len(candidates), int(rng.integers(0, 8)))
    return frame.drop(rng.choice(candidates, size=size, replace=False))


def _pick(frame: pd.DataFrame, late: pd.Series, rng: np.random.Generator) -> pd.Index:
    candidates = frame.index[late]
    return pd.Index(rng.choice(candidates, size=min(len(candidates), 6), replace=False))


def _events(
    frame: pd.DataFrame,
    time: str,
    cutoff: pd.Timestamp,
    rng: np.random.Generator,
    fresh: Callable[[int], pd.DataFrame],
    alter: dict[str, Callable[[int], object]],
) -> pd.DataFrame:
    frame = _drop_some(frame, frame[time] >= cutoff, rng)
    frame = frame.copy()
    chosen = _pick(frame, frame[time] >= cutoff, rng)
    frame.loc[chosen, time] = _later(rng, cutoff, len(chosen)).to_numpy()
    for column, values in alter.items():
        frame.loc[chosen, column] = values(len(chosen))
    added = fresh(int(rng.integers(1, 10)))
    added[time] = _later(rng, cutoff, len(added)).to_numpy()
    return pd.concat([frame, added], ignore_index=True)


def perturb(tables: Tables, cutoff: pd.Timestamp, rng: np.random.Generator) -> Tables:
    """Delete, add and alter rows dated on or after ``cutoff``; nothing before it."""
    out = dict(tables)
    who = [*ACCOUNTS, "zz"]

    def ids(n: int) -> np.ndarray:
        return rng.choice(who, n)

    out["logins"] = _events(
        tables["logins"],
        "ts",
        cutoff,
        rng,
        lambda n: pd.DataFrame({"account_id": ids(n), "user_id": rng.choice(["x", "a1_u1"], n)}),
        {"user_id": lambda n: rng.choice(["new", "a2_u3"], n)},
    )
    out["feature_usage"] = _events(
        tables["feature_usage"],
        "ts",
        cutoff,
        rng,
        lambda n: pd.DataFrame(
            {
                "account_id": ids(n),
                "feature": rng.choice(["f1", "f9"], n),
                "user_id": "9",
                "quantity": rng.integers(0, 9, n),
            }
        ),
        {
            "quantity": lambda n: rng.integers(0, 9, n),
            "feature": lambda n: rng.choice(["f2", "f9"], n),
        },
    )
    out["nps_responses"] = _events(
        tables["nps_responses"],
        "responded_at",
        cutoff,
        rng,
        lambda n: pd.DataFrame(
            {"account_id": ids(n), "score": rng.integers(0, 11, n), "user_id": "9"}
        ),
        {"score": lambda n: rng.integers(0, 11, n)},
    )
    tickets = _events(
        tables["support_tickets"],
        "opened_at",
        cutoff,
        rng,
        lambda n: pd.DataFrame(
            {
                "ticket_id": [f"new{i}" for i in range(n)],
                "account_id": ids(n),
                "closed_at": pd.NaT,
                "priority": "urgent",
                "category": "bug",
                "csat": 1.0,
                "escalated": True,
            }
        ),
        {"priority": lambda n: rng.choice(["low", "urgent"], n), "escalated": lambda n: True},
    )
    # Tickets open at the cut-off: their closing, rating and escalation are still future.
    still_open = (tickets["opened_at"] < cutoff) & (
        tickets["closed_at"].isna() | (tickets["closed_at"] >= cutoff)
    )
    chosen = _pick(tickets, still_open, rng)
    closes = _later(rng, cutoff, len(chosen)).where(rng.random(len(chosen)) < 0.7)
    tickets.loc[chosen, "closed_at"] = closes.to_numpy()
    tickets.loc[chosen, "csat"] = rng.integers(1, 6, len(chosen))
    tickets.loc[chosen, "escalated"] = rng.random(len(chosen)) < 0.5
    out["support_tickets"] = tickets
    contracts = _drop_some(tables["contracts"], tables["contracts"]["start_date"] >= cutoff, rng)
    contracts = contracts.copy()
    chosen = _pick(contracts, contracts["start_date"] >= cutoff, rng)
    contracts.loc[chosen, "end_date"] = contracts.loc[chosen, "start_date"] + pd.to_timedelta(
        rng.integers(1, 400, len(chosen)), "D"
    )
    contracts.loc[chosen, "arr"] = rng.integers(1, 90000, len(chosen))
    contracts.loc[chosen, "plan"] = "changed"
    # Rewritten rows: a billing system overwrites the end date of a contract running at the
    # cut-off (a cancellation recorded on or after it), anywhere from the cut-off on.
    running = (contracts["start_date"] < cutoff) & (contracts["end_date"] >= cutoff)
    chosen = _pick(contracts, running, rng)
    rewritten = _later(rng, cutoff, len(chosen)).dt.normalize()
    contracts.loc[chosen, "end_date"] = rewritten.to_numpy()
    recorded = contracts.loc[chosen, "canceled_at"]
    unrecorded = recorded.isna() | (recorded >= cutoff)  # a recorded cancellation is history
    contracts.loc[unrecorded[unrecorded].index, "canceled_at"] = rewritten[
        unrecorded.to_numpy()
    ].to_numpy()
    n = int(rng.integers(1, 4))
    starts = _later(rng, cutoff, n).dt.normalize()
    added = pd.DataFrame(
        {
            "contract_id": [f"n{i}" for i in range(n)],
            "account_id": ids(n),
            "start_date": starts,
            "end_date": starts + pd.to_timedelta(rng.integers(30, 400, n), "D"),
            "arr": rng.integers(1, 90000, n),
            "plan": "future",
            "seats": 999,
            "billing_period": "month",
            "auto_renew": True,
            "canceled_at": pd.NaT,
            "scheduled_end": pd.NaT,
        }
    )
    out["contracts"] = pd.concat([contracts, added], ignore_index=True)
    return out


def _leaks(
    builder: Callable[[Tables], pd.DataFrame],
    tables: Tables,
    baseline: pd.DataFrame,
    cutoff: pd.Timestamp,
    rng: np.random.Generator,
) -> list[str]:
    """Features of snapshots on or before ``cutoff`` that changed under a perturbation."""
    changed = builder(perturb(tables, cutoff, rng))
    keep = baseline["as_of"] <= cutoff
    before, after = baseline[keep], changed[keep]
    differs = []
    for spec in CATALOGUE:
        if spec.name not in baseline.columns:
            continue
        b, a = before[spec.name], after[spec.name]
        same = (b == a) | (b.isna() & a.isna())
        if not same.all():
            differs.append(f"{spec.name} at {before.loc[~same, ['account_id', 'as_of']].values[0]}")
    return differs


@pytest.fixture(scope="module")
def tables() -> Tables:
    return rich_tables()


@pytest.fixture(scope="module")
def baseline(tables) -> pd.DataFrame:
    return _build(tables)


def test_fixture_gives_every_feature_non_trivial_values(baseline):
    for spec in CATALOGUE:
        values = baseline[spec.name].dropna()
        assert values.nunique() >= 2, f"{spec.name} is constant in the leakage fixture"


@pytest.mark.parametrize("cutoff", DATES, ids=lambda d: f"{d:%Y-%m-%d}")
def test_changes_on_or_after_as_of_never_change_features(tables, baseline, cutoff):
    print(f"leakage seed: {SEED} (replay with HEALTHSCORE_LEAKAGE_SEED={SEED})")
    rng = np.random.default_rng([SEED, int(cutoff.value // 10**9)])
    for round_ in range(ROUNDS):
        leaks = _leaks(_build, tables, baseline, cutoff, rng)
        assert not leaks, f"seed {SEED}, round {round_}: changed {leaks}"


def _just_before(tables: Tables, cutoff: pd.Timestamp) -> Tables:
    """The kind of change ``perturb`` makes, one second (or one day) before ``cutoff``."""
    out = dict(tables)
    moment = cutoff - pd.Timedelta(seconds=1)
    out["logins"] = pd.concat(
        [
            tables["logins"],
            pd.DataFrame({"account_id": ["a1"], "user_id": ["late"], "ts": [moment]}),
        ],
        ignore_index=True,
    )
    out["feature_usage"] = pd.concat(
        [
            tables["feature_usage"],
            pd.DataFrame(
                {
                    "account_id": ["a1"],
                    "feature": ["f9"],
                    "ts": [moment],
                    "user_id": ["9"],
                    "quantity": [3],
                }
            ),
        ],
        ignore_index=True,
    )
    out["nps_responses"] = pd.concat(
        [
            tables["nps_responses"],
            pd.DataFrame(
                {"account_id": ["a1"], "responded_at": [moment], "score": [0], "user_id": ["9"]}
            ),
        ],
        ignore_index=True,
    )
    out["support_tickets"] = pd.concat(
        [
            tables["support_tickets"],
            pd.DataFrame(
                {
                    "ticket_id": ["late"],
                    "account_id": ["a1"],
                    "opened_at": [moment],
                    "closed_at": [pd.NaT],
                    "priority": ["urgent"],
                    "category": ["bug"],
                    "csat": [np.nan],
                    "escalated": [False],
                }
            ),
        ],
        ignore_index=True,
    )
    out["contracts"] = pd.concat(
        [
            tables["contracts"],
            pd.DataFrame(
                {
                    "contract_id": ["late"],
                    "account_id": ["a1"],
                    "start_date": [cutoff - pd.Timedelta(days=1)],
                    "end_date": [cutoff + pd.Timedelta(days=400)],
                    "arr": [1.0],
                    "plan": ["x"],
                    "seats": [1],
                    "billing_period": ["month"],
                    "auto_renew": [False],
                    "canceled_at": [pd.NaT],
                    "scheduled_end": [pd.NaT],
                }
            ),
        ],
        ignore_index=True,
    )
    return out


@pytest.mark.parametrize("cutoff", DATES, ids=lambda d: f"{d:%Y-%m-%d}")
def test_control_the_same_changes_just_before_as_of_do_show(tables, baseline, cutoff):
    changed = _build(_just_before(tables, cutoff))
    row = (baseline["account_id"] == "a1") & (baseline["as_of"] == cutoff)
    for family in ("usage", "adoption", "support", "satisfaction", "contract"):
        names = [s.name for s in CATALOGUE if s.family == family]
        before, after = baseline.loc[row, names].iloc[0], changed.loc[row, names].iloc[0]
        assert not before.equals(after), f"{family} features ignored a change before as_of"


def test_control_a_builder_that_leaks_one_day_is_caught(tables):
    def leaky(frames: Tables) -> pd.DataFrame:
        shifted = ROWS.assign(as_of=ROWS["as_of"] + pd.Timedelta(days=1))
        return _build(frames, shifted).assign(as_of=ROWS["as_of"])

    baseline = leaky(tables)
    rng = np.random.default_rng(SEED)
    caught = any(_leaks(leaky, tables, baseline, cutoff, rng) for cutoff in DATES for _ in range(2))
    assert caught, "the leakage check did not notice a one-day leak"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_control_rewritten_end_dates_leak_when_the_term_is_unknown(tables):
    """Without billing_period the old reading trusts end_date, and the rewrites show."""

    def without_terms(frames: Tables) -> pd.DataFrame:
        contracts = frames["contracts"].drop(columns=["billing_period", "scheduled_end"])
        return _build({**frames, "contracts": contracts})

    baseline = without_terms(tables)
    rng = np.random.default_rng(SEED)
    leaks = [
        leak
        for cutoff in DATES
        for _ in range(2)
        for leak in _leaks(without_terms, tables, baseline, cutoff, rng)
    ]
    assert any(leak.startswith("contract__days_to_renewal") for leak in leaks), leaks


# --- the same checks on the Spark engine ----------------------------------------------------


@pytest.fixture(scope="module")
def spark_build(spark) -> Callable[..., pd.DataFrame]:
    from healthscore.spark.features import features_frame
    from healthscore.spark.source import spark_source_from_frames

    def build(tables: Tables, rows: pd.DataFrame = ROWS) -> pd.DataFrame:
        source = spark_source_from_frames(tables, CONFIG, spark=spark, data_end=DATA_END)
        return features_frame(source, rows, CONFIG)

    return build


@pytest.fixture(scope="module")
def spark_baseline(spark_build, tables) -> pd.DataFrame:
    return spark_build(tables)


@pytest.mark.slow
@pytest.mark.spark
def test_on_spark_changes_on_or_after_the_last_cutoff_leave_duckdbs_features(
    spark_build, tables, baseline
):
    cutoff = DATES[-1]
    print(f"leakage seed: {SEED} (replay with HEALTHSCORE_LEAKAGE_SEED={SEED})")
    changed = spark_build(perturb(tables, cutoff, np.random.default_rng([SEED, 1])))
    keep = baseline["as_of"] <= cutoff
    pd.testing.assert_frame_equal(
        baseline[keep], changed[keep], check_exact=False, rtol=0, atol=1e-9
    )


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.spark_full
def test_on_spark_the_fixture_gives_duckdbs_features(baseline, spark_baseline):
    pd.testing.assert_frame_equal(baseline, spark_baseline, check_exact=False, rtol=0, atol=1e-9)


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.spark_full
@pytest.mark.parametrize("cutoff", DATES, ids=lambda d: f"{d:%Y-%m-%d}")
def test_on_spark_changes_on_or_after_as_of_never_change_features(
    spark_build, tables, spark_baseline, cutoff
):
    print(f"leakage seed: {SEED} (replay with HEALTHSCORE_LEAKAGE_SEED={SEED})")
    rng = np.random.default_rng([SEED, int(cutoff.value // 10**9)])
    for round_ in range(SPARK_ROUNDS):
        leaks = _leaks(spark_build, tables, spark_baseline, cutoff, rng)
        assert not leaks, f"seed {SEED}, round {round_}: changed {leaks}"


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.spark_full
def test_on_spark_control_the_same_changes_just_before_as_of_do_show(
    spark_build, tables, spark_baseline
):
    cutoff = DATES[1]
    changed = spark_build(_just_before(tables, cutoff))
    row = (spark_baseline["account_id"] == "a1") & (spark_baseline["as_of"] == cutoff)
    for family in ("usage", "adoption", "support", "satisfaction", "contract"):
        names = [s.name for s in CATALOGUE if s.family == family]
        before = spark_baseline.loc[row, names].iloc[0]
        after = changed.loc[row, names].iloc[0]
        assert not before.equals(after), f"{family} features ignored a change before as_of"
