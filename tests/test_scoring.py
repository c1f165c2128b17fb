"""Scoring as a user runs it: the output table, drivers, playbooks, alerts, the account card."""

import shutil

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.model import HealthModel
from healthscore.scoring import OUTPUT_COLUMNS, eligible_features
from healthscore.storage import open_source

AS_OF = "2025-12-01"


def run_score(trained, out, *extra):
    return main(
        [
            "score",
            "--data",
            str(trained.data),
            "--as-of",
            AS_OF,
            "--out",
            str(out),
            "--model",
            str(trained.outcome.latest),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def scores(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("scores") / "scores.csv"
    assert run_score(trained, out) == 0
    return pd.read_csv(out, parse_dates=["as_of", "due_by"])


def test_output_has_the_documented_columns_and_types(scores):
    required = [
        c
        for c in OUTPUT_COLUMNS
        if c not in ("segment", "lifecycle_stage", "days_to_renewal", "top_family")
    ]
    assert list(scores.columns[: len(required)]) == required
    assert scores["account_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["health_score"].between(0, 100).all()
    assert set(scores["risk_tier"]) <= {"healthy", "watch", "at_risk"}
    assert set(scores["touch_tier"]) <= {"high_touch", "low_touch", "tech_touch"}
    assert scores["priority_rank"].tolist() == list(range(1, len(scores) + 1))
    assert scores["arr_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(scores["arr_at_risk"], scores["churn_probability"] * scores["arr"])
    assert scores["holdout"].dtype == bool
    assert (scores["as_of"] == pd.Timestamp(AS_OF)).all()
    assert scores["score_change"].notna().mean() > 0.8


def test_drivers_are_risk_raising_with_sentences(scores):
    filled = scores[scores["driver_1"].notna()]
    flagged = scores[scores["risk_tier"] != "healthy"]
    # Most accounts at risk have a signal to fix; the others are at risk for when or who
    # they are (a renewal near, a short tenure), which no driver names.
    assert flagged["driver_1"].notna().mean() > 0.6
    assert (filled["driver_1_contribution"] > 0).all()
    assert (filled["driver_1_contribution"] >= filled["driver_2_contribution"].fillna(0)).all()
    assert filled["driver_1_text"].str.len().gt(5).all()
    assert (filled["driver_1_family"] == filled["driver_1"].str.split("__").str[0]).all()
    assert (filled["driver_1_points"] > 0).all()


def test_the_score_spreads_over_the_scale(scores):
    """No score value holds more than 3% of the accounts; at most 1% sit at 0 or 100."""
    shares = scores["health_score"].value_counts(normalize=True)
    assert shares.max() <= 0.03, shares.head()
    assert scores["health_score"].isin([0.0, 100.0]).mean() <= 0.01
    assert scores["health_score"].min() < 30 and scores["health_score"].max() > 90


def test_tiers_stay_bands_of_churn_probability(scores):
    """Whatever the score's spread, a tier is a band of churn probability: 5% and 12.6%."""
    p = scores.groupby("risk_tier")["churn_probability"]
    assert p.max()["healthy"] <= 0.0501 < p.min()["watch"] + 0.0001
    assert p.max()["watch"] <= 0.1261 <= p.min()["at_risk"] + 0.0001


def test_no_driver_claims_risk_from_a_value_on_the_healthy_side_of_its_peers(scores):
    from healthscore.features import feature_spec

    checked = 0
    for k in (1, 2, 3):
        rows = scores[scores[f"driver_{k}"].notna()]
        for _, row in rows.iterrows():
            direction = feature_spec(row[f"driver_{k}"]).direction
            value, peers = row[f"driver_{k}_value"], row[f"driver_{k}_peer_median"]
            assert direction != 0, row[f"driver_{k}"]
            assert direction * (value - peers) > 0, row[f"driver_{k}_text"]
            assert row[f"driver_{k}_contribution"] > 0 and row[f"driver_{k}_points"] >= 0
            text = row[f"driver_{k}_text"]
            assert f"for {row['peer_group']}" in text and "against" in text, text
            checked += 1
    assert checked > 0.5 * len(scores)  # hundreds of sentences checked


def test_the_playbook_addresses_the_family_of_the_first_driver(scores):
    from healthscore.playbooks import load_playbooks

    catalogue = load_playbooks(None)
    plays_of = {
        family: {r.playbook for r in catalogue.rules if r.top_families and family in r.top_families}
        for family in ("usage", "adoption", "support", "satisfaction", "contract", "account")
    }
    no_driver = {r.playbook for r in catalogue.rules if r.name.startswith("no_driver")}
    flagged = scores[scores["risk_tier"].isin(["at_risk", "watch"])]
    with_driver = flagged[flagged["driver_1"].notna()]
    assert len(with_driver) > 20
    for _, row in with_driver.iterrows():
        assert row["top_family"] == row["driver_1_family"]
        assert row["playbook_id"] in plays_of[row["driver_1_family"]], (
            row["driver_1_text"],
            row["playbook_id"],
        )
    assert flagged.loc[flagged["driver_1"].isna(), "playbook_id"].isin(no_driver).all()


def test_names_owners_and_capacity(trained, scores):
    assert scores["account_name"].notna().all()
    named = scores[scores["csm"].notna()]
    assert len(named) > 0.2 * len(scores)
    high = scores[(scores["touch_tier"] == "high_touch") & scores["action_due"]]
    worked_by_csm = high[high["owner"] == high["csm"]]
    per_csm = worked_by_csm.groupby("csm").size()
    assert per_csm.max() <= trained.config.capacity.accounts_per_csm
    overflow = high[high["owner"] != high["csm"]]
    assert (overflow["owner"] == "pooled CS team").all()
    assert overflow["owner_reason"].str.startswith("overflow: ").all()
    for csm, rows in overflow.groupby("csm"):
        # The CSM kept the accounts with the most ARR at risk.
        mine = worked_by_csm[worked_by_csm["csm"] == csm]
        assert len(mine) == trained.config.capacity.accounts_per_csm
        assert mine["arr_at_risk"].min() >= rows["arr_at_risk"].max()
    assert (scores.loc[scores["touch_tier"] == "tech_touch", "owner"] == "automated sequence").all()


def monthly_accounts(data_dir, as_of) -> set:
    """Accounts whose contract running at ``as_of`` is billed month to month."""
    contracts = pd.read_parquet(data_dir / "contracts.parquet")
    running = contracts[(contracts["start_date"] <= as_of) & (contracts["end_date"] > as_of)]
    return set(running.loc[running["billing_period"] == "month", "account_id"])


def test_control_group_is_stratified_and_spares_the_accounts_the_team_must_save(trained, scores):
    config = trained.config.playbooks
    held = scores[scores["holdout"]]
    assert len(held) > 0
    assert not held["touch_tier"].isin(config.holdout_exclude_touch_tiers).any()
    # Renewing soon spares an account only when the renewal is a deadline: a month-to-month
    # term renews every month, so those accounts stay eligible.
    soon = held[held["days_to_renewal"].fillna(np.inf) <= config.holdout_exclude_renewal_days]
    assert set(soon["account_id"]) <= monthly_accounts(trained.data, scores["as_of"].iloc[0])
    renewing = (
        scores["holdout_exclusion"] == f"renewing within {config.holdout_exclude_renewal_days} days"
    )
    assert (scores.loc[renewing, "days_to_renewal"] <= config.holdout_exclude_renewal_days).all()
    top = scores.nsmallest(config.holdout_exclude_top, "priority_rank")
    assert not top["holdout"].any()
    assert held["risk_tier"].isin(["at_risk", "watch"]).all()
    # Every exclusion is counted with its reason; the rest of the at-risk accounts are the
    # eligible ones, of which the share is held out in every stratum of tier and segment.
    flagged = scores[scores["risk_tier"].isin(["at_risk", "watch"])]
    reasons = set(flagged["holdout_exclusion"].dropna())
    assert reasons <= {
        "high touch",
        f"renewing within {config.holdout_exclude_renewal_days} days",
        f"in the top {config.holdout_exclude_top} by ARR at risk",
        "playbook without control group",
    }
    eligible = flagged[flagged["holdout_exclusion"].isna()]
    assert len(held) == round(config.holdout_share * len(eligible))
    strata = eligible.groupby(["risk_tier", "segment"])["holdout"].agg(["sum", "size"])
    quota = strata["size"] * config.holdout_share
    assert ((strata["sum"] - quota).abs() < 1).all()


def test_drivers_only_where_read_give_the_same_scores_and_playbooks(trained, scores):
    from healthscore.pipeline import score

    config = trained.config.with_overrides(score={"drivers": "all"})
    full = score(trained.data, AS_OF, config, model=trained.outcome.latest)
    watch = score(
        trained.data,
        AS_OF,
        trained.config.with_overrides(score={"drivers": "watch"}),
        model=trained.outcome.latest,
    )
    assert (watch["risk_tier"] == "healthy").any() and (watch["risk_tier"] != "healthy").any()
    driver_columns = [c for c in full.columns if c.startswith(("driver_", "family__"))]
    driver_columns += ["top_family", "peer_group"]  # the peers the drivers are compared with
    same = [c for c in full.columns if c not in driver_columns]
    pd.testing.assert_frame_equal(watch[same], full[same])
    flagged = (full["risk_tier"] != "healthy").to_numpy()
    pd.testing.assert_frame_equal(
        watch.loc[flagged, driver_columns], full.loc[flagged, driver_columns]
    )
    healthy = watch.loc[~flagged]
    assert healthy["driver_1"].isna().all() and healthy["family__usage"].isna().all()
    assert full.loc[~flagged, "family__usage"].notna().all()
    # Contributions plus the expected value give the raw log-odds of each explained row.
    model = HealthModel.load(trained.outcome.latest)
    features = eligible_features(open_source(trained.data, trained.config), AS_OF, trained.config)
    contributions = model.contributions(features)
    np.testing.assert_allclose(
        contributions.sum(axis=1), model.raw_log_odds(features), rtol=0, atol=1e-9
    )


def test_a_book_without_watch_accounts_is_scored_without_any_driver(trained):
    import dataclasses

    from healthscore.config import ScoreConfig
    from healthscore.playbooks import load_playbooks
    from healthscore.scoring import score_frame

    model = HealthModel.load(trained.outcome.latest)
    lenient = ScoreConfig(watch_below=-1.0, at_risk_below=-2.0)
    model = dataclasses.replace(model, score_config=lenient)
    features = eligible_features(open_source(trained.data, trained.config), AS_OF, trained.config)
    scores = score_frame(
        features, model, trained.config, catalogue=load_playbooks(None), drivers="watch"
    )
    assert (scores["risk_tier"] == "healthy").all()
    assert scores["driver_1"].isna().all() and scores["family__usage"].isna().all()
    assert scores["playbook_id"].isin(["monitor", "expansion"]).all()


def test_healthy_rules_reading_drivers_get_drivers_for_every_account(trained):
    from healthscore.playbooks import catalogue_from_dict, load_playbooks
    from healthscore.scoring import rows_to_explain

    shipped = load_playbooks(None)
    scored = pd.DataFrame({"risk_tier": ["healthy", "watch", "at_risk"]})
    assert rows_to_explain(scored, shipped, drivers="watch").tolist() == [False, True, True]
    assert rows_to_explain(scored, shipped, drivers="all").all()
    raw = shipped.model_dump(mode="json")
    raw["rules"].insert(
        0,
        {"name": "healthy_support", "playbook": "monitor", "top_families": ["support"]},
    )
    reading = catalogue_from_dict(raw)
    assert rows_to_explain(scored, reading, drivers="watch").all()


def test_at_risk_accounts_get_a_play_healthy_ones_do_not(scores):
    at_risk = scores[scores["risk_tier"] == "at_risk"]
    healthy = scores[scores["risk_tier"] == "healthy"]
    assert len(at_risk) > 0
    assert not at_risk["playbook_id"].isin(["monitor", "expansion"]).any()
    assert healthy["playbook_id"].isin(["monitor", "expansion"]).all()
    assert not healthy["holdout"].any()


def test_scoring_is_deterministic_and_holdout_stable(trained, scores, tmp_path):
    out = tmp_path / "again.parquet"
    assert run_score(trained, out) == 0
    again = pd.read_parquet(out)
    assert again["account_id"].tolist() == scores["account_id"].tolist()
    assert again["holdout"].tolist() == scores["holdout"].tolist()
    np.testing.assert_allclose(again["churn_probability"], scores["churn_probability"])


def test_previous_file_drives_score_change(trained, scores, tmp_path):
    previous = scores[["account_id", "health_score"]].assign(health_score=50.0)
    prev_file = tmp_path / "prev.csv"
    previous.to_csv(prev_file, index=False)
    out = tmp_path / "s.csv"
    assert run_score(trained, out, "--previous", str(prev_file)) == 0
    again = pd.read_csv(out)
    np.testing.assert_allclose(again["score_change"], (again["health_score"] - 50).round(1))


def test_as_of_before_any_data_is_a_clear_error_and_writes_nothing(trained, tmp_path, capsys):
    out = tmp_path / "early.csv"
    out.write_text("keep me\n")
    assert (
        main(
            [
                "score",
                "--data",
                str(trained.data),
                "--as-of",
                "2001-01-01",
                "--out",
                str(out),
                "--model",
                str(trained.outcome.latest),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "no account is eligible at 2001-01-01" in err and "Traceback" not in err
    assert out.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["early.csv"]


def test_model_whose_features_do_not_match_the_data(trained, tmp_path, capsys):
    data = tmp_path / "data"  # the same project name as the training data
    shutil.copytree(trained.data, data)
    (data / "support_tickets.parquet").unlink()
    out = tmp_path / "s.csv"
    args = ["score", "--data", str(data), "--as-of", AS_OF, "--out", str(out)]
    args += ["--model", str(trained.outcome.latest)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "does not match this data" in err and "no support_tickets table" in err
    assert main([*args, "--force"]) == 1  # forced, the missing features still stop it
    err = capsys.readouterr().err
    assert "lacks" in err and "support__tickets_90d" in err
    assert not out.exists()


def test_missing_model_is_a_clear_error(trained, tmp_path, capsys):
    assert (
        main(
            [
                "score",
                "--data",
                str(trained.data),
                "--as-of",
                AS_OF,
                "--out",
                str(tmp_path / "s.csv"),
                "--model",
                str(tmp_path / "nope"),
            ]
        )
        == 1
    )
    assert "does not exist" in capsys.readouterr().err


def test_scoring_from_the_registry_alias(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(trained.workdir)
    out = tmp_path / "s.csv"
    assert (
        main(
            [
                "score",
                "--data",
                str(trained.data),
                "--as-of",
                AS_OF,
                "--out",
                str(out),
                "--model",
                trained.champion_uri,
            ]
        )
        == 0
    )
    assert trained.champion_uri in pd.read_csv(out)["model_version"].iloc[0]


def test_explain_prints_a_card(trained, scores, capsys):
    account = scores.loc[scores["risk_tier"] == "at_risk", "account_id"].iloc[0]
    assert (
        main(
            [
                "explain",
                "--data",
                str(trained.data),
                "--as-of",
                AS_OF,
                "--account",
                account,
                "--model",
                str(trained.outcome.latest),
            ]
        )
        == 0
    )
    card = capsys.readouterr().out
    assert f"Account {account}" in card and "Score history" in card and "Playbook:" in card
    assert "1. " in card
    row = scores.set_index("account_id").loc[account]
    assert f"Account {account} ({row['account_name']})" in card
    assert row["driver_1_text"] in card and "pts of churn risk" in card
    assert "log-odds" not in card


def test_explain_builds_one_account_and_agrees_with_the_scores(trained, scores, monkeypatch):
    """The card computes the account and its peers, not the portfolio, and says the same."""
    import healthscore.account_card as account_card
    from healthscore.pipeline import explain

    built = []
    real = account_card.build_features

    def counting(source, rows, config):
        built.append((len(rows), tuple(config.features.exclude)))
        return real(source, rows, config)

    monkeypatch.setattr(account_card, "build_features", counting)
    flagged = scores[scores["risk_tier"] == "at_risk"]
    for account in flagged["account_id"].head(3):
        built.clear()
        card, _ = explain(
            trained.data, AS_OF, account, trained.config, model=trained.outcome.latest
        )
        row = scores.set_index("account_id").loc[account]
        assert card.scores["health_score"] == row["health_score"]
        assert card.scores["playbook_id"] == row["playbook_id"]
        for k in (1, 2, 3):
            assert card.scores[f"driver_{k}_text"] == row[f"driver_{k}_text"] or (
                pd.isna(row[f"driver_{k}_text"]) and card.scores[f"driver_{k}_text"] is None
            )
        full = [n for n, excluded in built if not excluded]
        assert len(full) == 1, built  # one full feature build ...
        # ... of the peers (same segment and stage, or the same stage for a small group)
        # and the account's history, never the portfolio
        stage = scores["lifecycle_stage"] == row["lifecycle_stage"]
        peers = (stage & (scores["segment"] == row["segment"])).sum()
        widest = peers if peers >= 20 else stage.sum()
        assert full[0] <= widest + 6 < len(scores)
        assert [h for h in card.history["health_score"]][-1] == row["health_score"]


def test_explain_unknown_account_is_a_clear_error(trained, capsys):
    assert (
        main(
            [
                "explain",
                "--data",
                str(trained.data),
                "--as-of",
                AS_OF,
                "--account",
                "NOPE-1",
                "--model",
                str(trained.outcome.latest),
            ]
        )
        == 1
    )
    assert "no such account_id" in capsys.readouterr().err


def test_alerts_list_the_accounts_whose_score_fell(trained, scores, capsys):
    from healthscore.pipeline import alerts

    drops = alerts(trained.data, AS_OF, trained.config, model=trained.outcome.latest, drop=2)
    expected = set(scores.loc[scores["score_change"] < -2, "account_id"])
    assert set(drops["account_id"]) == expected and len(expected) > 0
    assert (drops["change"] < -2).all() and drops["change"].is_monotonic_increasing
    assert drops["moved_families"].str.len().gt(0).all()
    assert (
        main(
            [
                "alerts",
                "--data",
                str(trained.data),
                "--as-of",
                AS_OF,
                "--drop",
                "2",
                "--model",
                str(trained.outcome.latest),
            ]
        )
        == 0
    )
    assert f"{len(expected)} accounts lost more than 2 points" in capsys.readouterr().out


def test_the_printed_top_five_is_ranked_without_gaps(trained, tmp_path, capsys):
    assert run_score(trained, tmp_path / "s.csv") == 0
    out = capsys.readouterr().out
    table = out.split("Top 5 by ARR at risk")[1]
    ranks = [line.split()[1] for line in table.splitlines() if line.startswith("│ ") and
             line.split()[1].isdigit()]  # fmt: skip
    assert ranks == ["1", "2", "3", "4", "5"]
    assert "Control group:" in out and "never held out:" in out
