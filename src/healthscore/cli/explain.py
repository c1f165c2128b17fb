"""``explain``: the card of one account."""

from __future__ import annotations

from typing import Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    ForceOption,
    ModelOption,
    app,
    config_from,
    console,
    plain,
)
from healthscore.cli.output import AsOfOption, say_forced


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
    say_forced(check)
    console.print(plain(card.render()))
