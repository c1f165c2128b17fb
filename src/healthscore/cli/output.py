"""Options and printing shared by several commands: the scoring date, account labels, the
--force note."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer

from healthscore.cli.app import (
    check_date,
    console,
    plain,
)

AsOfOption = Annotated[
    str,
    typer.Option("--as-of", help="Observation date (ISO), e.g. 2025-12-01.", callback=check_date),
]


def account_label(row: Mapping[str, object]) -> str:
    """``Name (id)``, or the id alone when the data has no name."""
    name = row.get("account_name")
    if isinstance(name, str) and name:
        return f"{name} ({row['account_id']})"
    return str(row["account_id"])


def say_forced(check: str) -> None:
    """Say once, plainly, that the model was trained on other data."""
    if check != "ok":
        console.print(plain(f"warning: model of other data, scored with --force: {check}"))
