"""Usage features from ``logins``: how much, by how many people, and the trend.

Logins are first reduced to user-days (exact duplicate rows, same account, user and
timestamp, count once) and account-days; windows are then counted by joining those to the
calendar of observation dates (see :mod:`healthscore.features.engine`). Exact duplicates are
removed per user-day (``list_distinct`` of the timestamps), which is far cheaper than a
global ``DISTINCT`` over the raw log; the time filters sit inside the aggregate so that the
typed view's casts are evaluated once per row, not again in a pushed-down scan filter. The
days since the last login come from an as-of join of the snapshots to the account-days.

Counts are 0 when nothing happened in the window; days since the last login is missing when
nobody ever logged in; ratios are missing when their denominator is 0.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session, ratio

_USER_DAYS = """
    CREATE OR REPLACE TEMP TABLE _hs_login_user_days AS
    SELECT k.aid, g.user_id, g.day, g.logins
    FROM (
        SELECT account_id, user_id, CAST(ts AS DATE) AS day,
               len(list_distinct(list(ts) FILTER (WHERE ts < $data_end AND ts < $until)))
                   AS logins,
               count(user_id) AS with_user
        FROM logins
        GROUP BY ALL
    ) g JOIN _hs_snapshot_accounts k ON k.account_id = g.account_id
    WHERE g.logins > 0 AND g.with_user > 0
"""

_ACCOUNT_DAYS = """
    CREATE OR REPLACE TEMP TABLE _hs_login_days AS
    SELECT aid, day, sum(logins) AS logins
    FROM _hs_login_user_days GROUP BY ALL
"""


def _select(with_seats: bool) -> str:
    seats_cte = (
        """,
        seats AS (
            SELECT s._row, sum(t.seats) AS seats
            FROM _hs_snapshots s JOIN _hs_terms t
              ON t.aid = s.aid AND t.start_date < s.as_of AND t.end_date >= s.as_of
            GROUP BY s._row
        )"""
        if with_seats
        else ""
    )
    seats_join = "LEFT JOIN seats USING (_row)" if with_seats else ""
    seats_col = (
        (
            f", {ratio('coalesce(u.active_users_30d, 0)', 'seats.seats')} "
            "AS usage__seat_utilisation_30d"
        )
        if with_seats
        else ""
    )
    return f"""
        WITH w AS (
            SELECT d.aid, c.as_of,
                   sum(d.logins) FILTER (WHERE c.age <= 7) AS logins_7d,
                   sum(d.logins) FILTER (WHERE c.age <= 30) AS logins_30d,
                   sum(d.logins) AS logins_90d,
                   sum(d.logins) FILTER (WHERE c.age > 30 AND c.age <= 60) AS logins_prior_30d,
                   count(*) FILTER (WHERE c.age <= 30) AS login_days_30d
            FROM _hs_login_days d JOIN _hs_calendar c ON c.day = d.day AND c.age <= 90
            GROUP BY ALL
        ),
        per_user AS (
            SELECT d.aid, c.as_of, d.user_id, min(c.age) AS recency,
                   bool_or(c.age > 30 AND c.age <= 60) AS in_prior
            FROM _hs_login_user_days d JOIN _hs_calendar c ON c.day = d.day AND c.age <= 90
            GROUP BY ALL
        ),
        u AS (
            SELECT aid, as_of,
                   count(*) FILTER (WHERE recency <= 7) AS active_users_7d,
                   count(*) FILTER (WHERE recency <= 30) AS active_users_30d,
                   count(*) AS active_users_90d,
                   count(*) FILTER (WHERE in_prior) AS active_users_prior_30d
            FROM per_user GROUP BY ALL
        ),
        last AS (
            SELECT s._row, s.as_of - d.day AS days_since
            FROM _hs_snapshots s ASOF JOIN _hs_login_days d
              ON s.aid = d.aid AND s.as_of > d.day
        ){seats_cte}
        SELECT s._row,
               CAST(coalesce(w.logins_7d, 0) AS DOUBLE) AS usage__logins_7d,
               CAST(coalesce(w.logins_30d, 0) AS DOUBLE) AS usage__logins_30d,
               CAST(coalesce(w.logins_90d, 0) AS DOUBLE) AS usage__logins_90d,
               CAST(coalesce(w.logins_prior_30d, 0) AS DOUBLE) AS usage__logins_prior_30d,
               CAST(coalesce(u.active_users_7d, 0) AS DOUBLE) AS usage__active_users_7d,
               CAST(coalesce(u.active_users_30d, 0) AS DOUBLE) AS usage__active_users_30d,
               CAST(coalesce(u.active_users_90d, 0) AS DOUBLE) AS usage__active_users_90d,
               CAST(coalesce(u.active_users_prior_30d, 0) AS DOUBLE)
                   AS usage__active_users_prior_30d,
               CAST(coalesce(w.login_days_30d, 0) AS DOUBLE) AS usage__login_days_30d,
               {ratio("coalesce(w.logins_30d, 0)", "w.logins_prior_30d")}
                   AS usage__logins_trend_30d,
               {ratio("coalesce(u.active_users_30d, 0)", "u.active_users_prior_30d")}
                   AS usage__active_users_trend_30d,
               {ratio("coalesce(w.logins_30d, 0)", "w.logins_90d / 3.0")}
                   AS usage__logins_vs_avg_90d,
               CAST(last.days_since AS DOUBLE) AS usage__days_since_last_login
               {seats_col}
        FROM _hs_snapshots s
        LEFT JOIN w USING (aid, as_of)
        LEFT JOIN u USING (aid, as_of)
        LEFT JOIN last USING (_row)
        {seats_join}
    """


def compute(run: Session) -> pd.DataFrame:
    """Usage features of every snapshot row, with ``_row``."""
    until = run.query("SELECT max(as_of) AS m FROM _hs_snapshots").iloc[0, 0]
    try:
        run.execute(_USER_DAYS, until=pd.Timestamp(until))
        run.execute(_ACCOUNT_DAYS)
        return run.query(_select(run.has_column("contracts", "seats")))
    finally:
        run.drop("_hs_login_user_days", "_hs_login_days")
