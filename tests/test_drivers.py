"""The driver rule: shown only when it raises risk and the value is worse than the peers'.

Fixtures are tiny feature tables written as CSV: two peer groups of mid-market accounts in
their first year and SMB accounts over a year old, scored on one date.
"""

import io

import numpy as np
import pandas as pd
import pytest

from healthscore.explain import (
    describe_drivers,
    driver_sentence,
    peer_groups,
    peer_medians,
    risk_points,
    select_drivers,
)
from healthscore.wording import pluralise

FEATURES = """account_id,as_of,segment,stage,logins_90d,escalations_90d,days_since_last_nps
m1,2025-06-01,mid_market,adoption,12,1,10
m2,2025-06-01,mid_market,adoption,85,0,20
m3,2025-06-01,mid_market,adoption,90,0,30
s1,2025-06-01,SMB,mature,2164,0,40
s2,2025-06-01,SMB,mature,300,2,50
s3,2025-06-01,SMB,mature,400,0,60
"""
NAMES = {
    "segment": "account__segment",
    "stage": "contract__lifecycle_stage",
    "logins_90d": "usage__logins_90d",
    "escalations_90d": "support__escalations_90d",
    "days_since_last_nps": "satisfaction__days_since_last_nps",
}


def features() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(FEATURES), parse_dates=["as_of"]).rename(columns=NAMES)


def contributions(rows: dict[str, list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["bias"] = -3.0
    return frame


def test_peers_are_same_segment_and_stage_at_the_same_date():
    groups = peer_groups(features(), min_size=3)
    assert (
        groups["peer_label"].tolist()
        == ["mid-market accounts in their first year"] * 3
        + ["SMB accounts that have been customers for over a year"] * 3
    )
    medians = peer_medians(features(), groups)
    assert medians["usage__logins_90d"].tolist() == [85.0] * 3 + [400.0] * 3


def test_small_peer_groups_widen_and_say_so():
    groups = peer_groups(features(), min_size=4)  # both groups of 3 are too small
    assert set(groups["peer_label"]) == {"all accounts"}
    assert groups["peer_group"].nunique() == 1


def test_a_driver_needs_a_positive_contribution_and_a_value_worse_than_peers():
    table = features()
    medians = peer_medians(table, peer_groups(table, min_size=3))
    shap = contributions(
        {
            # m1: few logins (risky side) and an escalation (risky side): both shown.
            # s1: 2164 logins, far above its peers: its positive contribution is not shown.
            # s2: escalations above the peers: shown; logins below the peers but lowering
            #     risk: not shown. Days since NPS has no direction: never shown.
            "usage__logins_90d": [0.4, 0.1, 0.1, 0.39, -0.2, 0.0],
            "support__escalations_90d": [0.2, 0.0, 0.0, 0.0, 0.3, 0.0],
            "satisfaction__days_since_last_nps": [0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
        }
    )
    drivers = select_drivers(shap, table, medians, n=3)
    assert drivers["driver_1"].tolist() == [
        "usage__logins_90d",
        None,
        None,
        None,
        "support__escalations_90d",
        None,
    ]
    assert drivers.loc[0, "driver_2"] == "support__escalations_90d"
    assert drivers.loc[0, "driver_1_value"] == 12 and drivers.loc[0, "driver_1_peer_value"] == 85
    assert pd.isna(drivers.loc[0, "driver_3"])


def test_sentences_carry_the_peer_figure_and_percentage_points():
    table = features()
    shap = contributions(
        {
            "usage__logins_90d": [0.4, 0.1, 0.1, 0.39, -0.2, 0.0],
            "support__escalations_90d": [0.2, 0.0, 0.0, 0.0, 0.3, 0.0],
            "satisfaction__days_since_last_nps": [0.0] * 6,
        }
    )
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    groups = peer_groups(table, min_size=3)
    drivers = describe_drivers(table, shap, sigmoid, n=2, groups=groups)
    assert drivers.loc[0, "driver_1_text"] == (
        "12 logins in the last 90 days, against a median of 85 for mid-market accounts in "
        "their first year"
    )
    assert drivers.loc[0, "driver_2_text"] == (
        "1 escalated ticket in the last 90 days, against a median of 0 for mid-market "
        "accounts in their first year"
    )
    raw = -3.0 + 0.4 + 0.2
    assert drivers.loc[0, "driver_1_points"] == pytest.approx(
        100 * (sigmoid(raw) - sigmoid(raw - 0.4)), abs=0.01
    )
    assert drivers["top_family"].tolist() == ["usage", None, None, None, "support", None]


def test_rounding_never_makes_the_value_look_like_the_peers():
    # 2 logins against a median of 2.4: shown with one decimal, so the gap stays visible.
    text = driver_sentence("usage__logins_7d", {"usage__logins_7d": 2.0}, 2.4, "all accounts")
    assert text == "2.0 logins in the last 7 days, against a median of 2.4 for all accounts"
    share = driver_sentence(
        "adoption__catalogue_share_90d", {"adoption__catalogue_share_90d": 0.301}, 0.304, "x"
    )
    assert "30.1%" in share and "30.4%" in share


def test_a_change_is_said_only_when_it_went_the_risky_way():
    fell = {"usage__logins_30d": 17.0, "usage__logins_prior_30d": 42.0}
    rose = {"usage__logins_30d": 225.0, "usage__logins_prior_30d": 168.0}
    assert driver_sentence("usage__logins_30d", fell, 30.0, "all accounts").startswith(
        "Logins fell from 42 to 17 over the last 30 days"
    )
    assert driver_sentence("usage__logins_30d", rose, 300.0, "all accounts").startswith(
        "225 logins in the last 30 days, against a median of 300"
    )


def test_risk_points_are_the_probability_the_contribution_adds():
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    points = risk_points(np.array([np.log(3), np.nan]), np.array([0.0, 0.0]), sigmoid)
    assert points[0] == pytest.approx(25.0) and np.isnan(points[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 escalated tickets in the last 90 days", "1 escalated ticket in the last 90 days"),
        ("Latest NPS answer is 1 days old", "Latest NPS answer is 1 day old"),
        ("Last login 1 days ago", "Last login 1 day ago"),
        ("1 high or urgent tickets open", "1 high or urgent ticket open"),
        (
            "Someone logged in on 1 of the last 30 days",
            "Someone logged in on 1 of the last 30 days",
        ),
        ("0 logins in the last 7 days", "0 logins in the last 7 days"),
        ("1.0 feature events per user", "1.0 feature events per user"),
        ("Renewed 1 times", "Renewed 1 time"),
    ],
)
def test_singular_and_plural(text, expected):
    assert pluralise(text) == expected


def test_the_peer_group_keeps_its_plural_after_a_median_of_one():
    text = driver_sentence(
        "usage__logins_prior_30d", {"usage__logins_prior_30d": 0.0}, 1.0, "SMB accounts"
    )
    assert text == "0 logins between 31 and 60 days ago, against a median of 1 for SMB accounts"
