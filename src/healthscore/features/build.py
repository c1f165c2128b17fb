"""Build the catalogue's features for given ``(account_id, as_of)`` rows.

Training and scoring share this one code path: :func:`build_features` computes the rows of a
training set, :func:`features_at` the eligible accounts at one date, with the same SQL.

Output
------
One row per input row, in the input's order (``RangeIndex``): ``account_id``, ``as_of``, then
the active features in catalogue order. Numbers are ``float64`` with NaN where the value is
unknown ("no data" stays missing wherever it differs from "zero events"); categories are
plain strings (pandas ``str`` dtype) with NaN when missing, so the model side decides how to
encode them.

Missing inputs
--------------
A missing optional table switches its family off, a missing optional column the features
that need it (``FeatureSpec.requires``): their columns are left out, not filled with NaN,
and a :class:`FeaturesOffWarning` (a ``UserWarning``) says which and why, once per build.

Bad input
---------
Exact duplicate event rows count once, events of accounts missing from ``accounts`` are
ignored (validation reports them), and events on or after ``source.data_end`` are ignored.
Snapshots later than ``data_end`` are refused: their windows would read days not yet
observed and look like inactivity.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.config import Config
from healthscore.errors import ConfigError, DataError
from healthscore.features import account, adoption, contract, satisfaction, support, usage
from healthscore.features.catalogue import CATALOGUE, FAMILIES, FeatureSpec
from healthscore.features.engine import Session, session
from healthscore.features.rollups import RollupCache
from healthscore.snapshots import eligible_accounts
from healthscore.storage import DataSource

FAMILY_COMPUTE: dict[str, Callable[[Session], pd.DataFrame]] = {
    "usage": usage.compute,
    "adoption": adoption.compute,
    "support": support.compute,
    "satisfaction": satisfaction.compute,
    "contract": contract.compute,
    "account": account.compute,
}

#: The order families are computed in: the largest working memory first, while no other
#: family's results are held yet, since the build's peak memory comes in the largest. At
#: 50 million events and 24 dates this order peaked at 1.7 GiB, catalogue order at 1.9.
COMPUTE_ORDER: tuple[str, ...] = (
    "adoption",
    "usage",
    "contract",
    "support",
    "satisfaction",
    "account",
)


class FeaturesOffWarning(UserWarning):
    """Some features were switched off because an optional table or column is missing."""


def switched_off(source: DataSource) -> dict[str, str]:
    """Features the source cannot feed, with the reason: ``{name: "table x is missing"}``."""
    off: dict[str, str] = {}
    for spec in CATALOGUE:
        if not source.has(spec.table):
            off[spec.name] = f"table {spec.table} is missing"
            continue
        for requirement in spec.requires:
            table, column = requirement.split(".", 1)
            if not (source.has(table) and source.has_column(table, column)):
                off[spec.name] = f"column {requirement} is missing"
                break
    return off


def excluded(config: Config) -> set[str]:
    """The features ``features.exclude`` leaves out (names or whole families).

    Raises :class:`~healthscore.errors.ConfigError` naming any entry that is neither.
    """
    names = {spec.name for spec in CATALOGUE}
    unknown = [x for x in config.features.exclude if x not in names and x not in FAMILIES]
    if unknown:
        raise ConfigError(
            f"features.exclude: {', '.join(repr(x) for x in unknown)} is neither a feature nor "
            f"a family; families are {', '.join(FAMILIES)}, features are listed by "
            "`healthscore features --list`"
        )
    wanted = set(config.features.exclude)
    return {spec.name for spec in CATALOGUE if spec.name in wanted or spec.family in wanted}


def active_features(source: DataSource, config: Config | None = None) -> list[FeatureSpec]:
    """The catalogue's features this source can feed (and the config keeps), in order."""
    off = switched_off(source) | dict.fromkeys(excluded(config) if config else (), "excluded")
    return [spec for spec in CATALOGUE if spec.name not in off]


