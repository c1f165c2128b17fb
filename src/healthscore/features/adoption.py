"""Adoption features from ``feature_usage``: breadth, depth and core-feature use.

A row's ``quantity`` (1 when the column or value is missing) is its number of events; rows
with a quantity of 0 or less are not usage. Exact duplicate rows count once.

Two quantities look at every known account, and are still point-in-time:

* the product *catalogue* at ``as_of`` is every feature any known account used before
  ``as_of`` (so a feature launched later never shrinks an earlier share);
* the *core* features are ``features.core_features`` from the config or, by default, the 4
  features used by the most accounts before ``as_of`` (ties broken by name). Computing them
  per ``as_of`` from the past only keeps them free of leakage and makes training and scoring
  at the same date agree, whichever accounts are being built.

Only the rows the windows can see (from :data:`WINDOW_DAYS` days before the first
observation date up to the last one) are read for the accounts being built, de-duplicated
once (``_hs_feature_rows``; from the cached roll-ups, feature-days and feature user-days).
The window's users are numbered first, within each account (``_hs_feature_users``), and the
rows carry each user as two small integers (word ``uw`` and bit ``ubit``) instead of the
user's id, so de-duplication and grouping work on integers only.
Windows join them to the calendar of observation dates and group once per
``(account, as_of)``: distinct features and distinct users are counted as bits (every
feature, and each account's users, get a word and a bit; a window ORs them and counts the
bits), so nothing is grouped per feature-day or per user-day. What looks further back
(first use of each feature by every account, for the catalogue, the core features and new
features; and the last use before the windows, for the days since core use) comes from one
``min``/``max`` query per account and feature over the log, which needs no de-duplication.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import (
    Session,
    integer_type,
    ratio,
    raw_pairs,
    user_bits,
    word_and_bit,
    word_type,
)
from healthscore.sql import RAW_ID_PREFIX, id_of_raw

DEFAULT_CORE_COUNT = 4
#: The longest window the adoption features read, in days.
WINDOW_DAYS = 90
#: The window of the per-user features, in days.
USER_WINDOW_DAYS = 30


def _quantity(run: Session) -> str:
    return "coalesce(quantity, 1)" if run.has_column("feature_usage", "quantity") else "1"


#: The window of the rows read from the log.
_WINDOW = "ts >= $since AND ts < $data_end AND ts < $until"


def _pairs(run: Session) -> str:
    """SQL creating ``_hs_feature_pairs``: the window's ``(account, user)`` pairs as read and
    typed (no user column: each account once, with no user)."""
    if run.has_column("feature_usage", "user_id"):
        pairs = raw_pairs("feature_usage", _WINDOW)
    else:
        pairs = f"""(
            SELECT raw_account, CAST(NULL AS VARCHAR) AS raw_user,
                   {id_of_raw("raw_account")} AS account_id, CAST(NULL AS VARCHAR) AS user_id
            FROM (SELECT DISTINCT {RAW_ID_PREFIX}account_id AS raw_account
                  FROM feature_usage WHERE {_WINDOW})
        )"""
    return f"CREATE OR REPLACE TEMP TABLE _hs_feature_pairs AS SELECT * FROM {pairs}"


#: The accounts of the window's rows, by their ids as read.
_ACCOUNTS = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_accounts AS
    SELECT DISTINCT p.raw_account, k.aid
    FROM _hs_feature_pairs p JOIN _hs_snapshot_accounts k ON k.account_id = p.account_id
"""


def _rows(run: Session, with_users: bool) -> str:
    """The window's rows, de-duplicated, each user as its bit (``_hs_feature_users``)."""
    quantity = ["u.quantity"] if run.has_column("feature_usage", "quantity") else []
    if with_users:
        user = [f"CAST(s.uw AS {word_type(run, '_hs_feature_users')}) AS uw", "s.ubit"]
        join = (
            f"LEFT JOIN _hs_feature_users s ON s.raw_account = u.{RAW_ID_PREFIX}account_id "
            f"AND s.raw_user = u.{RAW_ID_PREFIX}user_id"
        )
    else:
        user, join = ["CAST(NULL AS INTEGER) AS uw", "CAST(NULL AS INTEGER) AS ubit"], ""
    columns = ["a.aid", "b.fid", "u.ts", *user, *quantity]
    return f"""
        CREATE OR REPLACE TEMP TABLE _hs_feature_rows AS
        SELECT * FROM (
            SELECT aid, fid, uw, ubit, CAST(ts AS DATE) AS day,
                   CAST({_quantity(run)} AS DOUBLE) AS events
            FROM (SELECT DISTINCT {", ".join(columns)}
                  FROM feature_usage u
                  JOIN _hs_feature_accounts a ON a.raw_account = u.{RAW_ID_PREFIX}account_id
                  JOIN _hs_feature_bits b ON b.feature = u.feature
                  {join}
                  WHERE u.ts >= $since AND u.ts < $data_end AND u.ts < $until)
        ) WHERE events > 0 {run.account_order}
    """


