"""The simulator's treatment: the plays act exactly as documented, and only on the treated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.synthetic import CAUSES, generate_world
from healthscore.synthetic.treatment import (
    PLAYBOOK_CAUSE,
    Treatment,
    TreatmentEffects,
    actions_table,
    effects_by_playbook,
    plan_actions,
    splice_past,
    treated_hazard,
    true_effects,
)

SEED = 3
ACT_AT = pd.Timestamp("2025-03-01")


def test_a_matching_play_halves_its_cause_and_cuts_the_others_but_random():
    factors = dict(zip(CAUSES, TreatmentEffects().factors("support_escalation"), strict=True))
    assert factors["support_friction"] == 0.5
    assert factors["random"] == 1.0
    assert {factors[c] for c in CAUSES if c not in ("support_friction", "random")} == {0.9}
    assert (TreatmentEffects().factors("monitor") == 1.0).all()
    with pytest.raises(ValueError, match="matching"):
        TreatmentEffects(matching=1.5)


@pytest.fixture(scope="module")
def worlds():
    print(f"seed={SEED}")
    plain = generate_world(400, start="2024-01-01", end="2026-01-01", seed=SEED)
    contracts = plain.tables["contracts"]
    live = contracts[(contracts["start_date"] <= ACT_AT) & (contracts["end_date"] > ACT_AT)]
    ids = np.sort(live["account_id"].unique())
    rng = np.random.default_rng(SEED)
    recommendations = pd.DataFrame(
        {
            "account_id": ids,
            "as_of": ACT_AT,
            "playbook_id": rng.choice([*PLAYBOOK_CAUSE, "monitor"], len(ids)),
            "holdout": rng.random(len(ids)) < 0.5,
            "owner": "pooled CS team",
        }
    )
    effects = TreatmentEffects()
    plan = plan_actions(recommendations, effects=effects, seed=SEED)
    treated = generate_world(
        400, start="2024-01-01", end="2026-01-01", seed=SEED, treatment=Treatment(plan, effects)
    )
    return plain, treated, plan, effects


def test_plans_draw_follow_through_for_both_arms_and_treat_only_the_not_held_out(worlds):
    _, _, plan, _ = worlds
    assert "monitor" not in set(plan["playbook_id"])
    assert (plan["treated"] == (plan["would_start"] & ~plan["holdout"])).all()
    assert 0.8 < plan["would_start"].mean() <= 1.0
    assert plan.loc[plan["holdout"], "would_start"].any()  # drawn for the held out too
    delay = (plan["started_at"] - plan["as_of"]).dt.days
    assert delay.between(0, 6).all()
    actions = actions_table(plan, data_end=pd.Timestamp("2026-01-01"))
    assert len(actions) == int(plan["treated"].sum())
    assert set(actions["outcome"]) <= {"completed", "no response", "in progress"}


def test_the_treated_world_has_the_documented_hazards(worlds):
    plain, treated, plan, effects = worlds
    expected = treated_hazard(plain.truth["hazard"], plan, effects=effects, assign="treated")
    got = treated.truth["hazard"]
    assert (got["account_id"] == expected["account_id"]).all()
    np.testing.assert_allclose(got["hazard"], expected["hazard"], atol=1e-12)
    before = got["month"] < ACT_AT
    np.testing.assert_array_equal(
        got.loc[before, "hazard"], plain.truth["hazard"].loc[before, "hazard"]
    )
    held = got["account_id"].isin(plan.loc[~plan["treated"], "account_id"])
    np.testing.assert_array_equal(
        got.loc[held, "hazard"], plain.truth["hazard"].loc[held, "hazard"]
    )


def test_the_spliced_past_is_the_plain_world(worlds):
    plain, treated, _, _ = worlds
    tables = splice_past(plain.tables, treated.tables, at=ACT_AT)
    for name, column in (("logins", "ts"), ("feature_usage", "ts"), ("churn_events", "churned_at")):
        before = [
            t[name][t[name][column] < ACT_AT].reset_index(drop=True) for t in (plain.tables, tables)
        ]
        pd.testing.assert_frame_equal(before[0], before[1])
        after = tables[name][tables[name][column] >= ACT_AT].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            after,
            treated.tables[name][treated.tables[name][column] >= ACT_AT].reset_index(drop=True),
        )


def test_true_effects_are_the_difference_of_two_oracles(worlds):
    plain, _, plan, effects = worlds
    truth = true_effects(plain.truth["hazard"], plan, effects=effects, horizon_days=90)
    assert (truth["effect"] <= 1e-12).all()  # no play raises a hazard
    never = ~truth["would_start"]
    assert (truth.loc[never, "effect"] == 0).all()
    by_play = effects_by_playbook(truth)
    assert (by_play["true_effect"] < 0).all()
    assert by_play["recommendations"].sum() == len(plan)
