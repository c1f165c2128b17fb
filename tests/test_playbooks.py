"""Playbooks: the shipped catalogue, the rules as a table of cases, touch tiers, due dates,
the deterministic holdout, and the errors a person gets for a broken catalogue."""

from __future__ import annotations

import io
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config, TouchConfig
from healthscore.errors import ConfigError, SchemaError
from healthscore.playbooks import (
    FAMILIES,
    OUTPUT_COLUMNS,
    catalogue_from_dict,
    holdout_draws,
    load_playbooks,
    recommend_playbooks,
)
from healthscore.touch import assign_touch_tiers

TOUCH = Config().touch
AS_OF = pd.Timestamp("2024-01-01", tz="UTC")
DEFAULT_TEXT = (resources.files("healthscore") / "defaults" / "playbooks.toml").read_text("utf-8")

# One account per line; empty cells are missing values. `playbook` and `rule` are expected.
RULE_CASES = """\
case,risk_tier,lifecycle_stage,top_family,days_to_renewal,seat_util,trend,playbook,rule
healthy_growing_near_seat_limit,healthy,mature,,200,0.90,1.20,expansion,healthy_expansion
healthy_exactly_at_thresholds,healthy,mature,,200,0.85,1.00,expansion,healthy_expansion
healthy_seats_just_below,healthy,mature,,200,0.84,1.20,monitor,healthy
healthy_usage_shrinking,healthy,mature,,200,0.95,0.99,monitor,healthy
healthy_trend_missing,healthy,mature,,200,0.95,,monitor,healthy
healthy_with_support_driver,healthy,mature,support,10,,,monitor,healthy
onboarding_usage,at_risk,onboarding,usage,200,,,onboarding_rescue,onboarding
onboarding_adoption_watch,watch,onboarding,adoption,200,,,onboarding_rescue,onboarding
onboarding_contract_renewal_soon,at_risk,onboarding,contract,30,,,onboarding_rescue,onboarding
onboarding_account,at_risk,onboarding,account,,,,onboarding_rescue,onboarding
onboarding_support_goes_to_support,at_risk,onboarding,support,200,,,support_escalation,support_friction
onboarding_detractor_goes_to_sponsor,at_risk,onboarding,satisfaction,200,,,exec_sponsor,detractor
onboarding_no_driver_renewal_soon,at_risk,onboarding,,30,,,renewal_review,no_driver_renewal_due
support_beats_renewal_timing,at_risk,mature,support,20,,,support_escalation,support_friction
detractor,watch,mature,satisfaction,300,,,exec_sponsor,detractor
usage_decay_renewal_soon,at_risk,mature,usage,10,,,usage_reengagement,usage_decay
usage_decay_stage_missing,at_risk,,usage,,,,usage_reengagement,usage_decay
narrow_adoption,at_risk,adoption,adoption,200,,,adoption_campaign,narrow_adoption
contract_renewal_far,at_risk,mature,contract,300,,,renewal_review,commercial
contract_renewal_unknown,watch,mature,contract,,,,renewal_review,commercial
account_family,at_risk,adoption,account,200,,,renewal_review,commercial
no_driver_renewal_in_60,at_risk,mature,,60,,,renewal_review,no_driver_renewal_due
no_driver_renewal_in_exactly_90,watch,mature,,90,,,renewal_review,no_driver_renewal_due
no_driver_renewal_in_91,at_risk,mature,,91,,,usage_reengagement,no_driver
no_driver_renewal_unknown,at_risk,mature,,,,,usage_reengagement,no_driver
"""