def _first_use(run: Session) -> str:
    """First use of each feature by every known account, and its last use before ``since``.

    Grouped by the account's id before its integer key is joined: a few hundred thousand
    groups are much cheaper to join than the tens of millions of rows behind them.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE _hs_feature_first AS
        SELECT k.aid, g.feature, CAST(min(g.first_ts) AS DATE) AS first_day,
               CAST(max(g.last_ts) AS DATE) AS last_before
        FROM (
            SELECT {RAW_ID_PREFIX}account_id AS raw_account, feature, min(ts) AS first_ts,
                   max(ts) FILTER (WHERE ts < $since) AS last_ts
            FROM feature_usage
            WHERE ts < $data_end AND ts < $until AND feature IS NOT NULL
              AND CAST({_quantity(run)} AS DOUBLE) > 0
            GROUP BY ALL
        ) g JOIN _hs_accounts k ON k.account_id = {id_of_raw("g.raw_account")}
        GROUP BY ALL
    """


# The window's rows from the cached day roll-ups (see healthscore.features.rollups): the
# feature-days, and the feature user-days for the per-user features.
_FIRST_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_first AS
    SELECT k.aid, r.feature, min(r.day) AS first_day,
           max(r.day) FILTER (WHERE r.day < $since) AS last_before
    FROM {relation} r JOIN _hs_accounts k ON k.account_id = r.account_id
    WHERE r.month <= $until_month AND r.day < $until
    GROUP BY ALL
"""

_ROWS_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_rows AS
    SELECT k.aid, b.fid, CAST(NULL AS INTEGER) AS uw, CAST(NULL AS INTEGER) AS ubit, r.day,
           r.events
    FROM {relation} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    JOIN _hs_feature_bits b ON b.feature = r.feature
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $since AND r.day < $until
    {order}
"""

_USER_ROWS_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_user_rows AS
    SELECT u.aid, CAST(u.uw AS {word_type}) AS uw, u.ubit, r.day, r.events
    FROM {relation} r JOIN _hs_feature_users u
      ON u.raw_account = r.account_id AND u.raw_user = r.user_id
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $users_since AND r.day < $until
    {order}
"""

#: The per-user rows when they come from the log: the de-duplicated rows with a user.
_USER_ROWS = "(SELECT aid, uw, ubit, day, events FROM _hs_feature_rows WHERE uw IS NOT NULL)"

#: The users of the per-user rows read from the roll-ups (their ids are typed already).
_CACHED_PAIRS = """(
    SELECT DISTINCT account_id AS raw_account, user_id AS raw_user, account_id, user_id
    FROM {relation}
    WHERE month >= $since_month AND month <= $until_month
      AND day >= $users_since AND day < $until
)"""

#: Every feature used before the last date: an integer key ``fid`` of type ``{fid_type}``
#: (the rows carry it instead of the name), and as bit ``fbit`` of word ``fw``.
_FEATURE_BITS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_feature_bits AS
    SELECT feature, CAST(n AS {{fid_type}}) AS fid, {word_and_bit("n", "fw", "fbit")}
    FROM (
        SELECT feature, row_number() OVER (ORDER BY feature) - 1 AS n
        FROM (SELECT DISTINCT feature FROM _hs_feature_first)
    )
"""

#: Each account's users as bit ``ubit`` of word ``uw`` (``{pairs}``: their pairs).
_USER_BITS = user_bits("_hs_feature_users", "{pairs}")


def _feature_bits(run: Session) -> None:
    """Create ``_hs_feature_bits``, the feature key in the narrowest type that holds it."""
    features = run.scalar("SELECT count(DISTINCT feature) FROM _hs_feature_first")
    run.execute(_FEATURE_BITS.format(fid_type=integer_type(features)))


#: Days of core use that no later date's 90-day window covers, and each feature's last use
#: before the rows read: where the days since core use look when a window has none.
_LAST = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_last AS
    SELECT DISTINCT r.aid, b.feature, r.day
    FROM _hs_feature_rows r JOIN _hs_feature_bits b ON b.fid = r.fid
    WHERE r.day < $fallback_until AND b.feature IN (SELECT feature FROM _hs_core)
    UNION ALL
    SELECT aid, feature, last_before FROM _hs_feature_first
    WHERE last_before IS NOT NULL AND aid IN (SELECT aid FROM _hs_snapshot_accounts)
