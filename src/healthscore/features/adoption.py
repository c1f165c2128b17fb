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
observation date up to the last one) are reduced to feature-days, for the accounts being
built. What looks further back (first use of each feature by every account, for the
catalogue, the core features and new features; and the last use before the windows, for the
days since core use) comes from one ``min``/``max`` query per account and feature over the
older rows, which needs no de-duplication.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session, ratio

DEFAULT_CORE_COUNT = 4
#: The longest window the adoption features read, in days.
WINDOW_DAYS = 90


def _quantity(run: Session) -> str:
    return "coalesce(quantity, 1)" if run.has_column("feature_usage", "quantity") else "1"


def _feature_days(run: Session) -> str:
    optional = [c for c in ("user_id", "quantity") if run.has_column("feature_usage", c)]
    columns = ["k.aid", "u.feature", "u.ts"] + [f"u.{c}" for c in optional]
    kept = ["aid", "feature"] + [c for c in optional if c == "user_id"]
    return f"""
        CREATE OR REPLACE TEMP TABLE _hs_feature_rows AS
        SELECT * FROM (
            SELECT {", ".join(kept)}, CAST(ts AS DATE) AS day,
                   CAST({_quantity(run)} AS DOUBLE) AS events
            FROM (SELECT DISTINCT {", ".join(columns)}
                  FROM feature_usage u JOIN _hs_snapshot_accounts k
                    ON k.account_id = u.account_id
                  WHERE u.ts >= $since AND u.ts < $data_end AND u.ts < $until
                    AND u.feature IS NOT NULL)
        ) WHERE events > 0
    """


def _first_use(run: Session) -> str:
    """First use of each feature by every known account, and its last use before ``since``."""
    return f"""
        CREATE OR REPLACE TEMP TABLE _hs_feature_first AS
        SELECT k.aid, u.feature, CAST(min(u.ts) AS DATE) AS first_day,
               CAST(max(u.ts) FILTER (WHERE u.ts < $since) AS DATE) AS last_before
        FROM feature_usage u JOIN _hs_accounts k ON k.account_id = u.account_id
        WHERE u.ts < $data_end AND u.ts < $until AND u.feature IS NOT NULL
          AND CAST({_quantity(run)} AS DOUBLE) > 0
        GROUP BY ALL
    """


#: Sentinel "next use" of a feature's (or user's) last day: later than any observation date.
_NO_NEXT_USE = "DATE '9999-12-31'"

_DAYS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_feature_days AS
    SELECT aid, feature, day, events,
           lead(day, 1, {_NO_NEXT_USE}) OVER (PARTITION BY aid, feature ORDER BY day) AS next_use
    FROM (SELECT aid, feature, day, sum(events) AS events FROM _hs_feature_rows GROUP BY ALL)
"""

_USER_DAYS = f"""
    CREATE OR REPLACE TEMP TABLE _hs_feature_user_days AS
    SELECT aid, day, events,
           lead(day, 1, {_NO_NEXT_USE}) OVER (PARTITION BY aid, user_id ORDER BY day) AS next_use
    FROM (SELECT aid, user_id, day, sum(events) AS events FROM _hs_feature_rows
          WHERE user_id IS NOT NULL GROUP BY ALL)
"""

# The same three tables from the cached day roll-ups (see healthscore.features.rollups).
_FIRST_CACHED = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_first AS
    SELECT k.aid, r.feature, min(r.day) AS first_day,
           max(r.day) FILTER (WHERE r.day < $since) AS last_before
    FROM {relation} r JOIN _hs_accounts k ON k.account_id = r.account_id
    WHERE r.month <= $until_month AND r.day < $until
    GROUP BY ALL
"""

_DAYS_CACHED = f"""
    CREATE OR REPLACE TEMP TABLE _hs_feature_days AS
    SELECT k.aid, r.feature, r.day, r.events,
           lead(r.day, 1, {_NO_NEXT_USE}) OVER (PARTITION BY k.aid, r.feature ORDER BY r.day)
               AS next_use
    FROM {{relation}} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $since AND r.day < $until
"""