def accounts_from(csv_text: str, **columns: object) -> pd.DataFrame:
    """Accounts from a CSV case table, with the columns scoring would add."""
    cases = pd.read_csv(io.StringIO(csv_text))
    accounts = pd.DataFrame(
        {
            "account_id": "acct-" + cases["case"],
            "as_of": AS_OF,
            "risk_tier": cases["risk_tier"],
            "churn_probability": 0.3,
            "arr": 20_000.0,
            "lifecycle_stage": cases["lifecycle_stage"],
            "days_to_renewal": cases["days_to_renewal"].astype("float64"),
            "top_family": cases["top_family"],
            "usage__seat_utilisation_30d": cases["seat_util"].astype("float64"),
            "usage__logins_trend_30d": cases["trend"].astype("float64"),
        }
    )
    return accounts.assign(**columns)


@pytest.fixture(scope="module")
def catalogue():
    return load_playbooks()


@pytest.fixture(scope="module")
def rule_table():
    return pd.read_csv(io.StringIO(RULE_CASES)).set_index("case")


@pytest.fixture(scope="module")
def recommended(catalogue):
    accounts = accounts_from(RULE_CASES)
    recommendations = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    return recommendations.set_index(accounts["account_id"].str.removeprefix("acct-"))


@pytest.mark.parametrize("case", pd.read_csv(io.StringIO(RULE_CASES))["case"])
def test_rule_table(case, recommended, rule_table):
    expected = rule_table.loc[case]
    got = recommended.loc[case]
    assert (got["playbook_id"], got["rule"]) == (expected["playbook"], expected["rule"])


def test_every_shipped_rule_and_playbook_is_exercised(catalogue, rule_table):
    assert set(rule_table["rule"]) == {rule.name for rule in catalogue.rules}
    assert set(rule_table["playbook"]) == {playbook.id for playbook in catalogue.playbooks}


def test_shipped_catalogue_is_complete(catalogue):
    assert [p.id for p in catalogue.playbooks] == [
        "onboarding_rescue", "usage_reengagement", "adoption_campaign", "support_escalation",
        "exec_sponsor", "renewal_review", "expansion", "monitor",
    ]  # fmt: skip
    for playbook in catalogue.playbooks:
        assert 3 <= len(playbook.actions) <= 5, playbook.id
        assert playbook.description and playbook.title


def test_true_churn_causes_map_to_their_playbooks(catalogue):
    """The product promise: an at-risk account whose top driver is the churn cause gets its play."""
    cause_to_play = {
        ("onboarding", "adoption"): "onboarding_rescue",
        ("mature", "usage"): "usage_reengagement",
        ("adoption", "adoption"): "adoption_campaign",
        ("mature", "support"): "support_escalation",
        ("mature", "satisfaction"): "exec_sponsor",
        ("mature", "contract"): "renewal_review",
    }
    for days in (15.0, 200.0):  # renewal timing never overrides the driver
        accounts = pd.DataFrame(
            {
                "account_id": [f"a{i}" for i in range(len(cause_to_play))],
                "as_of": AS_OF,
                "risk_tier": "at_risk",
                "arr": 30_000.0,
                "lifecycle_stage": [stage for stage, _ in cause_to_play],
                "top_family": [family for _, family in cause_to_play],
                "days_to_renewal": days,
            }
        )
        out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
        assert out["playbook_id"].tolist() == list(cause_to_play.values())


def test_output_columns_dtypes_and_index(catalogue):
    accounts = accounts_from(RULE_CASES).set_index(pd.Index(range(100, 125)))
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.1)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert out.index.equals(accounts.index)
    assert out["account_id"].tolist() == accounts["account_id"].tolist()
    assert out["holdout"].dtype == bool
    assert out["due_by"].dtype == accounts["as_of"].dtype
    assert out["arr_at_risk"].dtype == "float64"
    assert out["arr_at_risk"].iloc[0] == pytest.approx(0.3 * 20_000)
    for column in ("playbook_id", "playbook_title", "playbook_actions", "channel", "owner", "rule"):
        assert pd.api.types.is_string_dtype(out[column]), column
        assert not out[column].str.contains("\n").any(), column
    support = out[out["playbook_id"] == "support_escalation"].iloc[0]
    assert support["playbook_actions"].count(" | ") == 3


