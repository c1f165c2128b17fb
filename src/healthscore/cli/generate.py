"""``generate``: simulate a B2B SaaS history, the embedded default data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore import simulation_defaults as default
from healthscore.cli.app import (
    ConfigOption,
    app,
    check_date,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.errors import SchemaError


def _generate_with_actions(
    out: Path,
    accounts: int,
    start: str,
    end: str,
    seed: int,
    fmt: str,
    act_at: str | None,
    config: Path | None,
) -> None:
    from healthscore.pipeline import SCORES_DIR, generate_with_actions

    with progress(f"Simulating {accounts} accounts, scoring a past date, running the plays"):
        world = generate_with_actions(
            out,
            n_accounts=accounts,
            start=start,
            end=end,
            seed=seed,
            fmt=fmt,
            config=config_from(config),
            act_at=act_at,
        )
    console.print(plain(f"Wrote {out} (seed {seed}), the team acting on {world.as_of.date()}:"))
    for table, rows in world.rows.items():
        console.print(plain(f"  {table:<16} {rows:>12,} rows"))
    console.print(
        plain(
            f"The score file of that run is {world.scores_path}; the true effect of every play "
            f"is in {Path(out) / '_truth' / 'treatment.parquet'}. Measure it with\n"
            f"  healthscore outcomes --data {out} --scores {Path(out) / SCORES_DIR}"
        )
    )


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the tables to.")],
    accounts: Annotated[int, typer.Option(help="Accounts to simulate.")] = default.ACCOUNTS,
    start: Annotated[
        str, typer.Option(help="First day of the history (ISO date).", callback=check_date)
    ] = default.START,
    end: Annotated[
        str, typer.Option(help="Exclusive end of the history (ISO date).", callback=check_date)
    ] = default.END,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives identical files.")
    ] = default.SEED,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    with_actions: Annotated[
        bool,
        typer.Option(
            "--with-actions",
            help="Score a past date and let the CS team run the plays (true effect known).",
        ),
    ] = False,
    act_at: Annotated[
        str | None,
        typer.Option(
            help="With --with-actions: the scoring date the team acts on (ISO).",
            callback=check_date,
        ),
    ] = None,
    config: ConfigOption = None,
    currency: Annotated[
        str, typer.Option(help="Currency of the amounts: USD, or JPY (whole yen).")
    ] = "USD",
    names: Annotated[
        str, typer.Option(help="Company and CSM names: en, or ja (Japanese names).")
    ] = "en",
) -> None:
    """Simulate a B2B SaaS history in the input contract, with ground truth in OUT/_truth/."""
    from healthscore.pipeline import generate_data

    if fmt not in ("parquet", "csv"):
        raise SchemaError(f"--format must be parquet or csv, not {fmt!r}")
    if currency not in ("USD", "JPY") or names not in ("en", "ja"):
        raise SchemaError("--currency must be USD or JPY and --names en or ja")
    if with_actions:
        _generate_with_actions(out, accounts, start, end, seed, fmt, act_at, config)
        return
    with progress(f"Simulating {accounts} accounts"):
        summary = generate_data(
            out,
            n_accounts=accounts,
            start=start,
            end=end,
            seed=seed,
            fmt=fmt,
            currency=currency,
            names=names,
        )
    console.print(plain(f"Wrote {out} (seed {seed}):"))
    for table, rows in summary.items():
        console.print(plain(f"  {table:<16} {rows:>12,} rows"))
