"""Where the exports live: a folder of files, a DuckDB database file, or a SQL database.

:func:`open_tables` turns the ``--data`` argument into a :class:`Tables`: something that
lists the tables it holds and hands out each as a DuckDB relation, which
:mod:`healthscore.storage` then maps onto the contract. Three kinds:

* a folder of ``<name>.parquet`` / ``<name>.csv`` / ``<name>.csv.gz`` files, scanned lazily
  by DuckDB (CSV is read as text; the typed views parse it). A CSV file is read in the
  encoding its ``[data.tables.<table>] encoding`` names, else the one its byte-order mark
  shows, else UTF-8; other encodings than UTF-8 are converted to a temporary UTF-8 copy once
  per process. Each CSV file is read through once when first asked for, so that a wrong
  encoding, stray bytes or a malformed line is one clear error naming the file and line
  instead of a failure deep inside a later query. A column name that appears twice in a
  file's header is an error too: nothing silently picks one of them;
* a DuckDB database file (``.duckdb``, ``.ddb``, ``.db``), attached read-only and also
  scanned lazily; a table may be named ``schema.table``;
* any SQLAlchemy URL (``postgresql://user@host:5432/db``, ``mysql+pymysql://...``): each
  table the config asks for is read once, in chunks, into the DuckDB connection, with
  column types taken from the database's own. ``postgresql://`` uses the ``psycopg``
  driver. No DuckDB extension is needed, so nothing is downloaded at run time.
"""

from __future__ import annotations

import atexit
import codecs
import functools
import gzip
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, cast

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from healthscore.errors import SchemaError
from healthscore.mapping import source_name
from healthscore.redaction import redact_url, scrub
from healthscore.schema import TABLES
from healthscore.sql import literal, quote

if TYPE_CHECKING:
    import duckdb

    from healthscore.config import DataConfig

SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")
DATABASE_SUFFIXES: tuple[str, ...] = (".duckdb", ".ddb", ".db")
CHUNK_ROWS = 100_000
CHUNK_BYTES = 1 << 22
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):/+(?P<rest>.*)$")
#: Byte-order marks, longest first (a UTF-32 LE mark starts like a UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Encodings DuckDB reads itself (it skips a UTF-8 byte-order mark).
_NATIVE = frozenset({"utf-8", "utf-8-sig"})
_ENCODING_HINT = '"latin-1" (or "cp1252", "utf-16", ...)'


@dataclass(frozen=True)
class FileOptions:
    """How to read the export file of one contract table: its name for messages, its encoding."""

    table: str
    encoding: str | None = None


def read_options(data: DataConfig) -> dict[str, FileOptions]:
    """The :class:`FileOptions` of each contract table's export, keyed by file stem."""
    options: dict[str, FileOptions] = {}
    for table in TABLES:
        mapping = data.tables.get(table)
        encoding = mapping.encoding if mapping is not None else None
        options[source_name(data, table)] = FileOptions(table, encoding)
    return options


