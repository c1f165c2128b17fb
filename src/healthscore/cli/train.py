"""``train``: fit, evaluate out of time, record in MLflow, gate the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    EngineOption,
    app,
    config_from,
    console,
    plain,
    progress,
)


def _f(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@app.command()
def train(
    data: DataOption,
    config: ConfigOption = None,
    tune: Annotated[int, typer.Option(help="Hyper-parameter search trials (0: none).")] = 0,
    model_dir: Annotated[
        Path, typer.Option(help="Where bundles are written (in a folder per project).")
    ] = Path("models"),
    engine: EngineOption = None,
) -> None:
    """Train the churn model on DATA, evaluate it out of time, record it in MLflow."""
    from healthscore.pipeline import train as train_model

    cfg = config_from(config, engine=engine)
    with progress("Building the training set and training"):
        outcome = train_model(data, cfg, model_dir=model_dir, tune=tune)
    m = outcome.metrics
    table = Table(title=plain(f"Test period {m['test_period']} ({m['n_test']} snapshots)"))
    for col in ("metric", "model", "rule scorecard", "logistic regression"):
        table.add_column(col)
    for label, key in (
        ("ROC AUC", "roc_auc"),
        ("PR AUC", "pr_auc"),
        ("Brier", "brier"),
        (f"precision@{m['top_k']}", "precision_at_k"),
        (f"churned ARR caught@{m['top_k']}", "arr_recall_at_k"),
    ):
        table.add_row(
            *map(
                plain,
                (
                    label,
                    _f(m[key]),
                    _f(m.get(f"baseline_rules_{key}")),
                    _f(m.get(f"baseline_logreg_{key}")),
                ),
            )
        )
    console.print(table)
    console.print(
        plain(
            f"Model ROC AUC beats the rule scorecard by {m['roc_auc_lift_over_rules']:+.4f} "
            f"and logistic regression by {m['roc_auc_lift_over_logreg']:+.4f}."
        )
    )
    if m.get("oracle_roc_auc") is not None:
        console.print(
            plain(
                f"Oracle ROC AUC {m['oracle_roc_auc']:.4f}: the model reaches "
                f"{m['model_oracle_ratio']:.1%} of the best possible."
            )
        )
    console.print(
        plain(
            f"ECE {m['ece']:.4f} (uncalibrated {m['ece_uncalibrated']:.4f}); "
            f"lift in the top decile {m['lift_top_decile']:.2f}."
        )
    )
    console.print(plain(f"Bundle: {outcome.bundle} (also {outcome.latest})"))
    for notice in outcome.notices:
        console.print(plain(f"warning: {notice}"))
    if outcome.promotion is not None:
        p = outcome.promotion
        verdict = "promoted to @champion" if p.promoted else "kept as @challenger only"
        console.print(plain(f"Registry: version {p.version} {verdict}: {p.reason}."))
        from healthscore.tracking import ui_command

        console.print(plain(f"Open MLflow: {ui_command(str(outcome.tracking_uri))}"))