def _warn(off: dict[str, str]) -> None:
    by_table: dict[str, list[str]] = {}
    by_column: dict[str, list[str]] = {}
    for name, reason in off.items():
        what = reason.split(" ")[1]
        (by_table if reason.startswith("table") else by_column).setdefault(what, []).append(name)
    for table, names in by_table.items():
        family = names[0].split("__")[0]
        warnings.warn(
            f"optional table '{table}' is missing: the {family} features are off "
            f"({len(names)} features). Supply {table}.csv/.parquet to use them.",
            FeaturesOffWarning,
            stacklevel=3,
        )
    if by_column:
        parts = "; ".join(f"{col} -> {', '.join(names)}" for col, names in by_column.items())
        warnings.warn(
            f"optional column(s) missing, features off: {parts}", FeaturesOffWarning, stacklevel=3
        )


def _empty(specs: list[FeatureSpec]) -> dict[str, pd.Series]:
    return {
        s.name: pd.Series([], dtype="str" if s.kind == "category" else "float64") for s in specs
    }


def _typed(values: pd.Series, spec: FeatureSpec) -> pd.Series:
    if spec.kind == "category":
        if values.dtype == "str":  # Arrow text: already the final dtype, NaN where missing
            return values
        return values.astype("object").where(values.notna(), None).astype("str")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _release_memory() -> None:
    """Return what the last family left behind before the next one starts.

    A family's result passes through Arrow, whose memory pool keeps freed buffers, and
    through frames that only the cycle collector frees. At 50 million events and 24 dates
    that was 400-700 MB still held when the adoption family, the build's peak, began.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()


def _in_row_order(computed: pd.DataFrame, n_rows: int, family: str) -> pd.DataFrame:
    """A family's result (one row per ``_row``, any order) sorted back into row order."""
    rows = computed["_row"].to_numpy()
    if len(rows) == n_rows and (rows == np.arange(n_rows)).all():
        return computed.reset_index(drop=True)
    order = np.argsort(rows, kind="stable")
    if len(rows) != n_rows or not (rows[order] == np.arange(n_rows)).all():
        raise RuntimeError(f"the {family} features did not come back one row per snapshot")
    return computed.iloc[order].reset_index(drop=True)


def check_snapshots(snapshots: pd.DataFrame, data_end: pd.Timestamp) -> pd.Series:
    """The snapshots' dates at midnight, after refusing snapshots that are not
    ``(account_id, as_of)`` rows or that lie past the data's end, where a feature would read
    days nobody has observed yet (whichever engine builds)."""
    missing = [c for c in ("account_id", "as_of") if c not in snapshots.columns]
    if missing:
        raise DataError(
            f"snapshots lack column(s) {', '.join(missing)}; expected a frame from make_snapshots()"
        )
    as_of = pd.to_datetime(snapshots["as_of"]).dt.normalize()
    if len(as_of) and as_of.max() > data_end:
        raise DataError(
            f"snapshot date {as_of.max():%Y-%m-%d} is after the end of the data "
            f"({data_end:%Y-%m-%d}); features would read days not observed yet"
        )
    return as_of