def _open_bytes(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def bom_encoding(path: Path) -> str | None:
    """The encoding a byte-order mark at the start of ``path`` announces, if there is one."""
    try:
        with _open_bytes(path) as raw:
            head = raw.read(4)
    except OSError as exc:  # a damaged .gz, an unreadable file
        raise SchemaError(f"cannot read {path}: {_first_line(exc)}") from None
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding
    return None


@functools.cache
def _scratch() -> Path:
    """A temporary folder for UTF-8 copies, removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="healthscore-text-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


_UTF8_COPIES: dict[tuple[str, int, int, str], Path] = {}
_READ_THROUGH: set[tuple[str, int, int, str]] = set()


def _file_key(path: Path, detail: str) -> tuple[str, int, int, str]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns, detail)


def utf8_copy(path: Path, encoding: str, table: str) -> Path:
    """A UTF-8 copy of the text file ``path`` written in ``encoding`` (made once per process).

    Raises :class:`SchemaError` naming the line where the bytes are not ``encoding``.
    """
    key = _file_key(path, encoding)
    if key in _UTF8_COPIES and _UTF8_COPIES[key].is_file():
        return _UTF8_COPIES[key]
    target = _scratch() / f"{len(_UTF8_COPIES)}-{path.name.split('.')[0]}.csv"
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    try:
        with _open_bytes(path) as raw, target.open("w", encoding="utf-8", newline="") as out:
            while chunk := raw.read(CHUNK_BYTES):
                text = decoder.decode(chunk)
                line += text.count("\n")
                out.write(text)
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        target.unlink(missing_ok=True)
        line += exc.object[: exc.start].decode(encoding, errors="replace").count("\n")
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise SchemaError(
            f"{path} (table '{table}'): byte 0x{bad} near line {line} is not {encoding} text; "
            f"name the file's encoding in the config: [data.tables.{table}] encoding = "
            f"{_ENCODING_HINT}"
        ) from None
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise SchemaError(f"cannot read {path}: {_first_line(exc)}") from None
    _UTF8_COPIES[key] = target
    return target


def _csv_failure(path: Path, table: str, encoding: str, exc: Exception) -> SchemaError:
    """The error for a CSV file DuckDB could not read: which line, what is wrong, the fix."""
    text = str(exc)
    found = re.search(r"CSV Error on Line: (\d+)", text)
    where = f"{path} (table '{table}')" + (f", line {found.group(1)}" if found else "")
    if re.search(r"unicode|not utf-8|encoded", text, re.IGNORECASE):
        return SchemaError(
            f"{where}: the text is not valid {encoding}; if the file was saved in another "
            f"encoding, name it in the config: [data.tables.{table}] encoding = {_ENCODING_HINT}"
        )
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        detail = f"{columns.group(2)} values where the header has {columns.group(1)} columns"
    elif re.search(r"unterminated quote", text, re.IGNORECASE):
        detail = "a quoted value that is never closed"
    elif "sniffing" in text:
        detail = (
            "its delimiter, quoting and header could not be detected; is it a CSV text "
            "file (no stray binary bytes)?"
        )
    else:
        detail = re.sub(r"^[A-Za-z ]*Error: ", "", _first_line(exc))
    return SchemaError(f"{where} cannot be read as CSV: {detail}; fix or remove it in the export")


def _check_unique_names(names: list[str], where: str | Path, table: str) -> None:
    """Raise :class:`SchemaError` if a column name appears twice (ignoring case, like SQL)."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        positions.setdefault(name.strip().lower(), []).append(i)
    repeated = {n: p for n, p in positions.items() if len(p) > 1}
    if repeated:
        shown = "; ".join(
            f"{names[p[0] - 1]!r} in columns {', '.join(map(str, p))}" for p in repeated.values()
        )
        raise SchemaError(
            f"{where} (table '{table}'): a column name appears more than once "
            f"({shown}; names are compared ignoring case); rename or remove the extra column "
            "in the export, so that it is clear which one holds the data"
        )


class Tables(Protocol):
    """The tables of one data source, as DuckDB relations."""

    origin: str

    def names(self) -> list[str]:
        """Every table name the source holds (file stems, or database tables)."""
        ...

    def relation(self, name: str) -> str | None:
        """A DuckDB relation (SQL) reading table ``name``, or None if there is none."""
        ...

    def columns(self, name: str) -> list[str]:
        """The column names of table ``name`` (without reading its rows)."""
        ...

    def distinct_values(self, name: str, column: str, limit: int = 20) -> list[str]:
        """Up to ``limit`` distinct non-empty values of one column, as text."""
        ...


class _DuckDBColumns(ABC):
    """``columns`` and ``distinct_values`` for sources scanned by DuckDB itself."""

    con: duckdb.DuckDBPyConnection

    @abstractmethod
    def relation(self, name: str) -> str | None:
        """A DuckDB relation (SQL) reading table ``name``, or None if there is none."""

    def columns(self, name: str) -> list[str]:
        relation = self.relation(name)
        if relation is None:
            return []
        return [r[0] for r in self.con.sql(f"DESCRIBE SELECT * FROM {relation}").fetchall()]

    def distinct_values(self, name: str, column: str, limit: int = 20) -> list[str]:
        relation = self.relation(name)
        if relation is None:
            return []
        rows = self.con.execute(
            f"SELECT DISTINCT CAST({quote(column)} AS VARCHAR) AS v FROM {relation} "
            f"WHERE {quote(column)} IS NOT NULL ORDER BY v LIMIT {int(limit)}"
        ).fetchall()
        return [str(r[0]) for r in rows if str(r[0]).strip()]


def database_url(data: str | Path) -> str | None:
    """``data`` as a SQLAlchemy URL if it is one, else None.

    A URL that went through ``pathlib.Path`` lost one slash of ``//``; it is restored.
    ``postgres://`` and ``postgresql://`` get the ``psycopg`` driver.

    Examples
    --------
    >>> database_url("postgresql://me@127.0.0.1:5432/crm")
    'postgresql+psycopg://me@127.0.0.1:5432/crm'
    >>> database_url("data/exports") is None
    True
    """
    text = str(data)
    match = _URL.match(text)
    if match is None:
        return None
    scheme, rest = match.group("scheme"), match.group("rest")
    if scheme.lower() in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    if scheme.lower().startswith("sqlite"):
        if text.startswith(f"{match.group('scheme')}:///"):
            return scheme + text[len(match.group("scheme")) :]
        # "sqlite:///x.db" after Path: relative, unless "/x.db" exists.
        return f"{scheme}:///{'/' if Path('/' + rest).exists() else ''}{rest}"
    return f"{scheme}://{rest}"


@dataclass
class FolderTables(_DuckDBColumns):
    """A folder with one file per table.

    A CSV file's dialect and header are sniffed once, when the table is first asked for, and
    written into its relation: DuckDB would otherwise sniff the file again for every query.
    """

    con: duckdb.DuckDBPyConnection
    directory: Path
    origin: str = ""
    files: Mapping[str, FileOptions] = field(default_factory=dict)
    _relations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.origin = self.origin or str(self.directory)

    def _file(self, name: str) -> Path | None:
        for suffix in SUFFIXES:
            candidate = self.directory / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
        return None

    def names(self) -> list[str]:
        found = []
        for path in sorted(self.directory.iterdir()):
            for suffix in SUFFIXES:
                if path.is_file() and path.name.endswith(suffix) and not path.name.startswith("."):
                    found.append(path.name[: -len(suffix)])
                    break
        return list(dict.fromkeys(found))

    def relation(self, name: str) -> str | None:
        if name not in self._relations:
            path = self._file(name)
            if path is None:
                return None
            options = self.files.get(name, FileOptions(name))
            if path.suffix == ".parquet":
                self._check_parquet_names(path, options.table)
                self._relations[name] = f"read_parquet({literal(str(path))})"
            else:
                self._relations[name] = self._csv(path, options)
        return self._relations[name]

    def _check_parquet_names(self, path: Path, table: str) -> None:

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises several error types for a damaged file
            raise SchemaError(
                f"{path} (table '{table}') is not a readable Parquet file: {_first_line(exc)}"
            ) from None
        _check_unique_names(names, path, table)

    def _csv(self, path: Path, options: FileOptions) -> str:
        """``read_csv`` of ``path`` with every column as text and the dialect spelled out.

        The file is decoded as :class:`FileOptions` says (else by its byte-order mark, else
        as UTF-8), its header checked for repeated names, and read through once.
        """
        encoding = options.encoding or bom_encoding(path) or "utf-8"
        readable = path
        if codecs.lookup(encoding).name not in _NATIVE:
            readable = utf8_copy(path, encoding, options.table)
        file = literal(str(readable))
        try:
            delim, quote_char, escape, skip, columns = self.con.execute(
                f"SELECT Delimiter, Quote, Escape, SkipRows, Columns "
                f"FROM sniff_csv({file}, header=true, all_varchar=true)"
            ).fetchall()[0]
        except Exception:  # an unusual file: let read_csv sniff it on every read
            relation = f"read_csv({file}, header=true, all_varchar=true)"
        else:
            empty = ("", "(empty)")
            quote_char = '"' if quote_char in empty else quote_char
            escape = '"' if escape in empty else escape
            dialect = (
                f"auto_detect=false, delim={literal(delim)}, quote={literal(quote_char)}, "
                f"escape={literal(escape)}, skip={int(skip)}"
            )
            self._check_csv_header(file, dialect, len(columns), path, options.table, encoding)
            names = ", ".join(f"{literal(c['name'])}: 'VARCHAR'" for c in columns)
            relation = f"read_csv({file}, header=true, {dialect}, columns={{{names}}})"
        self._read_through(relation, path, options.table, encoding)
        return relation

    def _check_csv_header(
        self, file: str, dialect: str, width: int, path: Path, table: str, encoding: str
    ) -> None:
        """Fail if the header row names a column twice (DuckDB would rename one silently)."""
        placeholders = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
        try:
            header = self.con.execute(
                f"SELECT * FROM read_csv({file}, header=false, {dialect}, "
                f"columns={{{placeholders}}}) LIMIT 1"
            ).fetchall()
        except Exception as exc:  # duckdb raises several error types for a broken file
            raise _csv_failure(path, table, encoding, exc) from None
        if header:
            _check_unique_names([str(v or "") for v in header[0]], path, table)

    def _read_through(self, relation: str, path: Path, table: str, encoding: str) -> None:
        """Read every value of the file once (once per process), so that a bad byte or a
        malformed line fails here, with the file and line, rather than in a later query."""
        key = _file_key(path, relation)
        if key in _READ_THROUGH:
            return
        try:
            self.con.execute(f"SELECT count(COLUMNS(*)) FROM {relation}").fetchall()
        except Exception as exc:  # duckdb raises several error types for a broken file
            raise _csv_failure(path, table, encoding, exc) from None
        _READ_THROUGH.add(key)


@dataclass
class DuckDBFileTables(_DuckDBColumns):
    """A DuckDB database file, attached read-only."""

    con: duckdb.DuckDBPyConnection
    path: Path
    origin: str = ""
    alias: str = "_hs_db"

    def __post_init__(self) -> None:
        self.origin = self.origin or str(self.path)
        try:
            self.con.execute(f"ATTACH {literal(str(self.path))} AS {quote(self.alias)} (READ_ONLY)")
        except Exception as exc:  # duckdb raises several error types here
            raise SchemaError(
                f"cannot open {self.path} as a DuckDB database ({_first_line(exc)}); for a "
                f"SQLite file pass its URL, sqlite:///{self.path}"
            ) from None

    def _tables(self) -> list[tuple[str, str]]:
        rows = self.con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = $db "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = $db AND NOT internal ORDER BY 1, 2",
            {"db": self.alias},
        ).fetchall()
        return [(str(s), str(t)) for s, t in rows]

    def names(self) -> list[str]:
        return [t if s == "main" else f"{s}.{t}" for s, t in self._tables()]

    def relation(self, name: str) -> str | None:
        found = _match(name, self._tables())
        if found is None:
            return None
        schema, table = found
        return f"{quote(self.alias)}.{quote(schema)}.{quote(table)}"