"""

_DEFAULT_CORE = """
    CREATE OR REPLACE TEMP TABLE _hs_core AS
    WITH adopters AS (
        SELECT feature, first_day, count(*) AS n FROM _hs_feature_first GROUP BY ALL
    ),
    popularity AS (
        SELECT d.as_of, a.feature, sum(a.n) AS accounts
        FROM _hs_dates d JOIN adopters a ON a.first_day < d.as_of GROUP BY ALL
    )
    SELECT as_of, feature FROM (
        SELECT *, row_number() OVER (PARTITION BY as_of ORDER BY accounts DESC, feature) AS rank
        FROM popularity
    ) WHERE rank <= $core_count
"""

_CONFIGURED_CORE = """
    CREATE OR REPLACE TEMP TABLE _hs_core AS
    SELECT d.as_of, f.feature
    FROM _hs_dates d, (SELECT DISTINCT unnest($core::VARCHAR[]) AS feature) f
"""

_FEATURE_BIT = "CAST(1 AS BIGINT) << b.fbit"
_USER_BIT = "CAST(1 AS BIGINT) << r.ubit"
_CORE = "k.fid IS NOT NULL"


def _select(user_rows: str | None) -> str:
    """The features' query; ``user_rows`` is the relation of per-user rows (None: no users)."""
    with_users = user_rows is not None
    users_cte = (
        f""",
        user_words AS (
            SELECT r.aid, c.as_of, r.uw, bit_count(bit_or({_USER_BIT})) AS users_30d,
                   sum(r.events) AS user_events_30d
            FROM {user_rows} r
            JOIN _hs_calendar c ON c.day = r.day AND c.age <= {USER_WINDOW_DAYS}
            GROUP BY ALL
        ),
        users AS (
            SELECT aid, as_of, sum(users_30d) AS users_30d,
                   sum(user_events_30d) AS user_events_30d
            FROM user_words GROUP BY ALL
        )"""
        if with_users
        else ""
    )
    users_join = "LEFT JOIN users USING (aid, as_of)" if with_users else ""
    users_col = (
        (f", {ratio('users.user_events_30d', 'users.users_30d')} AS adoption__events_per_user_30d")
        if with_users
        else ""
    )
    return f"""
        WITH words AS (
            SELECT f.aid, c.as_of, b.fw,
                   bit_count(bit_or({_FEATURE_BIT}) FILTER (WHERE c.age <= 30)) AS distinct_30d,
                   bit_count(bit_or({_FEATURE_BIT})) AS distinct_90d,
                   sum(f.events) FILTER (WHERE c.age <= 30) AS events_30d,
                   bit_count(bit_or({_FEATURE_BIT}) FILTER (WHERE c.age <= 30 AND {_CORE}))
                       AS core_30d,
                   min(c.age) FILTER (WHERE {_CORE}) AS core_age
            FROM _hs_feature_rows f JOIN _hs_calendar c ON c.day = f.day AND c.age <= 90
            JOIN _hs_feature_bits b ON b.fid = f.fid
            LEFT JOIN (
                SELECT k.as_of, b.fid FROM _hs_core k JOIN _hs_feature_bits b USING (feature)
            ) k ON k.as_of = c.as_of AND k.fid = f.fid
            GROUP BY ALL
        ),
        w AS (
            SELECT aid, as_of, sum(distinct_30d) AS distinct_30d,
                   sum(distinct_90d) AS distinct_90d, sum(events_30d) AS events_30d,
                   sum(core_30d) AS core_30d, min(core_age) AS core_age
            FROM words GROUP BY ALL
        ),
        catalogue AS (
            SELECT d.as_of, count(f.feature) AS size
            FROM _hs_dates d LEFT JOIN (
                SELECT feature, min(first_day) AS first_day FROM _hs_feature_first GROUP BY ALL
            ) f ON f.first_day < d.as_of
            GROUP BY d.as_of
        ),
        new AS (
            SELECT f.aid, c.as_of, count(*) AS new_30d
            FROM _hs_feature_first f JOIN _hs_calendar c ON c.day = f.first_day AND c.age <= 30
            GROUP BY ALL
        ),
        core_sets AS (
            SELECT as_of, list_sort(list(feature)) AS core FROM _hs_core GROUP BY as_of
        ),
        set_ids AS (
            SELECT core, row_number() OVER (ORDER BY core) AS set_id
            FROM (SELECT DISTINCT core FROM core_sets)
        ),
        core_days AS (
            SELECT k.set_id, f.aid, f.day
            FROM _hs_feature_last f
            JOIN (SELECT set_id, unnest(core) AS feature FROM set_ids) k USING (feature)
            GROUP BY ALL
        ),
        snapshot_sets AS (
            SELECT s._row, s.aid, s.as_of, i.set_id
            FROM _hs_snapshots s JOIN core_sets c USING (as_of) JOIN set_ids i USING (core)
        ),
        core_last AS (
            SELECT ss._row, d.day AS last_day
            FROM snapshot_sets ss ASOF JOIN core_days d
              ON ss.set_id = d.set_id AND ss.aid = d.aid AND ss.as_of > d.day
        ){users_cte}
        SELECT s._row,
               CAST(coalesce(w.distinct_30d, 0) AS DOUBLE) AS adoption__distinct_features_30d,
               CAST(coalesce(w.distinct_90d, 0) AS DOUBLE) AS adoption__distinct_features_90d,
               CAST(coalesce(w.events_30d, 0) AS DOUBLE) AS adoption__feature_events_30d,
               {ratio("coalesce(w.distinct_90d, 0)", "catalogue.size")}
                   AS adoption__catalogue_share_90d,
               CAST(coalesce(w.core_30d, 0) AS DOUBLE) AS adoption__core_features_30d,
               CAST(coalesce(new.new_30d, 0) AS DOUBLE) AS adoption__new_features_30d,
               CAST(coalesce(w.core_age, date_diff('day', core_last.last_day, s.as_of))
                    AS DOUBLE) AS adoption__days_since_core_use
               {users_col}
        FROM _hs_snapshots s
        LEFT JOIN w USING (aid, as_of)
        LEFT JOIN catalogue USING (as_of)
        LEFT JOIN new USING (aid, as_of)
        LEFT JOIN core_last USING (_row)
        {users_join}
    """


