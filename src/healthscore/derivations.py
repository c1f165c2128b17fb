"""The derivations a config may ask for: a contract column computed from the export's own.

``derive.<column>`` in a ``[data.tables.<table>]`` section takes one of a small fixed set of
forms, parsed here and turned into SQL by :func:`derivation_sql`:

* an arithmetic expression over numeric columns (``arr = "mrr * 12"``): column names,
  numbers, ``+ - * /`` and parentheses, nothing else; division by zero gives no value. It is
  parsed with Python's own :mod:`ast` and every node is checked against a whitelist, so a
  function call, a string or an operator outside the four is refused with the reason;
* a date plus a period (``end_date = "start_date + billing_period"`` or
  ``"start_date + 1 month"``): a period column holds a word of :data:`PERIOD_WORDS` or a
  number of months;
* a list of columns whose values, joined with ``|``, form an identifier
  (``contract_id = ["account_id", "product", "start_date"]``).
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass

from healthscore.schema import TABLES
from healthscore.sql import as_timestamp, literal, quote

PERIOD_UNITS: dict[str, str] = {
    "day": "1 DAY",
    "week": "7 DAY",
    "month": "1 MONTH",
    "quarter": "3 MONTH",
    "year": "1 YEAR",
}
#: Words of periods counted in months (billing periods, contract terms), and their months.
PERIOD_MONTHS: dict[str, int] = {
    **{w: 1 for w in ("month", "monthly", "mo", "mthly", "m")},
    **{w: 3 for w in ("quarter", "quarterly", "q")},
    **{
        w: 6
        for w in (
            "halfyear",
            "half-year",
            "half_year",
            "semiannual",
            "semi-annual",
            "semi_annual",
            "semiannually",
            "biannual",
            "biannually",
        )
    },
    **{w: 12 for w in ("year", "yearly", "annual", "annually", "y", "yr")},
}
#: Words a period column may hold, and the SQL interval each stands for.
PERIOD_WORDS: dict[str, str] = {
    **{w: "1 DAY" for w in ("day", "daily")},
    **{w: "7 DAY" for w in ("week", "weekly")},
    **{w: f"{n} MONTH" for w, n in PERIOD_MONTHS.items()},
}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PERIOD_ADD = re.compile(
    rf"^\s*(?P<base>{_NAME})\s*\+\s*(?:(?P<n>\d+)\s*(?P<unit>day|week|month|quarter|year)s?"
    rf"|(?P<column>{_NAME}))\s*$",
    re.IGNORECASE,
)
ALLOWED = "an expression may hold only column names, numbers, + - * / and parentheses"
_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.Name,
    ast.Load,
    ast.Constant,
    *_OPERATORS,
)


@dataclass(frozen=True)
class Arithmetic:
    """``mrr * 12``: an arithmetic expression, as a checked Python expression tree."""

    text: str
    tree: ast.expr

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names it reads, in order of first appearance."""
        names = [n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)]
        return tuple(dict.fromkeys(names))

    def renamed(self, names: dict[str, str]) -> Arithmetic:
        """The same expression reading each column under its name in ``names``."""

        class Rename(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.Name:
                return ast.copy_location(ast.Name(names.get(node.id, node.id), node.ctx), node)

        return Arithmetic(self.text, Rename().visit(copy.deepcopy(self.tree)))

    def sql(self, column: Callable[[str], str]) -> str:
        """SQL computing the expression; ``column`` renders a column reference."""

        def render(node: ast.expr) -> str:
            if isinstance(node, ast.Constant):
                return f"CAST({node.value!r} AS DOUBLE)"
            if isinstance(node, ast.Name):
                return column(node.id)
            if isinstance(node, ast.UnaryOp):
                sign = "-" if isinstance(node.op, ast.USub) else "+"
                return f"({sign}{render(node.operand)})"
            assert isinstance(node, ast.BinOp)
            op, left, right = _OPERATORS[type(node.op)], render(node.left), render(node.right)
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
    >>> parse_arithmetic("exp(mrr)")
    Traceback (most recent call last):
    ...
    ValueError: 'exp(mrr)': unexpected 'exp(mrr)'; an expression may hold ...
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{text!r}: {exc.msg}; {ALLOWED}") from None
    for node in ast.walk(tree):
        number = isinstance(node, ast.Constant) and type(node.value) in (int, float)
        if not isinstance(node, _ALLOWED_NODES) or (isinstance(node, ast.Constant) and not number):
            shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise ValueError(f"{text!r}: unexpected {shown!r}; {ALLOWED}")
    return Arithmetic(text, tree.body)


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


def period_interval_sql(expr: str) -> str:
    """SQL turning a period value (a word, or a number of months) into an interval."""
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
            else period_interval_sql(quote(derivation.column or ""))
        )
        return f"({as_timestamp(quote(derivation.base))} + {period})"
    parts = ", ".join(f"coalesce(CAST({quote(p)} AS VARCHAR), '')" for p in derivation.parts)
    return f"concat_ws('|', {parts})"
