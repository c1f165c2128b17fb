"""Tests of the simulator: determinism, the data contract, and the planted truths.

Small worlds check the contract row by row; one medium world (module fixture) checks the
generator's statistics and that behaviour differs by true cause the way docs/simulator.md
says. The seed is printed so a failure can be reproduced.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from healthscore.synthetic import (
    CAUSES,
    CORE_FEATURES,
    FEATURES,
    REASON_CAUSE,
    World,
    generate_world,
    oracle_churn_probability,
)

SEED = 20240611
REQUIRED = {
    "accounts": ["account_id", "created_at"],
    "contracts": ["contract_id", "account_id", "start_date", "end_date", "arr"],
    "logins": ["account_id", "user_id", "ts"],
    "feature_usage": ["account_id", "feature", "ts"],
    "support_tickets": ["ticket_id", "account_id", "opened_at"],
    "nps_responses": ["account_id", "responded_at", "score"],
    "churn_events": ["account_id", "churned_at"],
}
EVENT_TIME = {
    "logins": "ts",
    "feature_usage": "ts",
    "support_tickets": "opened_at",
    "nps_responses": "responded_at",
}


@pytest.fixture(scope="module")
def small_world() -> World:
    print(f"small world seed={SEED}")
    return generate_world(400, start="2024-01-01", end="2025-07-01", seed=SEED)


@pytest.fixture(scope="module")
def medium_world() -> World:
    print(f"medium world seed={SEED}")
    return generate_world(2000, start="2023-01-01", end="2026-01-01", seed=SEED)


def _churned(world: World) -> pd.DataFrame:
    truth = world.truth["accounts"]
    return truth[truth["churned_at"].notna()].set_index("account_id")


# --- determinism -----------------------------------------------------------------------


def test_same_seed_gives_identical_tables() -> None:
    first = generate_world(150, start="2024-01-01", end="2024-10-01", seed=SEED)
    second = generate_world(150, start="2024-01-01", end="2024-10-01", seed=SEED)
    for name in first.tables:
        pd.testing.assert_frame_equal(first.tables[name], second.tables[name])
    for name in first.truth:
        pd.testing.assert_frame_equal(first.truth[name], second.truth[name])


def test_different_seed_gives_different_tables() -> None:
    first = generate_world(150, start="2024-01-01", end="2024-10-01", seed=SEED)
    other = generate_world(150, start="2024-01-01", end="2024-10-01", seed=SEED + 1)
    assert not first.tables["logins"].equals(other.tables["logins"])
    assert not first.tables["accounts"].equals(other.tables["accounts"])


# --- the data contract -----------------------------------------------------------------


def test_tables_have_the_contract_columns_and_types(small_world: World) -> None:
    for name, columns in REQUIRED.items():
        table = small_world.tables[name]
        assert set(columns) <= set(table.columns), name
        for column in table.columns:
            values = table[column]
            if column.endswith("_id") or column in ("feature", "reason", "segment"):
                assert pd.api.types.is_string_dtype(values), (name, column)
            if column in (
                "ts",
                "created_at",
                "start_date",
                "end_date",
                "opened_at",
                "closed_at",
                "responded_at",
                "churned_at",
            ):
                assert pd.api.types.is_datetime64_dtype(values), (name, column)
                assert getattr(values.dt, "tz", None) is None, (name, column)
        required_times = [c for c in columns if pd.api.types.is_datetime64_dtype(table[c])]
        assert not table[required_times].isna().any().any(), name
    accounts = small_world.tables["accounts"]
    assert accounts["account_id"].str.fullmatch(r"A\d{6}").all()
    assert accounts["account_id"].is_unique
    assert set(accounts["segment"]) <= {"SMB", "mid_market", "enterprise"}
    assert small_world.data_end == pd.Timestamp("2025-07-01")


def test_no_event_outside_the_observed_period(small_world: World) -> None:
    for name, column in EVENT_TIME.items():
        stamps = small_world.tables[name][column]
        assert (stamps < small_world.data_end).all(), name
        assert (stamps >= small_world.data_start).all(), name
    tickets = small_world.tables["support_tickets"]
    assert (tickets["closed_at"].dropna() < small_world.data_end).all()
    assert (small_world.tables["accounts"]["created_at"] < small_world.data_end).all()
    contracts = small_world.tables["contracts"]
    assert (contracts["start_date"] < small_world.data_end).all()


def test_events_belong_to_known_accounts_while_they_are_customers(small_world: World) -> None:
    accounts = small_world.tables["accounts"].set_index("account_id")
    churned_at = small_world.truth["accounts"].set_index("account_id")["churned_at"]
    for name, column in EVENT_TIME.items():
        events = small_world.tables[name]
        assert events["account_id"].isin(accounts.index).all(), name
        created = accounts.loc[events["account_id"], "created_at"].to_numpy()
        churn = churned_at.loc[events["account_id"]].to_numpy()
        stamps = events[column].to_numpy()
        assert (stamps >= created).all(), name
        assert not (stamps >= churn).any(), name  # NaT (still a customer) compares False


def test_ticket_and_survey_values_are_in_range(small_world: World) -> None:
    tickets = small_world.tables["support_tickets"]
    closed = tickets.dropna(subset=["closed_at"])
    assert (closed["closed_at"] >= closed["opened_at"]).all()
    assert tickets["closed_at"].isna().any() or len(tickets) < 50
    csat = tickets["csat"].dropna()
    assert csat.between(1, 5).all() and (csat == csat.round()).all()
    assert set(tickets["priority"]) <= {"low", "normal", "high", "urgent"}
    assert tickets["escalated"].dtype == bool
    assert tickets["ticket_id"].is_unique
    scores = small_world.tables["nps_responses"]["score"]
    assert pd.api.types.is_integer_dtype(scores) and scores.between(0, 10).all()


def test_feature_usage_has_one_row_per_user_feature_and_day(small_world: World) -> None:
    usage = small_world.tables["feature_usage"]
    assert set(usage["feature"]) <= set(FEATURES)
    assert (usage["ts"] == usage["ts"].dt.normalize()).all()
    assert (usage["quantity"] >= 1).all()
    assert not usage.duplicated(["account_id", "user_id", "feature", "ts"]).any()
    assert (usage["user_id"].str.slice(0, 7) == usage["account_id"]).all()


def test_churned_accounts_end_their_last_contract_on_the_churn_date(small_world: World) -> None:
    contracts = small_world.tables["contracts"].sort_values(["account_id", "start_date"])
    churned = _churned(small_world)
    last_end = contracts.groupby("account_id")["end_date"].max()
    last_start = contracts.groupby("account_id")["start_date"].max()
    assert (last_end.loc[churned.index] == churned["churned_at"]).all()
    assert (last_start.loc[churned.index] < churned["churned_at"]).all()
    events = small_world.tables["churn_events"].set_index("account_id")
    assert set(events.index) == set(churned.index)
    assert (events.loc[churned.index, "churned_at"] == churned["churned_at"]).all()


def test_accounts_still_customers_have_a_contract_covering_data_end(small_world: World) -> None:
    contracts = small_world.tables["contracts"]
    truth = small_world.truth["accounts"]
    alive = set(truth.loc[truth["churned_at"].isna(), "account_id"])
    end = small_world.data_end
    covering = contracts[(contracts["start_date"] <= end) & (contracts["end_date"] > end)]
    assert alive == set(covering["account_id"])


def test_contract_terms_follow_each_other_without_gaps(small_world: World) -> None:
    contracts = small_world.tables["contracts"].sort_values(["account_id", "start_date"])
    assert set(contracts["account_id"]) == set(small_world.tables["accounts"]["account_id"])
    assert (contracts["end_date"] > contracts["start_date"]).all()
    following = contracts.groupby("account_id")["start_date"].shift(-1)
    has_next = following.notna()
    assert (following[has_next] == contracts.loc[has_next, "end_date"]).all()
    monthly = contracts[contracts["billing_period"] == "month"]
    assert ((monthly["end_date"] - monthly["start_date"]).dt.days <= 32).all()
    assert (contracts["arr"] > 0).all() and (contracts["seats"] >= 1).all()


def test_accounts_already_customers_at_start_have_running_contracts(small_world: World) -> None:
    accounts = small_world.tables["accounts"]
    existing = accounts.loc[accounts["created_at"] < small_world.data_start, "account_id"]
    assert len(existing) > 0.2 * len(accounts)
    first = small_world.tables["contracts"].groupby("account_id")["start_date"].min()
    assert (first.loc[existing] <= small_world.data_start).all()


# --- the truth tables and the oracle ---------------------------------------------------


def test_hazard_table_agrees_with_its_causes_and_the_churns(small_world: World) -> None:
    hazard = small_world.truth["hazard"]
    assert (hazard["month"] == hazard["month"].dt.to_period("M").dt.start_time).all()
    assert hazard["hazard"].between(0, 1).all()
    parts = hazard[[f"hazard_{cause}" for cause in CAUSES]].to_numpy()
    np.testing.assert_allclose(1 - np.prod(1 - parts, axis=1), hazard["hazard"], atol=1e-12)
    decided = hazard.dropna(subset=["decision_date"])
    assert (decided["decision_date"].dt.to_period("M").dt.start_time == decided["month"]).all()
    assert (hazard.loc[hazard["decision_date"].isna(), "hazard"] == 0).all()
    churned = _churned(small_world)
    at_churn = hazard.merge(churned["churned_at"], left_on="account_id", right_index=True)
    at_churn = at_churn[at_churn["decision_date"] == at_churn["churned_at"]]
    assert len(at_churn) == len(churned) and at_churn["alive"].all()
    assert (at_churn["hazard"] > 0).all()


ORACLE_HAZARD_CSV = """account_id,month,hazard,decision_date
A1,2024-01-01,0.1,2024-01-15
A1,2024-02-01,0.2,2024-02-15
A1,2024-03-01,0.5,2024-03-15
A2,2024-01-01,0.3,
A2,2024-02-01,0.0,
"""


def test_oracle_counts_each_term_end_inside_the_window() -> None:
    hazard = pd.read_csv(io.StringIO(ORACLE_HAZARD_CSV), parse_dates=["month", "decision_date"])
    snapshots = pd.DataFrame(
        {
            "account_id": ["A1", "A1", "A1", "A9"],
            "as_of": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-02-14", "2024-01-01"]),
        },
        index=[10, 11, 12, 13],
    )
    got = oracle_churn_probability(hazard, snapshots, horizon_days=31)
    assert list(got.index) == [10, 11, 12, 13]
    # (Jan 1, Feb 1] holds the Jan 15 term end; (Jan 15, Feb 15] only Feb 15; (Feb 14,
    # Mar 16] Feb 15 and Mar 15; an account without hazard rows never churns.
    np.testing.assert_allclose(got, [0.1, 0.2, 1 - 0.8 * 0.5, 0.0])
    lead = oracle_churn_probability(hazard, snapshots.iloc[:1], horizon_days=31, lead_days=31)
    np.testing.assert_allclose(lead, [0.9 * 0.2])  # survive Jan 15, then churn Feb 15


def test_oracle_spreads_a_month_without_term_end_evenly_over_its_days() -> None:
    hazard = pd.read_csv(io.StringIO(ORACLE_HAZARD_CSV), parse_dates=["month", "decision_date"])
    snapshots = pd.DataFrame(
        {"account_id": ["A2", "A2"], "as_of": pd.to_datetime(["2024-01-01", "2024-01-16"])}
    )
    got = oracle_churn_probability(hazard, snapshots, horizon_days=10)
    expected = 1 - 0.7 ** (10 / 31)
    np.testing.assert_allclose(got, [expected, expected])


def _monthly_snapshots(world: World) -> pd.DataFrame:
    """First of each month an account is under contract, windows ending before data_end."""
    contracts = world.tables["contracts"]
    last = world.data_end - pd.Timedelta(days=91)
    frames = []
    for as_of in pd.date_range(world.data_start, last, freq="MS"):
        covered = contracts[(contracts["start_date"] <= as_of) & (contracts["end_date"] > as_of)]
        frames.append(pd.DataFrame({"account_id": covered["account_id"].unique(), "as_of": as_of}))
    snapshots = pd.concat(frames, ignore_index=True)
    churned_at = world.truth["accounts"].set_index("account_id")["churned_at"]
    churn = churned_at.loc[snapshots["account_id"]].to_numpy()
    window_end = (snapshots["as_of"] + pd.Timedelta(days=90)).to_numpy()
    snapshots["label"] = (churn > snapshots["as_of"].to_numpy()) & (churn <= window_end)
    return snapshots


def test_oracle_auc_is_realistic(medium_world: World) -> None:
    snapshots = _monthly_snapshots(medium_world)
    oracle = oracle_churn_probability(medium_world.truth["hazard"], snapshots)
    auc = roc_auc_score(snapshots["label"], oracle)
    print(f"oracle AUC {auc:.3f} over {len(snapshots)} snapshots")
    assert 0.75 <= auc <= 0.92
    calibration = oracle.mean() / snapshots["label"].mean()
    assert 0.85 <= calibration <= 1.15


# --- generator statistics --------------------------------------------------------------


def test_monthly_churn_and_early_churn_share(medium_world: World) -> None:
    churned = _churned(medium_world)
    alive_months = medium_world.truth["hazard"]["alive"].sum()
    monthly_churn = len(churned) / alive_months
    created = medium_world.tables["accounts"].set_index("account_id")["created_at"]
    tenure = (churned["churned_at"] - created.loc[churned.index]).dt.days
    early_share = (tenure <= 90).mean()
    print(f"monthly churn {monthly_churn:.4f}, early share {early_share:.3f}")
    assert 0.015 <= monthly_churn <= 0.03
    assert 0.25 <= early_share <= 0.45


def test_every_cause_occurs_and_the_log_mostly_agrees(medium_world: World) -> None:
    churned = _churned(medium_world)
    mix = churned["cause"].value_counts(normalize=True)
    print(mix.round(3).to_dict())
    assert set(mix.index) == set(CAUSES)
    assert mix["budget"] < 0.1 and mix["random"] < 0.1
    log = medium_world.tables["churn_events"].set_index("account_id")
    agreement = (log.loc[churned.index, "reason"].map(REASON_CAUSE) == churned["cause"]).mean()
    assert 0.6 <= agreement <= 0.95


def test_segments_and_billing_look_like_a_saas_book(medium_world: World) -> None:
    accounts = medium_world.tables["accounts"]
    share = accounts["segment"].value_counts(normalize=True)
    assert abs(share["SMB"] - 0.6) < 0.05 and abs(share["enterprise"] - 0.1) < 0.03
    first = (
        medium_world.tables["contracts"]
        .sort_values("start_date")
        .groupby("account_id")
        .first()
        .join(accounts.set_index("account_id"))
    )
    monthly = first["billing_period"].eq("month").groupby(first["segment"]).mean()
    assert monthly["SMB"] > 0.7 and monthly["enterprise"] == 0
    seats = first.groupby("segment")["seats"].median()
    assert seats["SMB"] < seats["mid_market"] < seats["enterprise"]


def _per_cause(values: pd.Series, churned: pd.DataFrame) -> pd.Series:
    return values.reindex(churned.index).groupby(churned["cause"]).mean()


def test_usage_decay_churners_log_in_less_before_leaving(medium_world: World) -> None:
    churned = _churned(medium_world)
    eligible = churned[(churned["churned_at"] - pd.Timedelta(days=180) >= medium_world.data_start)]
    logins = medium_world.tables["logins"].merge(
        eligible["churned_at"], left_on="account_id", right_index=True
    )
    before = (logins["churned_at"] - logins["ts"]).dt.days
    recent = logins[before < 60].groupby("account_id").size() / 60
    earlier = logins[(before >= 60) & (before < 180)].groupby("account_id").size() / 120
    ratio = np.log(
        (recent.reindex(eligible.index, fill_value=0) + 0.05)
        / (earlier.reindex(eligible.index, fill_value=0) + 0.05)
    )
    by_cause = ratio.groupby(eligible["cause"]).mean()
    others = ratio[eligible["cause"] != "usage_decay"].mean()
    print(by_cause.round(3).to_dict())
    assert by_cause["usage_decay"] < others - 0.3


def test_support_friction_churners_open_more_tickets(medium_world: World) -> None:
    churned = _churned(medium_world)
    tickets = medium_world.tables["support_tickets"].merge(
        churned["churned_at"], left_on="account_id", right_index=True
    )
    recent = tickets[(tickets["churned_at"] - tickets["opened_at"]).dt.days < 90]
    counts = recent.groupby("account_id").size().reindex(churned.index, fill_value=0)
    escalated = recent[recent["escalated"]].groupby("account_id").size()
    escalated = escalated.reindex(churned.index, fill_value=0)
    friction = churned["cause"] == "support_friction"
    assert counts[friction].mean() > 1.5 * counts[~friction].mean()
    assert escalated[friction].mean() > 3 * escalated[~friction].mean()


def test_detractors_score_lower_nps(medium_world: World) -> None:
    churned = _churned(medium_world)
    scores = medium_world.tables["nps_responses"].groupby("account_id")["score"].mean()
    by_cause = _per_cause(scores, churned)
    assert by_cause["detractor"] < by_cause.drop("detractor").min() - 0.5


def test_onboarding_failures_leave_early_with_few_active_users(medium_world: World) -> None:
    churned = _churned(medium_world)
    accounts = medium_world.tables["accounts"].set_index("account_id")
    tenure = (churned["churned_at"] - accounts.loc[churned.index, "created_at"]).dt.days
    failed = churned["cause"] == "onboarding_failure"
    assert (tenure[failed] <= 120).all()
    new = accounts.index[accounts["created_at"] >= medium_world.data_start]
    logins = medium_world.tables["logins"]
    logins = logins[logins["account_id"].isin(new)]
    since = (logins["ts"] - accounts.loc[logins["account_id"], "created_at"].to_numpy()).dt.days
    users = logins[since < 30].groupby("account_id")["user_id"].nunique()
    first_seats = (
        medium_world.tables["contracts"]
        .sort_values("start_date")
        .groupby("account_id")["seats"]
        .first()
    )
    active_share = users.reindex(new, fill_value=0) / first_seats.loc[new]
    cause = medium_world.truth["accounts"].set_index("account_id")["cause"].loc[new]
    failed_share = active_share[cause == "onboarding_failure"].mean()
    others_share = active_share[cause != "onboarding_failure"].mean()
    assert failed_share < 0.7 * others_share


def test_core_features_are_the_most_used(small_world: World) -> None:
    usage = small_world.tables["feature_usage"]
    rows = usage["feature"].value_counts()
    assert set(rows.index[: len(CORE_FEATURES) - 1]) <= set(CORE_FEATURES)


def test_a_period_starting_and_ending_mid_month_keeps_the_contract() -> None:
    world = generate_world(150, start="2024-02-15", end="2025-03-10", seed=SEED)
    test_no_event_outside_the_observed_period(world)
    test_events_belong_to_known_accounts_while_they_are_customers(world)
    test_churned_accounts_end_their_last_contract_on_the_churn_date(world)
    test_accounts_still_customers_have_a_contract_covering_data_end(world)
    test_contract_terms_follow_each_other_without_gaps(world)
