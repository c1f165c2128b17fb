"""Contract terms as a billing system schedules them, and what of them is known at a date.

Real exports are not point-in-time. Many billing and CRM systems overwrite a contract's
``end_date`` when the customer cancels mid-term, so the export shows an end that nobody knew
before the cancellation. A feature that reads ``end_date`` at a snapshot before the
cancellation ("renewal due in 12 days") then carries the future into the past, and every
figure measured on such an export is inflated. The contract features therefore read *terms*,
not end dates:

Term length
    ``billing_period`` is the length of one term: ``month``, ``quarter``, ``halfyear``
    (``semiannual``), ``year`` (and common spellings of these), or a whole number of months
    (``24``, ``36`` for multi-year terms). Other values are a validation error.

Term grid
    A term starts at an *anchor* and renews every ``term`` months after it:
    ``anchor + k * term`` for k = 1, 2, ... (month arithmetic; the 31st of a month becomes
    the last day of a shorter month, counted from the anchor every time). A contract's anchor
    is its own start, except for a row that continues the term of the row before it (same
    term length, starting while that row still ran, or on the day it was closed mid-term:
    a co-termed upgrade or add-on): it keeps that row's anchor, because a co-termed upgrade
    renews with the term it joined (:func:`term_anchors`). A new term that starts mid-term
    of the old one with the same length (a renegotiated deal) cannot be told apart from an
    upgrade without ``scheduled_end``.

Known renewal date at ``as_of``
    For a contract that started before ``as_of`` and had not ended before it:

    1. ``scheduled_end`` (optional column: the term end as signed), when on or after
       ``as_of``;
    2. the first boundary of its term grid on or after ``as_of`` (counted from
       ``scheduled_end`` when that is given and already past);
    3. otherwise, when the term is unknown, its ``end_date``: the old reading, which trusts
       that the export never rewrites end dates. ``validate`` and ``train`` say so.

A cancellation recorded before ``as_of`` (optional column ``canceled_at``) does not move the
renewal date: the export's ``end_date`` may have been rewritten again after ``as_of`` (notice
given, then an immediate termination), so the known fact is the cancellation itself, which
``contract__cancellation_known`` reports. ``end_date`` is otherwise only compared with
``as_of`` (did the contract end before it?), which is known at ``as_of``, and it defines churn
for the labels, which look forward anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.derivations import PERIOD_MONTHS
from healthscore.sql import literal, quote
from healthscore.storage import DataSource

#: Words a billing period may hold, and the term length in months each stands for.
TERM_WORDS: dict[str, int] = PERIOD_MONTHS
#: How the accepted values are named in messages.
ACCEPTED_PERIODS = (
    "month, quarter, halfyear (semiannual), year, or a whole number of months (24, 36)"
)
#: Optional contract columns read here beyond the contract's core.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "plan",
    "seats",
    "billing_period",
    "auto_renew",
    "scheduled_end",
    "canceled_at",
)
#: Longest term accepted as a whole number of months (ten years).
MAX_TERM_MONTHS = 120


def term_months_sql(expr: str) -> str:
    """SQL turning a billing-period value into its term length in months (NULL if unknown).

    Examples
    --------
    >>> import duckdb
    >>> annual, three_years = term_months_sql("'Annual'"), term_months_sql("'36'")
    >>> duckdb.sql(f"SELECT {annual}, {three_years}").fetchall()
    [(12, 36)]
    """
    text = f"lower(trim(CAST({expr} AS VARCHAR)))"
    by_months: dict[int, list[str]] = {}
    for word, months in TERM_WORDS.items():
        by_months.setdefault(months, []).append(word)
    cases = " ".join(
        f"WHEN {text} IN ({', '.join(literal(w) for w in words)}) THEN {months}"
        for months, words in by_months.items()
    )
    whole = f"TRY_CAST({text} AS DOUBLE)"
    return (
        f"(CASE {cases} WHEN {whole} = round({whole}) AND {whole} >= 1 "
        f"AND {whole} <= {MAX_TERM_MONTHS} THEN CAST({whole} AS INTEGER) END)"
    )


def contract_terms_sql(has_column: set[str] | frozenset[str]) -> str:
    """SQL for the clean contract terms; bind ``$data_end``.

    ``has_column`` names the optional contract columns present. Exact duplicate rows count
    once, dates are days, rows without dates or with an end not after the start are dropped,
    contracts of accounts missing from ``accounts`` and contracts starting on or after
    ``data_end`` (not yet happened) are ignored. Adds ``term_months`` (NULL when unknown).
    """
    optional = [c for c in OPTIONAL_COLUMNS if c in has_column]
    dates = {"scheduled_end", "canceled_at"}
    extra = "".join(
        f", CAST({quote(c)} AS DATE) AS {quote(c)}" if c in dates else f", {quote(c)}"
        for c in optional
    )
    months = term_months_sql("billing_period") if "billing_period" in has_column else "NULL"
    return f"""
        SELECT DISTINCT contract_id, account_id,
               CAST(start_date AS DATE) AS start_date, CAST(end_date AS DATE) AS end_date,
               arr{extra}, CAST({months} AS INTEGER) AS term_months
        FROM contracts
        WHERE account_id IN (SELECT account_id FROM accounts)
          AND start_date IS NOT NULL AND end_date IS NOT NULL
          AND CAST(end_date AS DATE) > CAST(start_date AS DATE)
          AND start_date < $data_end
    """


def _month_and_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months since 1970-01 and the day of the month (1-31) of days since 1970-01-01.

    numpy's calendar units do the arithmetic: a day cast to ``datetime64[M]`` is its month.
    """
    month = days.astype("datetime64[D]").astype("datetime64[M]")
    day = days - month.astype("datetime64[D]").astype(np.int64) + 1
    return month.astype(np.int64), day


