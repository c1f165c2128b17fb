"""``outcomes``: did the plays work? Treated against held-out accounts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
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
