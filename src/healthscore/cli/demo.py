"""``demo``: the main job end to end on the embedded simulated data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore import simulation_defaults as default
from healthscore.cli.app import ConfigOption, app, config_from, console, plain, progress
from healthscore.cli.output import account_label


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where data/, models/, mlruns/, reports/ go.")
    ] = Path("."),
    accounts: Annotated[int, typer.Option(help="Simulated accounts.")] = default.ACCOUNTS,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = default.SEED,
    regenerate: Annotated[bool, typer.Option(help="Simulate again even if data exists.")] = False,
    config: ConfigOption = None,
) -> None:
    """Generate -> validate -> train -> score -> report on simulated data."""
    from healthscore.pipeline import demo as run_demo
    from healthscore.tracking import ui_command

    cfg = config_from(config)
    with progress("Running the demo: generate, validate, train, score, report"):
        outcome = run_demo(
            workdir=workdir, n_accounts=accounts, seed=seed, config=cfg, regenerate=regenerate
        )
    m = outcome.train.metrics
    console.print(plain(f"Data: {outcome.data}"))
    console.print(
        plain(
            f"Model: test ROC AUC {m['roc_auc']:.3f} (rule scorecard "
            f"{m['baseline_rules_roc_auc']:.3f}, logistic regression "
            f"{m['baseline_logreg_roc_auc']:.3f}"
            + (f", oracle {m['oracle_roc_auc']:.3f}" if m.get("oracle_roc_auc") else "")
            + ")"
        )
    )
    console.print(plain(f"Bundle: {outcome.train.bundle}"))
    for notice in outcome.train.notices:
        console.print(plain(f"warning: {notice}"))
    console.print(plain(f"Scores at {outcome.as_of.date()}: {outcome.scores_path}"))
    if outcome.report_path is not None:
        console.print(plain(f"Report: {outcome.report_path}"))
    from healthscore.playbooks.control import control_group_summary

    console.print(plain(control_group_summary(outcome.scores)))
    table = Table(title="Top five accounts by ARR at risk")
    for col in (
        "rank",
        "account",
        "score",
        "tier",
        "ARR at risk",
        "top driver",
        "playbook",
        "owner",
    ):
        table.add_column(col)
    for _, row in outcome.scores.sort_values("priority_rank").head(5).iterrows():
        table.add_row(
            *map(
                plain,
                (
                    row["priority_rank"],
                    account_label(row),
                    f"{row['health_score']:.0f}",
                    str(row["risk_tier"]).replace("_", " "),
                    f"{row['arr_at_risk']:,.0f}",
                    row["driver_1_text"] if isinstance(row["driver_1_text"], str) else "",
                    row["playbook_id"],
                    row["owner"],
                ),
            )
        )
    console.print(table)
    steps = ", ".join(f"{k} {v:.0f}s" for k, v in outcome.timings.items())
    console.print(plain(f"Timings: {steps}"))
    if outcome.train.tracking_uri:
        console.print(plain(f"Open MLflow on the run: {ui_command(outcome.train.tracking_uri)}"))
