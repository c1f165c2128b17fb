"""The leak alarm: it fires on a planted leak and stays silent on honest data.

A feature that carries the future (here: the label itself, blurred) makes a model look
excellent. The alarm must name it in the metrics, the model card and the CLI's output; on
the simulated world, where every feature is point-in-time, it must stay silent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.leak_alarm import (
    AUC_RATIO_LIMIT,
    describe,
    leak_suspects,
    shap_shares,
    single_feature_auc,
)
from healthscore.model_card import render_model_card
from healthscore.training import fit_and_evaluate


def test_single_feature_auc_is_measured_out_of_time():
    rng = np.random.default_rng(0)
    y_train, y_test = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    honest = single_feature_auc(
        pd.Series(rng.normal(size=500)), y_train, pd.Series(rng.normal(size=500)), y_test
    )
    leaked = single_feature_auc(
        pd.Series(y_train + rng.normal(0, 0.1, 500)),
        y_train,
        pd.Series(y_test + rng.normal(0, 0.1, 500)),
        y_test,
    )
    assert 0.4 < honest < 0.6 and leaked > 0.99
    missing_means_churn = single_feature_auc(
        pd.Series(np.where(y_train == 1, np.nan, 1.0)),
        y_train,
        pd.Series(np.where(y_test == 1, np.nan, 1.0)),
        y_test,
    )
    assert missing_means_churn == pytest.approx(1.0)
    categories = single_feature_auc(
        pd.Series(np.where(y_train == 1, "gone", "here")),
        y_train,
        pd.Series(np.where(y_test == 1, "gone", "here")),
        y_test,
    )
    assert categories == pytest.approx(1.0)


def test_shares_sum_to_one_without_the_bias():
    contributions = pd.DataFrame({"a": [1.0, -1.0], "b": [0.5, 0.5], "bias": [9.0, 9.0]})
    shares = shap_shares(contributions)
    assert shares.to_dict() == {"a": pytest.approx(2 / 3), "b": pytest.approx(1 / 3)}


@pytest.fixture(scope="module")
def planted(trained):
    """The session world's training set with the label blurred into a support feature."""
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source

    frame = training_set_for(
        open_source(trained.data, trained.config),
        trained.config,
        trained.workdir / "models" / "cache",
    ).frame.copy()
    rng = np.random.default_rng(1)
    label = frame["label"].fillna(0).to_numpy()
    frame["support__tickets_30d"] = np.where(
        rng.random(len(frame)) < 0.9, label * 5, rng.integers(0, 6, len(frame))
    ).astype(float)
    config = trained.config.with_overrides(split={"backtest_cutoffs": 0})
    return fit_and_evaluate(frame, config), config


def test_a_planted_leak_sets_off_the_alarm(planted):
    evaluation, config = planted
    suspects = evaluation.metrics["leak_suspects"]
    assert evaluation.metrics["leak_alarm"] == len(suspects) >= 1
    first = suspects[0]
    assert first["feature"] == "support__tickets_30d"
    assert first["shap_share"] > 1 / 3
    assert first["single_feature_auc"] >= AUC_RATIO_LIMIT * first["model_auc"]
    card = render_model_card(
        evaluation.metrics, config, data="x", fingerprint="f", project="p", purge_days=90
    )
    assert "**Possible leak.**" in card and "support__tickets_30d" in card


def test_the_alarm_is_silent_on_the_simulated_world(trained):
    metrics = trained.outcome.metrics
    assert metrics["leak_suspects"] == [] and metrics["leak_alarm"] == 0
    card = (trained.outcome.bundle / "model_card.md").read_text()
    assert "## Leak alarm\nSilent" in card
    assert not [n for n in trained.outcome.notices if n.startswith("possible leak")]


def test_context_features_face_only_the_single_feature_test(planted, trained):
    """Days to renewal may dominate attributions legitimately; it is not flagged for that."""
    evaluation, _ = planted
    test = evaluation.test
    contributions = evaluation.model.contributions(test)
    contributions["contract__days_to_renewal"] *= 100  # dominant, but a context feature
    suspects = leak_suspects(
        contributions=contributions,
        train=test,
        y_train=test["label"].to_numpy(int),
        test=test,
        y_test=test["label"].to_numpy(int),
        features=evaluation.model.features,
        model_auc=float(evaluation.metrics["roc_auc"]),
    )
    assert "contract__days_to_renewal" not in [s.feature for s in suspects]
    assert describe(suspects).startswith("possible leak: support__tickets_30d")


def test_a_model_of_noise_raises_no_alarm():
    """Attributions piled on a feature that predicts nothing, and features near chance beside a
    model near chance, are not leaks (RavenStack named 21 features before the floors)."""
    rng = np.random.default_rng(3)
    n = 3000
    names = ["support__urgent_share_90d", "usage__logins_30d", "contract__seats"]
    train = pd.DataFrame({f: rng.normal(size=n) for f in names})
    test = pd.DataFrame({f: rng.normal(size=n) for f in names})
    y_train, y_test = rng.integers(0, 2, n), rng.integers(0, 2, n)
    contributions = pd.DataFrame(
        {"support__urgent_share_90d": rng.normal(0, 3, n), "usage__logins_30d": rng.normal(size=n)}
    ).assign(contract__seats=0.0, bias=-2.0)
    suspects = leak_suspects(
        contributions=contributions,
        train=train,
        y_train=y_train,
        test=test,
        y_test=y_test,
        features=names,
        model_auc=0.52,
    )
    assert suspects == []
