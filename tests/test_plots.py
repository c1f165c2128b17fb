"""Every plot writes a real PNG, closes its figure and draws the same picture twice."""

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from healthscore import plots

SEED = 11


@pytest.fixture
def scored():
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    prob = rng.beta(1, 8, 400)
    y = (rng.uniform(size=400) < prob).astype(int)
    return y, prob


def _assert_png(path, *, min_width=300, min_height=200):
    assert path.is_file() and path.stat().st_size > 1000
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert width >= min_width and height >= min_height
    assert image.std() > 0  # not a blank canvas


def test_calibration_plot(tmp_path, scored):
    y, prob = scored
    path = plots.plot_calibration(y, np.sqrt(prob), prob, tmp_path / "calibration.png")
    _assert_png(path)


def test_gains_plot(tmp_path, scored):
    y, prob = scored
    _assert_png(plots.plot_gains(y, prob, tmp_path / "gains.png"), min_width=800)


def test_roc_pr_plot(tmp_path, scored):
    y, prob = scored
    rng = np.random.default_rng(SEED)
    curves = {"model": prob, "rules": rng.uniform(size=y.size), "logreg": prob**2}
    _assert_png(plots.plot_roc_pr(y, curves, tmp_path / "nested" / "roc_pr.png"), min_width=800)


def test_score_distribution_plot(tmp_path, scored):
    y, prob = scored
    path = plots.plot_score_distribution(
        100 * (1 - prob), y, tmp_path / "scores.png", thresholds=(50, 70)
    )
    _assert_png(path)


def _shap_inputs(n=120, seed=SEED):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "usage__logins_30d": rng.poisson(10, n).astype(float),
            "account__plan": pd.array(rng.choice(["basic", "pro"], n), "str"),
            "account__region": pd.Categorical(rng.choice(["eu", "us"], n)),
            "contract__days_to_renewal": rng.integers(0, 365, n),
        }
    )
    X.loc[:5, "usage__logins_30d"] = np.nan
    X.loc[:3, "account__plan"] = None
    return rng.normal(size=X.shape), X


def test_shap_summary_with_categorical_columns_is_deterministic(tmp_path):
    shap_values, X = _shap_inputs()
    first = plots.plot_shap_summary(shap_values, X, tmp_path / "a.png", max_display=3)
    second = plots.plot_shap_summary(shap_values, X, tmp_path / "b.png", max_display=3)
    _assert_png(first)
    assert first.read_bytes() == second.read_bytes()


def test_shap_summary_rejects_mismatched_shapes(tmp_path):
    shap_values, X = _shap_inputs()
    with pytest.raises(ValueError, match="shape"):
        plots.plot_shap_summary(shap_values[:, :2], X, tmp_path / "x.png")


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_family_importance_plot(tmp_path, layout):
    rng = np.random.default_rng(SEED)
    wide = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(50)],
            "family__usage": rng.normal(0, 1.0, 50),
            "family__support": rng.normal(0, 0.5, 50),
            "family__contract": rng.normal(0, 0.2, 50),
        }
    )
    family_contrib = (
        wide
        if layout == "wide"
        else wide.melt(id_vars="account_id", var_name="family", value_name="contribution")
    )
    _assert_png(plots.plot_family_importance(family_contrib, tmp_path / "families.png"))


def test_plots_leave_no_figure_open(tmp_path, scored):
    import matplotlib.pyplot as plt

    y, prob = scored
    before = len(plt.get_fignums())
    plots.plot_gains(y, prob, tmp_path / "gains.png")
    plots.plot_calibration(y, prob, prob, tmp_path / "calibration.png")
    assert len(plt.get_fignums()) == before
