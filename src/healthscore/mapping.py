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

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healthscore.errors import ConfigError
from healthscore.schema import TABLES
from healthscore.sql import literal, quote

if TYPE_CHECKING:
    import duckdb

    from healthscore.config import DataConfig, JoinMapping

#: Looks up a file stem or database table name; returns a DuckDB relation or None.
Lookup = Callable[[str], "str | None"]

PERIOD_UNITS: dict[str, str] = {
    "day": "1 DAY",
    "week": "7 DAY",
    "month": "1 MONTH",
    "quarter": "3 MONTH",
    "year": "1 YEAR",
}
#: Words a billing-period column may hold, and the period each stands for.
PERIOD_WORDS: dict[str, str] = {
    **{w: "1 DAY" for w in ("day", "daily")},
    **{w: "7 DAY" for w in ("week", "weekly")},
    **{w: "1 MONTH" for w in ("month", "monthly", "mo", "mthly", "m")},
    **{w: "3 MONTH" for w in ("quarter", "quarterly", "q")},
    **{
        w: "6 MONTH"
        for w in (
            "half-year",
            "half_year",
            "semiannual",
            "semi-annual",
            "semi_annual",
            "biannual",
            "biannually",
            "semiannually",
        )
    },
    **{w: "1 YEAR" for w in ("year", "yearly", "annual", "annually", "y", "yr")},
}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PERIOD_ADD = re.compile(
    rf"^\s*(?P<base>{_NAME})\s*\+\s*(?:(?P<n>\d+)\s*(?P<unit>day|week|month|quarter|year)s?"
    rf"|(?P<column>{_NAME}))\s*$",
    re.IGNORECASE,
)
ALLOWED = "an expression may hold only column names, numbers, + - * / and parentheses"
#: Time formats besides strptime ones: Unix times, and how many units make a second.
EPOCH_FORMATS: dict[str, int] = {"epoch_s": 1, "epoch_ms": 1000}
#: Unix times read as dates lie in [1900, 3000): a value in milliseconds read as seconds,
#: say, is not a date.
_EPOCH_SECONDS = (-2_208_988_800, 32_503_680_000)
_TOKEN = re.compile(rf"\s*(?:(?P<number>\d+(?:\.\d+)?|\.\d+)|(?P<name>{_NAME})|(?P<op>[-+*/()]))")


# --------------------------------------------------------------------------- derivations


@dataclass(frozen=True)
class Arithmetic:
    """``mrr * 12``: a parsed arithmetic expression (a tree of tuples)."""

    text: str
    tree: tuple

    @property
    def columns(self) -> tuple[str, ...]:
        found: list[str] = []

        def walk(node: tuple) -> None:
            if node[0] == "col":
                found.append(node[1])
            elif node[0] == "neg":
                walk(node[1])
            elif node[0] == "op":
                walk(node[2])
                walk(node[3])

        walk(self.tree)
        return tuple(dict.fromkeys(found))

    def sql(self, column: Callable[[str], str]) -> str:
        def render(node: tuple) -> str:
            kind = node[0]
            if kind == "num":
                return f"CAST({node[1]} AS DOUBLE)"
            if kind == "col":
                return column(node[1])
            if kind == "neg":
                return f"(-{render(node[1])})"
            op, left, right = node[1], render(node[2]), render(node[3])
            if op == "/":
                return f"({left} / NULLIF({right}, 0))"
            return f"({left} {op} {right})"

        return render(self.tree)


@dataclass(frozen=True)
class PeriodAdd:
    """``start_date + billing_period`` or ``start_date + 1 month``."""

    base: str
    column: str | None = None
    interval: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.base,) + ((self.column,) if self.column else ())


@dataclass(frozen=True)
class CompositeKey:
    """``["account_id", "product", "start_date"]``: values joined with ``|``."""

    parts: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return self.parts


Derivation = Arithmetic | PeriodAdd | CompositeKey


def parse_arithmetic(text: str) -> Arithmetic:
    """Parse an expression of column names, numbers, ``+ - * /`` and parentheses.

    Raises ``ValueError`` on anything else.

    Examples
    --------
    >>> parse_arithmetic("(mrr - discount) * 12").columns
    ('mrr', 'discount')
    """
    tokens: list[tuple[str, str]] = []
    body = text.rstrip()
    pos = 0
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if match is None:
            raise ValueError(f"{text!r}: unexpected {body[pos:].strip()[:12]!r}; {ALLOWED}")
        kind = match.lastgroup or "op"
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    if not tokens:
        raise ValueError(f"an empty expression; {ALLOWED}")
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        token = peek()
        if token is None:
            raise ValueError(f"{text!r}: the expression ends too early")
        position += 1
        return token

    def expression() -> tuple:
        node = term()
        while (token := peek()) is not None and token[1] in "+-":
            take()
            node = ("op", token[1], node, term())
        return node

    def term() -> tuple:
        node = factor()
        while (token := peek()) is not None and token[1] in "*/":
            take()
            node = ("op", token[1], node, factor())
        return node

    def factor() -> tuple:
        kind, value = take()
        if kind == "number":
            return ("num", value)
        if kind == "name":
            return ("col", value)
        if value == "-":
            return ("neg", factor())
        if value == "(":
            node = expression()
            if take()[1] != ")":
                raise ValueError(f"{text!r}: a parenthesis is not closed")
            return node
        raise ValueError(f"{text!r}: unexpected {value!r}")

    try:
        tree = expression()
        if position != len(tokens):
            raise ValueError(f"{text!r}: unexpected {tokens[position][1]!r}")
    except ValueError as exc:
        raise ValueError(f"{exc}; {ALLOWED}") from None
    return Arithmetic(text, tree)


