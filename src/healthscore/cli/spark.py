"""``score --engine spark``: scoring a book with Spark, and what it reports.

Kept apart from :mod:`healthscore.cli.scores` because the scores stay in Spark (written
where ``--out`` says): the report reads the totals and the top of the worklist from there.
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from healthscore.cli.app import console, plain, progress
from healthscore.config import Config


def score_on_spark(
    data: str,
    as_of: str,
    out: str,
    config: Config,
    *,
    model: str | None,
    previous: Path | None,
    force: bool,
) -> None:
    """Score with :func:`healthscore.spark.pipeline.score` and report as ``score`` does."""
    from healthscore.spark.pipeline import score

    with progress(f"Scoring accounts at {as_of} with Spark"):
        summary = score(data, as_of, config, out=out, model=model, previous=previous, force=force)
    if summary.model_check != "ok":
        console.print(
            plain(f"warning: model of other data, scored with --force: {summary.model_check}")
        )
    console.print(
        plain(
            f"Scored {summary.accounts:,} accounts at {as_of} with Spark: {summary.at_risk:,} "
            f"at risk, ARR at risk {summary.arr_at_risk:,.0f}. Wrote {summary.out}."
        )
    )
    table = Table(title="Top 5 by ARR at risk")
    for col in ("rank", "account", "score", "tier", "ARR at risk", "top driver", "playbook"):
        table.add_column(col)
    for _, row in summary.top.iterrows():
        table.add_row(
            *map(
                plain,
                (
                    row["priority_rank"],
                    row["account_id"],
                    f"{row['health_score']:.0f}",
                    row["risk_tier"],
                    f"{row['arr_at_risk']:,.0f}",
                    row["driver_1_text"] or "",
                    row["playbook_id"],
                ),
            )
        )
    console.print(table)
