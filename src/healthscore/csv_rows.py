"""The rows of a CSV file, formatted a column at a time: the text ``DataFrame.to_csv`` writes.

``to_csv`` hands every cell to Python's :mod:`csv` writer one row at a time, which for a score
table of many thousand accounts and dozens of columns (long sentences among them) is most of
the cost of writing it. Here each column becomes an Arrow array of its cells' text: a number
or date column by formatting each distinct value once (doubles mostly by Arrow), a text
column as it is. Arrow then quotes the cells that need it and joins the cells into lines.
The text of every cell is the one ``to_csv`` writes with :data:`CSV_OPTIONS` (no index,
missing cells empty, dates as :data:`DATE_FORMAT`, the :mod:`csv` module's minimal quoting,
CRLF line ends); a slice of rows holding a column of any other kind is written by ``to_csv``
(:func:`write_rows`).

Examples
--------
>>> frame = pd.DataFrame({"id": ["a", 'say "hi", twice'], "arr": [1e-05, float("nan")]})
>>> format_rows(frame)
'a,1e-05\\r\\n"say ""hi"", twice",\\r\\n'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import infer_dtype

#: How dates are written: ISO 8601 to the second, without a time zone.
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: RFC 4180 line ends: a value holding a carriage return is then quoted too.
LINE_END = "\r\n"
#: How ``to_csv`` writes a CSV file (and :func:`write_rows` its rows).
CSV_OPTIONS: dict[str, Any] = {
    "index": False,
    "date_format": DATE_FORMAT,
    "lineterminator": LINE_END,
}
#: Rows formatted at once: the text of a slice of this many is held in memory twice.
ROWS_AT_ONCE = 100_000
#: The bytes that make a cell quoted: the delimiter, the quote, a line end.
_NEEDS_QUOTES = np.zeros(256, dtype=bool)
_NEEDS_QUOTES[list(b',"\r\n')] = True
#: Years whose dates NumPy writes as ``strftime`` does with :data:`DATE_FORMAT`.
_PLAIN_YEARS = (1000, 9999)
#: Nullable integers and booleans: their values are written as Python writes them.
_MASKED = (
    pd.BooleanDtype,
    pd.Int8Dtype,
    pd.Int16Dtype,
    pd.Int32Dtype,
    pd.Int64Dtype,
    pd.UInt8Dtype,
    pd.UInt16Dtype,
    pd.UInt32Dtype,
    pd.UInt64Dtype,
)
_TEXT = pa.large_string()
_QUOTE = pa.scalar('"', _TEXT)
_NOTHING = pa.scalar("", _TEXT)
_COMMA = pa.scalar(",", _TEXT)
_LINE_END = pa.scalar(LINE_END, _TEXT)
_POINT_ZERO = pa.scalar(".0", _TEXT)
#: The doubles ``repr`` writes without an exponent: from ``1e-4`` up to below ``1e16``.
_FIXED_DOUBLES = (1e-4, 1e16)


def _each_distinct(values: np.ndarray, write: Callable[[np.ndarray], pa.Array]) -> pa.Array:
    """The text of ``values``, calling ``write`` once on their distinct values.

    Values are told apart by their bits, so that ``-0.0`` keeps its sign.
    """
    where, distinct = pd.factorize(values.view(f"u{values.dtype.itemsize}"))
    return write(distinct.view(values.dtype)).take(pa.array(where))


def _floats(values: np.ndarray) -> pa.Array:
    """Floats as ``to_csv`` writes them: NumPy's shortest text; missing values empty."""
    if values.dtype == np.float64:
        return _doubles(values)
    text = values.astype(str)
    text[np.isnan(values)] = ""
    return pa.array(text.tolist(), type=_TEXT)


def _doubles(values: np.ndarray) -> pa.Array:
    """Doubles in Python's ``repr`` (NumPy's text for them), missing values empty.

    Arrow writes the same shortest digits as ``repr``, and in the same way for a number of
    at least ``1e-4`` and below ``1e16`` that it writes without an exponent, except that it
    leaves out the ``.0`` of a whole number. Every other double (missing, infinite, tiny,
    huge, or one Arrow gives an exponent) gets ``repr``.
    """
    text = pc.cast(pc.cast(pa.array(values), pa.string()), _TEXT)
    size = np.abs(values)
    own = ~((size >= _FIXED_DOUBLES[0]) & (size < _FIXED_DOUBLES[1]))
    own |= _contains(text, "e")
    whole = ~own & ~_contains(text, ".")
    if whole.any():
        chosen = text.filter(pa.array(whole))
        text = pc.replace_with_mask(
            text, pa.array(whole), pc.binary_join_element_wise(chosen, _POINT_ZERO, _NOTHING)
        )
    if own.any():
        written = [repr(value) if value == value else "" for value in values[own].tolist()]
        text = pc.replace_with_mask(text, pa.array(own), pa.array(written, type=_TEXT))
    return text


def _contains(text: pa.Array, part: str) -> np.ndarray:
    """Which cells of ``text`` hold ``part``."""
    found: np.ndarray = pc.match_substring(text, part).to_numpy(zero_copy_only=False)
    return found


def _python_text(values: np.ndarray) -> pa.Array:
    """Integers and booleans as Python writes them."""
    return pa.array([str(value) for value in values.tolist()], type=_TEXT)


def _dates(values: np.ndarray) -> pa.Array:
    """Naive dates as :data:`DATE_FORMAT` writes them; missing ones empty."""
    seconds = values.astype("datetime64[s]")
    text = np.datetime_as_string(seconds, unit="s").astype(object)
    text[np.isnat(seconds)] = ""
    return pa.array(text.tolist(), type=_TEXT)


