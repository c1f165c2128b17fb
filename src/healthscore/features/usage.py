"""Usage features from ``logins``: how much, by how many people, and the trend.

Only the logins the windows can see are read: those from :data:`WINDOW_DAYS` days before the
first observation date up to the last one. The window's distinct ``(account, user)`` pairs
are read first, with the ids as they are in the export; only those pairs are typed, and each
account's users are numbered (``_hs_login_users``: word ``uw`` and bit ``ubit`` of
``uw * 32 + ubit``; see :func:`~healthscore.features.engine.user_bits`). The rows join the
pairs on the ids as read and carry the account's integer key and the user's word and bit
instead of ids. Exact duplicate rows (same account, user and timestamp) count once: the
window's rows are de-duplicated first (``_hs_login_rows``; from the cached roll-ups they are
user-days that already carry their login count). Windows are then counted by joining the
rows to the calendar of observation dates (see :mod:`healthscore.features.engine`) and
grouping once per ``(account, as_of)``, with no per-user or per-day grouping of the log:

* logins in a window are a sum;
* active users are distinct users: a window ORs its rows' user bits word by word and
  counts them, which is the number of distinct users whatever the number of rows per user;
* login days are distinct days, counted the same way with one bit per day before ``as_of``.

The days since the last login are the days since the newest row in the 90-day window; for an
account with none, the latest login before that window comes from an as-of join to the
account-days that no window of a later date covers and to each account's latest login
before the rows read (one latest-event-per-account query over the older logins).

Counts are 0 when nothing happened in the window; days since the last login is missing when
nobody ever logged in; ratios are missing when their denominator is 0.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session, ratio, raw_pairs, user_bits, word_type
from healthscore.sql import RAW_ID_PREFIX, id_of_raw, id_present

#: The longest window the usage features read, in days.
WINDOW_DAYS = 90

#: The window's ``(account, user)`` pairs, for the users' bits.
_LOG_PAIRS = raw_pairs("logins", "ts >= $since AND ts < $until AND ts < $data_end")

_CACHED_PAIRS = """(
    SELECT DISTINCT account_id AS raw_account, user_id AS raw_user, account_id, user_id
    FROM {relation}
    WHERE month >= $since_month AND month <= $until_month AND day >= $since AND day < $until
)"""

#: Each account's users as bit ``ubit`` of word ``uw`` (``{pairs}``: the window's pairs).
_USERS = user_bits("_hs_login_users", "{pairs}")

_ROWS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_login_rows AS
    SELECT aid, uw, ubit, CAST(ts AS DATE) AS day, CAST(1 AS INTEGER) AS logins
    FROM (
        SELECT DISTINCT u.aid, CAST(u.uw AS {{word_type}}) AS uw, u.ubit, l.ts
        FROM logins l JOIN _hs_login_users u
          ON u.raw_account = l.{RAW_ID_PREFIX}account_id AND u.raw_user = l.{RAW_ID_PREFIX}user_id
        WHERE l.ts >= $since AND l.ts < $until AND l.ts < $data_end
    ) {{order}}
"""

_ROWS_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_login_rows AS
    SELECT u.aid, CAST(u.uw AS {word_type}) AS uw, u.ubit, r.day, r.logins
    FROM {relation} r JOIN _hs_login_users u
      ON u.raw_account = r.account_id AND u.raw_user = r.user_id
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $since AND r.day < $until
    {order}
"""

#: Account-days no later date's 90-day window covers, and each account's latest login
#: before the rows read: where the days since the last login look when a window is empty.
_OLDER_DAYS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_login_days AS
    SELECT DISTINCT aid, day FROM _hs_login_rows WHERE day < $fallback_until
    UNION ALL
    SELECT k.aid, CAST(max(o.last_ts) AS DATE) AS day
    FROM (SELECT {RAW_ID_PREFIX}account_id AS raw_account, max(ts) AS last_ts FROM logins
          WHERE ts < $since AND {id_present(RAW_ID_PREFIX + "user_id")} GROUP BY ALL) o
    JOIN _hs_snapshot_accounts k ON k.account_id = {id_of_raw("o.raw_account")}
    GROUP BY k.aid
"""

