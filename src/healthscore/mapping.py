"""From the user's exports to the contract's tables: renames, joins and a few derivations.

A ``[data.tables.<table>]`` section of the config says how one export becomes one contract
table. When the data is opened, :func:`raw_select` turns that section into the SQL of the
``raw_<table>`` view, in this order:

1. ``join``: columns taken from another table by key, e.g. ``account_id`` for usage that
   was exported per subscription. When several rows share a key, the smallest (or, with
   ``aggregate = "max"``, the largest) value is taken, so a join never duplicates rows.
2. ``drop``: the export's columns left out (say, a column that leaks the outcome).
3. ``columns``: renames, contract name = your name.
4. ``formats`` (``strptime`` formats of dates that are not ISO, or ``epoch_s`` /
   ``epoch_ms`` for Unix times; a value that does not match is kept as it is, so that
   validation reports it) and ``values`` (recoding, e.g. ``monthly`` -> ``month``; matched
   ignoring case and surrounding spaces).
5. ``derive``: a contract column computed where it is missing or unparseable, from a small
   fixed set of forms (:func:`parse_derivation`):

   * an arithmetic expression over numeric columns: only column names, numbers,
     ``+ - * /`` and parentheses (``arr = "mrr * 12"``); division by zero gives no value;
   * a date plus a period (``end_date = "start_date + billing_period"`` or
     ``"start_date + 1 month"``): a period column holds ``month``/``monthly``,
     ``year``/``annual``, ``quarter``, ``week``, ... or a number of months;
   * a list of columns whose values, joined with ``|``, form an identifier
     (``contract_id = ["account_id", "product", "start_date"]``).

   Derivations read the columns as they are before any derivation.
6. ``keep``: only rows whose column holds one of the listed values (compared as text,
   ignoring case).
7. ``expand``: a column counting users (daily active users): each row becomes that many
   rows, with ``user_id`` numbered ``1..n``.

Steps 1-3 use the export's column names, steps 4-7 the names after renaming (a renamed
column may also be called by its name in the export). Dates need no
derivation: date-only values (``2024-03-01``) are read as midnight UTC by the typed views.
View definitions cannot hold bound parameters, so the few values written into this SQL
(recodings, kept values) are escaped string literals, and numbers in expressions are
validated tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from healthscore.config import DataConfig, JoinMapping, TableMapping
from healthscore.date_formats import time_format_sql
from healthscore.derivations import (
    Arithmetic,
    CompositeKey,
    Derivation,
    PeriodAdd,
    derivation_sql,
    parse_derivation,
)
from healthscore.errors import ConfigError
from healthscore.schema import TABLES
from healthscore.sql import as_timestamp, key_text, literal, quote

if TYPE_CHECKING:
    import duckdb

#: Looks up a file stem or database table name; returns a DuckDB relation or None.
Lookup = Callable[[str], "str | None"]


def wanted_tables(data: DataConfig) -> dict[str, bool]:
    """The tables to look for, each with whether it must exist.

    Required tables always; optional ones unless switched off (``enabled = false``) or left
    out of ``data.optional_tables``. An optional table listed there must exist.
    """
    wanted: dict[str, bool] = {}
    for name, spec in TABLES.items():
        mapping = data.tables.get(name)
        if spec.required:
            wanted[name] = True
        elif mapping is not None and not mapping.enabled:
            continue
        elif data.optional_tables is None:
            wanted[name] = False
        elif name in data.optional_tables:
            wanted[name] = True
    return wanted


def source_name(data: DataConfig, table: str) -> str:
    """The file stem or database table that holds contract table ``table``."""
    mapping = data.tables.get(table)
    return mapping.source if mapping is not None and mapping.source else table


# --------------------------------------------------------------------------- the raw view


def _describe(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()]


def _existing(column: str, kind: str) -> str:
    q = quote(column)
    if kind == "timestamp":
        return as_timestamp(q)
    if kind in ("number", "integer"):
        return f"TRY_CAST({q} AS {'DOUBLE' if kind == 'number' else 'BIGINT'})"
    return key_text(q)


class _Builder:
    """Builds the raw view of one table step by step, checking names as it goes."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, origin: str) -> None:
        self.con = con
        self.table = table
        self.origin = origin
        self.steps: list[str] = []
        self.columns: list[str] = []
        self.renamed: dict[str, str] = {}

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.origin}: data.tables.{self.table}.{key}: {message}")

    def need(self, key: str, column: str, columns: list[str] | None = None) -> str:
        """The column called ``column`` (after renaming, your name also works)."""
        columns = self.columns if columns is None else columns
        if column in columns:
            return column
        if columns is self.columns and self.renamed.get(column) in columns:
            return self.renamed[column]
        raise self.fail(key, f"no column {column!r}; the table has {', '.join(columns)}")

    def step(self, sql: str) -> None:
        self.steps.append(sql)

    @property
    def last(self) -> str:
        return f"_hs_s{len(self.steps) - 1}"

    def joins(self, relation: str, joins: tuple[JoinMapping, ...], resolve: Lookup) -> None:
        self.columns = _describe(self.con, relation)
        selected = ["_hs_t.*"]
        sources = f"{relation} AS _hs_t"
        alias_of = dict.fromkeys(self.columns, "_hs_t")
        for i, join in enumerate(joins):
            other = resolve(join.table)
            if other is None:
                raise self.fail("join.table", f"table {join.table!r} not found in the data")
            other_columns = _describe(self.con, other)
            right_on = join.right_on or join.on
            self.need("join.on", join.on)
            self.need("join.right_on", right_on, other_columns)
            for column in join.take:
                self.need("join.take", column, other_columns)
                if column in alias_of:
                    raise self.fail(
                        "join.take",
                        f"{column!r} is already a column of the table; "
                        "drop it first or join another column",
                    )
            alias = f"_hs_j{i}"
            taken = ", ".join(f"{join.aggregate}({quote(c)}) AS {quote(c)}" for c in join.take)
            sources += (
                f" LEFT JOIN (SELECT {key_text(quote(right_on))} AS _hs_key, {taken} FROM {other} "
                f"GROUP BY ALL) AS {alias} "
                f"ON {key_text(alias_of[join.on] + '.' + quote(join.on))} = {alias}._hs_key"
            )
            for column in join.take:
                selected.append(f"{alias}.{quote(column)}")
                alias_of[column] = alias
                self.columns.append(column)
        self.step(f"SELECT {', '.join(selected)} FROM {sources}")

    def renames(self, drop: tuple[str, ...], renames: dict[str, str]) -> None:
        for column in drop:
            self.need("drop", column)
        for contract, user in renames.items():
            if user not in self.columns:
                raise self.fail(
                    f"columns.{contract}",
                    f"no column {user!r} to read {contract} from; the table has "
                    f"{', '.join(self.columns)}",
                )
        kept = [c for c in self.columns if c not in drop]
        names_of: dict[str, list[str]] = {}
        for contract, user in renames.items():
            if user in kept:
                names_of.setdefault(user, []).append(contract)
        shadowed = {n for names in names_of.values() for n in names}
        selected: list[str] = []
        columns: list[str] = []
        for user in kept:
            for name in names_of.get(user, [user] if user not in shadowed else []):
                selected.append(f"{quote(user)} AS {quote(name)}")
                columns.append(name)
        self.step(f"SELECT {', '.join(selected)} FROM {self.last}")
        self.columns = columns
        self.renamed = {user: names[0] for user, names in names_of.items()}

    def recodes(self, formats: dict[str, str], values: dict[str, dict[str, str]]) -> None:
        replaced: list[str] = []
        for name, fmt in formats.items():
            column = self.need(f"formats.{name}", name)
            replaced.append(f"{time_format_sql(quote(column), fmt)} AS {quote(column)}")
        for name, recode in values.items():
            column = self.need(f"values.{name}", name)
            text = f"lower(trim(CAST({quote(column)} AS VARCHAR)))"
            cases = " ".join(
                f"WHEN {literal(k.strip().lower())} THEN {literal(v)}" for k, v in recode.items()
            )
            replaced.append(
                f"CASE {text} {cases} ELSE CAST({quote(column)} AS VARCHAR) END AS {quote(column)}"
            )
        if replaced:
            self.step(f"SELECT * REPLACE ({', '.join(replaced)}) FROM {self.last}")

    def derivations(self, derive: dict[str, str | tuple[str, ...]]) -> None:
        replaced: list[str] = []
        added: list[str] = []
        for column, value in derive.items():
            derivation = self._resolved(column, parse_derivation(self.table, column, value))
            kind = TABLES[self.table].column(column).kind
            sql = derivation_sql(derivation, kind)
            if column in self.columns:
                replaced.append(f"coalesce({_existing(column, kind)}, {sql}) AS {quote(column)}")
            else:
                added.append(f"{sql} AS {quote(column)}")
        if replaced:
            self.step(f"SELECT * REPLACE ({', '.join(replaced)}) FROM {self.last}")
        if added:
            self.step(f"SELECT *, {', '.join(added)} FROM {self.last}")
            self.columns += [c for c in derive if c not in self.columns]

    def _resolved(self, target: str, derivation: Derivation) -> Derivation:
        """``derivation`` with each column it reads named as it is after renaming."""
        names = {c: self.need(f"derive.{target}", c) for c in derivation.columns}
        if isinstance(derivation, CompositeKey):
            return CompositeKey(tuple(names[c] for c in derivation.parts))
        if isinstance(derivation, PeriodAdd):
            column = names[derivation.column] if derivation.column else None
            return PeriodAdd(names[derivation.base], column, derivation.interval)
        assert isinstance(derivation, Arithmetic)
        return derivation.renamed(names)

    def keep(self, keep: dict[str, tuple[str, ...]]) -> None:
        conditions = []
        for name, allowed in keep.items():
            column = self.need(f"keep.{name}", name)
            listed = ", ".join(literal(v.strip().lower()) for v in allowed)
            conditions.append(f"lower(trim(CAST({quote(column)} AS VARCHAR))) IN ({listed})")
        if conditions:
            self.step(f"SELECT * FROM {self.last} WHERE {' AND '.join(conditions)}")

    def expand(self, column: str | None) -> None:
        if column is None:
            return
        column = self.need("expand", column)
        if "user_id" in self.columns:
            raise self.fail(
                "expand",
                "the table already has a user_id; expand numbers the "
                "users itself (drop user_id, or do not expand)",
            )
        count = f"CAST(round(TRY_CAST(_hs_x.{quote(column)} AS DOUBLE)) AS BIGINT)"
        self.step(
            f"SELECT _hs_x.*, CAST(_hs_n.i AS VARCHAR) AS user_id FROM {self.last} AS _hs_x, "
            f"range(1, coalesce({count}, 0) + 1) AS _hs_n(i)"
        )
        self.columns.append("user_id")

    def sql(self) -> str:
        ctes = ",\n".join(f"_hs_s{i} AS ({body})" for i, body in enumerate(self.steps))
        return f"WITH {ctes}\nSELECT * FROM {self.last}"


def raw_select(
    con: duckdb.DuckDBPyConnection,
    table: str,
    relation: str,
    data: DataConfig,
    lookup: Lookup,
    *,
    origin: str = "data",
) -> str:
    """The SQL of the ``raw_<table>`` view: the export with the config's mapping applied.

    ``relation`` is the export of ``table`` (a DuckDB relation); ``lookup`` finds the other
    tables a join names. Raises :class:`~healthscore.errors.ConfigError` when the mapping
    names a column or table the data does not have.
    """
    mapping = data.tables.get(table) or TableMapping()

    def resolve(name: str) -> str | None:
        return lookup(source_name(data, name) if name in TABLES else name)

    builder = _Builder(con, table, origin)
    builder.joins(relation, mapping.join, resolve)
    builder.renames(mapping.drop, mapping.columns)
    builder.recodes(mapping.formats, mapping.values)
    builder.derivations(mapping.derive)
    builder.keep(mapping.keep)
    builder.expand(mapping.expand)
    return builder.sql()
