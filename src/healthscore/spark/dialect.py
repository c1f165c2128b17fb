"""The catalogue's SQL, written once for DuckDB, translated to Spark SQL with sqlglot.

Every feature family, the shared relations of a build and the typed views of the input
contract are written in DuckDB's dialect (:mod:`healthscore.features`). The Spark engine
runs the same text: :func:`to_spark` parses it with sqlglot's DuckDB reader and writes it
with its Spark writer. sqlglot already maps most of what differs (``list`` to
``collect_list``, ``$name`` parameters to ``:name``, ``unnest`` to ``explode``, ``range`` to
``sequence``, ``EXCLUDE`` to ``EXCEPT``, casts to naive ``TIMESTAMP`` to ``TIMESTAMP_NTZ``).
What it does not know, or translates with a different meaning, is rewritten here on the
parsed tree, one small rule each:

* ``ASOF [LEFT] JOIN`` (Spark has none) becomes one ordered window over the union of both
  sides: each left row takes the latest right row before it (:func:`_asof_join`);
* ``date_diff('month', a, b)`` counts month boundaries in DuckDB but whole months in
  Spark, so it becomes year and month arithmetic; ``date_diff('day', a, b)`` compares
  the dates;
* ``x + to_months(n)`` and ``x - to_months(n)`` become ``add_months`` (both clamp the day
  to the end of a shorter month);
* ``list_unique(list)`` (the number of distinct elements) becomes
  ``size(array_distinct(list))``;
* a number written with a decimal point (``3.0``) is a ``DOUBLE``: Spark would read it as a
  ``DECIMAL`` and round a division by it to a fixed scale, where DuckDB divides in floating
  point;
* ``TRIM(x)`` trims Unicode space separators in DuckDB and only ASCII spaces in Spark, so
  it becomes a regular expression on ``\\p{Zs}``; ``strlen`` (bytes) becomes
  ``octet_length``;
* the input tables (``accounts``, ``logins``, ...) are renamed to the Spark session's views
  of them.

Where DuckDB's SQL used a construct with no faithful rule (subtracting two dates, which
gives an interval in Spark, ordered aggregates), the shared SQL was rewritten into a form
both engines read alike (``date_diff('day', ...)``, ``list_sort(list(...))``); the tests
compare DuckDB's features before and after exactly, and Spark's with DuckDB's.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping

import sqlglot
from sqlglot import exp

from healthscore.errors import ConfigError

#: Characters DuckDB's ``TRIM`` removes: Unicode space separators (category Zs).
_ZS_TRIM = r"'^\\p{Zs}+|\\p{Zs}+$'"
_ids = itertools.count()


def to_spark(sql: str, tables: Mapping[str, str] | None = None) -> str:
    """Spark SQL for one DuckDB statement (or query), with input tables renamed by ``tables``.

    Examples
    --------
    >>> to_spark("SELECT list_unique(list(ts)) AS n FROM logins GROUP BY ALL",
    ...          {"logins": "_hs_in_logins"})
    'SELECT SIZE(ARRAY_DISTINCT(COLLECT_LIST(ts))) AS n FROM _hs_in_logins AS logins GROUP BY ALL'
    """
    return _translate(sql, tuple(sorted((tables or {}).items())))


@functools.lru_cache(maxsize=512)
def _translate(sql: str, tables: tuple[tuple[str, str], ...]) -> str:
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = rewrite(tree, dict(tables))
    return tree.sql(dialect="spark")


def split_create(sql: str) -> tuple[str | None, str]:
    """``(table, query)`` of a ``CREATE [OR REPLACE] TEMP TABLE t AS query`` statement.

    Anything else comes back as ``(None, sql)``.
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    if isinstance(tree, exp.Create) and tree.expression is not None:
        return tree.this.name, tree.expression.sql(dialect="duckdb")
    return None, sql


