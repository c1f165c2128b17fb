"""Feature values against hand-computed ones, the catalogue, missing inputs and bad input.

The tiny fixture below is read at one snapshot, 2024-03-01, with every window edge placed on
purpose: age 1 = 2024-02-29, age 7 = 02-23, age 30 = 01-31, age 60 = 01-01, age 90 = 12-02.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.features import (
    CATALOGUE,
    FAMILIES,
    FeaturesOffWarning,
    build_features,
    catalogue_frame,
    catalogue_markdown,
    feature_spec,
    features_at,
    sentence,
)
from healthscore.storage import source_from_frames

AS_OF = pd.Timestamp("2024-03-01")
DATA_END = "2024-03-15"

ACCOUNTS = """account_id,created_at,segment,industry,region,employees
a,2023-01-15,smb,saas,emea,40
b,2024-01-01,enterprise,,na,
"""

# c2 renews c1 on the day; c3 is a mid-term upgrade; c4 starts on the snapshot (unseen).
# b's add-on c7 was cancelled on 02-20 (known at the snapshot); a's cancellation of c2 is
# recorded on the snapshot day itself (not known yet).
# c3 starts while c2 runs with the same yearly term, so it co-terms with c2 (renewal
# 2025-02-01). b's contracts are billed monthly: both renew on 2024-03-01, the snapshot day
# (0 days); the current one is c5 (same renewal and start as the add-on c7, smaller id): its
# empty auto_renew stays empty although c7 has one. Lengths are the term in force: 366
# days to 2025-02-01, 29 days of February 2024.
CONTRACTS = """\
contract_id,account_id,start_date,end_date,arr,plan,seats,billing_period,auto_renew,canceled_at
c1,a,2023-02-01,2024-02-01,1000,basic,10,year,true,
c2,a,2024-02-01,2025-02-01,1200,pro,12,year,false,2024-03-01
c3,a,2024-02-15,2025-01-01,300,addon,3,year,true,
c4,a,2024-03-01,2026-03-01,9999,future,99,month,true,
c5,b,2024-01-01,2024-07-01,500,basic,5,month,,
c7,b,2024-01-01,2024-05-01,0,addon,0,month,true,2024-02-20
c6,zz,2023-01-01,2025-01-01,100,basic,1,year,true,
"""

# u1 and u2 both log in on 02-29: one login day, two user-days. u2's 02-23 login is not its
# last before the snapshot, so it must not count u2 twice among active users.
LOGINS = """account_id,user_id,ts
a,u1,2024-02-29T10:00:00
a,u1,2024-02-29T10:00:00
a,u1,2024-02-29T15:00:00
a,u2,2024-02-29T09:00:00
a,u2,2024-02-23T00:00:00
a,u3,2024-02-22T23:59:59
a,u1,2024-01-31T00:00:00
a,u4,2024-01-30T12:00:00
a,u2,2024-01-01T09:00:00
a,u5,2023-12-02T08:00:00
a,u5,2023-12-01T08:00:00
a,u6,2024-03-01T00:00:00
zz,u9,2024-02-28T00:00:00
b,u7,2023-06-01T00:00:00
"""

FEATURE_USAGE = """account_id,feature,ts,user_id,quantity
a,reports,2023-06-01T00:00:00,u1,1
a,reports,2024-02-20T00:00:00,u1,3
a,reports,2024-02-20T00:00:00,u1,3
a,export,2024-02-10T00:00:00,u2,
a,api,2024-01-15T00:00:00,u1,2
a,alerts,2024-02-25T00:00:00,u3,0
b,reports,2024-02-01T00:00:00,u7,5
b,sso,2024-03-01T00:00:00,u7,1
zz,secret,2024-01-01T00:00:00,u9,1
"""

TICKETS = """ticket_id,account_id,opened_at,closed_at,priority,category,csat,escalated
t1,a,2024-02-20T09:00:00,2024-02-22T09:00:00,urgent,bug,2,true
t1,a,2024-02-20T09:00:00,2024-02-22T09:00:00,urgent,bug,2,true
t2,a,2024-02-25T00:00:00,,high,bug,,false
t3,a,2024-01-10T00:00:00,2024-03-05T00:00:00,low,howto,5,true
t4,a,2023-11-01T00:00:00,2024-01-01T00:00:00,normal,billing,4,false
t5,a,2024-03-01T00:00:00,,urgent,bug,,false
t6,b,2024-01-05T00:00:00,2024-03-01T00:00:00,normal,howto,1,true
t7,zz,2024-02-01T00:00:00,,urgent,bug,,true
"""

NPS = """account_id,responded_at,score,user_id
a,2023-08-01T00:00:00,9,u1
a,2023-10-01T00:00:00,8,u2
a,2024-02-01T00:00:00,3,u1
a,2024-02-01T00:00:00,3,u1
a,2024-02-01T00:00:00,5,u2
a,2024-03-01T00:00:00,10,u3
zz,2024-02-01T00:00:00,0,u9
"""

EXPECTED = {  # feature: (account a, account b), computed by hand
    "usage__logins_7d": (4, 0),
    "usage__logins_30d": (6, 0),
    "usage__logins_90d": (9, 0),
    "usage__logins_prior_30d": (2, 0),
    "usage__active_users_7d": (2, 0),
    "usage__active_users_30d": (3, 0),
    "usage__active_users_90d": (5, 0),
    "usage__active_users_prior_30d": (2, 0),
    "usage__seat_utilisation_30d": (3 / 15, 0.0),
    "usage__login_days_30d": (4, 0),
    "usage__logins_trend_30d": (3.0, np.nan),
    "usage__active_users_trend_30d": (1.5, np.nan),
    "usage__logins_vs_avg_90d": (6 / (9 / 3), np.nan),
    "usage__days_since_last_login": (1, 274),
    "adoption__distinct_features_30d": (2, 1),
    "adoption__distinct_features_90d": (3, 1),
    "adoption__feature_events_30d": (4, 5),
    "adoption__catalogue_share_90d": (1.0, 1 / 3),
    "adoption__core_features_30d": (1, 1),
    "adoption__new_features_30d": (1, 1),
    "adoption__events_per_user_30d": (2.0, 5.0),
    "adoption__days_since_core_use": (10, 29),
    "support__tickets_30d": (2, 0),
    "support__tickets_prior_30d": (1, 1),
    "support__tickets_90d": (3, 1),
    "support__tickets_trend_30d": (2.0, 0.0),
    "support__open_tickets": (2, 1),
    "support__open_urgent_tickets": (1, 0),
    "support__urgent_tickets_90d": (2, 0),
    "support__urgent_share_90d": (2 / 3, 0.0),
    "support__escalations_90d": (1, 0),
    "support__mean_resolution_days_90d": (31.5, np.nan),
    "support__mean_csat_90d": (3.0, np.nan),
    "satisfaction__last_nps": (4.0, np.nan),
    "satisfaction__previous_nps": (8.0, np.nan),
    "satisfaction__nps_change": (-4.0, np.nan),
    "satisfaction__days_since_last_nps": (29, np.nan),
    "satisfaction__mean_nps_180d": (16 / 3, np.nan),
    "satisfaction__nps_180d": (-200 / 3, np.nan),
    "satisfaction__detractor_share_180d": (2 / 3, np.nan),
    "satisfaction__responses_180d": (3, 0),
    "contract__tenure_days": (411, 60),
    "contract__lifecycle_stage": ("mature", "onboarding"),
    "contract__days_to_renewal": (337, 0),
    "contract__length_days": (366, 29),
    "contract__renewal_count": (1, 0),
    "contract__arr": (1500, 500),
    "contract__arr_change_90d": (0.5, np.nan),
    "contract__arr_change_180d": (0.5, np.nan),
    "contract__seats": (15, 5),
    "contract__seat_change_90d": (0.5, np.nan),
    "contract__billing_period": ("year", "month"),
    "contract__plan": ("pro", "basic"),
    "contract__auto_renew": (0.0, np.nan),
    "contract__cancellation_known": (0.0, 1.0),
    "account__segment": ("smb", "enterprise"),
    "account__industry": ("saas", np.nan),
    "account__region": ("emea", "na"),
    "account__employees": (40, np.nan),
}


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def tables(**replace: str | None) -> dict[str, pd.DataFrame]:
    texts = {
        "accounts": ACCOUNTS,
        "contracts": CONTRACTS,
        "logins": LOGINS,
        "feature_usage": FEATURE_USAGE,
        "support_tickets": TICKETS,
        "nps_responses": NPS,
    }
    texts.update(replace)
    return {name: _csv(text) for name, text in texts.items() if text is not None}


CONFIG = Config().with_overrides(features={"core_features": ["reports", "alerts"]})
ROWS = pd.DataFrame({"account_id": ["a", "b"], "as_of": [AS_OF, AS_OF]})


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    source = source_from_frames(tables(), data_end=DATA_END)
    return build_features(source, ROWS, CONFIG)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_feature_matches_hand_computed_value(features, name):
    got = features[name].tolist()
    for value, want in zip(got, EXPECTED[name], strict=True):
        if isinstance(want, str):
            assert value == want, name
        elif pd.isna(want):
            assert pd.isna(value), f"{name}: expected missing, got {value}"
        else:
            assert value == pytest.approx(want), name


def test_every_catalogue_feature_is_checked_by_hand():
    assert set(EXPECTED) == {spec.name for spec in CATALOGUE}


def test_output_keys_order_and_dtypes(features):
    assert list(features.columns[:2]) == ["account_id", "as_of"]
    assert list(features.columns[2:]) == [spec.name for spec in CATALOGUE]
    assert features["account_id"].tolist() == ["a", "b"]
    for spec in CATALOGUE:
        column = features[spec.name]
        if spec.kind == "category":
            assert pd.api.types.is_string_dtype(column), spec.name
        else:
            assert column.dtype == "float64", spec.name


def test_rows_come_back_in_the_callers_order_with_repeats():
    source = source_from_frames(tables(), data_end=DATA_END)
    rows = pd.DataFrame(
        {
            "account_id": ["b", "a", "b", "nobody"],
            "as_of": [AS_OF, AS_OF, AS_OF - pd.Timedelta(days=30), AS_OF],
        }
    )
    out = build_features(source, rows, CONFIG)
    assert out["account_id"].tolist() == ["b", "a", "b", "nobody"]
    assert out.loc[1, "usage__logins_30d"] == 6
    assert out.loc[0, "contract__arr"] == 500
    # An account missing from `accounts` gets no events and no contract.
    assert out.loc[3, "usage__logins_30d"] == 0 and pd.isna(out.loc[3, "contract__arr"])


def test_default_core_features_are_the_most_adopted_before_as_of():
    source = source_from_frames(tables(), data_end=DATA_END)
    out = build_features(source, ROWS, Config())
    # Known features before as_of: reports (2 accounts), api, export: all three are core.
    assert out["adoption__core_features_30d"].tolist() == [2, 1]


def test_empty_snapshots_give_an_empty_typed_frame():
    source = source_from_frames(tables(), data_end=DATA_END)
    out = build_features(source, ROWS.iloc[:0], CONFIG)
    assert out.empty and list(out.columns[2:]) == [spec.name for spec in CATALOGUE]


# --- missing inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table,family",
    [
        ("logins", "usage"),
        ("feature_usage", "adoption"),
        ("support_tickets", "support"),
        ("nps_responses", "satisfaction"),
    ],
)
def test_missing_optional_table_switches_its_family_off_with_a_warning(table, family):
    source = source_from_frames(tables(**{table: None}), data_end=DATA_END)
    with pytest.warns(FeaturesOffWarning, match=f"'{table}' is missing"):
        out = build_features(source, ROWS, CONFIG)
    assert not [c for c in out.columns if c.startswith(f"{family}__")]
    others = [
        s.name for s in CATALOGUE if s.family != family and s.name != "usage__seat_utilisation_30d"
    ]
    assert set(others) <= set(out.columns)


def test_missing_optional_columns_switch_off_only_the_features_needing_them():
    frames = tables()
    frames["contracts"] = frames["contracts"].drop(columns=["seats", "plan"])
    frames["support_tickets"] = frames["support_tickets"].drop(columns=["closed_at"])
    frames["feature_usage"] = frames["feature_usage"].drop(columns=["user_id", "quantity"])
    source = source_from_frames(frames, data_end=DATA_END)
    with pytest.warns(FeaturesOffWarning, match="contracts.seats"):
        out = build_features(source, ROWS, CONFIG)
    gone = {
        "usage__seat_utilisation_30d",
        "contract__seats",
        "contract__seat_change_90d",
        "contract__plan",
        "support__open_tickets",
        "support__open_urgent_tickets",
        "support__escalations_90d",
        "support__mean_resolution_days_90d",
        "support__mean_csat_90d",
        "adoption__events_per_user_30d",
    }
    assert gone.isdisjoint(out.columns)
    assert set(EXPECTED) - gone == set(out.columns[2:])
    # Without quantity every row is one event (the 0-quantity row now counts too).
    assert out["adoption__feature_events_30d"].tolist() == [3, 1]
    assert out["support__urgent_tickets_90d"].tolist() == [2, 0]


def test_no_warning_when_everything_is_present():
    import warnings

    source = source_from_frames(tables(), data_end=DATA_END)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_features(source, ROWS, CONFIG)


# --- bad input -----------------------------------------------------------------------------


def test_exact_duplicate_rows_count_once():
    doubled = {
        name: pd.concat([frame, frame], ignore_index=True)
        for name, frame in tables().items()
        if name != "accounts"
    }
    doubled["accounts"] = tables()["accounts"]
    once = build_features(source_from_frames(tables(), data_end=DATA_END), ROWS, CONFIG)
    twice = build_features(source_from_frames(doubled, data_end=DATA_END), ROWS, CONFIG)
    pd.testing.assert_frame_equal(once, twice)


def test_events_of_unknown_accounts_are_ignored():
    frames = tables()
    without = {n: f[f["account_id"] != "zz"] if "account_id" in f else f for n, f in frames.items()}
    with_zz = build_features(source_from_frames(frames, data_end=DATA_END), ROWS, CONFIG)
    without_zz = build_features(source_from_frames(without, data_end=DATA_END), ROWS, CONFIG)
    pd.testing.assert_frame_equal(with_zz, without_zz)


def test_events_on_or_after_data_end_are_ignored_and_later_dates_refused():
    frames = tables()
    late = pd.DataFrame(
        {"account_id": ["a", "a"], "user_id": ["u1", "u8"], "ts": [DATA_END, "2024-04-01T00:00:00"]}
    )
    frames_late = dict(frames, logins=pd.concat([frames["logins"], late], ignore_index=True))
    at_end = pd.DataFrame({"account_id": ["a"], "as_of": [pd.Timestamp("2024-04-01")]})
    source = source_from_frames(frames, data_end="2024-04-01")
    source_late = source_from_frames(frames_late, data_end="2024-04-01")
    before = build_features(source, at_end, CONFIG)
    after = build_features(source_late, at_end, CONFIG)
    assert after["usage__logins_30d"].iloc[0] == before["usage__logins_30d"].iloc[0] + 1
    # A login on data_end itself has not happened yet.
    source_end = source_from_frames(frames_late, data_end=DATA_END)
    with pytest.raises(DataError, match="after the end of the data"):
        build_features(source_end, at_end, CONFIG)


def test_features_at_scores_every_eligible_account_with_the_same_code_path(features):
    source = source_from_frames(tables(), data_end=DATA_END)
    scored = features_at(source, AS_OF, CONFIG)
    assert scored["account_id"].tolist() == ["a", "b"]
    pd.testing.assert_frame_equal(scored, features)
    with pytest.raises(DataError, match="data ends"):
        features_at(source, "2024-04-01", CONFIG)


# --- the catalogue -------------------------------------------------------------------------


def test_catalogue_names_follow_the_house_pattern():
    pattern = re.compile(r"^(usage|adoption|support|satisfaction|contract|account)__[a-z0-9_]+$")
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    for spec in CATALOGUE:
        assert pattern.match(spec.name), spec.name
        assert spec.family in FAMILIES
        assert spec.direction in (-1, 0, 1)
        assert spec.kind in ("number", "category")
        if spec.window_days:
            assert spec.name.endswith("d"), spec.name
        if spec.kind == "category":
            assert spec.direction == 0, spec.name
        assert spec.description.endswith(".") or spec.description.endswith(")")
        if spec.compare_to:
            assert feature_spec(spec.compare_to).family == spec.family
            assert spec.change_text


def test_catalogue_frame_has_one_row_per_feature():
    frame = catalogue_frame()
    assert frame["name"].tolist() == [spec.name for spec in CATALOGUE]
    assert {"family", "table", "window_days", "kind", "direction", "description"} <= set(frame)


def test_sentences_use_actual_values(features):
    row = features.iloc[0].to_dict()
    assert sentence("usage__active_users_30d", row) == (
        "Active users rose from 2 to 3 over the last 30 days"
    )
    assert (
        sentence(
            "usage__active_users_30d",
            {"usage__active_users_30d": 17.0, "usage__active_users_prior_30d": 42.0},
        )
        == "Active users fell from 42 to 17 over the last 30 days"
    )
    assert sentence("satisfaction__last_nps", row) == "NPS answer fell from 8 to 4"
    assert sentence("contract__plan", row) == "On the pro plan"
    assert (
        sentence("usage__days_since_last_login", {"usage__days_since_last_login": np.nan})
        == "Nobody has ever logged in"
    )
    assert sentence("satisfaction__last_nps", {}) == "No NPS answer yet"
    for spec in CATALOGUE:  # every template formats with a value of its kind
        value = "x" if spec.kind == "category" else 1.5
        assert sentence(spec.name, {spec.name: value})


def test_docs_contain_the_generated_catalogue():
    docs = Path(__file__).resolve().parents[1] / "docs" / "features.md"
    assert catalogue_markdown() in docs.read_text(encoding="utf-8"), (
        "docs/features.md is out of date: paste catalogue_markdown() into it"
    )


# --- features.exclude ----------------------------------------------------------------------


def test_excluded_features_and_families_are_left_out():
    source = source_from_frames(tables(), data_end=DATA_END)
    config = CONFIG.with_overrides(features={"exclude": ["support", "contract__plan"]})
    out = build_features(source, ROWS, config)
    assert not [c for c in out.columns if c.startswith("support__")]
    assert "contract__plan" not in out.columns
    assert "contract__arr" in out.columns and "usage__logins_30d" in out.columns


def test_excluding_an_unknown_name_is_a_clear_error():
    from healthscore.errors import ConfigError

    source = source_from_frames(tables(), data_end=DATA_END)
    config = CONFIG.with_overrides(features={"exclude": ["contract__days_to_renewl"]})
    with pytest.raises(ConfigError, match="'contract__days_to_renewl' is neither a feature"):
        build_features(source, ROWS, config)


# --- declared once --------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_computes_exactly_the_features_the_catalogue_declares(family):
    """The SQL aliases of a family are its catalogue names: no feature computed undeclared,
    none declared and never computed."""
    from healthscore.features.build import FAMILY_COMPUTE
    from healthscore.features.catalogue import feature_names
    from healthscore.features.engine import session

    source = source_from_frames(tables(), data_end=DATA_END)
    rows = pd.DataFrame({"account_id": ["a", "b"], "as_of": [AS_OF, AS_OF]})
    with session(source, rows, CONFIG) as run:
        computed = FAMILY_COMPUTE[family](run)
    assert set(computed.columns) - {"_row"} == set(feature_names(family=family))
