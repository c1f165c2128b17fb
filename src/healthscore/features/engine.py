"""The query engine under the feature families: snapshots, calendar and shared relations.

Every family module turns the catalogue into SQL over the source's typed views; this module
owns the plumbing they share, so that another engine could run the same catalogue by
replacing it and the family SQL:

* ``_hs_accounts(account_id, aid)``: known accounts (listed in ``accounts``) with a dense
  integer key; events of other accounts are ignored by every feature. Queries join event
  tables to it once and carry the integer ``aid`` onwards, which is much cheaper to group
  and join on than the string id.
* ``_hs_snapshots(_row, account_id, aid, as_of)``: the rows to compute, ``as_of`` as a DATE
  and ``_row`` their position in the caller's frame (results are joined back on it, which
  keeps the caller's order); ``aid`` is NULL for an account missing from ``accounts``.
* ``_hs_snapshot_accounts(account_id, aid)``: the known accounts among the snapshots, to
  restrict per-account work to the accounts being built.
* ``_hs_dates(as_of)``: the distinct observation dates.
* ``_hs_calendar(as_of, day, age)``: for every observation date, the ``CALENDAR_DAYS`` days
  before it, ``age`` = days before ``as_of`` (1 = the day before). A window of ``n`` days is
  ``age <= n``. Joining day-level aggregates to this calendar on ``day`` is an equi-join, so
  windowing an event log costs one hash join of its account-day (or user-day) aggregates
  instead of a range join per event.
* ``_hs_terms``: the clean contract terms with their term grid (see
  :mod:`healthscore.contract_terms`).

Every query binds ``$data_end``: events on or after it have not happened yet and are ignored.
The temporary tables live on the source's connection for the duration of one
:func:`session` and are dropped afterwards; one connection runs one build at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config import Config
from healthscore.contract_terms import register_terms
from healthscore.features.rollups import RollupCache
from healthscore.sql import RAW_ID_PREFIX, id_of_raw
from healthscore.storage import DataSource

#: Longest window any feature reads, in days (satisfaction reads 180).
CALENDAR_DAYS = 180
_TEMP_TABLES = (
    "_hs_snapshots",
    "_hs_dates",
    "_hs_calendar",
    "_hs_accounts",
    "_hs_snapshot_accounts",
    "_hs_terms",
)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
#: Snapshot rows from which the window's event rows are stored in account order (see
#: :attr:`Session.account_order`).
ACCOUNT_ORDER_FROM_ROWS = 500_000


@dataclass(frozen=True)
class Session:
    """A source with the shared temporary relations in place, for one feature build.

    ``first_as_of`` and ``last_as_of`` bound the observation dates: a family whose windows
    reach ``n`` days back reads events in ``[first_as_of - n days, last_as_of)`` only
    (:meth:`since`), and answers "the latest event before ``as_of``" for older events with
    one latest-event-per-account query instead of day aggregates of the whole log.
    """

    source: DataSource
    config: Config
    first_as_of: pd.Timestamp | None = None
    last_as_of: pd.Timestamp | None = None
    rollups: RollupCache | None = None
    snapshot_rows: int = 0

    @property
    def account_order(self) -> str:
        """``ORDER BY aid`` for the table of a window's event rows in a large build, else "".

        Each window groups those rows once per ``(account, as_of)``. With many snapshot rows
        (a training build: every account at every date) the groups outnumber what a
        thread's hash table holds, and rows in hash order make DuckDB spill partial groups
        for most of them: at 50 million events and 1.2 million snapshot rows that grouping
        took 10 s and 3.5 GiB. Rows in account order keep each account's groups together
        (6 s, 2.3 GiB), for the price of one sort, which a scoring build of two dates does
        not need.
        """
        return "ORDER BY aid" if self.snapshot_rows >= ACCOUNT_ORDER_FROM_ROWS else ""

    def rollup(self, name: str) -> str | None:
        """SQL reading cached day roll-up ``name``, or None when the build has none."""
        if self.rollups is None or not self.rollups.has(name):
            return None
        return self.rollups.relation(name)

    def months(self, days: int) -> dict[str, str]:
        """``since_month`` and ``until_month``: the roll-up partitions a window can touch."""
        return {
            "since_month": RollupCache.month(self.since(days)),
            "until_month": RollupCache.month(self.until),
        }

    @property
    def data_end(self) -> pd.Timestamp:
        return self.source.data_end

    @property
    def until(self) -> pd.Timestamp:
        """The exclusive end of what any feature reads: the last observation date."""
        return min(pd.Timestamp(self.last_as_of), self.data_end)

    def since(self, days: int) -> pd.Timestamp:
        """The first instant a window of ``days`` days before some observation date reads."""
        return pd.Timestamp(self.first_as_of) - pd.Timedelta(days=days)

    def has_column(self, table: str, column: str) -> bool:
        return self.source.has_column(table, column)

    def scalar(self, sql: str, **params: object) -> object:
        """The single value ``sql`` returns (bound like :meth:`query`)."""
        return self.query(sql, **params).iloc[0, 0]

    def query(self, sql: str, **params: object) -> pd.DataFrame:
        """Run ``sql`` binding ``$data_end`` and the named parameters it uses.

        The result comes through Arrow: for a million feature rows that is about five
        times faster than DuckDB's own DataFrame conversion. Dates come back as Python
        dates and integer columns with NULLs as floats; :func:`build_features` sets the
        final dtypes of every feature.
        """
        values = {"data_end": self.data_end, **params}
        used = set(_PARAM.findall(sql))
        bound = {k: v for k, v in values.items() if k in used}
        return self.source.con.sql(sql, params=bound).to_arrow_table().to_pandas()

    def execute(self, sql: str, **params: object) -> None:
        """Run a statement (creating a temporary table) with bound parameters."""
        values = {"data_end": self.data_end, **params}
        used = set(_PARAM.findall(sql))
        self.source.con.execute(sql, {k: v for k, v in values.items() if k in used})

    def drop(self, *tables: str) -> None:
        for table in tables:
            self.source.con.execute(f"DROP TABLE IF EXISTS {table}")

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable as ``name`` for the build."""
        self.source.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.source.con.unregister(name)