def _match(
    name: str, tables: list[tuple[str, str]], default_schema: str = "main"
) -> tuple[str, str] | None:
    """The ``(schema, table)`` called ``name`` (``table`` or ``schema.table``; exact, then
    ignoring case)."""
    schema, _, table = name.rpartition(".")
    wanted = (schema, table) if schema else None
    for exact in (True, False):
        for s, t in tables:
            same_table = t == table if exact else t.lower() == table.lower()
            if not same_table:
                continue
            if wanted is None and s == default_schema:
                return s, t
            if wanted is not None and (s == schema if exact else s.lower() == schema.lower()):
                return s, t
    if wanted is None:
        others = [(s, t) for s, t in tables if t.lower() == table.lower()]
        if len(others) == 1:
            return others[0]
    return None


def _duckdb_type(sql_type: object) -> str:
    """The DuckDB column type for a SQLAlchemy column type."""
    if isinstance(sql_type, sa.Boolean):
        return "BOOLEAN"
    if isinstance(sql_type, sa.Integer):
        return "BIGINT"
    if isinstance(sql_type, sa.Numeric):  # Float is a Numeric too
        return "DOUBLE"
    if isinstance(sql_type, sa.DateTime):
        return "TIMESTAMPTZ" if getattr(sql_type, "timezone", False) else "TIMESTAMP"
    if isinstance(sql_type, sa.Date):
        return "DATE"
    return "VARCHAR"


