"""``alerts``: accounts whose health score fell sharply since the last step."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
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
    say_forced(drops["model_check"].iloc[0] if len(drops) else "ok")
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
