"""``monitor``: can the model still be trusted? Drift, and realised against predicted churn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    ForceOption,
    ModelOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)


@app.command()
def monitor(
    data: DataOption,
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="The scoring date to check (ISO).", callback=check_date),
    ],
    model: ModelOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Folder for the tables (default reports/monitor_<as-of>/)."
        ),
    ] = None,
    model_dir: Annotated[
        Path, typer.Option(help="Where train keeps models and its training-set cache.")
    ] = Path("models"),
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Can the model still be trusted: drift, score shift, realised churn; ok/watch/retrain.

    Compares the accounts scored at AS_OF with the training population (PSI and missing
    values per feature), and the model's scores of later dates with the churn that followed.
    Exits 0 whatever the verdict; only bad data or a missing model is an error.
    """
    from healthscore.pipeline import monitor as check_model

    out = out or Path("reports") / f"monitor_{as_of[:10]}"
    with progress(f"Checking the model at {as_of}"):
        report = check_model(
            data, as_of, config_from(config), model=model, out=out, model_dir=model_dir, force=force
        )
    console.print(plain(f"Verdict at {as_of}: {report.verdict.upper()}"))
    for reason in report.reasons:
        console.print(plain(f"  - {reason}"))
    drifting = report.drift[report.drift["status"] != "ok"].head(10)
    if len(drifting):
        table = Table(title="Features that moved most (training population against now)")
        for col in ("feature", "gain share", "PSI", "missing then", "missing now", "decides"):
            table.add_column(col)
        for row in drifting.to_dict("records"):
            table.add_row(
                *map(
                    plain,
                    (
                        row["feature"],
                        f"{row['importance']:.1%}",
                        f"{row['psi']:.2f}",
                        f"{row['missing_reference']:.0%}",
                        f"{row['missing_current']:.0%}",
                        "yes" if row["decides"] else "no (context or minor)",
                    ),
                )
            )
        console.print(table)
    console.print(plain(f"Score PSI {report.score_psi:.3f}. Wrote the tables to {out}."))
