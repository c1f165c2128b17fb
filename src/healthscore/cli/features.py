"""``features``: the features of every eligible account at one date, or the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    EngineOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)


@app.command()
def features(
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Folder of input tables.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Observation date (ISO).", callback=check_date),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output .csv/.parquet.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the feature catalogue.")] = False,
    config: ConfigOption = None,
    engine: EngineOption = None,
) -> None:
    """Features of every eligible account at AS_OF, or the catalogue with --list."""
    from healthscore.errors import ConfigError

    if list_:
        from healthscore.features import catalogue_frame

        catalogue = catalogue_frame()
        view = Table(title=f"Feature catalogue ({len(catalogue)} features)")
        for col in ("name", "family", "window_days", "direction"):
            view.add_column(col, no_wrap=True)
        view.add_column("description")
        for _, row in catalogue.iterrows():
            view.add_row(
                *[
                    plain(row[c])
                    for c in ("name", "family", "window_days", "direction", "description")
                ]
            )
        console.print(view)
        return
    if data is None or as_of is None or out is None:
        raise ConfigError("features needs --data, --as-of and --out (or --list)")
    cfg = config_from(config, engine=engine)
    with progress(f"Computing features at {as_of}"):
        if cfg.engine.name == "spark":
            from healthscore.spark.pipeline import features_table as features_on_spark

            table = features_on_spark(data, as_of, cfg, out=out)
        else:
            from healthscore.pipeline import features_table

            table = features_table(data, as_of, cfg, out=out)
    console.print(
        plain(
            f"Wrote {out}: {len(table):,} eligible accounts x "
            f"{len(table.columns) - 2} features at {as_of}"
        )
    )
