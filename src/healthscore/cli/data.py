"""``generate`` and ``validate``: make the embedded default data, check any data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.errors import SchemaError


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the tables to.")],
    accounts: Annotated[int, typer.Option(help="Number of accounts to simulate.")] = 3000,
    start: Annotated[
        str, typer.Option(help="First day of the history (ISO date).", callback=check_date)
    ] = "2023-01-01",
    end: Annotated[
        str, typer.Option(help="Exclusive end of the history (ISO date).", callback=check_date)
    ] = "2026-01-01",
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical files.")
    ] = 42,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Simulate a B2B SaaS history in the input contract, with ground truth in OUT/_truth/."""
    from healthscore.pipeline import generate_data

    if fmt not in ("parquet", "csv"):
        raise SchemaError(f"--format must be parquet or csv, not {fmt!r}")
    with progress(f"Simulating {accounts} accounts"):
        summary = generate_data(out, n_accounts=accounts, start=start, end=end, seed=seed, fmt=fmt)
    console.print(plain(f"Wrote {out} (seed {seed}):"))
    for table, rows in summary.items():
        console.print(plain(f"  {table:<16} {rows:>12,} rows"))


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