def rewrite(tree: exp.Expression, tables: Mapping[str, str]) -> exp.Expression:
    """Apply the rules of the module docstring to a parsed DuckDB statement."""
    tree = _rename_tables(tree, tables)
    tree = tree.transform(_function_rules)
    for select in list(tree.find_all(exp.Select)):
        joins = select.args.get("joins") or []
        if any(j.args.get("method") == "ASOF" for j in joins):
            _asof_join(select)
    return tree


def _rename_tables(tree: exp.Expression, tables: Mapping[str, str]) -> exp.Expression:
    if not tables:
        return tree
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        if table.args.get("db") or name in ctes or name not in tables:
            continue
        alias = table.alias or name
        table.set("this", exp.to_identifier(tables[name]))
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return tree


def _name(node: exp.Expression) -> str:
    return node.name.lower() if isinstance(node, exp.Anonymous) else ""


def _inner(node: exp.Expression) -> exp.Expression:
    """A copy of ``node`` with the rules applied inside it (a replaced node is not revisited)."""
    return node.copy().transform(_function_rules)


def _function_rules(node: exp.Expression) -> exp.Expression:
    """The one-node rules: functions that Spark lacks or reads differently."""
    if isinstance(node, exp.DateDiff):
        return _date_diff(node)
    if isinstance(node, exp.Add | exp.Sub) and _name(node.expression) == "to_months":
        months = _inner(node.expression.expressions[0])
        if isinstance(node, exp.Sub):
            months = exp.Neg(this=exp.Paren(this=months))
        return exp.func("ADD_MONTHS", _inner(node.this), months)
    if _name(node) == "list_unique":
        return exp.func("SIZE", exp.func("ARRAY_DISTINCT", _inner(node.expressions[0])))
    if _name(node) == "strlen" or (isinstance(node, exp.Anonymous) and node.name == "STRLEN"):
        return exp.func("OCTET_LENGTH", _inner(node.expressions[0]))
    if isinstance(node, exp.Literal) and node.is_number and "." in node.this:
        return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
    if isinstance(node, exp.Trim) and node.expression is None and not node.args.get("position"):
        pattern = sqlglot.parse_one(_ZS_TRIM, read="spark")
        return exp.func("REGEXP_REPLACE", _inner(node.this), pattern, exp.Literal.string(""))
    return node


def _date_diff(node: exp.DateDiff) -> exp.Expression:
    """DuckDB's ``date_diff(unit, start, end)``: boundaries of ``unit`` crossed."""
    unit = (node.text("unit") or "DAY").upper()
    end, start = _inner(node.this), _inner(node.expression)
    if unit == "MONTH":
        years = exp.Sub(this=exp.func("YEAR", end), expression=exp.func("YEAR", start.copy()))
        months = exp.Sub(
            this=exp.func("MONTH", end.copy()), expression=exp.func("MONTH", start.copy())
        )
        return exp.Paren(
            this=exp.Add(
                this=exp.Mul(this=exp.Paren(this=years), expression=exp.Literal.number(12)),
                expression=exp.Paren(this=months),
            )
        )
    if unit == "DAY":
        return exp.func(
            "DATEDIFF",
            exp.cast(end, exp.DataType.Type.DATE),
            exp.cast(start, exp.DataType.Type.DATE),
        )
    if unit == "MICROSECOND":  # sqlglot writes DATEDIFF(MICROSECOND, start, end): the same
        return exp.DateDiff(this=end, expression=start, unit=exp.var("MICROSECOND"))
    raise ConfigError(f"date_diff with unit {unit!r} has no Spark translation here")


