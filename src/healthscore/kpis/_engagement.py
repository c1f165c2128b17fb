"""NPS and onboarding completion per period, aggregated inside DuckDB.

Survey responses and login logs can be far larger than the contracts table, so they are
never pulled into pandas row by row: DuckDB reduces them to one row per period (NPS) or per
new account (distinct users in the onboarding window) and only those aggregates come back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import KpiConfig
from healthscore.storage import DataSource

_NPS_SQL = """
SELECT date_trunc($part, responded_at) AS period_start,
       count(*) AS nps_responses,
       count(*) FILTER (WHERE score >= 9) AS promoters,
       count(*) FILTER (WHERE score <= 6) AS detractors
FROM nps_responses
WHERE responded_at < $data_end AND score IS NOT NULL
GROUP BY 1
"""

_ELIGIBLE_SQL = """
SELECT account_id, created_at, created_at + to_days(CAST($days AS INTEGER)) AS window_end
FROM accounts
WHERE created_at + to_days(CAST($days AS INTEGER)) <= $data_end
"""

_ONBOARDING_SQL = f"""
WITH eligible AS ({_ELIGIBLE_SQL}),
users AS (
    SELECT e.account_id, count(DISTINCT l.user_id) AS active_users
    FROM eligible AS e
    JOIN logins AS l
      ON l.account_id = e.account_id AND l.ts >= e.created_at AND l.ts < e.window_end
    GROUP BY e.account_id
)
SELECT date_trunc($part, e.created_at) AS period_start,
       count(*) AS onboarding_eligible,
       count(*) FILTER (WHERE coalesce(u.active_users, 0) >= $min_users) AS activated
FROM eligible AS e
LEFT JOIN users AS u USING (account_id)
GROUP BY 1
"""

_ELIGIBLE_COUNT_SQL = f"""
SELECT date_trunc($part, created_at) AS period_start, count(*) AS onboarding_eligible
FROM ({_ELIGIBLE_SQL})
GROUP BY 1
"""


def nps_by_period(source: DataSource, *, freq: str) -> pd.DataFrame:
    """NPS per period: ``period_start, nps_responses, nps`` (periods with responses only).

    NPS = % promoters (9-10) - % detractors (0-6) over the period's responses, from -100 to
    100. Responses on or after the data's end are ignored.
    """
    columns = ["period_start", "nps_responses", "nps"]
    if not source.has("nps_responses"):
        return pd.DataFrame(
            {
                "period_start": pd.Series(dtype="datetime64[us]"),
                "nps_responses": pd.Series(dtype="int64"),
                "nps": pd.Series(dtype="float64"),
            }
        )
    counts = source.query(_NPS_SQL, {"part": freq, "data_end": source.data_end})
    counts["nps"] = 100.0 * (counts["promoters"] - counts["detractors"]) / counts["nps_responses"]
    return counts[columns]


def onboarding_by_period(source: DataSource, kpi: KpiConfig, *, freq: str) -> pd.DataFrame:
    """Onboarding completion per signup period: ``period_start, onboarding_eligible, ...pct``.

    Of the accounts created in the period whose first ``kpi.activation_days`` days have
    ended by the data's end (the eligible ones), the percentage with at least
    ``kpi.activation_min_active_users`` distinct users logging in within those days. Accounts
    still inside their window are left out rather than counted as failures. Without a logins
    table the percentage is NaN.
    """
    params: dict[str, object] = {
        "part": freq,
        "days": kpi.activation_days,
        "data_end": source.data_end,
    }
    if not source.has("logins"):
        eligible = source.query(_ELIGIBLE_COUNT_SQL, params)
        eligible["onboarding_completion_pct"] = np.nan
        return eligible
    counts = source.query(_ONBOARDING_SQL, {**params, "min_users": kpi.activation_min_active_users})
    counts["onboarding_completion_pct"] = (
        100.0 * counts["activated"] / counts["onboarding_eligible"]
    )
    return counts[["period_start", "onboarding_eligible", "onboarding_completion_pct"]]
