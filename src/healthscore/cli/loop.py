"""``outcomes`` and ``monitor``: did the plays work, and can the model still be trusted."""

from __future__ import annotations

import math
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


def _pct(value: object, *, signed: bool = False) -> str:
    number = float(value) if value is not None else math.nan  # type: ignore[arg-type]
    if math.isnan(number):
        return "n/a"
    return f"{number * 100:+.1f}" if signed else f"{number * 100:.1f}%"


@app.command()
def outcomes(
    data: DataOption,
    scores: Annotated[
        Path,
        typer.Option(help="Folder of past score files scores_<date>.csv (the record)."),
    ] = Path("reports"),
    since: Annotated[
        str | None,
        typer.Option(help="Only recommendations on or after this date (ISO).", callback=check_date),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for outcomes.csv and outcome_accounts.csv."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Did the plays work: treated against held-out accounts, per playbook and touch tier.

    Churn rate and ARR retained in each arm, the differences with intervals, and how many
    more accounts a difference needs before it can be read. Intent to treat: every account
    counts in the arm it was assigned, against the randomised holdout of the score files.
    """
    from healthscore.pipeline import outcomes as measure

    settings = config_from(config)
    with progress("Joining recommendations with what happened"):
        report = measure(data, settings, scores=scores, since=since, out=out)
    level = f"{settings.outcomes.confidence:.0%}"
    done = report.recommendations["complete"]
    console.print(
        plain(
            f"{int(done.sum()):,} recommendation(s) from {len(report.score_files)} score file(s) "
            f"with a complete {report.horizon_days}-day window; intent to treat: every account "
            "counts in the arm it was assigned."
        )
    )
    table = Table(title=f"Treated against held out (churn in points, {level} interval)")
    for col in (
        "playbook",
        "tier",
        "treated",
        "held out",
        "churn treated",
        "churn held out",
        "difference",
        "interval",
        "ARR kept diff",
        "more accounts needed",
    ):
        table.add_column(col)
    for row in report.comparison.to_dict("records"):
        needed = row["more_accounts_needed"]
        table.add_row(
            *map(
                plain,
                (
                    row["playbook_id"],
                    row["tier"],
                    f"{row['treated']:,}",
                    f"{row['held_out']:,}",
                    _pct(row["churn_treated"]),
                    _pct(row["churn_held_out"]),
                    _pct(row["churn_difference"], signed=True),
                    f"{_pct(row['churn_difference_low'], signed=True)} to "
                    f"{_pct(row['churn_difference_high'], signed=True)}",
                    _pct(row["arr_retained_difference"], signed=True),
                    "readable now"
                    if row["readable"]
                    else "n/a"
                    if needed is None or (isinstance(needed, float) and math.isnan(needed))
                    else f"{int(needed):,}",
                ),
            )
        )
    console.print(table)
    for notice in report.notices:
        console.print(plain(f"note: {notice}"))
    if out is not None:
        console.print(plain(f"Wrote {Path(out) / 'outcomes.csv'} and outcome_accounts.csv."))


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