def test_inputs_are_not_mutated(catalogue):
    accounts = accounts_from(RULE_CASES, renewal_date=pd.NaT)
    before = accounts.copy(deep=True)
    recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.5)
    pd.testing.assert_frame_equal(accounts, before)


def test_minimal_input_without_optional_columns(catalogue):
    accounts = pd.DataFrame(
        {"account_id": ["a", "b"], "as_of": AS_OF, "risk_tier": ["healthy", "at_risk"], "arr": 1.0}
    )
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    assert out["rule"].tolist() == ["healthy", "no_driver"]
    assert out["arr_at_risk"].isna().all()


def test_empty_input(catalogue):
    accounts = accounts_from(RULE_CASES).iloc[:0]
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.1)
    assert tuple(out.columns) == OUTPUT_COLUMNS and len(out) == 0


def test_top_family_derived_from_family_columns_when_absent(catalogue):
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "as_of": AS_OF,
            "risk_tier": "at_risk",
            "arr": 20_000.0,
            "days_to_renewal": 200.0,
            "family__usage": [0.2, -0.1, -0.3],
            "family__support": [0.1, 0.4, np.nan],  # adoption etc. absent: count as 0
        }
    )
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    assert out["rule"].tolist() == ["usage_decay", "support_friction", "no_driver"]


# ------------------------------------------------------------------------------ touch tiers


@pytest.mark.parametrize(
    ("arr", "tier", "owner"),
    [
        (1_000_000.0, "high_touch", "account CSM"),
        (50_000.0, "high_touch", "account CSM"),
        (49_999.99, "low_touch", "pooled CS team"),
        (10_000.0, "low_touch", "pooled CS team"),
        (9_999.99, "tech_touch", "automated sequence"),
        (0.0, "tech_touch", "automated sequence"),
        (np.nan, "tech_touch", "automated sequence"),
    ],
)
def test_touch_tier_boundaries(arr, tier, owner, catalogue):
    assert assign_touch_tiers(pd.Series([arr]), touch=TOUCH).tolist() == [tier]
    accounts = pd.DataFrame(
        {"account_id": ["a"], "as_of": AS_OF, "risk_tier": "at_risk", "arr": [arr],
         "top_family": "support"}
    )  # fmt: skip
    row = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0).iloc[0]
    assert (row["touch_tier"], row["owner"]) == (tier, owner)
    assert row["channel"] == catalogue.playbook("support_escalation").channels.for_tier(tier)


def test_touch_thresholds_come_from_config():
    touch = TouchConfig(high_touch_min_arr=100_000, low_touch_min_arr=1_000)
    assert assign_touch_tiers(pd.Series([60_000.0, 999.0]), touch=touch).tolist() == [
        "low_touch",
        "tech_touch",
    ]


# ------------------------------------------------------------------------------------ due_by

DUE_CASES = """\
case,top_family,days_to_renewal,renewal_date,due_by
support_due_in_3_days,support,,,2024-01-04
monitor_due_in_90_days,,,,2024-03-31
renewal_date_known,contract,,2024-06-30,2024-05-01
renewal_date_beats_days,contract,10,2024-06-30,2024-05-01
renewal_within_60_days_due_now,contract,,2024-01-20,2024-01-01
renewal_from_days_only,contract,100,,2024-02-10
renewal_unknown_uses_due_days,contract,,,2024-01-15
support_renewing_in_2_days_due_the_day_before,support,2,,2024-01-02
usage_renewing_today_due_now,usage,0,,2024-01-01
"""