_OLDER_DAYS_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_login_days AS
    SELECT DISTINCT aid, day FROM _hs_login_rows WHERE day < $fallback_until
    UNION ALL
    SELECT k.aid, max(r.day) AS day
    FROM {relation} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    WHERE r.month <= $since_month AND r.day < $since
    GROUP BY k.aid
"""

_BIT = "CAST(1 AS BIGINT) << d.ubit"
#: Bit ``age - 1`` for a day ``age`` days before ``as_of`` within the 30-day window, else 0.
_DAY_BIT_30D = "CASE WHEN c.age <= 30 THEN CAST(1 AS BIGINT) << (c.age - 1) ELSE 0 END"
_PRIOR = "c.age > 30 AND c.age <= 60"


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
    return f"""
        WITH words AS (
            SELECT d.aid, c.as_of, d.uw,
                   sum(d.logins) FILTER (WHERE c.age <= 7) AS logins_7d,
                   sum(d.logins) FILTER (WHERE c.age <= 30) AS logins_30d,
                   sum(d.logins) AS logins_90d,
                   sum(d.logins) FILTER (WHERE {_PRIOR}) AS logins_prior_30d,
                   bit_count(bit_or({_BIT}) FILTER (WHERE c.age <= 7)) AS active_users_7d,
                   bit_count(bit_or({_BIT}) FILTER (WHERE c.age <= 30)) AS active_users_30d,
                   bit_count(bit_or({_BIT})) AS active_users_90d,
                   bit_count(bit_or({_BIT}) FILTER (WHERE {_PRIOR})) AS active_users_prior_30d,
                   bit_or({_DAY_BIT_30D}) AS days_30d,
                   min(c.age) AS last_age
            FROM _hs_login_rows d JOIN _hs_calendar c ON c.day = d.day AND c.age <= 90
            GROUP BY ALL
        ),
        w AS (
            SELECT aid, as_of, sum(logins_7d) AS logins_7d, sum(logins_30d) AS logins_30d,
                   sum(logins_90d) AS logins_90d, sum(logins_prior_30d) AS logins_prior_30d,
                   sum(active_users_7d) AS active_users_7d,
                   sum(active_users_30d) AS active_users_30d,
                   sum(active_users_90d) AS active_users_90d,
                   sum(active_users_prior_30d) AS active_users_prior_30d,
                   bit_count(bit_or(days_30d)) AS login_days_30d, min(last_age) AS last_age
            FROM words GROUP BY ALL
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
               CAST(coalesce(w.last_age, date_diff('day', last.day, s.as_of)) AS DOUBLE)
                   AS usage__days_since_last_login
               {seats_col}
        FROM _hs_snapshots s
        ASOF LEFT JOIN _hs_login_days last ON last.aid = s.aid AND last.day < s.as_of
        LEFT JOIN w ON w.aid = s.aid AND w.as_of = s.as_of
        {seats_join}
    """


def compute(run: Session) -> pd.DataFrame:
    """Usage features of every snapshot row, with ``_row``.

    The rows come from the cached roll-ups when the build has them, else from the log.
    """
    bounds = {
        "since": run.since(WINDOW_DAYS),
        "until": run.until,
        "fallback_until": run.until - pd.Timedelta(days=WINDOW_DAYS),
    }
    cached = run.rollup("logins")
    try:
        if cached is None:
            run.execute(_USERS.format(pairs=_LOG_PAIRS), **bounds)
            rows = _ROWS.format(
                order=run.account_order, word_type=word_type(run, "_hs_login_users")
            )
            run.execute(rows, since=bounds["since"], until=bounds["until"])
            run.execute(_OLDER_DAYS, **bounds)
        else:
            months = run.months(WINDOW_DAYS)
            pairs = _CACHED_PAIRS.format(relation=cached)
            run.execute(_USERS.format(pairs=pairs), **bounds, **months)
            rows = _ROWS_CACHED.format(
                relation=cached,
                order=run.account_order,
                word_type=word_type(run, "_hs_login_users"),
            )
            run.execute(rows, **bounds, **months)
            run.execute(_OLDER_DAYS_CACHED.format(relation=cached), **bounds, **months)
        return run.query(_select(run.has_column("contracts", "seats")))
    finally:
        run.drop("_hs_login_rows", "_hs_login_users", "_hs_login_days")