def _plain_years(values: np.ndarray) -> bool:
    """Whether every date of ``values`` has a four-digit year."""
    present = values[~np.isnat(values)]
    if not len(present):
        return True
    years = present.astype("datetime64[Y]").astype(np.int64) + 1970
    return bool(years.min() >= _PLAIN_YEARS[0] and years.max() <= _PLAIN_YEARS[1])


def _text(column: pd.Series) -> pa.Array | None:
    """A text column with missing cells empty; ``None`` for Python objects that are not all
    text (``to_csv`` writes those with ``str`` or ``strftime``)."""
    try:
        if isinstance(column.dtype, pd.StringDtype):
            # Rows joined from several frames (or read in chunks) keep Arrow's chunks.
            text = pa.array(column, type=_TEXT, from_pandas=True)
            if isinstance(text, pa.ChunkedArray):
                text = text.combine_chunks()
            return pc.fill_null(text, "")
        values = column.to_numpy(dtype=object, copy=True)
        values[pd.isna(values)] = ""
        if infer_dtype(values, skipna=False) not in ("string", "empty"):
            return None
        return pa.array(values, type=_TEXT)
    except (pa.ArrowException, UnicodeError):  # text Arrow cannot hold: left to to_csv
        return None


def _cells(column: pd.Series) -> pa.Array | None:
    """The text ``to_csv`` writes for each cell of ``column``, unquoted; ``None`` when this
    module does not know the column's kind."""
    dtype = column.dtype
    if _holds_text(dtype):
        return _text(column)
    if isinstance(dtype, _MASKED):
        return _python_text(column.to_numpy(dtype=object, na_value=""))
    if not isinstance(dtype, np.dtype):
        return None
    values = column.to_numpy()
    if dtype.kind == "f":
        return _each_distinct(values, _floats)
    if dtype.kind in "iub":
        return _each_distinct(values, _python_text)
    if dtype.kind == "M" and _plain_years(values):
        return _each_distinct(values, _dates)
    return None


def _holds_text(dtype: object) -> bool:
    """Whether cells of ``dtype`` may need quotes (numbers and dates never do)."""
    return isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O")


def _bytes(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of ``cells`` one after another, and where each cell starts in them
    (one more bound than cells: the end of the last)."""
    _, offsets, data = cells.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[cells.offset : cells.offset + len(cells) + 1]
    if data is None:  # no text at all
        return np.empty(0, dtype=np.uint8), bounds - bounds[0]
    return np.frombuffer(data, dtype=np.uint8)[bounds[0] : bounds[-1]], bounds - bounds[0]


def _quoted(cells: pa.Array) -> pa.Array:
    """``cells`` with those holding a delimiter, quote or line end quoted (quotes doubled).

    The bytes of these four characters occur in UTF-8 as themselves only, so the cells to
    quote are found by looking for them in all the text at once.
    """
    if not len(cells):
        return cells
    text, bounds = _bytes(cells)
    found = np.flatnonzero(_NEEDS_QUOTES[text])
    if not len(found):
        return cells
    needs = np.zeros(len(cells), dtype=bool)
    needs[np.searchsorted(bounds, found, side="right") - 1] = True
    chosen = cells.filter(needs)
    if (text[found] == ord('"')).any():
        chosen = pc.replace_substring(chosen, '"', '""')
    quoted = pc.binary_join_element_wise(_QUOTE, chosen, _QUOTE, _NOTHING)
    return pc.replace_with_mask(cells, pa.array(needs), quoted)


def format_rows(frame: pd.DataFrame) -> str | None:
    """The data lines ``to_csv`` writes for ``frame`` (each ending in :data:`LINE_END`, no
    header), or ``None`` when a column is of a kind this module does not format (then
    :func:`write_rows` uses ``to_csv``).

    A frame of one column is left to ``to_csv`` too: the :mod:`csv` module quotes an empty
    cell when it is the only one on its line.
    """
    lines = _lines(frame)
    return None if lines is None else str(_bytes(lines)[0].data, "utf-8")


def _lines(frame: pd.DataFrame) -> pa.Array | None:
    """The lines of :func:`format_rows`, one string each (``None`` where it answers ``None``)."""
    if frame.shape[1] < 2 or isinstance(frame.columns, pd.MultiIndex):
        return None
    columns = []
    for position in range(frame.shape[1]):
        cells = _cells(frame.iloc[:, position])
        if cells is None:
            return None
        columns.append(_quoted(cells) if _holds_text(frame.dtypes.iloc[position]) else cells)
    columns[-1] = pc.binary_join_element_wise(columns[-1], _LINE_END, _NOTHING)
    return pc.binary_join_element_wise(*columns, _COMMA)


def write_rows(
    frame: pd.DataFrame,
    out: TextIO,
    *,
    write_utf8: Callable[[bytes], object] | None = None,
    rows_at_once: int = ROWS_AT_ONCE,
) -> None:
    """Write the rows of ``frame`` (not its header) to ``out`` as ``to_csv`` does with
    :data:`CSV_OPTIONS`, ``rows_at_once`` rows at a time.

    ``write_utf8`` writes bytes to the stream under ``out``; given when ``out`` writes UTF-8
    without changing line ends (``newline=""``), the formatted rows go to it as they are,
    which saves decoding and encoding them again. A slice :func:`format_rows` does not format is
    written by ``to_csv``; the text of a row does not depend on the others, so the file is
    the same either way.
    """
    for start in range(0, len(frame), rows_at_once):
        part = frame.iloc[start : start + rows_at_once]
        lines = _lines(part)
        if lines is None:
            part.to_csv(out, header=False, **CSV_OPTIONS)
        elif write_utf8 is None:
            out.write(str(_bytes(lines)[0].data, "utf-8"))
        else:
            out.flush()
            write_utf8(_bytes(lines)[0].tobytes())
