"""Options and printing shared by several commands: the scoring date, account labels, the
--force note, the table of the top accounts, in the output language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from healthscore.cli.app import (
    check_date,
    console,
    plain,
)
from healthscore.i18n import Language

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


def say_forced(check: str, lang: Language | None = None) -> None:
    """Say once, plainly, that the model was trained on other data."""
    if check != "ok":
        lang = lang or Language()
        message = lang.t("warning: model of other data, scored with --force: %(why)s", why=check)
        console.print(plain(message))


def top_accounts_table(scores: pd.DataFrame, lang: Language, *, title: str) -> Table:
    """The first five accounts by ARR at risk: rank, name, score, tier, driver, play, owner.

    English names the playbook by its id, another language by its (translated) title.
    """
    t = lang.t
    table = Table(title=title)
    for column in (
        t("rank"),
        t("account"),
        t("score"),
        t("tier"),
        t("ARR at risk"),
        t("top driver"),
        t("playbook"),
        t("owner"),
    ):
        # Japanese has no spaces to wrap at: a long sentence folds instead of being cut.
        table.add_column(column, overflow="fold")
    for _, row in scores.sort_values("priority_rank").head(5).iterrows():
        driver = row["driver_1_text"]
        table.add_row(
            *map(
                plain,
                (
                    row["priority_rank"],
                    account_label(row),
                    lang.number(row["health_score"], 0),
                    lang.word("risk tier", row["risk_tier"]),
                    lang.money(row["arr_at_risk"]),
                    driver if isinstance(driver, str) else "",
                    row["playbook_id"] if lang.english else row["playbook_title"],
                    lang.owner(row["owner"]),
                ),
            )
        )
    return table