def keys_table(snapshots: pd.DataFrame) -> pa.Table:
    """The ``_row, account_id, as_of`` table registered as ``_hs_keys``.

    Built as Arrow, not as a DataFrame of Python strings: DuckDB reads Arrow strings in
    place, which for a million snapshot rows saves most of the set-up time.
    """
    return pa.table(
        {
            "_row": pa.array(np.arange(len(snapshots), dtype=np.int64)),
            "account_id": pa.array(snapshots["account_id"].astype("str"), type=pa.large_string()),
            "as_of": pa.array(pd.to_datetime(snapshots["as_of"]).dt.normalize().to_numpy()),
        }
    )


#: The shared relations of a build, in order: ``(table, query)``. Both engines run these
#: same queries (Spark through :mod:`healthscore.spark.dialect`); ``{terms}`` is the
#: engine's relation of the contract terms.
SHARED_RELATIONS: tuple[tuple[str, str], ...] = (
    (
        "_hs_accounts",
        """
        SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS aid
        FROM (SELECT DISTINCT account_id FROM accounts WHERE account_id IS NOT NULL)
        """,
    ),
    (
        "_hs_snapshots",
        """
        SELECT k._row, k.account_id, a.aid, CAST(k.as_of AS DATE) AS as_of
        FROM _hs_keys k LEFT JOIN _hs_accounts a USING (account_id)
        """,
    ),
    (
        "_hs_snapshot_accounts",
        "SELECT * FROM _hs_accounts WHERE aid IN (SELECT aid FROM _hs_snapshots)",
    ),
    ("_hs_dates", "SELECT DISTINCT as_of FROM _hs_snapshots"),
    (
        "_hs_calendar",
        """
        SELECT d.as_of, d.as_of - CAST(r.age AS INTEGER) AS day, CAST(r.age AS INTEGER) AS age
        FROM _hs_dates d, (SELECT unnest(range(1, $days + 1)) AS age) r
        """,
    ),
    ("_hs_terms", "SELECT t.*, a.aid FROM {terms} t JOIN _hs_accounts a USING (account_id)"),
)


def prepare(run: Session, *, terms: str) -> None:
    """Create the shared relations (:data:`SHARED_RELATIONS`) on ``run``'s engine.

    ``_hs_keys(_row, account_id, as_of)`` must be registered first; ``terms`` names the
    relation holding the contract terms.
    """
    for table, query in SHARED_RELATIONS:
        run.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS {query.format(terms=terms)}",
            days=CALENDAR_DAYS,
        )


