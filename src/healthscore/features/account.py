"""Account features from ``accounts``: who the customer is.

These are the account's attributes as exported (segment, industry, region, head count),
taken to be stable over time; the export holds no history of them, so a segment changed
after a snapshot would show in that snapshot. Duplicate account rows resolve to the
smallest value of each column, so the result does not depend on row order. They are
resolved once per account and then joined to the snapshots on the integer key.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session

CATEGORIES: tuple[str, ...] = ("segment", "industry", "region")


def compute(run: Session) -> pd.DataFrame:
    """Account features of every snapshot row, with ``_row``."""
    outputs = []
    for column in CATEGORIES:
        if run.has_column("accounts", column):
            outputs.append(
                f"min(NULLIF(TRIM(CAST(a.{column} AS VARCHAR)), '')) AS account__{column}"
            )
    if run.has_column("accounts", "employees"):
        outputs.append("CAST(min(a.employees) AS DOUBLE) AS account__employees")
    columns = "".join(f", {x}" for x in outputs)
    names = "".join(f", a.{x.rsplit(' AS ', 1)[1]}" for x in outputs)
    return run.query(f"""
        WITH a AS (
            SELECT k.aid{columns}
            FROM _hs_snapshot_accounts k JOIN accounts a USING (account_id)
            GROUP BY k.aid
        )
        SELECT s._row{names}
        FROM _hs_snapshots s LEFT JOIN a USING (aid)
    """)
