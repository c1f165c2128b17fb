"""Training on simulated data: out-of-time evaluation, baselines, oracle, bundle, MLflow."""

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.bundle import read_metrics
from healthscore.config import Config
from healthscore.dataset import purge_days
from healthscore.model import HealthModel

REQUIRED_KEYS = {
    "roc_auc",
    "pr_auc",
    "brier",
    "ece",
    "lift_top_decile",
    "precision_at_k",
    "arr_recall_at_k",
    "baseline_rules_roc_auc",
    "baseline_logreg_roc_auc",
    "n_train",
    "n_test",
    "test_period",
    "oracle_roc_auc",
}


def test_bundle_holds_everything_score_needs(trained):
    bundle = trained.outcome.bundle
    for name in (
        "model.txt",
        "model.json",
        "metrics.json",
        "model_card.md",
        "feature_catalogue.csv",
        "config.json",
        "plots/calibration.png",
        "plots/roc_pr.png",
        "plots/gains.png",
        "plots/shap_summary.png",
        "plots/family_importance.png",
        "plots/score_distribution.png",
        "slices.csv",
    ):
        assert (bundle / name).is_file(), name
    assert (trained.workdir / "models" / "data" / "latest" / "model.txt").is_file()
    assert trained.outcome.latest == trained.workdir / "models" / "data" / "latest"
    metrics = read_metrics(bundle)
    assert set(metrics) >= REQUIRED_KEYS
    assert "Test-period performance" in (bundle / "model_card.md").read_text()


def test_model_learns_the_planted_signal_and_beats_the_baselines(trained):
    m = trained.outcome.metrics
    print(
        {
            k: m[k]
            for k in (
                "roc_auc",
                "baseline_rules_roc_auc",
                "baseline_logreg_roc_auc",
                "oracle_roc_auc",
                "pr_auc",
                "baseline_rules_pr_auc",
            )
        }
    )
    assert m["roc_auc"] > 0.75
    assert m["roc_auc"] > m["baseline_rules_roc_auc"] + 0.05
    assert m["pr_auc"] > m["baseline_rules_pr_auc"]
    assert m["roc_auc"] > m["baseline_logreg_roc_auc"]
    assert 0.8 < m["model_oracle_ratio"] <= 1.05


def test_split_is_out_of_time_with_a_purge_gap(trained):
    m = trained.outcome.metrics
    train_end = pd.Timestamp(m["train_period"].split("..")[1])
    valid_start, valid_end = map(pd.Timestamp, m["valid_period"].split(".."))
    test_start = pd.Timestamp(m["test_period"].split("..")[0])
    gap = pd.Timedelta(days=purge_days(trained.config))
    assert train_end + gap <= valid_start
    assert valid_end + gap <= test_start


def test_same_seed_gives_the_same_model(trained):
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source
    from healthscore.training import fit_and_evaluate

    config = trained.config.with_overrides(split={"backtest_cutoffs": 0})
    frame = training_set_for(
        open_source(trained.data, config), config, trained.workdir / "models" / "cache"
    ).frame
    first = fit_and_evaluate(frame, config)
    second = fit_and_evaluate(frame, config)
    assert first.model.booster.model_to_string() == second.model.booster.model_to_string()
    assert first.metrics["roc_auc"] == second.metrics["roc_auc"]


def test_metrics_json_is_json_with_finite_headline_numbers(trained):
    raw = json.loads((trained.outcome.bundle / "metrics.json").read_text())
    for key in ("roc_auc", "pr_auc", "brier", "ece"):
        assert isinstance(raw[key], float) and np.isfinite(raw[key])


def test_bundle_loads_and_predicts_like_the_evaluation(trained):
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source

    model = HealthModel.load(trained.outcome.latest)
    frame = training_set_for(
        open_source(trained.data, trained.config),
        trained.config,
        trained.workdir / "models" / "cache",
    ).frame
    p = model.predict_proba(frame.head(50))
    assert p.shape == (50,) and np.all((p >= 0) & (p <= 1))


def test_too_little_history_is_a_clear_error(world_dir, tmp_path):
    from healthscore.config import Config
    from healthscore.errors import DataError
    from healthscore.pipeline import train

    config = Config().with_overrides(split={"test_dates": 20, "valid_dates": 20})
    with pytest.raises(DataError):
        train(
            world_dir,
            config.with_overrides(tracking={"enabled": False}),
            model_dir=tmp_path / "m",
            root=tmp_path,
        )


def test_tuning_searches_with_time_ordered_validation(trained):
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source
    from healthscore.training import fit_and_evaluate

    config = trained.config.with_overrides(
        split={"backtest_cutoffs": 0}, model={"n_estimators": 80}
    )
    frame = training_set_for(
        open_source(trained.data, config), config, trained.workdir / "models" / "cache"
    ).frame
    tuned = fit_and_evaluate(frame, config, tune_trials=2)
    assert {"learning_rate", "num_leaves", "min_data_in_leaf"} <= set(tuned.tuned_params)
    again = fit_and_evaluate(frame, config, tune_trials=2)
    assert again.tuned_params == tuned.tuned_params


@pytest.mark.slow
def test_the_model_card_reports_the_purge_the_split_used_in_renewal_mode(world_dir, tmp_path):
    from healthscore.pipeline import train

    config = Config().with_overrides(
        model={"n_estimators": 150, "learning_rate": 0.08},
        labels={"mode": "renewal"},
        tracking={"enabled": False},
        split={"backtest_cutoffs": 0, "test_dates": 2, "valid_dates": 2},
    )
    outcome = train(world_dir, config, model_dir=tmp_path / "models", root=tmp_path)
    card = (outcome.bundle / "model_card.md").read_text()
    assert purge_days(config) == 180 + 30
    assert "separated by purge gaps of\n  210 days" in card or "purge gaps of 210 days" in card
