"""Churn dates and labels, tested like a spreadsheet: contracts with the expected labels beside.

Defaults unless a test says otherwise: grace 30 days, lead 0, horizon 90 days. From the
snapshot 2024-01-01 the label window is (2024-01-01, 2024-03-31]: 2024 is a leap year.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.labels import churn_dates, churns_from_contracts, make_labels
from healthscore.snapshots import make_snapshots
from healthscore.storage import source_from_frames

AS_OF = pd.Timestamp("2024-01-01")


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"expected": "float64"})


def _source(contracts: pd.DataFrame, *, data_end: str = "2025-01-01", **extra: pd.DataFrame):
    accounts = pd.DataFrame(
        {"account_id": sorted(set(contracts["account_id"])), "created_at": "2023-01-01"}
    )
    contracts = contracts.drop(columns="expected", errors="ignore")
    frames = {"accounts": accounts, "contracts": contracts}
    return source_from_frames({**frames, **extra}, data_end=data_end)


def _labels_at(source, config: Config, dates: list[str]) -> pd.DataFrame:
    snapshots = make_snapshots(source, config, start=dates[0], end=dates[-1])
    snapshots = snapshots[snapshots["as_of"].isin(pd.to_datetime(dates))]
    return make_labels(snapshots, churn_dates(source, config), config, data_end=source.data_end)


def _check(labels: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = labels.set_index("account_id")["label"]
    for row in expected.itertuples():
        if pd.isna(row.expected):
            assert row.account_id not in got.index or pd.isna(got[row.account_id]), row
        else:
            assert got[row.account_id] == row.expected, row.account_id


WINDOW_EDGES = """account_id,contract_id,start_date,end_date,arr,expected
ends_day_after,k1,2023-06-01,2024-01-02,100,1
ends_on_last_day,k2,2023-06-01,2024-03-31,100,1
ends_day_after_window,k3,2023-06-01,2024-04-01,100,0
ends_on_as_of,k4,2023-06-01,2024-01-01,100,
starts_on_as_of,k5,2024-01-01,2025-01-01,100,0
"""


def test_contract_ending_on_each_window_edge():
    contracts = _csv(WINDOW_EDGES)
    labels = _labels_at(_source(contracts), Config(), ["2024-01-01"])
    # A contract ending on as_of (exclusive end) no longer covers it: no snapshot at all.
    assert "ends_on_as_of" not in set(labels["account_id"])
    _check(labels, contracts)
    churned = labels.set_index("account_id")["churned_at"]
    assert churned["ends_on_last_day"] == pd.Timestamp("2024-03-31")
    assert pd.isna(churned["ends_day_after_window"])


LEAD = """account_id,contract_id,start_date,end_date,arr,expected
churns_in_lead,k1,2023-06-01,2024-01-20,100,1
churns_on_window_start,k2,2023-06-01,2024-01-31,100,1
churns_on_window_end,k3,2023-06-01,2024-04-30,100,1
churns_after_window,k4,2023-06-01,2024-05-01,100,0
"""


def test_lead_shifts_the_window_and_lead_churns_count():
    config = Config().with_overrides(labels={"lead_days": 30})  # window (01-31, 04-30]
    contracts = _csv(LEAD)
    _check(_labels_at(_source(contracts), config, ["2024-01-01"]), contracts)


GRACE = """account_id,contract_id,start_date,end_date,arr,expected
renews_on_the_day,k1,2023-02-01,2024-02-01,100,0
renews_on_the_day,k2,2024-02-01,2025-02-01,100,0
renews_last_grace_day,k3,2023-02-01,2024-02-01,100,0
renews_last_grace_day,k4,2024-03-02,2025-03-02,100,0
renews_day_too_late,k5,2023-02-01,2024-02-01,100,1
renews_day_too_late,k6,2024-03-03,2025-03-03,100,1
never_renews,k7,2023-02-01,2024-02-01,100,1
"""


def test_renewal_inside_and_just_outside_the_grace_period():
    contracts = _csv(GRACE)
    labels = _labels_at(_source(contracts), Config(), ["2024-01-01"])
    _check(labels, contracts.drop_duplicates("account_id"))
    churns = churn_dates(_source(contracts), Config())
    late = churns[churns["account_id"] == "renews_day_too_late"]
    assert late["churned_at"].tolist() == [pd.Timestamp("2024-02-01")]


def test_win_back_is_eligible_again_and_can_churn_again():
    contracts = _csv("""account_id,contract_id,start_date,end_date,arr
