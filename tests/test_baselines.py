"""The rule scorecard's documented thresholds and the logistic baseline's behaviour."""

import io
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from healthscore.baselines import (
    COMPONENTS,
    NEUTRAL_SCORE,
    LogisticBaseline,
    RuleScorecard,
    ScorecardColumns,
    ScorecardWeights,
)
from healthscore.errors import DataError
from healthscore.features.catalogue import feature_names

SEED = 7
COLUMNS = ScorecardColumns()

# One row per documented band edge, with every other input at a healthy value.
ACCOUNTS = """\
usage__logins_30d,usage__active_users_30d,adoption__distinct_features_30d,support__tickets_90d,support__urgent_tickets_90d,satisfaction__last_nps,contract__days_to_renewal
200,10,8,0,0,9,120
100,10,5,2,0,10,365
40,10,3,3,0,8,119
10,10,1,5,0,7,60
9,10,0,6,0,6,59
0,10,7,10,1,0,0
0,0,4,11,3,,-5
,,,,,,
"""


def _accounts() -> pd.DataFrame:
    return pd.read_csv(io.StringIO(ACCOUNTS))


def test_sub_scores_at_the_documented_thresholds():
    parts = RuleScorecard().sub_scores(_accounts())
    # logins per active user: 20, 10, 4, 1, 0.9, 0, no active users, missing
    assert parts["usage"].tolist() == [100, 75, 50, 25, 0, 0, 0, NEUTRAL_SCORE]
    # distinct features: 8, 5, 3, 1, 0, 7, 4, missing
    assert parts["adoption"].tolist() == [100, 75, 50, 25, 0, 75, 50, NEUTRAL_SCORE]
    # tickets 0, 2, 3, 5, 6, 10 (+1 urgent: -25), 11 (+3 urgent: floored), missing
    assert parts["support"].tolist() == [100, 100, 75, 75, 50, 25, 0, NEUTRAL_SCORE]
    # NPS promoter 9-10, passive 7-8, detractor 0-6, no answer = neutral
    assert parts["nps"].tolist() == [100, 100, 50, 50, 0, 0, NEUTRAL_SCORE, NEUTRAL_SCORE]
    # days to renewal: 120+, 60-119, under 60 (and overdue) a risk
    assert parts["renewal"].tolist() == [100, 100, 60, 60, 25, 25, 25, NEUTRAL_SCORE]


def test_all_missing_scores_neutral_and_healthy_scores_100():
    scores = RuleScorecard().score(_accounts())
    assert scores[0] == pytest.approx(100.0)
    assert scores[-1] == pytest.approx(NEUTRAL_SCORE)
    assert np.all((scores >= 0) & (scores <= 100))


def test_default_weights_sum_to_one_and_bad_weights_are_refused():
    weights = ScorecardWeights().as_dict()
    assert tuple(weights) == COMPONENTS
    assert sum(weights.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        ScorecardWeights(usage=0.5)


@pytest.mark.parametrize(
    ("column", "direction"),
    [
        (COLUMNS.logins, +1),
        (COLUMNS.active_users, -1),  # same logins spread over more users: less usage each
        (COLUMNS.distinct_features, +1),
        (COLUMNS.tickets, -1),
        (COLUMNS.urgent_tickets, -1),
        (COLUMNS.nps, +1),
        (COLUMNS.days_to_renewal, +1),
    ],
)
def test_score_is_monotone_in_each_input(column, direction):
    grid = np.arange(0, 400, dtype=float)
    if column == COLUMNS.active_users:
        grid = grid + 1
    base = _accounts().iloc[[3]]  # a middling account
    frame = pd.concat([base] * grid.size, ignore_index=True).assign(**{column: grid})
    steps = np.diff(RuleScorecard().score(frame)) * direction
    assert np.all(steps >= 0)
    assert np.any(steps > 0)


def test_default_columns_are_declared_in_the_feature_catalogue():
    declared = set(feature_names())
    for field in fields(ScorecardColumns):
        assert getattr(COLUMNS, field.name) in declared, field.name


def test_an_absent_column_scores_neutral_unless_strict(caplog):
    accounts = _accounts().drop(columns=[COLUMNS.nps])
    y = [0, 0, 0, 1, 1, 1, 1, 0]
    scorecard = RuleScorecard().fit(accounts, y)
    assert scorecard.unavailable_columns_ == [COLUMNS.nps]
    assert COLUMNS.nps in caplog.text
    assert (scorecard.sub_scores(accounts)["nps"] == NEUTRAL_SCORE).all()
    unavailable = RuleScorecard(columns=ScorecardColumns(nps=None))
    assert (unavailable.sub_scores(accounts)["nps"] == NEUTRAL_SCORE).all()
    with pytest.raises(DataError, match="satisfaction__last_nps"):
        RuleScorecard(strict=True).score(accounts)


def test_fit_learns_only_the_probability_map():
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    accounts = _accounts().sample(400, replace=True, random_state=SEED).reset_index(drop=True)
    scorecard = RuleScorecard()
    score = scorecard.score(accounts)
    churned = rng.uniform(size=score.size) < 1 / (1 + np.exp((score - 50) / 10))
    before = scorecard.score(accounts)
    proba = scorecard.fit(accounts, churned).predict_proba(accounts)
    assert proba.shape == (400, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(scorecard.score(accounts), before)
    order = np.argsort(score)
    assert np.all(np.diff(proba[order, 1]) <= 1e-12)  # healthier, never riskier


def _planted_frame(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    usage = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "enterprise"], size=n)
    log_odds = -1.0 - 2.0 * usage + np.where(plan == "basic", 1.5, 0.0)
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-log_odds))).astype(int)
    frame = pd.DataFrame({"usage__logins_30d": usage, "account__plan": pd.array(plan, "str")})
    frame.loc[rng.uniform(size=n) < 0.1, "usage__logins_30d"] = np.nan
    frame.loc[rng.uniform(size=n) < 0.1, "account__plan"] = None
    return frame, churned


def test_logistic_baseline_learns_a_planted_signal():
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    train, y_train = _planted_frame(2000, rng)
    test, y_test = _planted_frame(1000, rng)
    assert train["account__plan"].dtype == "str" and train["account__plan"].isna().any()
    model = LogisticBaseline().fit(train, y_train)
    proba = model.predict_proba(test)
    assert proba.shape == (1000, 2)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.8


def test_logistic_baseline_handles_unseen_categories_and_category_dtype():
    rng = np.random.default_rng(SEED)
    train, y_train = _planted_frame(500, rng)
    train = train.assign(account__region=pd.Categorical(rng.choice(["eu", "us"], size=500)))
    model = LogisticBaseline().fit(train, y_train)
    unseen = train.head(3).assign(
        account__plan=pd.array(["startup", None, "pro"], "str"),
        account__region=pd.Categorical(["apac", "eu", None]),
    )
    proba = model.predict_proba(unseen)
    assert np.isfinite(proba).all()
    with pytest.raises(DataError, match="account__region"):
        model.predict_proba(unseen.drop(columns=["account__region"]))
