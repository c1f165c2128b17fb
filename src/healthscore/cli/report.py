"""``report``: the self-contained HTML page for the CS leader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    ForceOption,
    LangOption,
    ModelOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.i18n import Language


@app.command()
def report(
    data: DataOption,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Observation date (ISO).", callback=check_date)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file.")] = Path(
        "reports/report.html"
    ),
    model: ModelOption = None,
    config: ConfigOption = None,
    force: ForceOption = False,
    scores: Annotated[
        Path | None,
        typer.Option(help="Folder of past score files to measure (default: the report's)."),
    ] = None,
    lang: LangOption = None,
) -> None:
    """Write one self-contained HTML report for CS leaders (KPIs, risk, accounts, model)."""
    from healthscore.pipeline import report as write

    cfg = config_from(config, lang=lang)
    words = Language.of(cfg)
    with progress(words.t("Scoring and writing the report")):
        path = write(data, as_of, cfg, out=out, model=model, force=force, past_scores=scores)
    console.print(plain(words.t("Wrote %(path)s", path=path)))