@pytest.mark.parametrize("tz", ["UTC", None])
def test_due_by(tz, catalogue):
    cases = pd.read_csv(io.StringIO(DUE_CASES))
    as_of = AS_OF if tz else AS_OF.tz_localize(None)
    accounts = pd.DataFrame(
        {
            "account_id": cases["case"],
            "as_of": as_of,
            "risk_tier": np.where(cases["case"].str.startswith("monitor"), "healthy", "at_risk"),
            "arr": 20_000.0,
            "top_family": cases["top_family"],
            "days_to_renewal": cases["days_to_renewal"].astype("float64"),
            "renewal_date": pd.to_datetime(cases["renewal_date"]),  # naive: UTC by contract
        }
    )
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    expected = pd.to_datetime(cases["due_by"])
    expected = expected.dt.tz_localize(tz) if tz else expected
    assert out["due_by"].tolist() == expected.tolist()


# ----------------------------------------------------------------------------------- holdout


def test_holdout_draws_are_pinned():
    """Same id, same draw, on every machine and release: the formula is part of the contract."""
    draws = holdout_draws(["usage_reengagement", "exec_sponsor"], ["acct-1", "acct-1"])
    assert draws.tolist() == pytest.approx([0.9659197781721153, 0.7582138850778827], abs=1e-15)


def test_holdout_share_and_independence_over_10000_ids():
    ids = [f"acct-{i}" for i in range(10_000)]
    usage = holdout_draws(["usage_reengagement"] * len(ids), ids) < 0.1
    sponsor = holdout_draws(["exec_sponsor"] * len(ids), ids) < 0.1
    assert usage.mean() == pytest.approx(0.1, abs=0.015)  # ~5 standard errors
    assert sponsor.mean() == pytest.approx(0.1, abs=0.015)
    assert (usage != sponsor).any()
    assert (usage & sponsor).mean() == pytest.approx(0.01, abs=0.005)  # independent


def test_holdout_is_deterministic_and_only_for_at_risk_plays(catalogue):
    n = 2_000
    accounts = pd.DataFrame(
        {
            "account_id": [f"acct-{i}" for i in range(n)],
            "as_of": AS_OF,
            "risk_tier": np.resize(["at_risk", "watch", "healthy", "healthy"], n),
            "arr": 20_000.0,
            "top_family": np.resize(["usage", "support", "adoption", "satisfaction"], n),
            "usage__seat_utilisation_30d": np.resize([0.9, 0.5, 0.9, 0.5, 0.9], n),
            "usage__logins_trend_30d": 1.5,
        }
    )
    first = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.2)
    second = recommend_playbooks(accounts.iloc[::-1], catalogue, touch=TOUCH, holdout_share=0.2)
    pd.testing.assert_series_equal(first["holdout"], second["holdout"].sort_index())
    at_risk = first["playbook_id"].isin(["usage_reengagement", "support_escalation"])
    assert first.loc[~at_risk, "holdout"].sum() == 0  # monitor, expansion, healthy
    assert set(first.loc[~at_risk, "playbook_id"]) == {"monitor", "expansion"}
    assert first.loc[at_risk, "holdout"].mean() == pytest.approx(0.2, abs=0.05)
    none = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    assert not none["holdout"].any()


def test_holdout_share_out_of_range_is_an_error(catalogue):
    accounts = accounts_from(RULE_CASES)
    with pytest.raises(ConfigError, match="holdout_share"):
        recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=1.0)


# ------------------------------------------------------------------- user-edited catalogues


def test_reordering_rules_changes_the_outcome(tmp_path, catalogue):
    """A user who puts the usage rule before the onboarding rule gets a different play."""
    head, *blocks = DEFAULT_TEXT.split("[[rules]]\n")
    by_name = {block.split('"')[1]: block for block in blocks}
    order = list(by_name)
    order.remove("usage_decay")
    order.insert(order.index("onboarding"), "usage_decay")
    path = tmp_path / "playbooks.toml"
    path.write_text(head + "".join(f"[[rules]]\n{by_name[name]}" for name in order), "utf-8")
    reordered = load_playbooks(path)
    assert [rule.name for rule in reordered.rules] == order
    accounts = accounts_from(RULE_CASES)
    before = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    after = recommend_playbooks(accounts, reordered, touch=TOUCH, holdout_share=0.0)
    changed = before["playbook_id"] != after["playbook_id"]
    assert accounts.loc[changed, "account_id"].tolist() == ["acct-onboarding_usage"]
    assert after.loc[changed, "playbook_id"].tolist() == ["usage_reengagement"]


