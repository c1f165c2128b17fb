"""``score``, ``alerts`` and ``explain``: what the CS team reads every week."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    EngineOption,
    ForceOption,
    ModelOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)

AsOfOption = Annotated[
    str,
    typer.Option("--as-of", help="Observation date (ISO), e.g. 2025-12-01.", callback=check_date),
]


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
    from healthscore.pipeline import score as score_accounts

    cfg = config_from(config, engine=engine)
    if cfg.engine.name == "spark":
        from healthscore.cli.spark import score_on_spark

        score_on_spark(data, as_of, out, cfg, model=model, previous=previous, force=force)
        return
    with progress(f"Scoring accounts at {as_of}"):
        scores = score_accounts(
            data, as_of, cfg, model=model, out=out, previous=previous, force=force
        )
    _say_forced(scores["model_check"].iloc[0] if len(scores) else "ok")
    at_risk = scores[scores["risk_tier"] == "at_risk"]
    console.print(
        plain(
            f"Scored {len(scores):,} accounts at {as_of}: {len(at_risk):,} at risk, "
            f"ARR at risk {scores['arr_at_risk'].sum():,.0f}. Wrote {out}."
        )
    )
    table = Table(title="Top 5 by ARR at risk")
    for col in ("rank", "account", "score", "tier", "ARR at risk", "top driver", "playbook"):
        table.add_column(col)
    for _, row in scores.head(5).iterrows():
        table.add_row(
            *map(
                plain,
                (
                    row["priority_rank"],
                    row["account_id"],
                    f"{row['health_score']:.0f}",
                    row["risk_tier"],
                    f"{row['arr_at_risk']:,.0f}",
                    row["driver_1_text"] or "",
                    row["playbook_id"],
                ),
            )
        )
    console.print(table)


@app.command()
def alerts(
    data: DataOption,
    as_of: AsOfOption,
    model: ModelOption = None,
    drop: Annotated[float, typer.Option(help="Minimum fall in health score points.")] = 10.0,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """List accounts whose health score fell more than DROP points since the last step."""
    from healthscore.pipeline import alerts as score_alerts

    with progress("Comparing with the previous step"):
        drops = score_alerts(data, as_of, config_from(config), model=model, drop=drop, force=force)
    _say_forced(drops["model_check"].iloc[0] if len(drops) else "ok")
    if drops.empty:
        console.print(plain(f"No account lost more than {drop:g} points at {as_of}."))
        return
    table = Table(title=f"{len(drops)} accounts lost more than {drop:g} points")
    for col in ("account", "before", "now", "change", "tier", "families that moved"):
        table.add_column(col)
    for _, row in drops.iterrows():
        table.add_row(
            *map(
                plain,
                (
                    row["account_id"],
                    f"{row['previous_score']:.0f}",
                    f"{row['health_score']:.0f}",
                    f"{row['change']:+.1f}",
                    row["risk_tier"],
                    row["moved_families"],
                ),
            )
        )
    console.print(table)


@app.command()
def explain(
    data: DataOption,
    as_of: AsOfOption,
    account: Annotated[str, typer.Option("--account", "-a", help="The account_id.")],
    model: ModelOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Print the card of one account: score history, drivers, the playbook and its steps."""
    from healthscore.pipeline import explain as account_card

    card, check = account_card(data, as_of, account, config_from(config), model=model, force=force)
    _say_forced(check)
    console.print(plain(card.render()))


def _say_forced(check: str) -> None:
    """Say once, plainly, that the model was trained on other data."""
    if check != "ok":
        console.print(plain(f"warning: model of other data, scored with --force: {check}"))
