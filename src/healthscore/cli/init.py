"""``init``: a starter config guessed from the names in a folder of exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli.app import app, console, plain, progress


@app.command()
def init(
    data: Annotated[
        str,
        typer.Option(
            "--data",
            "-d",
            help="Folder of exports, a .duckdb file, or a database URL (postgresql://...).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Config file to write.")] = Path(
        "healthscore.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Guess how DATA maps onto the input contract; write a commented starter config."""
    from healthscore.init_config import write_starter_config

    with progress(f"Inspecting {data}"):
        guess = write_starter_config(data, out, force=force)
    console.print(plain(f"Wrote {out}: best guesses for you to check."))
    for table, tg in guess.tables.items():
        missing = f"; missing {', '.join(tg.missing)}" if tg.missing else ""
        console.print(plain(f"  {table:<16} <- {tg.source}{missing}"))
    if guess.unused:
        console.print(plain(f"  not used: {', '.join(guess.unused)}"))
    console.print(plain(f"Next: healthscore validate --data {data} --config {out}"))
