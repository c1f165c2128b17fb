"""``score``: health scores, drivers, playbooks and owners, ranked by ARR at risk.

With ``--engine spark`` the scores stay in Spark, written where ``--out`` says; the report
reads the totals and the top of the worklist from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    EngineOption,
    ForceOption,
    ModelOption,
    app,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.cli.output import AsOfOption, account_label, say_forced
from healthscore.wording import count

if TYPE_CHECKING:
    import pandas as pd


@app.command()
def score(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Output .csv or .parquet file (spark: also any URI or spark://table).",
        ),
    ],
    model: ModelOption = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="An earlier score file, for score_change (default: re-score one step back)."
        ),
    ] = None,
    config: ConfigOption = None,
    force: ForceOption = False,
    engine: EngineOption = None,
) -> None:
    """Score every eligible account at AS_OF: health score, drivers, playbook, ARR at risk."""
    cfg = config_from(config, engine=engine)
    if cfg.engine.name == "spark":
        from healthscore.spark.pipeline import score as score_on_spark

        with progress(f"Scoring accounts at {as_of} with Spark"):
            summary = score_on_spark(
                data, as_of, cfg, out=out, model=model, previous=previous, force=force
            )
        say_forced(summary.model_check)
        console.print(
            plain(
                f"Scored {count(summary.accounts, 'account')} at {as_of} with Spark: "
                f"{summary.at_risk:,} at risk, ARR at risk {summary.arr_at_risk:,.0f}. "
                f"Wrote {summary.out}."
            )
        )
        _print_top(summary.top)
        return
    from healthscore.pipeline import score as score_accounts

    with progress(f"Scoring accounts at {as_of}"):
        scores = score_accounts(
            data, as_of, cfg, model=model, out=out, previous=previous, force=force
        )
    say_forced(scores["model_check"].iloc[0] if len(scores) else "ok")
    at_risk = scores[scores["risk_tier"] == "at_risk"]
    console.print(
        plain(
            f"Scored {count(len(scores), 'account')} at {as_of}: {len(at_risk):,} at risk, "
            f"ARR at risk {scores['arr_at_risk'].sum():,.0f}. Wrote {out}."
        )
    )
    from healthscore.playbooks.control import control_group_summary

    console.print(plain(control_group_summary(scores)))
    _print_top(scores.head(5))


def _print_top(top: pd.DataFrame) -> None:
    """The top of the worklist as a table."""
    table = Table(title="Top 5 by ARR at risk")
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
    for _, row in top.iterrows():
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