def _split_condition(
    condition: exp.Expression, left: str, right: str
) -> tuple[list, exp.Expression]:
    """The equality pairs ``(left expr, right expr)`` and the inequality of an ASOF ``ON``."""
    parts = list(condition.flatten()) if isinstance(condition, exp.And) else [condition]
    pairs: list[tuple[exp.Expression, exp.Expression]] = []
    inequality = None
    for part in parts:
        sides = (part.this, part.expression)
        tables = tuple(s.table if isinstance(s, exp.Column) else "" for s in sides)
        if tables == (right, left):
            sides, tables = sides[::-1], tables[::-1]
            part = {exp.LT: exp.GT, exp.LTE: exp.GTE, exp.GT: exp.LT, exp.GTE: exp.LTE}.get(
                type(part), type(part)
            )(this=sides[0].copy(), expression=sides[1].copy())
        if tables != (left, right):
            raise ConfigError(f"cannot translate the ASOF condition {part.sql()}")
        if isinstance(part, exp.EQ):
            pairs.append(sides)
        elif isinstance(part, exp.GT | exp.GTE) and inequality is None:
            inequality = part
        else:
            raise ConfigError(f"cannot translate the ASOF condition {part.sql()}")
    if inequality is None:
        raise ConfigError("an ASOF join needs one inequality (left time > right time)")
    return pairs, inequality


def _asof_join(select: exp.Select) -> None:
    """Replace ``L l ASOF [LEFT] JOIN R r ON l.k = r.k AND l.t > r.u`` in ``select``.

    Both sides become one relation ordered by time, each left row taking the last right row
    before it (``last(..., true)`` over the rows so far, per key): a sort per key instead of
    a range join. The pair comes back as two struct columns named like the aliases, so
    ``l.x`` and ``r.y`` keep reading the same values. The ASOF join must be the first join
    of its ``FROM``; an inner ASOF join drops the left rows without a match.
    """
    joins = select.args["joins"]
    if joins[0].args.get("method") != "ASOF":
        raise ConfigError("an ASOF join must be the first join of its FROM for Spark")
    join = joins[0]
    left_node, right_node = select.args["from_"].this, join.this
    left, right = left_node.alias_or_name, right_node.alias_or_name
    pairs, inequality = _split_condition(join.args["on"], left, right)
    strict = isinstance(inequality, exp.GT)
    n = next(_ids)
    keys_l = "".join(f"{a.sql('spark')} AS _k{i}, " for i, (a, _) in enumerate(pairs))
    keys_r = "".join(f"{b.sql('spark')} AS _k{i}, " for i, (_, b) in enumerate(pairs))
    partition = ", ".join(f"_k{i}" for i in range(len(pairs))) or "1"
    not_null = " AND ".join(
        [f"{b.sql('spark')} IS NOT NULL" for _, b in pairs]
        + [f"{inequality.expression.sql('spark')} IS NOT NULL"]
    )
    # At equal times a strict inequality sees the left row first (the right row is not
    # before it); a non-strict one sees the right row first.
    rank_l, rank_r = (0, 1) if strict else (1, 0)
    inner = "" if join.args.get("side") else " AND _r IS NOT NULL"
    sql = f"""
        SELECT _l AS {left}, _r AS {right} FROM (
            SELECT _side, _l, last(_r, true) OVER (
                PARTITION BY {partition} ORDER BY _t ASC NULLS FIRST, _side
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _r
            FROM (
                SELECT {keys_l}{inequality.this.sql("spark")} AS _t, {rank_l} AS _side,
                       STRUCT({left}.*) AS _l, NULL AS _r
                FROM {left_node.sql("spark")}
                UNION ALL
                SELECT {keys_r}{inequality.expression.sql("spark")} AS _t, {rank_r} AS _side,
                       NULL AS _l, STRUCT({right}.*) AS _r
                FROM {right_node.sql("spark")} WHERE {not_null}
            ) AS _u{n}
        ) AS _w{n}
        WHERE _side = {rank_l}{inner}
    """
    pair = sqlglot.parse_one(sql, read="spark")
    select.set("from_", exp.From(this=exp.Subquery(this=pair, alias=f"_asof{n}")))
    select.set("joins", joins[1:] or None)