w,k1,2023-01-01,2023-06-01,100
w,k2,2023-09-01,2024-03-01,100
""")
    source = _source(contracts)
    churns = churn_dates(source, Config())
    assert churns["churned_at"].tolist() == pd.to_datetime(["2023-06-01", "2024-03-01"]).tolist()
    snapshots = make_snapshots(source, Config(), end="2024-06-01")
    months = snapshots["as_of"].dt.strftime("%Y-%m").tolist()
    assert months == [
        "2023-01",
        "2023-02",
        "2023-03",
        "2023-04",
        "2023-05",
        "2023-09",
        "2023-10",
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]
    labels = make_labels(snapshots, churns, Config(), data_end=source.data_end)
    by_month = dict(zip(months, labels["label"], strict=True))
    # 2023-03-01 + 90 days = 05-30, before the churn on 06-01; 2023-12-01 + 90 = 2024-02-29.
    assert [by_month[m] for m in ("2023-03", "2023-04", "2023-05")] == [0, 1, 1]
    assert [by_month[m] for m in ("2023-12", "2024-01", "2024-02")] == [0, 1, 1]


MID_TERM_UPGRADE = """account_id,contract_id,start_date,end_date,arr,expected
upgraded,k1,2023-01-01,2024-01-15,100,0
upgraded,k2,2023-07-01,2024-07-01,150,0
"""


def test_mid_term_upgrade_end_of_the_old_term_is_not_churn():
    contracts = _csv(MID_TERM_UPGRADE)
    source = _source(contracts)
    assert churn_dates(source, Config())["churned_at"].tolist() == [pd.Timestamp("2024-07-01")]
    _check(_labels_at(source, Config(), ["2024-01-01"]), contracts.drop_duplicates("account_id"))
    later = _labels_at(source, Config(), ["2024-05-01"]).set_index("account_id")
    assert later.loc["upgraded", "label"] == 1


EVENTS_VS_CONTRACTS = """account_id,contract_id,start_date,end_date,arr,contracts,churn_events
cancels_early,k1,2023-06-01,2024-06-01,100,0,1
logged_late,k2,2023-06-01,2024-03-20,100,1,0
"""


def test_churn_events_versus_contract_churn():
    table = pd.read_csv(io.StringIO(EVENTS_VS_CONTRACTS))
    events = pd.DataFrame(
        {
            "account_id": ["cancels_early", "logged_late", "stranger"],
            "churned_at": ["2024-03-15", "2024-04-15", "2024-02-01"],
        }
    )
    source = _source(table.drop(columns=["contracts", "churn_events"]), churn_events=events)
    for churn_source in ("contracts", "churn_events"):
        config = Config().with_overrides(labels={"churn_source": churn_source})
        labels = _labels_at(source, config, ["2024-01-01"]).set_index("account_id")["label"]
        assert labels.to_dict() == table.set_index("account_id")[churn_source].to_dict()
    config = Config().with_overrides(labels={"churn_source": "churn_events"})
    churns = churn_dates(source, config)
    assert "stranger" not in set(churns["account_id"])  # not in accounts
    # Logged as churned while the contract still runs: no longer eligible.
    april = make_snapshots(source, config, start="2024-04-01", end="2024-04-01")
    assert april["account_id"].tolist() == []
    assert make_snapshots(source, Config(), start="2024-04-01", end="2024-04-01")[
        "account_id"
    ].tolist() == ["cancels_early"]


def test_churn_events_table_required_when_configured():
    config = Config().with_overrides(labels={"churn_source": "churn_events"})
    with pytest.raises(DataError, match="no churn_events table"):
        churn_dates(_source(_csv(WINDOW_EDGES)), config)


def _one(as_of: str, account: str = "x") -> pd.DataFrame:
    return pd.DataFrame({"account_id": [account], "as_of": [pd.Timestamp(as_of)]})


@pytest.mark.parametrize(
    "churn_source,as_of,censored",
    [
        # data_end 2024-05-01. Logged churns: the window's last day must lie before data_end.
        ("churn_events", "2024-01-31", False),  # window ends 04-30
        ("churn_events", "2024-02-01", True),  # window ends 05-01 = data_end: not yet seen
        # Contract churn is known grace_days later: window end + 30 must lie before data_end.
        ("contracts", "2024-01-01", False),  # window ends 03-31, known 04-30
        ("contracts", "2024-01-02", True),  # window ends 04-01, known 05-01
    ],
)
def test_censoring_at_the_end_of_the_data(churn_source, as_of, censored):
    config = Config().with_overrides(labels={"churn_source": churn_source})
    no_churn = pd.DataFrame(
        {
            "account_id": pd.Series([], dtype="str"),
            "churned_at": pd.Series([], dtype="datetime64[us]"),
        }
    )
    labels = make_labels(_one(as_of), no_churn, config, data_end=pd.Timestamp("2024-05-01"))
    assert labels["censored"].iloc[0] == censored
    assert pd.isna(labels["label"].iloc[0]) if censored else labels["label"].iloc[0] == 0


def test_censored_rows_are_never_labelled_even_with_a_known_churn():
    churns = pd.DataFrame({"account_id": ["x"], "churned_at": [pd.Timestamp("2024-03-01")]})
    labels = make_labels(_one("2024-02-15"), churns, Config(), data_end=pd.Timestamp("2024-05-01"))
    row = labels.iloc[0]
    assert row["censored"] and np.isnan(row["label"])
    assert row["churned_at"] == pd.Timestamp("2024-03-01")


def test_unconfirmed_contract_churn_is_not_a_churn_yet():
    terms = pd.DataFrame(
        {
            "account_id": ["x"],
            "start_date": [pd.Timestamp("2023-06-01")],
            "end_date": [pd.Timestamp("2024-04-10")],
        }
    )

    def churned(data_end: str) -> list:
        return churns_from_contracts(terms, grace_days=30, data_end=pd.Timestamp(data_end))[
            "churned_at"
        ].tolist()

    assert churned("2024-05-10") == []  # 04-10 + 30 = 05-10: that day is not observed yet
    assert churned("2024-05-11") == [pd.Timestamp("2024-04-10")]


def test_contracts_and_events_after_data_end_are_ignored():
    contracts = _csv("""account_id,contract_id,start_date,end_date,arr
