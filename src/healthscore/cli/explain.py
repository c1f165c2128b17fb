"""``explain``: the card of one account."""

from __future__ import annotations

from typing import Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    ForceOption,
    LangOption,
    ModelOption,
    app,
    config_from,
    console,
    plain,
)
from healthscore.cli.output import AsOfOption, say_forced
from healthscore.i18n import Language


@app.command()
def explain(
    data: DataOption,
    as_of: AsOfOption,
    account: Annotated[str, typer.Option("--account", "-a", help="The account_id.")],
    model: ModelOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
    lang: LangOption = None,
) -> None:
    """Print the card of one account: score history, drivers, the playbook and its steps."""
    from healthscore.pipeline import explain as account_card

    cfg = config_from(config, lang=lang)
    card, check = account_card(data, as_of, account, cfg, model=model, force=force)
    words = Language.of(cfg)
    say_forced(check, words)
    console.print(plain(card.render(words)))
