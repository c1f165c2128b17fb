"""SQL primitives shared by every module that writes SQL: quoting, ids, typed values.

Values are bound as parameters wherever DuckDB allows it. View definitions cannot hold bound
parameters, so the few values written into SQL text (recodings, kept values, words of a
billing period) go through :func:`literal`, and names through :func:`quote`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from healthscore.schema import Column, TableSpec

#: The event logs whose typed views also hold each id column as it was read, under
#: :data:`RAW_ID_PREFIX` + its name (see :func:`raw_id_twins`).
RAW_ID_TABLES = ("logins", "feature_usage")
RAW_ID_PREFIX = "_hs_raw_"


def quote(identifier: str) -> str:
    """Quote a SQL identifier.

    >>> quote('my "odd" column')
    '"my ""odd"" column"'
    """
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal holding ``text``.

    >>> literal("O'Brien")
    "'O''Brien'"
    """
    return "'" + text.replace("'", "''") + "'"


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


def raw_id_twins(table: TableSpec, present: tuple[str, ...] | frozenset[str]) -> list[str]:
    """Select-list entries adding the raw twin of each id column of an event log's view.

    Typing an id (:func:`trimmed_id`) is a string function per row; over tens of millions
    of events it costs as much as reading them. The feature engine therefore groups and
    joins the logs on the ids as read (``_hs_raw_account_id``) and types only the distinct
    values (:func:`id_of_raw`), which gives the same keys. A column nobody reads costs
    nothing, so the twins are free for every other query.
    """
    if table.name not in RAW_ID_TABLES:
        return []
    return [
        f"{quote(c.name)} AS {quote(RAW_ID_PREFIX + c.name)}"
        for c in table.columns
        if c.kind == "id" and c.name in present
    ]


def id_of_raw(raw: str) -> str:
    """SQL for the typed id of a raw id value: what the typed view's id column holds for it.

    :func:`typed_expression` of an id is :func:`trimmed_id` of the value as text whatever
    its type (an integer's text has nothing to trim), so this is the same value.
    """
    return trimmed_id(f"CAST({raw} AS VARCHAR)")


def id_present(raw: str) -> str:
    """SQL that is true where the raw id ``raw`` has a typed id: ``id_of_raw(raw) IS NOT NULL``.

    Cheaper per row than typing the id: a value whose first byte is a visible ASCII
    character cannot trim to nothing, so only other values go through ``TRIM``.
    """
    text = f"CAST({raw} AS VARCHAR)"
    return f"(({text} >= '!' AND {text} < '\x7f') OR NULLIF(TRIM({text}), '') IS NOT NULL)"


def key_text(expr: str) -> str:
    """SQL for a value as a trimmed text id (see :func:`trimmed_id`)."""
    return trimmed_id(f"CAST({expr} AS VARCHAR)")


def as_timestamp(expr: str) -> str:
    """SQL reading a value as a timestamp (offsets honoured, naive values taken as UTC)."""
    return f"TRY_CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"


_SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "number": "DOUBLE",
    "integer": "BIGINT",
    "bool": "BOOLEAN",
}


_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def typed_expression(expr: str, column: Column, source_type: str = "VARCHAR") -> str:
    """SQL casting a raw column to its contract type; unparseable values become NULL.

    ``source_type`` is the column's type as DuckDB reads it. Columns already of the right
    type (typed Parquet) pass through without casts: on a 50-million-row event log the
    casts would otherwise cost a large share of the feature build.
    """
    source_type = source_type.upper()
    if column.kind == "timestamp":
        if source_type == "TIMESTAMP":
            return expr
        if source_type in (
            "DATE",
            "TIMESTAMP_NS",
            "TIMESTAMP_MS",
            "TIMESTAMP_S",
            "TIMESTAMP WITH TIME ZONE",
        ):
            return f"CAST({expr} AS TIMESTAMP)"
        # Through TIMESTAMPTZ so offsets are honoured; the session zone is UTC, so naive
        # values are read as UTC and the result is a naive UTC timestamp.
        return f"TRY_CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if column.kind == "id":
        if source_type == "VARCHAR":
            return trimmed_id(expr)
        if source_type in _INTEGER_TYPES:  # digits and a sign: nothing to trim, never empty
            return f"CAST({expr} AS VARCHAR)"
        return trimmed_id(f"CAST({expr} AS VARCHAR)")
    if column.kind == "text":
        return expr if source_type == "VARCHAR" else f"CAST({expr} AS VARCHAR)"
    target = _SQL_TYPES[column.kind]
    if source_type == target:
        return expr
    return f"TRY_CAST({expr} AS {target})"