@dataclass
class SqlTables:
    """A database reached through SQLAlchemy; tables are copied into DuckDB when asked for."""

    con: duckdb.DuckDBPyConnection
    url: str
    origin: str = ""
    _fetched: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:

        self.origin = self.origin or redact_url(self.url)
        try:
            connect_args = {}
            if self.url.startswith("postgresql"):
                connect_args = {"options": "-c TimeZone=UTC"}
            self.engine = sa.create_engine(self.url, connect_args=connect_args)
            self.inspector = sa.inspect(self.engine)
            self.default_schema = self.inspector.default_schema_name or ""
        except Exception as exc:  # driver and connection errors come in many types
            detail = scrub(_first_line(exc), self.url)
            raise SchemaError(f"cannot connect to {self.origin}: {detail}") from None

    def _tables(self) -> list[tuple[str, str]]:
        schema = self.default_schema
        names = self.inspector.get_table_names() + self.inspector.get_view_names()
        return [(schema, n) for n in sorted(set(names))]

    def names(self) -> list[str]:
        return [t for _, t in self._tables()]

    def relation(self, name: str) -> str | None:
        schema, _, table = name.rpartition(".")
        tables = self._tables()
        if schema:
            tables += [(schema, t) for t in self.inspector.get_table_names(schema=schema)]
        found = _match(name, tables, self.default_schema)
        if found is None:
            return None
        if found not in self._fetched:
            self._fetched[found] = self._fetch(*found)
        return quote(self._fetched[found])

    def _fetch(self, schema: str, table: str) -> str:

        target = f"_hs_sql_{len(self._fetched)}"
        reflected = sa.Table(table, sa.MetaData(), schema=schema or None, autoload_with=self.engine)
        _check_unique_names(
            [c.name for c in reflected.columns], f"{self.origin} {schema}.{table}", table
        )
        columns = ", ".join(f"{quote(c.name)} {_duckdb_type(c.type)}" for c in reflected.columns)
        self.con.execute(f"CREATE TEMP TABLE {quote(target)} ({columns})")
        with self.engine.connect().execution_options(stream_results=True) as connection:
            for chunk in pd.read_sql_query(
                sa.select(reflected), connection, chunksize=CHUNK_ROWS, coerce_float=True
            ):
                self.con.register("_hs_chunk", chunk)
                try:
                    self.con.execute(f"INSERT INTO {quote(target)} SELECT * FROM _hs_chunk")
                finally:
                    self.con.unregister("_hs_chunk")
        return target

    def columns(self, name: str) -> list[str]:
        schema, _, table = name.rpartition(".")
        found = _match(
            name, self._tables() + ([(schema, table)] if schema else []), self.default_schema
        )
        if found is None:
            return []
        return [c["name"] for c in self.inspector.get_columns(found[1], schema=found[0] or None)]

    def distinct_values(self, name: str, column: str, limit: int = 20) -> list[str]:

        schema, _, table = name.rpartition(".")
        found = _match(
            name, self._tables() + ([(schema, table)] if schema else []), self.default_schema
        )
        if found is None:
            return []
        reflected = sa.Table(
            found[1], sa.MetaData(), schema=found[0] or None, autoload_with=self.engine
        )
        col = reflected.c[column]
        query = sa.select(col).where(col.is_not(None)).distinct().order_by(col).limit(limit)
        with self.engine.connect() as connection:
            values = [row[0] for row in connection.execute(query)]
        return [str(v) for v in values if str(v).strip()]

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def open_tables(
    data: str | Path,
    con: duckdb.DuckDBPyConnection,
    *,
    files: Mapping[str, FileOptions] | None = None,
) -> Tables:
    """The tables behind ``--data``: a folder, a DuckDB file or a SQLAlchemy URL.

    ``files`` says how to read a folder's files (see :func:`read_options`). Raises
    :class:`~healthscore.errors.SchemaError` when there is nothing to read there.
    """
    url = database_url(data)
    if url is not None:
        return SqlTables(con, url)
    path = Path(data)
    if path.is_dir():
        return FolderTables(con, path, files=dict(files or {}))
    if path.is_file() and path.suffix.lower() in DATABASE_SUFFIXES:
        return DuckDBFileTables(con, path)
    if path.exists():
        raise SchemaError(
            f"data {path} is neither a folder of exports nor a DuckDB database file "
            f"({', '.join(DATABASE_SUFFIXES)})"
        )
    raise SchemaError(f"data folder {path} does not exist")
