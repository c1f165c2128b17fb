"""SQL primitives shared by every module that writes SQL: quoting names and literals.

Values are bound as parameters wherever DuckDB allows it. View definitions cannot hold bound
parameters, so the few values written into SQL text (recodings, kept values, words of a
billing period) go through :func:`literal`, and names through :func:`quote`.
"""

from __future__ import annotations


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
