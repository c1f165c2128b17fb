"""``validate``: check any data against the input contract, every problem at once."""

from __future__ import annotations

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    app,
    config_from,
    console,
    plain,
    progress,
)


@app.command()
def validate(data: DataOption, config: ConfigOption = None) -> None:
    """Check DATA against the input contract; list every problem at once."""
    from healthscore.validation import validate_data

    with progress("Validating"):
        report = validate_data(data, config_from(config))
    console.print(plain(report.describe()))
    for table, rows in report.row_counts.items():
        console.print(plain(f"  {table:<16} {rows:>12,} rows"))
    if not report.ok:
        raise typer.Exit(1)
