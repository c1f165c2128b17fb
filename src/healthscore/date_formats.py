"""Time formats of the user's date columns: strptime formats and Unix times.

``formats = {created_at = "%d/%m/%Y"}`` in a ``[data.tables.<table>]`` section reads a
column with a ``strptime`` format DuckDB accepts; ``"epoch_s"`` and ``"epoch_ms"`` read Unix
times in seconds or milliseconds. Formats are checked when the config is loaded.
"""

from __future__ import annotations

import duckdb

from healthscore.sql import literal

#: Time formats besides strptime ones: Unix times, and how many units make a second.
EPOCH_FORMATS: dict[str, int] = {"epoch_s": 1, "epoch_ms": 1000}
#: Unix times read as dates lie in [1900, 3000): a value in milliseconds read as seconds,
#: say, is not a date.
_EPOCH_SECONDS = (-2_208_988_800, 32_503_680_000)


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
