"""The model card: what a reader of a bundle needs to trust, or distrust, the model.

The card is Markdown, rendered from the template ``templates/model_card.md.j2`` (see
:mod:`healthscore.pages`); it is written for the analysts who train and ship a model, in
English.
"""

from __future__ import annotations

from healthscore.config import Config
from healthscore.pages import render


def render_model_card(
    metrics: dict[str, object],
    config: Config,
    *,
    data: str,
    fingerprint: str,
    project: str,
    purge_days: int,
) -> str:
    """A Markdown model card built from the test metrics and the config.

    ``purge_days`` is the gap the split actually used (it depends on the label mode).
    """
    top_k = config.capacity.top_k
    rows = [
        ("ROC AUC", "roc_auc", "baseline_rules_roc_auc", "baseline_logreg_roc_auc"),
        ("PR AUC", "pr_auc", "baseline_rules_pr_auc", "baseline_logreg_pr_auc"),
        ("Brier score", "brier", "baseline_rules_brier", "baseline_logreg_brier"),
        (
            f"Precision in top {top_k}",
            "precision_at_k",
            "baseline_rules_precision_at_k",
            "baseline_logreg_precision_at_k",
        ),
        (
            f"Churned ARR caught in top {top_k}",
            "arr_recall_at_k",
            "baseline_rules_arr_recall_at_k",
            "baseline_logreg_arr_recall_at_k",
        ),
    ]
    suspects = metrics.get("leak_suspects") or []
    return render(
        "model_card.md.j2",
        metrics=metrics,
        labels=config.labels,
        score=config.score,
        rows=rows,
        suspects=[s for s in suspects if isinstance(s, dict)] if isinstance(suspects, list) else [],
        data=data,
        fingerprint=fingerprint,
        project=project,
        purge_days=purge_days,
    )