def _first_day(months: np.ndarray) -> np.ndarray:
    """The first day (days since 1970-01-01) of months counted since 1970-01."""
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _shift_months(month: np.ndarray, day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (``month``, ``day``) plus whole ``months``, the day clamped."""
    target = month + months
    first = _first_day(target)
    return first + np.minimum(day, _first_day(target + 1) - first) - 1


def _per_day(values: np.ndarray) -> int:
    """How many units of a datetime64 array make one day."""
    unit = np.datetime_data(values.dtype)[0]
    return int(np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64))


def _grid_gap(
    day: np.ndarray, anchor: np.ndarray, months: np.ndarray, *, per_day: int
) -> np.ndarray:
    """Whole days from ``day`` to the nearest boundary ``anchor + k * months`` (k >= 0).

    Integer arrays without gaps: ``anchor`` in days since 1970-01-01, ``day`` in units of
    which ``per_day`` make a day (a time of day counts, as in :func:`grid_distance_days`);
    ``months`` are floats, the multiples cut to whole months.
    """
    day_month, _ = _month_and_day(np.floor_divide(day, per_day))
    anchor_month, anchor_day = _month_and_day(anchor)
    base = np.floor((day_month - anchor_month) / months)
    gaps = []
    for step in (-1, 0, 1):
        k = np.maximum(base + step, 0)
        boundary = _shift_months(anchor_month, anchor_day, (k * months).astype(np.int64))
        gaps.append(np.abs(day - boundary * per_day) // per_day)
    return np.minimum(np.minimum(gaps[0], gaps[1]), gaps[2])


def add_months(dates: pd.Series, months: pd.Series | np.ndarray) -> pd.Series:
    """``dates`` plus whole ``months``, the day clamped to the end of a shorter month.

    The same arithmetic as SQL's ``date + INTERVAL n MONTH``; NaN months give NaT.

    Examples
    --------
    >>> add_months(pd.Series(pd.to_datetime(["2024-01-31", "2024-03-15"])), [1, 12]).tolist()
    [Timestamp('2024-02-29 00:00:00'), Timestamp('2025-03-15 00:00:00')]
    """
    days = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[D]")
    months = np.asarray(months, dtype="float64")
    ok = ~np.isnat(days) & ~np.isnan(months)
    shifted = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
    month, day = _month_and_day(days[ok].astype(np.int64))
    shifted[ok] = _shift_months(month, day, months[ok].astype(np.int64))
    return pd.Series(shifted, dtype="datetime64[ns]")


def grid_distance_days(day: pd.Series, anchor: pd.Series, months: pd.Series) -> pd.Series:
    """Days from ``day`` to the nearest boundary ``anchor + k * months`` (k >= 0) of a grid.

    Examples
    --------
    >>> grid_distance_days(pd.Series(pd.to_datetime(["2024-08-01", "2025-03-12"])),
    ...                    pd.Series(pd.to_datetime(["2023-03-10", "2023-03-10"])),
    ...                    pd.Series([12, 12])).tolist()
    [144, 2]
    """
    day = pd.to_datetime(day)
    moments = day.to_numpy()
    anchors = pd.to_datetime(anchor).to_numpy(dtype="datetime64[D]")
    months = np.asarray(months, dtype="float64")
    ok = ~np.isnat(moments) & ~np.isnat(anchors) & ~np.isnan(months)
    gap = _grid_gap(
        moments[ok].astype(np.int64),
        anchors[ok].astype(np.int64),
        months[ok],
        per_day=_per_day(moments),
    )
    if ok.all():
        return pd.Series(gap, index=day.index)
    nearest = np.full(len(ok), np.nan)
    nearest[ok] = gap
    return pd.Series(nearest, index=day.index)


def _anchor_rows(
    same_account: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    months: np.ndarray,
    *,
    grace_days: int,
) -> np.ndarray:
    """For rows in (account, start) order, the position of the row whose start is the anchor.

    ``start`` and ``end`` are datetime64 arrays, ``months`` floats (NaN when unknown),
    ``same_account`` says whether a row's account is the previous row's. See
    :func:`term_anchors` for the rule. Overlapping rows inherit whatever their predecessor
    holds; a row starting the day its predecessor ended is decided from the anchor the
    predecessor holds, so only those rows are decided again while their decisions change.
    Every round settles at least the first wrong decision of each chain, so the rounds end.
    """
    n = len(start)
    same_term = np.zeros(n, dtype=bool)
    same_term[1:] = same_account[1:] & ~np.isnan(months[1:]) & (months[1:] == months[:-1])
    inherit = np.zeros(n, dtype=bool)
    inherit[1:] = same_term[1:] & (start[1:] < end[:-1])
    follows = np.flatnonzero(same_term[1:] & (start[1:] == end[:-1])) + 1
    positions = np.arange(n)
    head = np.maximum.accumulate(np.where(inherit, 0, positions))
    if not len(follows):
        return head
    per_day = _per_day(start)
    moments = start.astype(np.int64)
    days = np.floor_divide(moments, per_day)
    known = ~np.isnat(start)
    # Decide every follower once, then again only those whose predecessor's anchor moved.
    pending = follows
    for _ in range(len(follows)):
        held = head[pending - 1]
        ok = known[held]
        decided = np.zeros(len(pending), dtype=bool)
        decided[ok] = (
            _grid_gap(moments[pending[ok]], days[held[ok]], months[pending[ok]], per_day=per_day)
            > grace_days
        )
        changed = decided != inherit[pending]
        if not changed.any():
            break
        inherit[pending[changed]] = decided[changed]
        before = head[follows - 1]
        head = np.maximum.accumulate(np.where(inherit, 0, positions))
        pending = follows[head[follows - 1] != before]
    return head


def _same_as_previous(values: pd.Series) -> np.ndarray:
    """Whether each value equals the one before it (never for the first, nor for NA)."""
    return values.eq(values.shift(1)).to_numpy(dtype=bool, na_value=False)


def term_anchors(terms: pd.DataFrame, *, grace_days: int) -> pd.Series:
    """The anchor of each contract's term grid (see the module docstring).

    ``terms`` has ``account_id, contract_id, start_date, end_date, term_months``; the result
    is aligned with its index. A row keeps the anchor of the row before it (same account, in
    start order) when both have the same known term and the row *continues* that term:

    * it started while the previous row still ran (``start_date < previous end_date``): a
      co-termed upgrade or add-on; or
    * it started the day the previous row ended, more than ``grace_days`` away from any
      boundary of the previous row's grid: the previous row was closed mid-term by this one
      (an upgrade). Starting on (or within ``grace_days`` of) a boundary is a renewal: a new
      term, anchored at its own start.

    ``previous end_date`` is read only as "after / on this row's start", which is known by
    the time this row is visible. Chains of continuing rows are followed to their first row.

    Examples
    --------
    >>> terms = pd.DataFrame({
    ...     "account_id": ["a", "a", "a"], "contract_id": ["c1", "c2", "c3"],
    ...     "start_date": pd.to_datetime(["2024-01-10", "2024-05-02", "2025-01-10"]),
    ...     "end_date": pd.to_datetime(["2024-05-02", "2025-01-10", "2026-01-10"]),
    ...     "term_months": [12, 12, 12]})
    >>> term_anchors(terms, grace_days=30).dt.strftime("%Y-%m-%d").tolist()
    ['2024-01-10', '2024-01-10', '2025-01-10']
    """
    if terms.empty:
        return pd.Series(pd.to_datetime([]), index=terms.index, dtype="datetime64[ns]")
    order = terms.sort_values(["account_id", "start_date", "contract_id"]).index
    frame = terms.loc[order, ["account_id", "start_date", "end_date", "term_months"]]
    start = pd.to_datetime(frame["start_date"]).to_numpy()
    head = _anchor_rows(
        _same_as_previous(frame["account_id"]),
        start,
        pd.to_datetime(frame["end_date"]).to_numpy(),
        pd.to_numeric(frame["term_months"], errors="coerce").astype("float64").to_numpy(),
        grace_days=grace_days,
    )
    return pd.Series(start[head], index=order).reindex(terms.index)


def next_boundary_sql(anchor: str, months: str, as_of: str) -> str:
    """SQL for the first ``anchor + k * months`` (k >= 1) on or after ``as_of``.

    ``j`` is the fewest whole months after ``anchor`` that reach ``as_of``; the boundary is
    the first multiple of ``months`` at or past ``j``.
    """
    n = f"date_diff('month', {anchor}, {as_of})"
    reached = f"CAST({anchor} + to_months(CAST({n} AS INTEGER)) AS DATE) >= {as_of}"
    j = f"({n} + CASE WHEN {reached} THEN 0 ELSE 1 END)"
    k = f"greatest(1, CAST(ceil({j} / {months}) AS INTEGER))"
    return f"CAST({anchor} + to_months(CAST({k} * {months} AS INTEGER)) AS DATE)"


def known_renewal_sql(has_column: set[str] | frozenset[str], *, t: str = "t", as_of: str) -> str:
    """SQL for the renewal date of contract row ``t`` as known at ``as_of``.

    ``has_column`` names the optional contract columns present (``scheduled_end`` is read);
    see the module docstring for the order of the rules.
    """
    cases = []
    if "scheduled_end" in has_column:
        cases.append(f"WHEN {t}.scheduled_end >= {as_of} THEN {t}.scheduled_end")
        grid_anchor = f"coalesce({t}.scheduled_end, {t}.anchor)"
    else:
        grid_anchor = f"{t}.anchor"
    grid = next_boundary_sql(grid_anchor, f"{t}.term_months", as_of)
    cases.append(f"WHEN {t}.term_months IS NOT NULL THEN {grid}")
    return f"(CASE {' '.join(cases)} ELSE {t}.end_date END)"


def term_days_sql(has_column: set[str] | frozenset[str], *, t: str = "t", as_of: str) -> str:
    """SQL for the length in days of contract row ``t``'s term in force at ``as_of``.

    ``scheduled_end - start_date`` when the scheduled end is given; else the term of its grid
    that ends at the next boundary (365 or 366 days for a yearly term); else (term unknown)
    ``end_date - start_date``.
    """
    boundary = next_boundary_sql(f"{t}.anchor", f"{t}.term_months", as_of)
    one_term = (
        f"date_diff('day', CAST({boundary} - to_months({t}.term_months) AS DATE), {boundary})"
    )
    cases = []
    if "scheduled_end" in has_column:
        cases.append(
            f"WHEN {t}.scheduled_end IS NOT NULL "
            f"THEN date_diff('day', {t}.start_date, {t}.scheduled_end)"
        )
    cases.append(f"WHEN {t}.term_months IS NOT NULL THEN {one_term}")
    return f"(CASE {' '.join(cases)} ELSE date_diff('day', {t}.start_date, {t}.end_date) END)"


#: The temporary table holding the terms of a source, with anchors (see :func:`register_terms`).
TERMS_TABLE = "_hs_contract_terms"


def present_columns(source: DataSource) -> frozenset[str]:
    """The optional contract columns (:data:`OPTIONAL_COLUMNS`) the source supplies."""
    return frozenset(c for c in OPTIONAL_COLUMNS if source.has_column("contracts", c))


def contract_terms(source: DataSource, *, grace_days: int) -> pd.DataFrame:
    """The clean contract terms with ``term_months`` and ``anchor``, sorted by account.

    Sorted by ``account_id, start_date, end_date, contract_id``. See
    :func:`contract_terms_sql` for what is cleaned and :func:`term_anchors` for anchors.
    Computed once per source and grace period; callers get a copy.
    """
    return shared_terms(source, grace_days=grace_days).copy()


def shared_terms(source: DataSource, *, grace_days: int) -> pd.DataFrame:
    """The frame :func:`contract_terms` copies, computed once per source and grace period.

    Shared by every caller: read it, never change it.
    """
    key = f"contract_terms:{grace_days}"
    cached = source.memo.get(key)
    if isinstance(cached, pd.DataFrame):
        return cached
    # In the order term_anchors walks (account, start, contract), the ends breaking ties.
    terms = _query_frame(
        source,
        f"SELECT * FROM ({contract_terms_sql(present_columns(source))}) "
        "ORDER BY account_id, start_date, contract_id NULLS LAST, end_date",
        {"data_end": source.data_end},
    )
    for column in ("start_date", "end_date", "scheduled_end", "canceled_at"):
        if column in terms.columns:
            terms[column] = pd.to_datetime(terms[column])
    terms["term_months"] = pd.to_numeric(terms["term_months"]).astype("Int64")
    if terms.empty:
        terms["anchor"] = term_anchors(terms, grace_days=grace_days)
    else:
        terms = _with_anchors(terms, grace_days=grace_days)
    source.memo[key] = terms
    return terms


def _query_frame(source: DataSource, sql: str, params: dict[str, object]) -> pd.DataFrame:
    """``source.query(sql, params)``, the text columns passed on as Arrow holds them.

    The same frame, without a Python string object per value on the way. A text column
    without any value (empty or all NULL) is converted as ``source.query`` does (objects).
    """
    table = source.con.sql(sql, params=params).to_arrow_table()
    text = [
        field.name
        for field in table.schema
        if (
            pa.types.is_string(field.type)
            or pa.types.is_large_string(field.type)
            or pa.types.is_string_view(field.type)
        )
        and table.column(field.name).null_count < table.num_rows
    ]
    other = table.drop_columns(text)
    rest = source.con.from_arrow(other).df() if other.num_columns else None
    columns = {
        name: table.column(name).to_pandas() if rest is None or name in text else rest[name]
        for name in table.column_names
    }
    return pd.DataFrame(columns)


def _with_anchors(terms: pd.DataFrame, *, grace_days: int) -> pd.DataFrame:
    """``terms`` with anchors, re-sorted from the order they are walked in to the order
    :func:`contract_terms` returns.

    ``terms`` comes sorted by account, start and contract. Within one account and start day
    the rows are then in contract order, so a stable sort by end date there gives the order
    by account, start, end and contract without comparing the identifiers again.
    """
    same_account = _same_as_previous(terms["account_id"])
    start = terms["start_date"].to_numpy()
    end = terms["end_date"].to_numpy()
    months = terms["term_months"].astype("float64").to_numpy()
    head = _anchor_rows(same_account, start, end, months, grace_days=grace_days)
    terms["anchor"] = start[head]
    new_day = ~same_account
    new_day[1:] |= start[1:] != start[:-1]
    if new_day.all():
        return terms
    order = np.lexsort((end.astype(np.int64), np.cumsum(new_day)))
    if (order == np.arange(len(order))).all():
        return terms
    return terms.take(order).reset_index(drop=True)


def register_terms(source: DataSource, *, grace_days: int) -> str:
    """Make the terms a temporary table of the source's connection; return its name.

    Computed once per source and grace period: snapshots, labels and every feature build
    read the same table.
    """
    key = f"{TERMS_TABLE}:{grace_days}"
    if source.memo.get(TERMS_TABLE) == key:
        return TERMS_TABLE
    terms = shared_terms(source, grace_days=grace_days)
    source.con.register("_hs_terms_frame", _scannable(terms))
    try:
        dates = [
            c
            for c in ("start_date", "end_date", "scheduled_end", "canceled_at", "anchor")
            if c in terms.columns
        ]
        casts = ", ".join(f"CAST({quote(c)} AS DATE) AS {quote(c)}" for c in dates)
        source.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TERMS_TABLE} AS "
            f"SELECT * REPLACE ({casts}, CAST(term_months AS INTEGER) AS term_months) "
            "FROM _hs_terms_frame"
        )
    finally:
        source.con.unregister("_hs_terms_frame")
    source.memo[TERMS_TABLE] = key
    return TERMS_TABLE


def _scannable(frame: pd.DataFrame) -> pd.DataFrame | pa.Table:
    """``frame`` as an Arrow table when its columns read the same that way (text, numbers,
    booleans, dates), which DuckDB scans faster; else the frame itself."""
    plain = all(
        isinstance(dtype, pd.StringDtype | pd.Int64Dtype)
        or (isinstance(dtype, np.dtype) and dtype.kind in "biufM")
        for dtype in frame.dtypes
    )
    return pa.Table.from_pandas(frame, preserve_index=False) if plain else frame


def unknown_term_notice(source: DataSource, *, grace_days: int) -> str | None:
    """One plain sentence when some contracts' terms are unknown, else None.

    For those contracts ``contract__days_to_renewal`` and ``contract__length_days`` read
    ``end_date`` (the old reading), which is only safe when the export never rewrites end
    dates at cancellation.
    """
    present = present_columns(source)
    if "billing_period" not in present and "scheduled_end" not in present:
        return (
            "contracts has no billing_period (nor scheduled_end): days to renewal and contract "
            "length then trust end_date, which many billing systems rewrite when a customer "
            "cancels mid-term. Map billing_period (or scheduled_end) if your export has it; "
            "see docs/own-data.md#point-in-time-traps."
        )
    register_terms(source, grace_days=grace_days)
    scheduled = "AND scheduled_end IS NULL" if "scheduled_end" in present else ""
    unknown, total = source.con.execute(  # type: ignore[misc]
        f"SELECT count(*) FILTER (WHERE term_months IS NULL {scheduled}), count(*) "
        f"FROM {TERMS_TABLE}"
    ).fetchone()
    if not unknown:
        return None
    return (
        f"{unknown:,} of {total:,} contracts have no known term (empty billing_period"
        f"{' and scheduled_end' if scheduled else ''}): for them days to renewal and contract "
        "length trust end_date, which many billing systems rewrite when a customer cancels "
        "mid-term. See docs/own-data.md#point-in-time-traps."
    )


def _distance_to_grid_sql(day: str, anchor: str, months: str) -> str:
    """SQL: days from ``day`` to the nearest boundary ``anchor + k * months`` of a term grid."""
    n = f"date_diff('month', {anchor}, {day})"
    base = f"CAST(floor({n} / {months}) AS INTEGER)"
    boundary = [
        f"CAST({anchor} + to_months(CAST(({base} + {d}) * {months} AS INTEGER)) AS DATE)"
        for d in (-1, 0, 1)
    ]
    return "least(" + ", ".join(f"abs({day} - {b})" for b in boundary) + ")"


@dataclass(frozen=True)
class RewriteMeasure:
    """How many ended contracts end off their term grid: the mark of rewritten end dates."""

    ended: int
    off_grid: int
    last_ended: int
    last_off_grid: int

    @property
    def last_share(self) -> float:
        """Share of the accounts' last contracts that ended off their grid."""
        return self.last_off_grid / self.last_ended if self.last_ended else 0.0


def measure_rewrites(source: DataSource, *, grace_days: int) -> RewriteMeasure:
    """Count ended contracts whose ``end_date`` lies more than ``grace_days`` off their grid.

    The grid is the contract's own (from its start) or the one it co-terms with (from its
    anchor); an end on either is a scheduled end.

    Only contracts with a known term long enough to tell (half a term beyond the grace
    period) are counted; an account's *last* contract is its latest-ending one. Upgrades
    close a row mid-term too, but are followed by the upgraded row, so the last contracts
    are the ones that tell a rewritten cancellation.
    """
    register_terms(source, grace_days=grace_days)
    # On the grid of its own start or of the term it co-terms with: either is a scheduled end.
    distance = (
        f"least({_distance_to_grid_sql('end_date', 'anchor', 'term_months')}, "
        f"{_distance_to_grid_sql('end_date', 'start_date', 'term_months')})"
    )
    row = source.con.execute(
        f"""
        WITH ended AS (
            SELECT *, {distance} > $grace AS off_grid,
                   end_date = max(end_date) OVER (PARTITION BY account_id) AS is_last
            FROM {TERMS_TABLE}
            WHERE end_date < $data_end AND term_months IS NOT NULL
              AND term_months * 30 > 2 * $grace
        )
        SELECT count(*), count(*) FILTER (WHERE off_grid),
               count(*) FILTER (WHERE is_last),
               count(*) FILTER (WHERE is_last AND off_grid)
        FROM ended
        """,
        {"grace": grace_days, "data_end": source.data_end.date()},
    ).fetchall()[0]
    return RewriteMeasure(*(int(x) for x in row))
