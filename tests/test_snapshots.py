"""Observation dates and eligibility."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.errors import ConfigError
from healthscore.snapshots import (
    eligible_accounts,
    make_snapshots,
    observation_dates,
    period_start,
)
from healthscore.storage import source_from_frames

ACCOUNTS = """account_id,created_at
steady,2023-01-01
late_start,2023-01-01
short,2023-01-01
"""

CONTRACTS = """contract_id,account_id,start_date,end_date,arr
k1,steady,2023-01-01,2025-01-01,100
k2,late_start,2023-03-01,2024-03-01,100
k3,short,2023-01-15,2023-04-01,100
k4,ghost,2023-01-01,2025-01-01,100
"""


def _source(contracts: str = CONTRACTS, *, data_end: str = "2023-06-15"):
    return source_from_frames(
        {
            "accounts": pd.read_csv(io.StringIO(ACCOUNTS)),
            "contracts": pd.read_csv(io.StringIO(contracts)),
        },
        data_end=data_end,
    )


def _dates(index: pd.DatetimeIndex) -> list[str]:
    return list(index.strftime("%Y-%m-%d"))


def test_cadences():
    assert _dates(observation_dates("2024-01-01", "2024-03-01")) == [
        "2024-01-01",
        "2024-02-01",
        "2024-03-01",
    ]
    assert _dates(observation_dates("2024-01-02", "2024-03-01")) == ["2024-02-01", "2024-03-01"]
    assert _dates(observation_dates("2024-01-01", "2024-01-20", cadence="week")) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
    ]  # Mondays
    assert _dates(observation_dates("2024-01-01", "2024-12-31", cadence="quarter")) == [
        "2024-01-01",
        "2024-04-01",
        "2024-07-01",
        "2024-10-01",
    ]
    with pytest.raises(ConfigError):
        observation_dates("2024-01-01", "2024-02-01", cadence="daily")


def test_period_start_is_identity_on_cadence_dates():
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2024-02-17", "2024-05-31"]))
    assert _dates(pd.DatetimeIndex(period_start(dates))) == [
        "2024-01-01",
        "2024-02-01",
        "2024-05-01",
    ]
    assert _dates(pd.DatetimeIndex(period_start(dates, cadence="quarter"))) == [
        "2024-01-01",
        "2024-01-01",
        "2024-04-01",
    ]


def test_monthly_snapshots_and_eligibility_edges():
    snapshots = make_snapshots(_source(), Config())
    by_date = snapshots.groupby("as_of")["account_id"].agg(list)
    assert _dates(pd.DatetimeIndex(by_date.index)) == [
        "2023-01-01",
        "2023-02-01",
        "2023-03-01",
        "2023-04-01",
        "2023-05-01",
        "2023-06-01",
    ]
    assert by_date[pd.Timestamp("2023-01-01")] == ["steady"]  # 'short' starts on 01-15
    # The start date is covered, the end date is not.
    assert by_date[pd.Timestamp("2023-03-01")] == ["late_start", "short", "steady"]
    assert by_date[pd.Timestamp("2023-04-01")] == ["late_start", "steady"]
    assert "ghost" not in set(snapshots["account_id"])  # not in accounts
    assert list(snapshots.columns) == ["account_id", "as_of"]
    assert snapshots.equals(snapshots.sort_values(["as_of", "account_id"], ignore_index=True))


def test_range_arguments_override_config_and_stop_at_data_end():
    config = Config().with_overrides(snapshots={"start": "2023-02-01", "end": "2030-01-01"})
    snapshots = make_snapshots(_source(), config)
    assert snapshots["as_of"].min() == pd.Timestamp("2023-02-01")
    assert snapshots["as_of"].max() == pd.Timestamp("2023-06-01")
    only = make_snapshots(_source(), config, start="2023-03-01", end="2023-03-31")
    assert set(only["as_of"]) == {pd.Timestamp("2023-03-01")}


def test_a_snapshot_on_data_end_is_kept_for_scoring():
    snapshots = make_snapshots(_source(data_end="2023-06-01"), Config())
    assert snapshots["as_of"].max() == pd.Timestamp("2023-06-01")


def test_weekly_cadence():
    config = Config().with_overrides(snapshots={"cadence": "week"})
    snapshots = make_snapshots(_source(), config, start="2023-03-01", end="2023-03-31")
    assert sorted(set(snapshots["as_of"].dt.day_name())) == ["Monday"]
    assert snapshots["as_of"].nunique() == 4


def test_eligible_accounts_at_any_date():
    eligible = eligible_accounts(_source(), ["2023-03-31", "2023-04-01"], Config())
    at = eligible.groupby("as_of")["account_id"].agg(list)
    assert at[pd.Timestamp("2023-03-31")] == ["late_start", "short", "steady"]
    assert at[pd.Timestamp("2023-04-01")] == ["late_start", "steady"]


def test_gap_within_grace_is_not_eligible_but_not_churned_either():
    contracts = """contract_id,account_id,start_date,end_date,arr