x,k1,2023-01-01,2024-01-01,100
x,k2,2024-06-01,2025-06-01,100
""")
    source = _source(contracts, data_end="2024-03-01")  # k2 has not started yet
    assert churn_dates(source, Config())["churned_at"].tolist() == [pd.Timestamp("2024-01-01")]
    events = pd.DataFrame({"account_id": ["x"], "churned_at": ["2024-03-01"]})
    source = _source(contracts, data_end="2024-03-01", churn_events=events)
    config = Config().with_overrides(labels={"churn_source": "churn_events"})
    assert churn_dates(source, config).empty


RENEWAL = """account_id,contract_id,start_date,end_date,arr,expected
renews,k1,2023-01-01,2024-01-01,100,0
renews,k2,2024-01-01,2025-01-01,100,
leaves,k3,2023-01-01,2024-01-01,100,1
"""


def test_renewal_anchored_snapshots_and_labels():
    config = Config().with_overrides(labels={"mode": "renewal"})
    contracts = _csv(RENEWAL)
    source = _source(contracts, data_end="2024-03-01")
    snapshots = make_snapshots(source, config)
    first_term = snapshots[snapshots["renewal_date"] == pd.Timestamp("2024-01-01")]
    expected_dates = pd.to_datetime(["2023-07-05", "2023-09-03", "2023-10-03", "2023-11-02"])
    for account in ("renews", "leaves"):
        dates = first_term.loc[first_term["account_id"] == account, "as_of"]
        assert dates.tolist() == expected_dates.tolist()
    labels = make_labels(snapshots, churn_dates(source, config), config, data_end=source.data_end)
    by_account = labels[~labels["censored"]].groupby("account_id")["label"].agg(set)
    assert by_account.to_dict() == {"renews": {0.0}, "leaves": {1.0}}
    # The renewed term's own renewal (2025-01-01) is not observable yet.
    assert labels.loc[snapshots["renewal_date"] == pd.Timestamp("2025-01-01"), "censored"].all()


def test_renewal_mode_needs_the_renewal_date():
    config = Config().with_overrides(labels={"mode": "renewal"})
    with pytest.raises(DataError, match="renewal_date"):
        make_labels(
            _one("2024-01-01"),
            pd.DataFrame(columns=["account_id", "churned_at"]),
            config,
            data_end=pd.Timestamp("2025-01-01"),
        )


def test_labels_keep_the_snapshots_order_and_index_free():
    churns = pd.DataFrame({"account_id": ["y"], "churned_at": [pd.Timestamp("2023-03-01")]})
    snapshots = pd.DataFrame(
        {
            "account_id": ["y", "x", "y"],
            "as_of": pd.to_datetime(["2023-02-01", "2023-01-01", "2023-01-01"]),
        },
        index=[7, 3, 5],
    )
    labels = make_labels(snapshots, churns, Config(), data_end=pd.Timestamp("2024-01-01"))
    assert labels["account_id"].tolist() == ["y", "x", "y"]
    assert labels["label"].tolist() == [1.0, 0.0, 1.0]
    assert labels.columns.tolist() == ["account_id", "as_of", "label", "censored", "churned_at"]


@pytest.mark.parametrize("seed", [3, 4])
def test_churns_from_sorted_terms_equal_those_from_any_order(seed):
    """Terms already in coverage order take a shorter path; it must give the same churns."""
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    n = 3000
    account = rng.choice(["A", "a", "a1", "a_1", "b", "é", "Ω"] + [f"k{i}" for i in range(400)], n)
    start = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1200, n), "D")
    length = rng.choice([1, 20, 31, 90, 365, 366, 700], n)
    end = (start + pd.to_timedelta(length, "D")).astype("datetime64[us]")
    open_ended = rng.random(n) < 0.02  # "never ends", as some exports write it
    terms = pd.DataFrame(
        {
            "account_id": pd.Series(account, dtype="str"),
            "start_date": start.astype("datetime64[us]"),
            "end_date": end.where(~open_ended, pd.Timestamp("9999-12-31").as_unit("us")),
        }
    )
    data_end = pd.Timestamp("2024-06-01")
    ordered = terms.sort_values(["account_id", "start_date", "end_date"], ignore_index=True)
    for grace_days in (0, 30):
        want = churns_from_contracts(terms, grace_days=grace_days, data_end=data_end)
        got = churns_from_contracts(ordered, grace_days=grace_days, data_end=data_end)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert len(want) > 100
        as_objects = ordered.astype({"account_id": "object"})
        pd.testing.assert_frame_equal(
            churns_from_contracts(as_objects, grace_days=grace_days, data_end=data_end),
            churns_from_contracts(
                terms.astype({"account_id": "object"}), grace_days=grace_days, data_end=data_end
            ),
            check_exact=True,
        )