@contextmanager
def session(
    source: DataSource,
    snapshots: pd.DataFrame,
    config: Config,
    *,
    rollups: RollupCache | None = None,
) -> Iterator[Session]:
    """Create the shared temporary relations for ``snapshots``; drop them on exit.

    With ``rollups`` (complete, for this source's data) the event families read their day
    aggregates from the cache instead of the raw logs.
    """
    as_of = pd.to_datetime(snapshots["as_of"])
    run = Session(
        source,
        config,
        as_of.min().normalize(),
        as_of.max().normalize(),
        rollups,
        snapshot_rows=len(snapshots),
    )
    run.register("_hs_keys", keys_table(snapshots))
    try:
        prepare(run, terms=register_terms(source, grace_days=config.labels.grace_days))
        yield run
    finally:
        run.unregister("_hs_keys")
        run.drop(*_TEMP_TABLES)


def ratio(numerator: str, denominator: str) -> str:
    """SQL for a ratio that is NULL (missing) when the denominator is 0 or NULL."""
    return f"CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0)"


#: Bits a word holds when distinct values are counted as bits (see :func:`word_and_bit`).
BITS_PER_WORD = 32


def word_and_bit(n: str, word: str, bit: str) -> str:
    """SQL columns placing a 0-based index ``n`` as bit ``bit`` of word ``word``.

    A window counts distinct users or features as the bits set in the OR of its rows, word
    by word: one group per ``(account, as_of, word)`` instead of one per user or feature.
    The bit is a ``TINYINT``: the window's event rows carry it.
    """
    words = f"floor({n} / {BITS_PER_WORD}.0)"
    return (
        f"CAST({words} AS INTEGER) AS {word}, "
        f"CAST({n} - {BITS_PER_WORD} * {words} AS TINYINT) AS {bit}"
    )


#: Signed SQL integer types from the narrowest, with the largest value each holds (both
#: engines have them).
_INTEGER_TYPES = (("TINYINT", 2**7 - 1), ("SMALLINT", 2**15 - 1), ("INTEGER", 2**31 - 1))


def integer_type(largest: object) -> str:
    """The narrowest SQL integer type holding ``0..largest`` (``largest`` None or NaN: 0).

    The window's event rows carry small keys (a feature's number, a user's word); at tens
    of millions of rows each byte saved per key is tens of megabytes of the build's peak
    memory, so each key gets the narrowest type its largest value fits.
    """
    value = 0 if largest is None or pd.isna(largest) else int(largest)  # type: ignore[call-overload]
    for name, bound in _INTEGER_TYPES:
        if value <= bound:
            return name
    return "BIGINT"


def word_type(run: Session, users: str) -> str:
    """The narrowest type of the users' words in ``users`` (a :func:`user_bits` table), for
    the event rows that carry them."""
    return integer_type(run.scalar(f"SELECT max(uw) FROM {users}"))


def raw_pairs(table: str, window: str) -> str:
    """SQL for the distinct ``(account, user)`` pairs of event log ``table`` in ``window``
    (a condition): ``raw_account`` and ``raw_user`` as read, ``account_id`` and ``user_id``
    typed (see :func:`healthscore.sql.raw_id_twins`)."""
    return f"""(
        SELECT raw_account, raw_user, {id_of_raw("raw_account")} AS account_id,
               {id_of_raw("raw_user")} AS user_id
        FROM (SELECT DISTINCT {RAW_ID_PREFIX}account_id AS raw_account,
                              {RAW_ID_PREFIX}user_id AS raw_user
              FROM {table} WHERE {window})
    )"""


def user_bits(table: str, pairs: str) -> str:
    """SQL creating ``table(raw_account, raw_user, aid, uw, ubit)``: the users of the
    accounts being built, numbered by id within each account, as bit ``ubit`` of word ``uw``.

    ``pairs`` is a relation of distinct ``raw_account, raw_user, account_id, user_id``
    (:func:`raw_pairs`, or typed ids twice over the cached roll-ups). The event rows join
    this table on the ids as read and carry the two small integers instead of the user's
    id: de-duplicating and grouping them is much cheaper, and a window counts its distinct
    users as the bits set in the OR of its rows. Spellings of one id that differ only in
    surrounding spaces share its number.
    """
    return f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT raw_account, raw_user, aid, {word_and_bit("n", "uw", "ubit")}
        FROM (
            SELECT p.raw_account, p.raw_user, k.aid,
                   dense_rank() OVER (PARTITION BY k.aid ORDER BY p.user_id) - 1 AS n
            FROM {pairs} p JOIN _hs_snapshot_accounts k ON k.account_id = p.account_id
            WHERE p.user_id IS NOT NULL
        )
    """
