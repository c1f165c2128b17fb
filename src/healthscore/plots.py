"""The evaluation report's figures, written as PNG files.

Every function takes plain arrays or DataFrames, a path and the language of its labels
(``lang``, default English; :func:`evaluation_plots` draws in the training config's
``[output] locale``, with a Japanese font when there is one), draws on its own
:class:`matplotlib.figure.Figure` (never pyplot's global state, so nothing leaks between
calls and no display is needed), saves it and returns the path. The figures are
deterministic: the only randomness, the vertical jitter of the SHAP dot plot, is seeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from healthscore.evaluate import calibration_table, cumulative_gains
from healthscore.explain import family_contributions
from healthscore.i18n import N_, NC_, Language
from healthscore.report_charts import labels_in

if TYPE_CHECKING:
    from healthscore.training import Evaluation

_DPI = 100
_OUTCOME_COLOURS = {"retained": "tab:blue", "churned": "tab:red"}
_OUTCOMES = {"retained": NC_("outcome", "retained"), "churned": NC_("outcome", "churned")}
_CURVES = {"raw": NC_("probability", "raw"), "calibrated": NC_("probability", "calibrated")}


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI, format="png", metadata={"Software": None})
    return path


def _diagonal(ax: Axes) -> None:
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="_nolegend_")


def plot_calibration(
    y: ArrayLike,
    prob_raw: ArrayLike,
    prob_calibrated: ArrayLike,
    path: str | Path,
    *,
    n_bins: int = 10,
    lang: Language | None = None,
) -> Path:
    """Reliability diagram of the raw and the calibrated probabilities.

    Each point is a quantile bin of :func:`healthscore.evaluate.calibration_table`: its mean
    predicted probability against its observed churn rate. Points on the diagonal are honest.
    """
    lang = lang or Language()
    t = lang.t
    y = np.asarray(y, dtype=float)
    curves = {
        lang.tc("probability", _CURVES["raw"]): np.asarray(prob_raw, dtype=float),
        lang.tc("probability", _CURVES["calibrated"]): np.asarray(prob_calibrated, dtype=float),
    }
    figure = Figure(figsize=(6, 5))
    ax = figure.add_subplot()
    _diagonal(ax)
    top = float(y.mean()) if y.size else 0.0
    for (label, prob), marker in zip(curves.items(), ("s", "o"), strict=True):
        table = calibration_table(y, prob, n_bins=n_bins, strategy="quantile")
        ax.plot(table["mean_probability"], table["observed_rate"], marker=marker, label=label)
        top = max(top, float(table["mean_probability"].max()), float(table["observed_rate"].max()))
    limit = min(1.0, max(0.05, 1.1 * top))
    ax.set(
        xlim=(0, limit),
        ylim=(0, limit),
        xlabel=t("mean predicted churn probability"),
        ylabel=t("observed churn rate"),
        title=t("Calibration (quantile bins)"),
    )
    ax.legend(loc="upper left")
    return _save(figure, path)


def plot_gains(
    y: ArrayLike, prob: ArrayLike, path: str | Path, *, lang: Language | None = None
) -> Path:
    """Cumulative gains (churners caught vs accounts worked) and lift, riskiest first."""
    t = (lang or Language()).t
    contacted, captured = cumulative_gains(y, prob)
    figure = Figure(figsize=(10, 4.5))
    gains_ax, lift_ax = figure.subplots(1, 2)
    _diagonal(gains_ax)
    gains_ax.plot(contacted, captured, label=t("model"))
    gains_ax.set(
        xlabel=t("share of accounts worked"),
        ylabel=t("share of churners caught"),
        title=t("Cumulative gains"),
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = captured[1:] / contacted[1:]
    lift_ax.axhline(1.0, linestyle="--", color="grey", linewidth=1)
    lift_ax.plot(contacted[1:], lift)
    lift_ax.set(
        xlabel=t("share of accounts worked"), ylabel=t("lift"), title=t("Lift"), xlim=(0, 1)
    )
    return _save(figure, path)


def plot_roc_pr(
    y: ArrayLike,
    probabilities: Mapping[str, ArrayLike],
    path: str | Path,
    *,
    lang: Language | None = None,
) -> Path:
    """ROC and precision-recall curves of several scorers (model, baselines) side by side.

    The scorers' names are message ids, shown in ``lang``.
    """
    t = (lang or Language()).t
    y = np.asarray(y, dtype=float)
    figure = Figure(figsize=(10, 4.5))
    roc_ax, pr_ax = figure.subplots(1, 2)
    _diagonal(roc_ax)
    pr_ax.axhline(float(y.mean()), linestyle="--", color="grey", linewidth=1)
    for name, prob in probabilities.items():
        prob = np.asarray(prob, dtype=float)
        fpr, tpr, _ = roc_curve(y, prob)
        auc, ap = roc_auc_score(y, prob), average_precision_score(y, prob)
        roc_ax.plot(fpr, tpr, label=f"{t(name)} (AUC {auc:.3f})")
        precision, recall, _ = precision_recall_curve(y, prob)
        pr_ax.plot(recall, precision, label=f"{t(name)} (AP {ap:.3f})")
    roc_ax.set(xlabel=t("false positive rate"), ylabel=t("true positive rate"), title="ROC")
    pr_ax.set(
        xlabel=t("recall"), ylabel=t("precision"), title=t("Precision-recall"), ylim=(0, 1.01)
    )
    roc_ax.legend(loc="lower right")
    pr_ax.legend(loc="upper right")
    return _save(figure, path)


def plot_score_distribution(
    health_score: ArrayLike,
    y: ArrayLike,
    path: str | Path,
    *,
    thresholds: Sequence[float] = (),
    bins: int = 20,
    lang: Language | None = None,
) -> Path:
    """Histograms (as densities) of the health score for retained and churned accounts.

    ``thresholds`` (for example the tier cut-offs of ``ScoreConfig``) are drawn as lines.
    """
    lang = lang or Language()
    score = np.asarray(health_score, dtype=float)
    y = np.asarray(y, dtype=float)
    edges = np.linspace(0, 100, bins + 1)
    figure = Figure(figsize=(7, 4.5))
    ax = figure.add_subplot()
    for outcome, mask in (("retained", y == 0), ("churned", y == 1)):
        if mask.any():
            ax.hist(
                score[mask],
                bins=list(edges),
                density=True,
                alpha=0.55,
                color=_OUTCOME_COLOURS[outcome],
                label=f"{lang.tc('outcome', _OUTCOMES[outcome])} (n={int(mask.sum())})",
            )
    for threshold in thresholds:
        ax.axvline(threshold, color="black", linestyle=":", linewidth=1)
    ax.set(
        xlim=(0, 100),
        xlabel=lang.t("health score"),
        ylabel=lang.t("density"),
        title=lang.t("Health score by outcome"),
    )
    ax.legend(loc="upper left")
    return _save(figure, path)


def _colour_values(column: pd.Series) -> np.ndarray:
    """Feature values as 0-1 percentile ranks for colouring; categories by their codes."""
    if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
        column.dtype
    ):
        codes = column.astype("category").cat.codes.to_numpy(dtype=float)
        values = pd.Series(np.where(codes < 0, np.nan, codes))
    else:
        values = pd.Series(column.to_numpy(dtype=float, na_value=np.nan))
    return values.rank(pct=True).to_numpy(dtype=float)


def plot_shap_summary(
    shap_values: np.ndarray,
    X: pd.DataFrame,
    path: str | Path,
    *,
    max_display: int = 20,
    seed: int = 0,
    lang: Language | None = None,
) -> Path:
    """Dot plot of per-row SHAP values for the most influential features.

    Features are ordered by mean absolute SHAP value; each dot is one row, placed at its SHAP
    value (right = pushes towards churn) and coloured by the feature's value as a percentile
    (categorical features by their category code; missing values grey).
    """
    t = (lang or Language()).t
    shap_values = np.asarray(shap_values, dtype=float)
    if shap_values.shape != X.shape:
        raise ValueError(f"shap_values has shape {shap_values.shape}, X has {X.shape}")
    importance = np.abs(shap_values).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:max_display]
    rng = np.random.default_rng(seed)
    figure = Figure(figsize=(8, 0.4 * len(order) + 1.5))
    ax = figure.add_subplot()
    ax.axvline(0, color="grey", linewidth=1)
    scatter = None
    for row, feature in enumerate(order[::-1]):
        colour = _colour_values(X.iloc[:, feature])
        jitter = rng.uniform(-0.3, 0.3, size=len(colour))
        missing = np.isnan(colour)
        ax.scatter(shap_values[missing, feature], row + jitter[missing], s=6, color="lightgrey")
        scatter = ax.scatter(
            shap_values[~missing, feature],
            row + jitter[~missing],
            s=6,
            c=colour[~missing],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
        )
    ax.set_yticks(range(len(order)), [str(X.columns[i]) for i in order[::-1]])
    ax.set(xlabel=t("SHAP value (log-odds of churn)"), title=t("Feature contributions"))
    if scatter is not None:
        bar = figure.colorbar(scatter, ax=ax, ticks=[0, 1])
        bar.ax.set_yticklabels([t("low"), t("high")])
        bar.set_label(t("feature value"))
    return _save(figure, path)


def _family_importance(family_contrib: pd.DataFrame) -> pd.Series:
    if {"family", "contribution"} <= set(family_contrib.columns):
        return family_contrib.groupby("family")["contribution"].apply(lambda c: c.abs().mean())
    numeric = family_contrib.select_dtypes("number")
    return numeric.abs().mean(axis=0)


def plot_family_importance(
    family_contrib: pd.DataFrame, path: str | Path, *, lang: Language | None = None
) -> Path:
    """Bar chart of the mean absolute contribution of each driver family.

    ``family_contrib`` is either wide (one numeric column per family, one row per account,
    as :func:`healthscore.explain.family_contributions` gives, whose ``family__`` prefix is
    dropped from the labels; other columns such as ``account_id`` are ignored) or long
    (``family`` and ``contribution`` columns).
    """
    importance = _family_importance(family_contrib).sort_values(kind="stable")
    figure = Figure(figsize=(7, 0.45 * len(importance) + 1.5))
    ax = figure.add_subplot()
    lang = lang or Language()
    labels = [lang.word("family", str(name).removeprefix("family__")) for name in importance.index]
    ax.barh(labels, importance.to_numpy(), color="tab:purple")
    ax.set(xlabel=lang.t("mean |contribution| (log-odds)"), title=lang.t("Drivers by family"))
    return _save(figure, path)


def evaluation_plots(
    evaluation: Evaluation, out: Path, *, lang: Language | None = None
) -> dict[str, Path]:
    """The bundle's plots of a trained model's test period, by their path in the bundle.

    Labelled in ``lang`` (default English), or in English when no font can draw it.
    """
    with labels_in(lang or Language()) as drawn_in:
        return _evaluation_plots(evaluation, out, lang=drawn_in)


def _evaluation_plots(evaluation: Evaluation, out: Path, *, lang: Language) -> dict[str, Path]:
    test = evaluation.test
    y = test["label"].to_numpy(int)
    out.mkdir(parents=True, exist_ok=True)
    made = {
        "plots/calibration.png": plot_calibration(
            y,
            test["raw_probability"],
            test["churn_probability"],
            out / "calibration.png",
            lang=lang,
        ),
        "plots/gains.png": plot_gains(y, test["churn_probability"], out / "gains.png", lang=lang),
        "plots/roc_pr.png": plot_roc_pr(
            y,
            {
                N_("model"): test["churn_probability"],
                N_("rule scorecard"): test["rules_probability"],
                N_("logistic regression"): test["logreg_probability"],
            },
            out / "roc_pr.png",
            lang=lang,
        ),
        "plots/score_distribution.png": plot_score_distribution(
            test["health_score"], y, out / "score_distribution.png", lang=lang
        ),
    }
    sample = test.sample(min(len(test), 2000), random_state=0)
    contrib = evaluation.model.contributions(sample)
    matrix = evaluation.model.matrix(sample)
    made["plots/shap_summary.png"] = plot_shap_summary(
        contrib[evaluation.model.features].to_numpy(), matrix, out / "shap_summary.png", lang=lang
    )
    made["plots/family_importance.png"] = plot_family_importance(
        family_contributions(contrib), out / "family_importance.png", lang=lang
    )
    return made
