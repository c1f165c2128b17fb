"""Usage features from ``logins``: how much, by how many people, and the trend.

Logins are first reduced to user-days (exact duplicate rows, same account, user and
timestamp, count once; ``list_unique`` of the timestamps per user-day is far cheaper than a
global ``DISTINCT`` over the raw log). Only the logins the windows can see are read: those
from :data:`WINDOW_DAYS` days before the first observation date up to the last one, with
account ids mapped to the build's integer keys before grouping. Each user-day also carries
the day of that user's next login. Windows are then counted by joining the user-days to the
calendar of observation dates (see :mod:`healthscore.features.engine`) and grouping once per
``(account, as_of)``:

* logins in a window are the sum over the user-days in it;
* a user is active in a window when some user-day of theirs falls in it; counting only the
  user-day that is the user's last one before the window closes (its next login is on or
  after the window's end) counts each active user exactly once, without grouping by user;
* login days are distinct days, so the 30-day window sets one bit per day before ``as_of``
  and counts the bits of their union, which is the same whichever users logged in that day.

The days since the last login come from an as-of join of the snapshots to the account-days
of the window, plus each account's latest login before it (one latest-event-per-account
query over the older logins).

Counts are 0 when nothing happened in the window; days since the last login is missing when
nobody ever logged in; ratios are missing when their denominator is 0.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session, ratio

#: The longest window the usage features read, in days.
WINDOW_DAYS = 90
#: Sentinel "next login" of a user's last user-day: later than any observation date.
_NO_NEXT_LOGIN = "DATE '9999-12-31'"

_USER_DAYS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_login_user_days AS
    WITH g AS (
        SELECT k.aid, l.user_id, CAST(l.ts AS DATE) AS day,
               CAST(list_unique(list(l.ts)) AS BIGINT) AS logins
        FROM logins l JOIN _hs_snapshot_accounts k ON k.account_id = l.account_id
        WHERE l.ts >= $since AND l.ts < $until AND l.ts < $data_end AND l.user_id IS NOT NULL
        GROUP BY ALL
    )
    SELECT aid, day, logins,
           lead(day, 1, {_NO_NEXT_LOGIN}) OVER (PARTITION BY aid, user_id ORDER BY day)
               AS next_login
    FROM g
"""

_ACCOUNT_DAYS = """
    CREATE OR REPLACE TEMP TABLE _hs_login_days AS
    SELECT aid, day FROM _hs_login_user_days GROUP BY ALL
    UNION ALL
    SELECT k.aid, CAST(max(l.ts) AS DATE) AS day
    FROM logins l JOIN _hs_snapshot_accounts k ON k.account_id = l.account_id
    WHERE l.ts < $since AND l.user_id IS NOT NULL
    GROUP BY k.aid
"""