def _small_catalogue(*rules: dict) -> dict:
    channels = {"high_touch": "call", "low_touch": "webinar", "tech_touch": "email"}
    playbook = {"title": "T", "description": "D", "actions": ["a"], "due_days": 1}
    return {
        "playbooks": [
            {"id": "monitor", **playbook, "channels": channels},
            {"id": "call", **playbook, "channels": channels},
        ],
        "rules": list(rules),
    }


def test_conditions_on_touch_tier_and_any_column():
    catalogue = catalogue_from_dict(
        _small_catalogue(
            {"name": "tech", "playbook": "call", "touch_tiers": ["tech_touch"]},
            {"name": "nps", "playbook": "call", "max": {"satisfaction__last_nps": 6}},
            {"name": "typo", "playbook": "call", "min": {"no_such_column": 0}},
            {"name": "shap", "playbook": "call", "min": {"family__contract": 0.0}},
        )
    )
    accounts = pd.DataFrame(
        {
            "account_id": ["small", "detractor", "no_nps", "promoter"],
            "as_of": AS_OF,
            "risk_tier": "watch",
            "arr": [500.0, 60_000.0, 60_000.0, 60_000.0],
            "satisfaction__last_nps": [9.0, 6.0, np.nan, 9.0],
        }
    )
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    # an absent family__ column is 0 (matches min 0); an absent other column never matches
    assert out["rule"].tolist() == ["tech", "nps", "shap", "shap"]
    catalogue = catalogue_from_dict(
        _small_catalogue({"name": "typo", "playbook": "call", "min": {"no_such_column": 0}})
    )
    out = recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    assert out["rule"].tolist() == ["fallback"] * 4
    assert out["playbook_id"].tolist() == ["monitor"] * 4


# ----------------------------------------------------------------------- invalid catalogues

rule_4 = "rule 4 ('support_friction')"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('top_families = ["support"]', 'top_families = ["suport"]',
         [rule_4, "unknown driver family 'suport'", "usage, adoption"]),
        ('risk_tiers = ["at_risk", "watch"]\ntop_families = ["support"]',
         'risk_tiers = ["at_risk", "critical"]\ntop_families = ["support"]',
         [rule_4, "unknown risk tier 'critical'", "healthy, watch, at_risk"]),
        ('top_families = ["support"]', 'top_families = []',
         [rule_4, "top_families is empty", "remove the key"]),
        ('low_touch = "pooled CSM call + priority support queue"',
         'mid_touch = "pooled CSM call + priority support queue"',
         ["playbook 4 ('support_escalation')", "mid_touch: unknown touch tier",
          "missing the channel", "low_touch"]),
        ('id = "adoption_campaign"', 'id = "usage_reengagement"',
         ["playbook id 'usage_reengagement' is defined 2 times", "unique id"]),
        ('playbook = "exec_sponsor"', 'playbook = "exec_sponser"',
         ["rule 5 ('detractor') names unknown playbook 'exec_sponser'", "exec_sponsor",
          '[[playbooks]] entry with id = "exec_sponser"']),
        ('id = "monitor"', 'id = "keep_in_touch"',
         ["no playbook has id 'monitor'", "fallback", 'id = "monitor"']),
        ("due_days = 3", "due_dayz = 3",
         ["playbook 4 ('support_escalation'): due_dayz: unknown key", "due_days",
          "playbook 4 ('support_escalation'): due_days: missing required key"]),
        ('name = "no_driver"\nplaybook = "usage_reengagement"\nrisk_tiers = ["at_risk", "watch"]',
         'name = "no_driver"\nplaybook = "usage_reengagement"\n\n[[rules]]\nname = "x"\n'
         'playbook = "monitor"\nrisk_tiers = ["healthy"]\nmin_arr = 5',
         ["rule 11 ('x'): min_arr: unknown key", "max_days_to_renewal"]),
        ('name = "narrow_adoption"', 'name = "usage_decay"',
         ["rule 7 ('usage_decay'): the name is used by 2 rules; rename"]),
        ('[[rules]]\nname = "healthy"\nplaybook = "monitor"\nrisk_tiers = ["healthy"]',
         '[[rules]]\nname = "healthy"\nplaybook = "monitor"',
         ["rule 2 ('healthy') has no conditions", "rules 3-10 can never fire", "move it last"]),
        ("max_days_to_renewal = 90", 'max_days_to_renewal = "soon"',
         ["rule 9 ('no_driver_renewal_due'): max_days_to_renewal"]),
        ("due_days = 3", "due_days = 3\n[[playbooks", ["not valid TOML"]),
    ],
    ids=[
        "unknown_family", "unknown_risk_tier", "empty_condition", "unknown_touch_tier",
        "duplicate_id", "unknown_playbook", "missing_monitor", "misspelt_key",
        "unknown_rule_key", "duplicate_rule_name",
        "unreachable_rules", "non_numeric_bound", "not_toml",
    ],
)  # fmt: skip
def test_invalid_catalogue_is_a_helpful_config_error(old, new, expected, tmp_path):
    assert old in DEFAULT_TEXT
    path = tmp_path / "my playbooks.toml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_playbooks(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message, message


