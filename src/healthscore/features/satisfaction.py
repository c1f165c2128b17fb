"""Satisfaction features from ``nps_responses``: the latest answer, its trend, the 180-day mix.

Answers are known at ``responded_at``. Exact duplicate rows count once; several answers of
one account at the same instant are averaged into one "latest answer". Promoters answer
9-10, detractors 0-6; the net promoter score is % promoters minus % detractors.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session

_RESPONSES = """
    WITH r AS (
        SELECT aid, responded_at, score FROM (
            SELECT DISTINCT {columns} FROM nps_responses
            WHERE responded_at < $data_end AND responded_at < $until AND score IS NOT NULL
        ) JOIN _hs_snapshot_accounts USING (account_id)
    )
"""

_SELECT = """,
    answers AS (
        SELECT aid, responded_at, avg(score) AS score
        FROM r GROUP BY ALL
    ),
    sequence AS (
        SELECT *, lag(score) OVER (PARTITION BY aid ORDER BY responded_at) AS previous
        FROM answers
    ),
    latest AS (
        SELECT s._row, q.score, q.previous, q.responded_at
        FROM _hs_snapshots s ASOF LEFT JOIN sequence q
          ON s.aid = q.aid AND s.as_of > q.responded_at
    ),
    recent AS (
        SELECT r.aid, c.as_of, count(*) AS n, avg(r.score) AS mean_score,
               avg(CAST(r.score <= 6 AS DOUBLE)) AS detractors,
               avg(CAST(r.score >= 9 AS DOUBLE)) AS promoters
        FROM r JOIN _hs_calendar c
          ON c.day = CAST(r.responded_at AS DATE) AND c.age <= 180
        GROUP BY ALL
    )
    SELECT s._row,
           CAST(latest.score AS DOUBLE) AS satisfaction__last_nps,
           CAST(latest.previous AS DOUBLE) AS satisfaction__previous_nps,
           CAST(latest.score - latest.previous AS DOUBLE) AS satisfaction__nps_change,
           CAST(date_diff('day', CAST(latest.responded_at AS DATE), s.as_of) AS DOUBLE)
               AS satisfaction__days_since_last_nps,
           CAST(recent.mean_score AS DOUBLE) AS satisfaction__mean_nps_180d,
           100.0 * (recent.promoters - recent.detractors) AS satisfaction__nps_180d,
           CAST(recent.detractors AS DOUBLE) AS satisfaction__detractor_share_180d,
           CAST(coalesce(recent.n, 0) AS DOUBLE) AS satisfaction__responses_180d
    FROM _hs_snapshots s
    LEFT JOIN latest USING (_row)
    LEFT JOIN recent USING (aid, as_of)
"""


def compute(run: Session) -> pd.DataFrame:
    """Satisfaction features of every snapshot row, with ``_row``."""
    columns = ["account_id", "responded_at", "score"]
    columns += [c for c in ("user_id", "comment") if run.has_column("nps_responses", c)]
    sql = _RESPONSES.format(columns=", ".join(columns)) + _SELECT
    return run.query(sql, until=run.until)