def build_features(
    source: DataSource,
    snapshots: pd.DataFrame,
    config: Config,
    *,
    rollups: RollupCache | None = None,
) -> pd.DataFrame:
    """The active features of each ``(account_id, as_of)`` row of ``snapshots``.

    Parameters
    ----------
    source
        The input tables.
    snapshots
        Rows to compute, with ``account_id`` and ``as_of`` (a day; time of day is dropped).
        Extra columns are ignored.
    config
        ``features.core_features`` and ``labels.grace_days`` (renewal counting) are read.
    rollups
        Cached day roll-ups of this data (:class:`~healthscore.features.rollups.RollupCache`),
        written first if missing; the event families then read them instead of the raw logs.
        The features are the same either way.

    Returns
    -------
    DataFrame
        ``account_id``, ``as_of`` and the features, one row per input row, same order.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from healthscore.config import Config
    >>> from healthscore.storage import source_from_frames
    >>> source = source_from_frames({
    ...     "accounts": pd.DataFrame({"account_id": ["a"], "created_at": ["2024-01-01"]}),
    ...     "contracts": pd.DataFrame({"contract_id": ["c"], "account_id": ["a"],
    ...         "start_date": ["2024-01-01"], "end_date": ["2025-01-01"], "arr": [1200.0]})},
    ...     data_end="2024-06-01")
    >>> rows = pd.DataFrame({"account_id": ["a"], "as_of": [pd.Timestamp("2024-03-01")]})
    >>> with warnings.catch_warnings():  # no event tables here: those families are off
    ...     warnings.simplefilter("ignore")
    ...     features = build_features(source, rows, Config())
    >>> features[["contract__arr", "contract__tenure_days"]]
       contract__arr  contract__tenure_days
    0         1200.0                   60.0
    """
    as_of = check_snapshots(snapshots, source.data_end)
    off = switched_off(source)
    if off:
        _warn(off)
    left_out = excluded(config)
    specs = [spec for spec in CATALOGUE if spec.name not in off and spec.name not in left_out]
    out = pd.DataFrame(
        {"account_id": snapshots["account_id"].astype("str").to_numpy(), "as_of": as_of.to_numpy()}
    )
    if out.empty:
        return pd.concat([out, pd.DataFrame(_empty(specs))], axis=1)
    columns: dict[str, pd.Series] = {}
    if rollups is not None:
        rollups.ensure(source)
    with session(source, out, config, rollups=rollups) as run:
        for family in COMPUTE_ORDER:
            wanted = [s for s in specs if s.family == family]
            if not wanted:
                continue
            computed = _in_row_order(FAMILY_COMPUTE[family](run), len(out), family)
            for spec in wanted:
                columns[spec.name] = _typed(computed[spec.name], spec)
            del computed
            _release_memory()
    ordered = {spec.name: columns[spec.name] for spec in specs}
    # One frame over the computed columns, without copying them again: at a million rows
    # each copy of 58 features is half a gigabyte.
    return pd.DataFrame({**{c: out[c] for c in out.columns}, **ordered}, copy=False)


def features_at(source: DataSource, as_of: object, config: Config) -> pd.DataFrame:
    """Features of every account eligible at ``as_of`` (default: ``source.data_end``).

    The scoring entry point: the same computation as training, at one date. Features that
    the data cannot feed were announced when the model was trained (and by ``validate``);
    the model decides which it uses, so scoring does not warn about them again.
    """
    day = pd.Timestamp(as_of if as_of is not None else source.data_end).normalize()
    return features_on(source, [day], config)


def features_on(source: DataSource, dates: list[object], config: Config) -> pd.DataFrame:
    """Features of every account eligible at each of ``dates``, in one build.

    Rows are ordered by date (in the order given), then as :func:`eligible_accounts` lists
    them; scoring uses it for the scoring date and the previous cadence step together, so
    the event logs are scanned once for both.
    """
    days = [pd.Timestamp(d).normalize() for d in dates]
    for day in days:
        if day > source.data_end:
            raise DataError(
                f"cannot score at {day:%Y-%m-%d}: the data ends at {source.data_end:%Y-%m-%d}"
            )
    snapshots = eligible_accounts(source, list(dict.fromkeys(days)), config)
    if len(days) > 1:
        position = {day: i for i, day in enumerate(dict.fromkeys(days))}
        rank = pd.to_datetime(snapshots["as_of"]).map(position)
        snapshots = snapshots.iloc[np.argsort(rank.to_numpy(), kind="stable")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeaturesOffWarning)
        return build_features(source, snapshots.reset_index(drop=True), config)