def _row_tables(run: Session, with_users: bool) -> str | None:
    """``_hs_feature_first``, ``_hs_feature_bits``, ``_hs_feature_users`` and
    ``_hs_feature_rows``; returns the relation of the per-user rows."""
    bounds = {
        "since": run.since(WINDOW_DAYS),
        "until": run.until,
        "users_since": run.since(USER_WINDOW_DAYS),
    }
    days, users = run.rollup("feature_days"), run.rollup("feature_user_days")
    if days is not None and (users is not None or not with_users):
        months = run.months(WINDOW_DAYS)
        run.execute(_FIRST_CACHED.format(relation=days), **bounds, **months)
        _feature_bits(run)
        run.execute(_ROWS_CACHED.format(relation=days, order=run.account_order), **bounds, **months)
        if not with_users:
            return None
        pairs = _CACHED_PAIRS.format(relation=users)
        run.execute(_USER_BITS.format(pairs=pairs), **bounds, **months)
        user_rows = _USER_ROWS_CACHED.format(
            relation=users, order=run.account_order, word_type=word_type(run, "_hs_feature_users")
        )
        run.execute(user_rows, **bounds, **months)
        return "_hs_feature_user_rows"
    run.execute(_first_use(run), **bounds)
    _feature_bits(run)
    run.execute(_pairs(run), **bounds)
    run.execute(_ACCOUNTS)
    if with_users:
        run.execute(_USER_BITS.format(pairs="_hs_feature_pairs"))
    run.execute(_rows(run, with_users), **bounds)
    return _USER_ROWS if with_users else None


def compute(run: Session) -> pd.DataFrame:
    """Adoption features of every snapshot row, with ``_row``.

    The window's rows come from the cached roll-ups when the build has them, else from the
    log.
    """
    with_users = run.has_column("feature_usage", "user_id")
    try:
        user_rows = _row_tables(run, with_users)
        core = run.config.features.core_features
        if core is None:
            run.execute(_DEFAULT_CORE, core_count=DEFAULT_CORE_COUNT)
        else:
            run.execute(_CONFIGURED_CORE, core=list(core))
        run.execute(_LAST, fallback_until=run.until - pd.Timedelta(days=WINDOW_DAYS))
        return run.query(_select(user_rows))
    finally:
        run.drop(
            "_hs_feature_first",
            "_hs_feature_rows",
            "_hs_feature_user_rows",
            "_hs_feature_bits",
            "_hs_feature_users",
            "_hs_feature_pairs",
            "_hs_feature_accounts",
            "_hs_feature_last",
            "_hs_core",
        )