def parse_period_add(text: str) -> PeriodAdd:
    """Parse ``<date column> + <period column>`` or ``<date column> + <n> <unit>``."""
    match = _PERIOD_ADD.match(text)
    if match is None:
        raise ValueError(
            f"{text!r}: write a date column plus a period, e.g. 'start_date + billing_period' "
            "or 'start_date + 1 month' (units: day, week, month, quarter, year)"
        )
    if match.group("column"):
        return PeriodAdd(match.group("base"), column=match.group("column"))
    n = int(match.group("n"))
    amount, unit = PERIOD_UNITS[match.group("unit").lower()].split()
    return PeriodAdd(match.group("base"), interval=f"{n * int(amount)} {unit}")


def parse_derivation(table: str, column: str, value: str | tuple[str, ...]) -> Derivation:
    """Check ``derive.<column> = value`` of ``table`` and parse it; ``ValueError`` if wrong."""
    where = f"data.tables.{table}.derive.{column}"
    spec = TABLES[table]
    if column not in {c.name for c in spec.columns}:
        raise ValueError(
            f"{where}: {table} has no column {column!r}; derivable columns: "
            + ", ".join(c.name for c in spec.columns if c.kind != "bool")
        )
    kind = spec.column(column).kind
    try:
        if kind in ("number", "integer"):
            if not isinstance(value, str):
                raise ValueError("give an arithmetic expression such as 'mrr * 12'")
            return parse_arithmetic(value)
        if kind == "timestamp":
            if not isinstance(value, str):
                raise ValueError("give a date plus a period such as 'start_date + 1 month'")
            return parse_period_add(value)
        if kind in ("id", "text"):
            parts = (value,) if isinstance(value, str) else tuple(value)
            if not parts or not all(re.fullmatch(_NAME, p) for p in parts):
                raise ValueError("give a list of column names, e.g. ['account_id', 'start_date']")
            return CompositeKey(parts)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    raise ValueError(f"{where}: {kind} columns cannot be derived")


def check_data_config(data: DataConfig) -> None:
    """Checks of the ``[data]`` section that need the contract; ``ValueError`` if wrong."""
    for name, mapping in data.tables.items():
        if name not in TABLES:
            raise ValueError(
                f"data.tables.{name}: unknown table; the contract's tables are " + ", ".join(TABLES)
            )
        spec = TABLES[name]
        if spec.required and not mapping.enabled:
            raise ValueError(f"data.tables.{name}.enabled: {name} is required and cannot be off")
        for column, value in mapping.derive.items():
            parse_derivation(name, column, value)
        for column, fmt in mapping.formats.items():
            try:
                check_time_format(fmt)
            except ValueError as exc:
                raise ValueError(f"data.tables.{name}.formats.{column}: {exc}") from None
        if mapping.expand is not None and "user_id" not in {c.name for c in spec.columns}:
            raise ValueError(f"data.tables.{name}.expand: {name} has no user_id to number")
    for name in data.optional_tables or ():
        if name not in TABLES or TABLES[name].required:
            optional = [n for n, s in TABLES.items() if not s.required]
            raise ValueError(
                f"data.optional_tables: {name!r} is not an optional table; they are "
                + ", ".join(optional)
            )


def check_time_format(fmt: str) -> None:
    """Raise ``ValueError`` unless ``fmt`` is ``epoch_s``, ``epoch_ms`` or a format DuckDB's
    ``strptime`` accepts.

    Examples
    --------
    >>> check_time_format("%d/%m/%Y %H:%M")
    >>> check_time_format("%s")
    Traceback (most recent call last):
    ...
    ValueError: '%s' is not a date format (Unrecognized format for strftime/strptime: %s); ...
    """
    if fmt in EPOCH_FORMATS:
        return
    advice = (
        "give a strptime format such as '%d/%m/%Y' or '%m/%d/%Y %H:%M', or 'epoch_s' / "
        "'epoch_ms' for Unix times in seconds / milliseconds"
    )
    if "%" not in fmt:
        raise ValueError(f"{fmt!r} is not a date format; {advice}")
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('', $fmt)", {"fmt": fmt})
    except duckdb.Error as exc:
        first = (str(exc).splitlines() or [""])[0]
        reason = first.partition(f"specifier {fmt}: ")[2] or first.partition("Error: ")[2]
        raise ValueError(f"{fmt!r} is not a date format ({reason}); {advice}") from None
    finally:
        con.close()