#: Bit ``age - 1`` for a day ``age`` days before ``as_of`` within the 30-day window, else 0.
_DAY_BIT_30D = "CASE WHEN c.age <= 30 THEN CAST(1 AS BIGINT) << (c.age - 1) ELSE 0 END"


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
    seats_join = "LEFT JOIN seats ON seats._row = s._row" if with_seats else ""
    seats_col = (
        (
            f", {ratio('coalesce(w.active_users_30d, 0)', 'seats.seats')} "
            "AS usage__seat_utilisation_30d"
        )
        if with_seats
        else ""
    )
    last_in = "d.next_login >= c.as_of"  # the user's last login day before as_of
    last_in_prior = "d.next_login >= c.as_of - 30"  # ... before the prior window closes
    return f"""
        WITH w AS (
            SELECT d.aid, c.as_of,
                   sum(d.logins) FILTER (WHERE c.age <= 7) AS logins_7d,
                   sum(d.logins) FILTER (WHERE c.age <= 30) AS logins_30d,
                   sum(d.logins) AS logins_90d,
                   sum(d.logins) FILTER (WHERE c.age > 30 AND c.age <= 60) AS logins_prior_30d,
                   bit_count(bit_or({_DAY_BIT_30D})) AS login_days_30d,
                   count(*) FILTER (WHERE c.age <= 7 AND {last_in}) AS active_users_7d,
                   count(*) FILTER (WHERE c.age <= 30 AND {last_in}) AS active_users_30d,
                   count(*) FILTER (WHERE {last_in}) AS active_users_90d,
                   count(*) FILTER (WHERE c.age > 30 AND c.age <= 60 AND {last_in_prior})
                       AS active_users_prior_30d
            FROM _hs_login_user_days d JOIN _hs_calendar c ON c.day = d.day AND c.age <= 90
            GROUP BY ALL
        ){seats_cte}
        SELECT s._row,
               CAST(coalesce(w.logins_7d, 0) AS DOUBLE) AS usage__logins_7d,
               CAST(coalesce(w.logins_30d, 0) AS DOUBLE) AS usage__logins_30d,
               CAST(coalesce(w.logins_90d, 0) AS DOUBLE) AS usage__logins_90d,
               CAST(coalesce(w.logins_prior_30d, 0) AS DOUBLE) AS usage__logins_prior_30d,
               CAST(coalesce(w.active_users_7d, 0) AS DOUBLE) AS usage__active_users_7d,
               CAST(coalesce(w.active_users_30d, 0) AS DOUBLE) AS usage__active_users_30d,
               CAST(coalesce(w.active_users_90d, 0) AS DOUBLE) AS usage__active_users_90d,
               CAST(coalesce(w.active_users_prior_30d, 0) AS DOUBLE)
                   AS usage__active_users_prior_30d,
               CAST(coalesce(w.login_days_30d, 0) AS DOUBLE) AS usage__login_days_30d,
               {ratio("coalesce(w.logins_30d, 0)", "w.logins_prior_30d")}
                   AS usage__logins_trend_30d,
               {ratio("coalesce(w.active_users_30d, 0)", "w.active_users_prior_30d")}
                   AS usage__active_users_trend_30d,
               {ratio("coalesce(w.logins_30d, 0)", "w.logins_90d / 3.0")}
                   AS usage__logins_vs_avg_90d,
               CAST(date_diff('day', last.day, s.as_of) AS DOUBLE) AS usage__days_since_last_login
               {seats_col}
        FROM _hs_snapshots s
        ASOF LEFT JOIN _hs_login_days last ON last.aid = s.aid AND last.day < s.as_of
        LEFT JOIN w ON w.aid = s.aid AND w.as_of = s.as_of
        {seats_join}
    """


_USER_DAYS_CACHED = f"""
    CREATE OR REPLACE TEMP TABLE _hs_login_user_days AS
    SELECT k.aid, r.day, r.logins,
           lead(r.day, 1, {_NO_NEXT_LOGIN}) OVER (PARTITION BY k.aid, r.user_id ORDER BY r.day)
               AS next_login
    FROM {{relation}} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $since AND r.day < $until
"""

_ACCOUNT_DAYS_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_login_days AS
    SELECT aid, day FROM _hs_login_user_days GROUP BY ALL
    UNION ALL
    SELECT k.aid, max(r.day) AS day
    FROM {relation} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    WHERE r.month <= $since_month AND r.day < $since
    GROUP BY k.aid
"""


def compute(run: Session) -> pd.DataFrame:
    """Usage features of every snapshot row, with ``_row``.

    The user-days come from the cached roll-ups when the build has them, else from the log.
    """
    since = run.since(WINDOW_DAYS)
    cached = run.rollup("logins")
    try:
        if cached is None:
            run.execute(_USER_DAYS, since=since, until=run.until)
            run.execute(_ACCOUNT_DAYS, since=since)
        else:
            months = run.months(WINDOW_DAYS)
            run.execute(
                _USER_DAYS_CACHED.format(relation=cached), since=since, until=run.until, **months
            )
            run.execute(_ACCOUNT_DAYS_CACHED.format(relation=cached), since=since, **months)
        return run.query(_select(run.has_column("contracts", "seats")))
    finally:
        run.drop("_hs_login_user_days", "_hs_login_days")
