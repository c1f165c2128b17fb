"""The churn model object: fitting, calibration, explanation and persistence."""

import numpy as np
import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.errors import ModelError
from healthscore.model import HealthModel

SEED = 11


def planted(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A frame whose churn depends on one numeric feature, one categorical, and noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "usage__logins_30d": rng.gamma(2.0, 10.0, n),
            "support__tickets_90d": rng.poisson(1.0, n).astype(float),
            "account__segment": rng.choice(["SMB", "mid_market", "enterprise"], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "usage__logins_30d"] = np.nan
    logit = (
        -2.5
        - 0.08 * frame["usage__logins_30d"].fillna(5)
        + 0.6 * frame["support__tickets_90d"]
        + np.where(frame["account__segment"] == "SMB", 0.8, 0.0)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y, logit.to_numpy()


@pytest.fixture(scope="module")
def fitted():
    print(f"seed={SEED}")
    frame, y, logit = planted(20000, SEED)
    config = Config()
    model = HealthModel.fit(
        frame[:10000],
        y[:10000],
        frame[10000:15000],
        y[10000:15000],
        features=list(frame.columns),
        config=config.model,
        score_config=config.score,
        seed=SEED,
    )
    return model, frame[15000:], y[15000:], logit[15000:]


def test_learns_the_planted_signal(fitted):
    from sklearn.metrics import roc_auc_score

    model, test, y, true_logit = fitted
    best_possible = roc_auc_score(y, true_logit)
    assert roc_auc_score(y, model.predict_proba(test)) > 0.95 * best_possible


def test_calibration_keeps_held_out_probabilities_honest():
    """On this planted world the raw model is already close to calibrated (ECE about 0.013):
    the calibration fitted on the validation period must keep the test period's ECE small and
    its log loss no worse. That it corrects a miscalibrated model is checked in
    ``test_calibration.py``."""
    from sklearn.metrics import log_loss

    from healthscore.evaluate import expected_calibration_error

    frame, y, _ = planted(12000, 3)
    config = Config().with_overrides(model={"min_child_samples": 5, "num_leaves": 63})
    model = HealthModel.fit(
        frame[:4000],
        y[:4000],
        frame[4000:8000],
        y[4000:8000],
        features=list(frame.columns),
        config=config.model,
        score_config=config.score,
        seed=3,
    )
    test, y_test = frame[8000:], y[8000:]
    calibrated = expected_calibration_error(y_test, model.predict_proba(test))
    assert calibrated < 0.02
    raw_loss = log_loss(y_test, model.uncalibrated_probability(test))
    assert log_loss(y_test, model.predict_proba(test)) <= raw_loss * 1.005


def test_same_seed_gives_the_same_model():
    frame, y, _ = planted(3000, 5)
    config = Config()
    models = [
        HealthModel.fit(
            frame[:2000],
            y[:2000],
            frame[2000:],
            y[2000:],
            features=list(frame.columns),
            config=config.model,
            score_config=config.score,
            seed=5,
        )
        for _ in range(2)
    ]
    assert models[0].booster.model_to_string() == models[1].booster.model_to_string()


def test_shap_contributions_add_up_and_agree_with_shap(fitted):
    import shap

    model, test, _, _ = fitted
    contrib = model.contributions(test)
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_log_odds(test), atol=1e-8)
    explainer = shap.TreeExplainer(model.booster)
    values = explainer.shap_values(model.matrix(test))
    values = values[1] if isinstance(values, list) else values
    np.testing.assert_allclose(values, contrib[model.features].to_numpy(), atol=1e-6)
    expected = np.ravel(explainer.expected_value)[-1]
    np.testing.assert_allclose(contrib["bias"].to_numpy(), expected, atol=1e-6)


def test_save_and_load_give_identical_predictions(fitted, tmp_path):
    model, test, _, _ = fitted
    model.save(tmp_path / "bundle")
    loaded = HealthModel.load(tmp_path / "bundle")
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    assert loaded.categories == model.categories


def test_unseen_category_is_treated_as_missing(fitted):
    model, test, _, _ = fitted
    odd = test.head(3).assign(**{"account__segment": "martian"})
    missing = test.head(3).assign(**{"account__segment": None})
    np.testing.assert_allclose(model.predict_proba(odd), model.predict_proba(missing))


def test_missing_features_are_a_clear_error(fitted):
    model, test, _, _ = fitted
    with pytest.raises(ModelError, match="lacks 1 feature.*support__tickets_90d"):
        model.predict_proba(test.drop(columns="support__tickets_90d"))


def test_loading_a_folder_that_is_not_a_bundle(tmp_path):
    with pytest.raises(ModelError, match="not a model bundle"):
        HealthModel.load(tmp_path)
