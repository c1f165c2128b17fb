"""``score``, ``alerts`` and ``explain``: what the CS team reads every week."""

from __future__ import annotations

from collections.abc import Mapping
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
from healthscore.wording import count

AsOfOption = Annotated[
    str,
    typer.Option("--as-of", help="Observation date (ISO), e.g. 2025-12-01.", callback=check_date),
]


@app.command()
def score(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .csv or .parquet file.")],
    model: ModelOption = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="An earlier score file, for score_change (default: re-score one step back)."
        ),
    ] = None,
    config: ConfigOption = None,
    force: ForceOption = False,
) -> None:
    """Score every eligible account at AS_OF: health score, drivers, playbook, ARR at risk."""
    from healthscore.pipeline import score as score_accounts

    with progress(f"Scoring accounts at {as_of}"):
        scores = score_accounts(
            data, as_of, config_from(config), model=model, out=out, previous=previous, force=force
        )
    _say_forced(scores["model_check"].iloc[0] if len(scores) else "ok")
    at_risk = scores[scores["risk_tier"] == "at_risk"]
    console.print(
        plain(
            f"Scored {count(len(scores), 'account')} at {as_of}: {len(at_risk):,} at risk, "
            f"ARR at risk {scores['arr_at_risk'].sum():,.0f}. Wrote {out}."
        )
    )
    from healthscore.playbooks.control import control_group_summary

    console.print(plain(control_group_summary(scores)))
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
    for _, row in scores.head(5).iterrows():
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


def account_label(row: Mapping[str, object]) -> str:
    """``Name (id)``, or the id alone when the data has no name."""
    name = row.get("account_name")
    if isinstance(name, str) and name:
        return f"{name} ({row['account_id']})"
    return str(row["account_id"])


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
    table = Table(title=f"{count(len(drops), 'account')} lost more than {drop:g} points")
    for col in ("account", "CSM", "before", "now", "change", "tier", "families that moved"):
        table.add_column(col)
    for _, row in drops.iterrows():
        csm = row.get("csm")
        table.add_row(
            *map(
                plain,
                (
                    account_label(row),
                    csm if isinstance(csm, str) else "",
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