k1,steady,2023-01-01,2023-03-01,100
k2,steady,2023-03-20,2024-03-20,100
"""
    snapshots = make_snapshots(_source(contracts), Config())
    # Uncovered on 03-01 (between terms), covered again from 04-01.
    assert _dates(pd.DatetimeIndex(snapshots["as_of"])) == [
        "2023-01-01",
        "2023-02-01",
        "2023-04-01",
        "2023-05-01",
        "2023-06-01",
    ]


def test_renewal_mode_anchors_on_the_contract_then_in_force():
    contracts = """contract_id,account_id,start_date,end_date,arr
k1,steady,2023-01-01,2024-01-01,100
k2,steady,2023-08-01,2024-08-01,100
"""
    config = Config().with_overrides(labels={"mode": "renewal", "renewal_offsets_days": [120, 60]})
    snapshots = make_snapshots(_source(contracts, data_end="2024-09-01"), config)
    # k1's end (2024-01-01) is the renewal date only while k2 has not started: 120 days
    # before it (2023-09-03) k2 already runs to 2024-08-01, so only k2's dates remain.
    assert snapshots["renewal_date"].tolist() == pd.to_datetime(["2024-08-01"] * 2).tolist()
    assert _dates(pd.DatetimeIndex(snapshots["as_of"])) == ["2024-04-03", "2024-06-02"]


def test_renewal_mode_rejects_non_positive_offsets():
    config = Config().with_overrides(labels={"mode": "renewal", "renewal_offsets_days": [0]})
    with pytest.raises(ConfigError, match="positive"):
        make_snapshots(_source(), config)


def test_observation_starts_when_activity_is_recorded_not_at_old_contracts():
    """Contracts from before the event logs began get no snapshots: they carry no behaviour."""
    from healthscore.snapshots import default_start

    accounts = pd.read_csv(io.StringIO("account_id,created_at\nA,2019-06-01\nB,2023-02-10\n"))
    contracts = pd.read_csv(
        io.StringIO(
            "contract_id,account_id,start_date,end_date,arr\n"
            "c1,A,2020-01-01,2026-01-01,1000\nc2,B,2023-02-10,2024-02-10,500\n"
        )
    )
    logins = pd.read_csv(io.StringIO("account_id,user_id,ts\nA,u,2023-01-15\nB,v,2023-03-01\n"))
    source = source_from_frames(
        {"accounts": accounts, "contracts": contracts, "logins": logins}, data_end="2023-06-01"
    )
    assert default_start(source) == pd.Timestamp("2023-01-15")
    snapshots = make_snapshots(source, Config())
    assert snapshots["as_of"].min() == pd.Timestamp("2023-02-01")
    without_logins = source_from_frames(
        {"accounts": accounts, "contracts": contracts}, data_end="2023-06-01"
    )
    assert default_start(without_logins) == pd.Timestamp("2020-01-01")