def test_missing_catalogue_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*shipped catalogue"):
        load_playbooks(tmp_path / "nope.toml")


def test_default_catalogue_from_config_path():
    assert load_playbooks(Config().playbooks.catalogue) == load_playbooks()


# ---------------------------------------------------------------------------- bad accounts


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"risk_tier": "critical"}, "risk_tier has unknown value(s) critical"),
        ({"risk_tier": None}, "risk_tier has unknown value(s)"),
        ({"top_family": "pricing"}, "top_family has unknown value(s) pricing"),
        ({"lifecycle_stage": "Onboarding"}, "lifecycle_stage has unknown value(s) Onboarding"),
        ({"arr": "big"}, "arr holds"),
        ({"usage__logins_trend_30d": "up"}, "rule 'healthy_expansion' compares it"),
        ({"days_to_renewal": "soon"}, "days_to_renewal holds"),
        ({"family__usage": "high"}, "family__usage holds"),
    ],
)
def test_bad_accounts_are_schema_errors(change, expected, catalogue):
    accounts = accounts_from(RULE_CASES, **change)
    with pytest.raises(SchemaError) as caught:
        recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)
    assert expected in str(caught.value)


def test_missing_required_column_is_a_schema_error(catalogue):
    accounts = accounts_from(RULE_CASES).drop(columns=["risk_tier", "arr"])
    with pytest.raises(SchemaError, match="lack column.*risk_tier, arr"):
        recommend_playbooks(accounts, catalogue, touch=TOUCH, holdout_share=0.0)


def test_families_match_the_family_columns():
    assert FAMILIES == ("usage", "adoption", "support", "satisfaction", "contract", "account")


# ------------------------------------------------------------ control group and capacity

# At-risk accounts: who may be held out, and the reason when not. `arr` orders the ARR at
# risk (churn probability 0.2 for all); the top 3 of the list (the key account is first)
# are protected here.
CONTROL_CASES = """\
account_id,risk_tier,arr,days_to_renewal,contract__length_days,segment,expected_exclusion
key_account,at_risk,66000,1,365,enterprise,high touch
renewing_soon,at_risk,20000,45,365,mid_market,renewing within 60 days
renewing_at_the_limit,watch,20000,60,182,mid_market,renewing within 60 days
top_of_the_list,at_risk,40000,200,365,mid_market,in the top 3 by ARR at risk
third_of_the_list,watch,39000,200,365,SMB,in the top 3 by ARR at risk
eligible,at_risk,20000,61,365,SMB,
eligible_renewal_unknown,watch,5000,,,SMB,
month_to_month_renews_every_month,watch,5000,12,31,SMB,
term_unknown_renewing_soon,watch,5000,12,,SMB,renewing within 60 days
healthy,healthy,20000,10,365,SMB,
"""