_USER_DAYS_CACHED = f"""
    CREATE OR REPLACE TEMP TABLE _hs_feature_user_days AS
    SELECT k.aid, r.day, r.events,
           lead(r.day, 1, {_NO_NEXT_USE}) OVER (PARTITION BY k.aid, r.user_id ORDER BY r.day)
               AS next_use
    FROM {{relation}} r JOIN _hs_snapshot_accounts k ON k.account_id = r.account_id
    WHERE r.month >= $since_month AND r.month <= $until_month
      AND r.day >= $since AND r.day < $until
"""

_LAST = """
    CREATE OR REPLACE TEMP TABLE _hs_feature_last AS
    SELECT aid, feature, day FROM _hs_feature_days
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


def _select(with_users: bool) -> str:
    users_cte = (
        """,
        users AS (
            SELECT u.aid, c.as_of, count(*) FILTER (WHERE u.next_use >= c.as_of) AS users_30d,
                   sum(u.events) AS user_events_30d
            FROM _hs_feature_user_days u JOIN _hs_calendar c ON c.day = u.day AND c.age <= 30
            GROUP BY ALL
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
    last_use = "f.next_use >= c.as_of"  # the feature's last day of use before as_of
    return f"""
        WITH w AS (
            SELECT f.aid, c.as_of,
                   count(*) FILTER (WHERE c.age <= 30 AND {last_use}) AS distinct_30d,
                   count(*) FILTER (WHERE {last_use}) AS distinct_90d,
                   sum(f.events) FILTER (WHERE c.age <= 30) AS events_30d,
                   count(*) FILTER (WHERE c.age <= 30 AND {last_use} AND k.feature IS NOT NULL)
                       AS core_30d
            FROM _hs_feature_days f JOIN _hs_calendar c ON c.day = f.day AND c.age <= 90
            LEFT JOIN _hs_core k ON k.as_of = c.as_of AND k.feature = f.feature
            GROUP BY ALL
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
               CAST(date_diff('day', core_last.last_day, s.as_of) AS DOUBLE)
                   AS adoption__days_since_core_use
               {users_col}
        FROM _hs_snapshots s
        LEFT JOIN w USING (aid, as_of)
        LEFT JOIN catalogue USING (as_of)
        LEFT JOIN new USING (aid, as_of)
        LEFT JOIN core_last USING (_row)
        {users_join}
    """


def _day_tables(run: Session, with_users: bool) -> None:
    """``_hs_feature_first``, ``_hs_feature_days`` and ``_hs_feature_user_days``."""
    bounds = {"since": run.since(WINDOW_DAYS), "until": run.until}
    days, users = run.rollup("feature_days"), run.rollup("feature_user_days")
    if days is not None and (users is not None or not with_users):
        months = run.months(WINDOW_DAYS)
        run.execute(_FIRST_CACHED.format(relation=days), **bounds, **months)
        run.execute(_DAYS_CACHED.format(relation=days), **bounds, **months)
        if with_users:
            run.execute(_USER_DAYS_CACHED.format(relation=users), **bounds, **months)
        return
    try:
        run.execute(_feature_days(run), **bounds)
        run.execute(_first_use(run), **bounds)
        run.execute(_DAYS)
        if with_users:
            run.execute(_USER_DAYS)
    finally:
        run.drop("_hs_feature_rows")


def compute(run: Session) -> pd.DataFrame:
    """Adoption features of every snapshot row, with ``_row``.

    The day aggregates come from the cached roll-ups when the build has them, else from the
    log.
    """
    temp = ("_hs_feature_days", "_hs_feature_first", "_hs_feature_last", "_hs_feature_user_days")
    with_users = run.has_column("feature_usage", "user_id")
    try:
        _day_tables(run, with_users)
        run.execute(_LAST)
        core = run.config.features.core_features
        if core is None:
            run.execute(_DEFAULT_CORE, core_count=DEFAULT_CORE_COUNT)
        else:
            run.execute(_CONFIGURED_CORE, core=list(core))
        return run.query(_select(with_users))
    finally:
        run.drop(*temp, "_hs_core")
