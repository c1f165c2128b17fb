"""Outcomes: the statistics, the join of recommendations with what happened, and the planted
truth of a simulated world in which the team ran the plays.

Small cases are CSV text in the test, read like a user's files; the simulated world is
generated with a printed seed and its true effects are read from its ``_truth``.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.comparison import (
    more_accounts_needed,
    rate_difference,
    retained_difference,
    wilson_interval,
)
from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.outcomes import (
    attach_outcomes,
    check_actions,
    find_score_files,
    first_recommendations,
    read_recommendations,
)
from healthscore.storage import source_from_frames

ACTION_SEED = 7


def frame(text: str, *, dates: tuple[str, ...] = ()) -> pd.DataFrame:
    table = pd.read_csv(io.StringIO(text.strip()), skipinitialspace=True)
    for column in dates:
        table[column] = pd.to_datetime(table[column])
    return table


# ----------------------------------------------------------------------- statistics


def test_wilson_interval_matches_the_published_example():
    # Newcombe (1998), table I: 81 of 263 gives 0.2553 to 0.3662.
    ci = wilson_interval(81, 263, confidence=0.95)
    assert ci.low == pytest.approx(0.2553, abs=1e-4)
    assert ci.high == pytest.approx(0.3662, abs=1e-4)


def test_rate_difference_is_newcombes_hybrid_score_interval():
    # Newcombe (1998), table II, example (a): 56/70 - 48/80 = 0.2, interval 0.0524 to 0.3339.
    d = rate_difference(56, 70, 48, 80, confidence=0.95)
    assert d.estimate == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=1e-4)
    assert d.high == pytest.approx(0.3339, abs=1e-4)
    assert d.excludes_zero


def test_rate_difference_of_an_empty_arm_is_unknown():
    assert math.isnan(rate_difference(1, 10, 0, 0, confidence=0.95).estimate)


def test_more_accounts_needed_follows_the_two_proportion_formula():
    # 12% against 20% at 80% power, 5% two-sided: 329 per arm (Fleiss), 658 in all.
    assert more_accounts_needed(12, 100, 20, 100, confidence=0.95, power=0.8) == 457
    assert more_accounts_needed(10, 100, 10, 100, confidence=0.95, power=0.8) is None
    assert more_accounts_needed(5, 500, 50, 500, confidence=0.95, power=0.8) == 0
    assert more_accounts_needed(1, 0, 2, 10, confidence=0.95, power=0.8) is None


def test_retained_difference_bootstraps_accounts_within_each_arm():
    rng = np.random.default_rng(3)
    start_a, start_b = rng.lognormal(10, 1, 400), rng.lognormal(10, 1, 400)
    end_a = start_a * (rng.random(400) > 0.1)
    end_b = start_b * (rng.random(400) > 0.3)
    d = retained_difference(start_a, end_a, start_b, end_b, confidence=0.95, resamples=500, seed=1)
    assert d.low < d.estimate < d.high
    assert d.excludes_zero and d.estimate > 0
    tiny = retained_difference([1.0], [1.0], [1.0, 2.0], [0.0, 2.0], confidence=0.95,
                               resamples=200, seed=1)  # fmt: skip
    assert math.isnan(tiny.low)


# ----------------------------------------------------------------------- the record


SCORES = """
account_id, as_of,               playbook_id,        holdout, risk_tier, touch_tier, arr
A1,         2024-01-01T00:00:00, usage_reengagement, False,   at_risk,   tech_touch, 1200
A2,         2024-01-01T00:00:00, usage_reengagement, True,    watch,     tech_touch, 2400
A3,         2024-01-01T00:00:00, monitor,            False,   healthy,   tech_touch, 3600
A1,         2024-02-01T00:00:00, usage_reengagement, False,   at_risk,   tech_touch, 1200
"""


def test_score_files_are_found_by_name_and_read_oldest_first(tmp_path):
    text = SCORES.strip().replace(" ", "")  # a score file as written: no padding
    (tmp_path / "scores_2024-02-01.csv").write_text(text)
    (tmp_path / "scores_2024-01-01.csv").write_text(text)
    (tmp_path / "report.html").write_text("")
    files = find_score_files(tmp_path)
    assert [f.name for f in files] == ["scores_2024-01-01.csv", "scores_2024-02-01.csv"]
    recs = read_recommendations(files)
    assert recs["holdout"].dtype == bool and len(recs) == 8
    firsts = first_recommendations(recs)
    # one row per account and playbook, healthy accounts (never held out) left out
    assert sorted(firsts["account_id"]) == ["A1", "A2"]
    assert (firsts["as_of"] == pd.Timestamp("2024-01-01")).all()
    later = first_recommendations(recs, since=pd.Timestamp("2024-01-15"))
    assert list(later["account_id"]) == ["A1"]


def test_a_score_file_without_the_holdout_flag_is_named(tmp_path):
    bad = tmp_path / "scores_2024-01-01.csv"
    bad.write_text("account_id,as_of,playbook_id\nA1,2024-01-01,monitor\n")
    with pytest.raises(DataError, match=r"scores_2024-01-01.csv: lacks column\(s\) holdout"):
        read_recommendations([bad])


def test_a_holdout_flag_that_is_not_boolean_names_the_lines(tmp_path):
    bad = tmp_path / "scores_2024-01-01.csv"
    bad.write_text(
        "account_id,as_of,playbook_id,holdout\nA1,2024-01-01,monitor,False\n"
        "A2,2024-01-01,monitor,maybe\n"
    )
    with pytest.raises(DataError, match=r"column holdout .*lines 3"):
        read_recommendations([bad])


def test_outcomes_need_score_files(tmp_path):
    from healthscore.outcomes import measure_outcomes

    source = source_from_frames(
        {
            "accounts": frame("account_id, created_at\nA1, 2023-01-01", dates=("created_at",)),
            "contracts": frame(
                "contract_id, account_id, start_date, end_date, arr\n"
                "C1, A1, 2023-01-01, 2024-01-01, 100",
                dates=("start_date", "end_date"),
            ),
        }
    )
    with pytest.raises(DataError, match="no score files"):
        measure_outcomes(source, [], Config())


# ----------------------------------------------------------------------- what happened

ACCOUNTS = """
account_id, created_at
A1, 2023-01-01
A2, 2023-01-01
A3, 2023-01-01
A4, 2023-01-01
"""
# A1 churns at its renewal on 2024-03-01 (inside the 90-day window of 2024-01-01),
# A2 renews on 2024-03-01 with more seats, A3 renews 20 days late (within the grace period),
# A4's term runs past the window.
CONTRACTS = """
contract_id, account_id, start_date, end_date,   arr
C1,          A1,         2023-03-01, 2024-03-01, 1200
C2,          A2,         2023-03-01, 2024-03-01, 2400
C3,          A2,         2024-03-01, 2025-03-01, 3600
C4,          A3,         2023-03-01, 2024-03-31, 1000
C5,          A3,         2024-04-20, 2025-04-20, 1000
C6,          A4,         2023-06-01, 2025-06-01, 5000
"""


def _source():
    return source_from_frames(
        {
            "accounts": frame(ACCOUNTS, dates=("created_at",)),
            "contracts": frame(CONTRACTS, dates=("start_date", "end_date")),
        },
        data_end="2025-01-01",
    )


def test_outcomes_in_the_window_like_a_spreadsheet():
    recs = frame(
        """
        account_id, as_of,      playbook_id,        holdout
        A1,         2024-01-01, usage_reengagement, False
        A2,         2024-01-01, usage_reengagement, True
        A3,         2024-01-01, exec_sponsor,       False
        A4,         2024-01-01, exec_sponsor,       True
        A4,         2024-11-01, exec_sponsor,       True
        """,
        dates=("as_of",),
    )
    got = attach_outcomes(recs, _source(), Config()).set_index(["account_id", "as_of"])
    expected = frame(
        """
        account_id, as_of,      complete, churned, renewed, arr_start, arr_end
        A1,         2024-01-01, True,     1.0,     False,   1200,      0
        A2,         2024-01-01, True,     0.0,     True,    2400,      3600
        A3,         2024-01-01, True,     0.0,     True,    1000,      1000
        A4,         2024-01-01, True,     0.0,     False,   5000,      5000
        A4,         2024-11-01, False,    ,        False,   5000,
        """,
        dates=("as_of",),
    ).set_index(["account_id", "as_of"])
    for column in expected.columns:
        assert got[column].tolist() == pytest.approx(expected[column].tolist(), nan_ok=True), column


ACTIONS = """
account_id, playbook_id,        started_at, completed_at
A1,         usage_reengagement, 2024-01-03, 2024-01-02
A2,         no_such_play,       2024-01-03,
"""


def test_impossible_actions_are_named():
    actions = frame(ACTIONS, dates=("started_at", "completed_at"))
    with pytest.raises(DataError) as caught:
        check_actions(actions, playbook_ids=["usage_reengagement", "monitor"])
    message = str(caught.value)
    assert "playbook_actions: column completed_at is before started_at on 1 row(s)" in message
    assert "A1 usage_reengagement" in message
    assert "no_such_play" in message and "use the catalogue's ids" in message


# ----------------------------------------------------------------------- planted truth


@pytest.fixture(scope="module")
def actions_world(trained, tmp_path_factory):
    """The session's world, scored at 2025-07-01 by the session's model, with the plays run
    on the accounts not held out (half of each playbook's at-risk accounts held out)."""
    from healthscore.pipeline import generate_with_actions

    folder = tmp_path_factory.mktemp("actions") / "data"
    print(f"actions world seed={ACTION_SEED}")
    config = trained.config.with_overrides(playbooks={"holdout_share": 0.5})
    world = generate_with_actions(
        folder,
        n_accounts=900,
        start="2023-07-01",
        end="2026-01-01",
        seed=ACTION_SEED,
        config=config,
        act_at="2025-07-01",
        model=trained.outcome.latest,
    )
    return world, config


@pytest.mark.slow
def test_the_past_is_what_the_scoring_run_saw(actions_world, world_dir):
    from healthscore.storage import read_frame

    world, _ = actions_world
    for name, column in (("logins", "ts"), ("support_tickets", "opened_at")):
        plain = read_frame(world_dir / f"{name}.parquet")
        treated = read_frame(world.data / f"{name}.parquet")
        before = [t[t[column] < world.as_of].reset_index(drop=True) for t in (plain, treated)]
        pd.testing.assert_frame_equal(before[0], before[1])
    actions = read_frame(world.data / "playbook_actions.parquet")
    scores = read_frame(world.scores_path)
    treated_ids = set(scores.loc[~scores["holdout"], "account_id"])
    assert set(actions["account_id"]) <= treated_ids
    assert (actions["started_at"] >= world.as_of).all()


@pytest.mark.slow
def test_outcomes_recover_each_playbooks_true_effect(actions_world):
    from healthscore.pipeline import SCORES_DIR, outcomes
    from healthscore.synthetic.treatment import effects_by_playbook

    world, config = actions_world
    report = outcomes(world.data, config, scores=world.data / SCORES_DIR)
    truth = effects_by_playbook(world.truth).set_index("playbook_id")
    rows = report.comparison[report.comparison["tier"] == "all"].set_index("playbook_id")
    measured = [p for p in rows.index if p != "all"]
    assert len(measured) >= 4, rows
    for play in measured:
        row, true = rows.loc[play], truth.loc[play, "true_effect"]
        print(
            f"{play}: estimated {row.churn_difference:+.3f} "
            f"[{row.churn_difference_low:+.3f}, {row.churn_difference_high:+.3f}], "
            f"true {true:+.3f}"
        )
        assert row.churn_difference_low <= true <= row.churn_difference_high, play
        assert true < 0  # every play helps, a little or a lot
    pooled = rows.loc["all"]
    assert pooled.treated + pooled.held_out == int(report.recommendations["complete"].sum())
    # the actions table reports follow-through: most treated got the play, no held-out one
    assert 0.7 < pooled.treated_actioned_share <= 1.0
    assert pooled.held_out_actioned_share == 0.0


@pytest.mark.slow
def test_outcomes_command_prints_and_writes_the_comparison(actions_world, tmp_path, capsys):
    from healthscore.pipeline import SCORES_DIR

    world, _ = actions_world
    out = tmp_path / "outcomes"
    code = main(
        [
            "outcomes",
            "--data",
            str(world.data),
            "--scores",
            str(world.data / SCORES_DIR),
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "intent to treat" in printed and "usage_reengagement" in printed
    table = pd.read_csv(out / "outcomes.csv")
    assert {"churn_difference", "more_accounts_needed", "arr_retained_difference"} <= set(
        table.columns
    )
    assert (out / "outcome_accounts.csv").is_file()


def test_outcomes_command_without_score_files_is_one_clear_error(world_dir, tmp_path, capsys):
    empty = tmp_path / "nothing"
    empty.mkdir()
    code = main(["outcomes", "--data", str(world_dir), "--scores", str(empty)])
    assert code == 1
    assert "no score files" in capsys.readouterr().err


@pytest.mark.slow
def test_the_report_measures_the_past_run_and_checks_the_model(actions_world, trained, tmp_path):
    from healthscore.pipeline import SCORES_DIR, report

    world, config = actions_world
    page = report(
        world.data,
        "2025-12-01",
        config,
        out=tmp_path / "report.html",
        model=trained.outcome.latest,
        past_scores=world.data / SCORES_DIR,
    ).read_text()
    assert '<section id="outcomes"><h2>Did the plays work?</h2>' in page
    assert '<table class="outcomes">' in page and "usage_reengagement" in page
    assert '<section id="monitoring"><h2>Can we still trust the model?</h2>' in page
    assert '<table class="drift">' in page and '<table class="performance">' in page