def time_format_sql(expr: str, fmt: str) -> str:
    """SQL reading ``expr`` with a time format (see :func:`check_time_format`).

    A value that matches becomes ISO text of the UTC time; one that does not is kept as it
    is, so that validation reports it among the values that do not parse (ISO values still
    parse in the typed views).
    """
    text = f"CAST({expr} AS VARCHAR)"
    if fmt in EPOCH_FORMATS:
        seconds = f"(TRY_CAST({text} AS DOUBLE) / {EPOCH_FORMATS[fmt]})"
        low, high = _EPOCH_SECONDS
        parsed = (
            f"CASE WHEN {seconds} >= {low} AND {seconds} < {high} "
            f"THEN make_timestamp(CAST(round({seconds} * 1000000) AS BIGINT)) END"
        )
    else:
        parsed = f"try_strptime({text}, {literal(fmt)})"
    return f"coalesce(strftime({parsed}, '%Y-%m-%d %H:%M:%S.%f'), {text})"


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


def trimmed_id(text: str) -> str:
    """SQL for ``NULLIF(TRIM(text), '')`` over a VARCHAR, without trimming what needs none.

    ``TRIM`` decodes every character to find Unicode spaces; on an event log's id columns
    that alone costs about twice the Parquet scan. An id that is plain ASCII (as many bytes
    as characters), starts with a visible character and does not end with a space has
    nothing to trim and is not empty, so it passes through; any other value still goes
    through ``TRIM``, which keeps the result identical for every input.
    """
    return (
        f"CASE WHEN {text} >= '!' AND NOT ends_with({text}, ' ') "
        f"AND strlen({text}) = length({text}) THEN {text} ELSE NULLIF(TRIM({text}), '') END"
    )


def _key(expr: str) -> str:
    return trimmed_id(f"CAST({expr} AS VARCHAR)")


def _as_timestamp(expr: str) -> str:
    return f"TRY_CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _period_interval(expr: str) -> str:
    """SQL turning a billing-period value (a word, or a number of months) into an interval."""
    text = f"lower(trim(CAST({expr} AS VARCHAR)))"
    by_interval: dict[str, list[str]] = {}
    for word, interval in PERIOD_WORDS.items():
        by_interval.setdefault(interval, []).append(word)
    cases = " ".join(
        f"WHEN {text} IN ({', '.join(literal(w) for w in words)}) THEN INTERVAL {interval}"
        for interval, words in by_interval.items()
    )
    months = f"TRY_CAST({expr} AS DOUBLE)"
    return f"(CASE {cases} WHEN {months} > 0 THEN to_months(CAST(round({months}) AS INTEGER)) END)"


def derivation_sql(derivation: Derivation, kind: str) -> str:
    """The SQL computing one derivation over the columns of the previous step."""
    if isinstance(derivation, Arithmetic):
        sql = derivation.sql(lambda c: f"TRY_CAST({quote(c)} AS DOUBLE)")
        return sql if kind == "number" else f"CAST(round({sql}) AS BIGINT)"
    if isinstance(derivation, PeriodAdd):
        period = (
            f"INTERVAL {derivation.interval}"
            if derivation.interval
            else _period_interval(quote(derivation.column or ""))
        )
        return f"({_as_timestamp(quote(derivation.base))} + {period})"
    parts = ", ".join(f"coalesce(CAST({quote(p)} AS VARCHAR), '')" for p in derivation.parts)
    return f"concat_ws('|', {parts})"


def _existing(column: str, kind: str) -> str:
    q = quote(column)
    if kind == "timestamp":
        return _as_timestamp(q)
    if kind in ("number", "integer"):
        return f"TRY_CAST({q} AS {'DOUBLE' if kind == 'number' else 'BIGINT'})"
    return _key(q)


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
                f" LEFT JOIN (SELECT {_key(quote(right_on))} AS _hs_key, {taken} FROM {other} "
                f"GROUP BY ALL) AS {alias} "
                f"ON {_key(alias_of[join.on] + '.' + quote(join.on))} = {alias}._hs_key"
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

        def rename(node: tuple) -> tuple:
            if node[0] == "col":
                return ("col", names[node[1]])
            if node[0] == "neg":
                return ("neg", rename(node[1]))
            if node[0] == "op":
                return ("op", node[1], rename(node[2]), rename(node[3]))
            return node

        return Arithmetic(derivation.text, rename(derivation.tree))

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
    from healthscore.config import TableMapping

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
