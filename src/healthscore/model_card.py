"""The model card: what a reader of a bundle needs to trust, or distrust, the model."""

from __future__ import annotations

from healthscore.config import Config


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "n/a" if value is None else str(value)


def _leak_section(metrics: dict[str, object]) -> str:
    suspects = metrics.get("leak_suspects") or []
    if not isinstance(suspects, list) or not suspects:
        return (
            "\n## Leak alarm\nSilent: no driver feature carries more than a third of the "
            "driver features' mean |SHAP|, and no feature alone reaches 95% of the model's "
            "test ROC AUC.\n"
        )
    lines = [
        f"- **{s.get('feature')}** {s.get('reason')}." for s in suspects if isinstance(s, dict)
    ]
    return (
        "\n## Leak alarm\n**Possible leak.** Figures this good are rarely honest: check that "
        "these features were known at each snapshot (docs/own-data.md, point-in-time traps) "
        "and drop them with `features.exclude` if not.\n\n" + "\n".join(lines) + "\n"
    )


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
    rows = [
        ("ROC AUC", "roc_auc", "baseline_rules_roc_auc", "baseline_logreg_roc_auc"),
        ("PR AUC", "pr_auc", "baseline_rules_pr_auc", "baseline_logreg_pr_auc"),
        ("Brier score", "brier", "baseline_rules_brier", "baseline_logreg_brier"),
        (
            f"Precision in top {config.capacity.top_k}",
            "precision_at_k",
            "baseline_rules_precision_at_k",
            "baseline_logreg_precision_at_k",
        ),
        (
            f"Churned ARR caught in top {config.capacity.top_k}",
            "arr_recall_at_k",
            "baseline_rules_arr_recall_at_k",
            "baseline_logreg_arr_recall_at_k",
        ),
    ]
    table = [
        "| metric (test period) | model | rule scorecard | logistic regression |",
        "|---|---|---|---|",
    ]
    table += [
        f"| {label} | {_fmt(metrics.get(a))} | {_fmt(metrics.get(b))} | {_fmt(metrics.get(c))} |"
        for label, a, b, c in rows
    ]
    oracle = ""
    if metrics.get("oracle_roc_auc") is not None:
        oracle = (
            f"\nThe true churn hazard of the simulated accounts reaches ROC AUC "
            f"{_fmt(metrics['oracle_roc_auc'])} on the same snapshots (the best any "
            f"model could do); the model gets {_fmt(metrics.get('model_oracle_ratio'))} "
            "of it.\n"
        )
    lab = config.labels
    return f"""# healthscore model card

## What it predicts
The calibrated probability that an account churns in (as_of + {lab.lead_days} days,
as_of + {lab.lead_days + lab.horizon_days} days], churn defined from {lab.churn_source}
(grace {lab.grace_days} days), mapped to a 0-100 health score (100 = healthiest;
{config.score.base_score:g} at {config.score.base_churn_probability:.0%} churn risk, every
{config.score.points_to_double_odds:g} points halve the odds of churn). Tiers: at_risk below
{config.score.at_risk_below:g}, watch below {config.score.watch_below:g}, else healthy.

## Data
- Project: `{project}`
- Source: `{data}` (content fingerprint `{fingerprint}`)
- Training period {metrics.get("train_period")} ({metrics.get("n_train")} snapshots),
  validation {metrics.get("valid_period")} ({metrics.get("n_valid")}),
  test {metrics.get("test_period")} ({metrics.get("n_test")}), separated by purge gaps of
  {purge_days} days so that no label window overlaps the next period.

## Test-period performance
{chr(10).join(table)}

Expected calibration error: {_fmt(metrics.get("ece"))} calibrated vs
{_fmt(metrics.get("ece_uncalibrated"))} uncalibrated. Lift in the top decile:
{_fmt(metrics.get("lift_top_decile"))}. Median days between the first at_risk flag and churn:
{_fmt(metrics.get("median_days_flagged_before_churn"))}.
{oracle}{_leak_section(metrics)}
## Intended use and limits
For ranking accounts for customer-success attention and explaining the ranking. The score is
a correlation-based risk estimate, not a causal effect of any playbook: measure plays with the
holdout. Re-train when the product, pricing or customer mix changes; watch calibration.
"""