def test_control_group_exclusions_are_named_per_account(catalogue):
    accounts = pd.read_csv(io.StringIO(CONTROL_CASES), keep_default_na=True)
    accounts = accounts.assign(as_of=AS_OF, churn_probability=0.2, top_family="usage")
    out = recommend_playbooks(
        accounts.drop(columns="expected_exclusion"),
        catalogue,
        touch=TOUCH,
        holdout_share=0.5,
        holdout_exclude_top=3,
    )
    expected = accounts["expected_exclusion"].where(accounts["expected_exclusion"].notna())
    assert out["holdout_exclusion"].fillna("").tolist() == expected.fillna("").tolist()
    assert not out.loc[out["holdout_exclusion"].notna(), "holdout"].any()
    assert not out.loc[accounts["risk_tier"] == "healthy", "holdout"].any()


def test_control_group_is_stratified_by_tier_and_segment(catalogue):
    rng = np.random.default_rng(8)
    print("seed=8")
    n = 3000
    accounts = pd.DataFrame(
        {
            "account_id": [f"acct-{i}" for i in range(n)],
            "as_of": AS_OF,
            "risk_tier": rng.choice(["at_risk", "watch"], n, p=[0.3, 0.7]),
            "segment": rng.choice(["SMB", "mid_market", "enterprise"], n, p=[0.6, 0.3, 0.1]),
            "arr": 5_000.0,
            "churn_probability": rng.uniform(0.05, 0.5, n),
            "days_to_renewal": 200.0,
            "top_family": "usage",
        }
    )
    out = recommend_playbooks(
        accounts, catalogue, touch=TOUCH, holdout_share=0.1, holdout_exclude_top=0
    )
    strata = accounts.assign(holdout=out["holdout"]).groupby(["risk_tier", "segment"])
    counts = strata["holdout"].agg(["sum", "size"])
    # Proportional allocation: every stratum within one account of its share.
    assert ((counts["sum"] - 0.1 * counts["size"]).abs() < 1).all()
    assert out["holdout"].sum() == round(0.1 * n)
    # The same accounts whatever the row order.
    again = recommend_playbooks(
        accounts.iloc[::-1], catalogue, touch=TOUCH, holdout_share=0.1, holdout_exclude_top=0
    )
    pd.testing.assert_series_equal(out["holdout"], again["holdout"].sort_index())


def test_each_csm_list_is_capped_and_the_overflow_goes_to_the_pooled_team(catalogue):
    from healthscore.config import CapacityConfig

    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(7)],
            "as_of": AS_OF,
            "risk_tier": "at_risk",
            "arr": [90_000.0, 80_000.0, 70_000.0, 60_000.0, 55_000.0, 20_000.0, 500.0],
            "churn_probability": 0.3,
            "days_to_renewal": 10.0,
            "top_family": "usage",
            "csm": ["Dana", "Dana", "Dana", "Sam", None, "Dana", "Dana"],
        }
    )
    out = recommend_playbooks(
        accounts,
        catalogue,
        touch=TOUCH,
        holdout_share=0.0,
        capacity=CapacityConfig(csms=1, accounts_per_csm=2),
    )
    assert out["owner"].tolist() == [
        "Dana",
        "Dana",
        "pooled CS team",  # Dana's third high-touch account: over her capacity of 2
        "Sam",
        "account CSM",  # high touch without a CSM on record
        "pooled CS team",  # low touch
        "automated sequence",  # tech touch
    ]
    assert out.loc[2, "owner_reason"] == (
        "overflow: Dana's list is full (2 accounts with more ARR at risk)"
    )
    assert out["action_due"].all()
