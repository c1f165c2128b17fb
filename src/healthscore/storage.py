"""The one module that reads and writes tables; :mod:`healthscore.sources` finds the inputs.

Input tables are exposed as typed DuckDB views with the contract's column names, whatever the
user's files are called, so every later step reads one shape: ``SELECT ... FROM logins``. The
views are lazy: a 50-million-row login log is scanned by DuckDB when a query needs it, never
loaded into pandas whole. Outputs are written atomically (temporary file, then rename) so an
interrupted run never leaves a half-written file in place of a good one; a file that cannot
be written (read-only folder, full disk) is an :class:`~healthscore.errors.OutputError`, and
:func:`check_writable` finds that out before a long step starts. CSV files written for people
have their formula-like text cells neutralised (:func:`neutralise_formulas`).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import glob
import json
import os
import re
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pandas.api.types import infer_dtype

from healthscore.config import Config, DataConfig, OutputConfig
from healthscore.csv_rows import CSV_OPTIONS, write_rows
from healthscore.errors import OutputError, SchemaError
from healthscore.i18n import Language
from healthscore.mapping import Lookup, raw_select, source_name, wanted_tables
from healthscore.people_csv import column_labels, is_label_row
from healthscore.people_csv import for_people as for_people_text
from healthscore.schema import EVENT_TABLES, TABLES
from healthscore.sources import SUFFIXES, open_tables, read_options
from healthscore.sql import quote, raw_id_twins, typed_expression


class TablePresence:
    """What a data set supplied: the tables found and their columns, whichever engine reads
    them. The feature families ask only these questions, so DuckDB and Spark sources answer
    them alike."""

    present: frozenset[str]
    columns: dict[str, tuple[str, ...]]

    def has(self, table: str) -> bool:
        """Whether the optional ``table`` was supplied."""
        return table in self.present

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` was supplied with ``column`` (optional columns may be absent)."""
        return column in self.columns.get(table, ())


@dataclass
class DataSource(TablePresence):
    """The input tables of one data set, as typed DuckDB views.

    ``raw_<table>`` holds the user's columns as found (after renaming), ``<table>`` the typed
    view every step reads. ``present`` names the tables found; ``data_end`` is the exclusive
    end of the observed history: nothing at or after it has happened yet.
    """

    con: duckdb.DuckDBPyConnection
    present: frozenset[str]
    data_end: pd.Timestamp
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    origin: str = "data"
    #: Derived relations computed once per source (e.g. the contract terms), by name.
    memo: dict[str, object] = field(default_factory=dict, repr=False)

    def table(self, name: str) -> pd.DataFrame:
        """The typed table as a pandas DataFrame (use for small tables only)."""
        if name not in self.present:
            raise SchemaError(f"{self.origin}: table '{name}' is not present")
        return self.con.sql(f"SELECT * FROM {quote(name)}").df()

    def scalar(self, sql: str, params: Mapping[str, object] | None = None) -> Any:
        """Run a query that returns one value, and return it."""
        return self.con.execute(sql, dict(params or {})).fetchall()[0][0]

    def query(self, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Run a parameterised query over the views and return a DataFrame."""
        return self.con.execute(sql, dict(params or {})).df()


def find_table_file(directory: Path, stem: str) -> Path | None:
    """The file holding table ``stem`` in ``directory``, preferring Parquet over CSV."""
    for suffix in SUFFIXES:
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


#: Prefix of the folders DuckDB spills into: ``<prefix><pid>-<random>`` under the temp base.
SPILL_PREFIX = "healthscore-duckdb-"


def machine_memory_bytes() -> int | None:
    """Memory this process may use: the machine's, or the container's limit when lower."""
    limits = []
    with contextlib.suppress(OSError, ValueError, AttributeError):
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            text = Path(path).read_text().strip()
            if text.isdigit() and int(text) < 1 << 60:
                limits.append(int(text))
    return min(limits) if limits else None


def default_memory_limit() -> str | None:
    """Half of :func:`machine_memory_bytes` (at least 256 MB), as a DuckDB size."""
    total = machine_memory_bytes()
    if total is None:
        return None
    return f"{max(total // 2, 256 * 2**20) // 2**20}MiB"


def _remove_stale_spill_folders(base: Path) -> None:
    """Remove spill folders left by healthscore processes that no longer run (killed runs)."""
    with contextlib.suppress(OSError):
        for folder in base.glob(f"{SPILL_PREFIX}*"):
            pid = folder.name.removeprefix(SPILL_PREFIX).split("-", 1)[0]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(folder, ignore_errors=True)
            except OSError:  # alive, under another user
                continue


def _connect(config: Config | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the memory limit, spill folder and threads of ``[engine]``.

    DuckDB spills into a folder of its own under ``engine.temp_directory`` (default: the
    system temp directory), never into the working directory. The folder is created only
    when DuckDB spills, removed when the connection closes, and removed at the next start
    if the process was killed.
    """
    engine = (config or Config()).engine
    base = Path(engine.temp_directory or tempfile.gettempdir())
    _remove_stale_spill_folders(base)
    spill = base / f"{SPILL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
    settings: dict[str, str | bool | int | float | list[str]] = {"temp_directory": str(spill)}
    memory_limit = engine.memory_limit or default_memory_limit()
    if memory_limit is not None:
        settings["memory_limit"] = memory_limit
    if engine.threads is not None:
        settings["threads"] = engine.threads
    con = duckdb.connect(config=settings)
    weakref.finalize(con, shutil.rmtree, spill, ignore_errors=True)
    con.execute("SET TimeZone = 'UTC'")
    # In a notebook kernel without widgets DuckDB refuses the setting; the bar is off there.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    return con


def _define_views(
    con: duckdb.DuckDBPyConnection,
    relations: Mapping[str, str],
    data_config: DataConfig,
    origin: str,
    missing_columns: dict[str, list[str]] | None = None,
    lookup: Lookup | None = None,
) -> dict[str, tuple[str, ...]]:
    """Create ``raw_<table>`` and typed ``<table>`` views; return each table's columns.

    ``raw_<table>`` is the export with the config's mapping applied (renames, joins,
    derivations: see :mod:`healthscore.mapping`); ``lookup`` finds the other tables that a
    join names. A table lacking required columns raises :class:`SchemaError`, unless
    ``missing_columns`` is given: then the gaps are recorded there (for a report of every
    problem at once) and the table gets no typed view.
    """
    columns: dict[str, tuple[str, ...]] = {}
    for name, relation in relations.items():
        spec = TABLES[name]
        raw = quote("raw_" + name)
        select = raw_select(
            con, name, relation, data_config, lookup or (lambda _: None), origin=origin
        )
        con.execute(f"CREATE OR REPLACE VIEW {raw} AS {select}")
        described = con.sql(f"DESCRIBE SELECT * FROM {raw}").fetchall()
        present = tuple(row[0] for row in described)
        types_found = {row[0]: str(row[1]) for row in described}
        missing = [c for c in spec.required_columns if c not in present]
        if missing and missing_columns is not None:
            missing_columns[name] = missing
            continue
        if missing:
            raise SchemaError(
                f"{origin}: table '{name}' lacks required column(s) {', '.join(missing)}; "
                f"found {', '.join(present)}. Rename them in the [data.tables.{name}.columns] "
                "section of the config if they exist under other names, or take them from "
                f"another table ([data.tables.{name}.join]) or derive them "
                f"([data.tables.{name}.derive])."
            )
        typed = []
        contract_names = {c.name for c in spec.columns}
        for col in spec.columns:
            if col.name in present:
                expr = typed_expression(quote(col.name), col, types_found[col.name])
                typed.append(f"{expr} AS {quote(col.name)}")
        typed += [quote(c) for c in present if c not in contract_names]
        typed += raw_id_twins(spec, present)
        con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS SELECT {', '.join(typed)} FROM {raw}")
        columns[name] = present
    return columns


def infer_data_end(con: duckdb.DuckDBPyConnection, present: frozenset[str]) -> pd.Timestamp:
    """The day after the latest recorded activity: the exclusive end of the history."""
    parts = ["SELECT max(created_at) AS t FROM accounts", "SELECT max(start_date) FROM contracts"]
    for name in EVENT_TABLES:
        if name in present:
            parts.append(f"SELECT max({TABLES[name].event_time}) FROM {name}")
    latest = con.sql(" UNION ALL ".join(parts)).df().iloc[:, 0].max()
    if pd.isna(latest):
        raise SchemaError("data: no parseable dates in accounts or contracts; is the data empty?")
    return pd.Timestamp(latest).normalize() + pd.Timedelta(days=1)


def _finish(
    con: duckdb.DuckDBPyConnection,
    relations: Mapping[str, str],
    data_config: DataConfig,
    origin: str,
    missing_columns: dict[str, list[str]] | None = None,
    lookup: Lookup | None = None,
) -> DataSource:
    missing = [n for n, s in TABLES.items() if s.required and n not in relations]
    if missing and missing_columns is None:
        raise SchemaError(
            f"{origin}: required table(s) {', '.join(missing)} not found "
            f"(expected files like {missing[0]}.parquet or {missing[0]}.csv)"
        )
    columns = _define_views(con, relations, data_config, origin, missing_columns, lookup)
    present = frozenset(columns)
    if missing_columns is not None and not {"accounts", "contracts"} <= present:
        return DataSource(con, present, pd.NaT, columns, origin)
    if data_config.end is not None:
        data_end = pd.Timestamp(data_config.end).normalize()
    else:
        data_end = infer_data_end(con, present)
    return DataSource(con, present, data_end, columns, origin)


def open_source(
    path: str | Path,
    config: Config | None = None,
    *,
    missing_columns: dict[str, list[str]] | None = None,
) -> DataSource:
    """Open the input tables as a :class:`DataSource`.

    ``path`` is a folder of ``<table>.parquet`` / ``<table>.csv`` files, a DuckDB database
    file (``.duckdb``), or a SQLAlchemy URL such as ``postgresql://user@host:5432/db`` (see
    :mod:`healthscore.sources`); the config's ``[data.tables]`` section maps the names found
    there onto the contract. With ``missing_columns`` (used by validation), missing tables
    and columns are recorded there instead of raised, so that every problem can be reported
    at once.
    """
    data_config = (config or Config()).data
    con = _connect(config)
    tables = open_tables(path, con, files=read_options(data_config))
    relations: dict[str, str] = {}
    for name, must_exist in wanted_tables(data_config).items():
        stem = source_name(data_config, name)
        relation = tables.relation(stem)
        if relation is not None:
            relations[name] = relation
        elif must_exist and not TABLES[name].required:
            raise SchemaError(
                f"{tables.origin}: table '{name}' is listed in data.optional_tables but "
                f"'{stem}' was not found; found: {', '.join(tables.names()) or 'nothing'}"
            )
    return _finish(
        con, relations, data_config, tables.origin, missing_columns, lookup=tables.relation
    )


def source_from_frames(
    frames: Mapping[str, pd.DataFrame],
    config: Config | None = None,
    *,
    data_end: str | pd.Timestamp | None = None,
    missing_columns: dict[str, list[str]] | None = None,
) -> DataSource:
    """Wrap in-memory DataFrames (tests, the simulator) as a :class:`DataSource`."""
    data_config = (config or Config()).data
    if data_end is not None:
        data_config = data_config.model_copy(update={"end": str(pd.Timestamp(data_end).date())})
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise SchemaError(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(TABLES)}")
    con = _connect(config)
    relations = {}
    for name, frame in frames.items():
        con.register(f"_frame_{name}", frame)
        relations[name] = quote(f"_frame_{name}")
    wanted = wanted_tables(data_config)
    used = {name: rel for name, rel in relations.items() if name in wanted}
    return _finish(con, used, data_config, "data", missing_columns, lookup=relations.get)


#: Suffixes :func:`write_frame` knows how to write.
FRAME_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")
#: A text cell starting with one of these runs as a formula in a spreadsheet (OWASP, "CSV
#: injection"); optional leading quotes are matched so that neutralising can be undone exactly.
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")
#: What :func:`pandas.api.types.infer_dtype` says of a column of text and missing values.
_ALL_TEXT = ("string", "empty")
_SPACE_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up"}
_REASONS = {
    **_SPACE_REASONS,
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def cannot_write(target: str | Path, exc: OSError) -> str:
    """One line saying why ``target`` could not be written and what to do about it."""
    reason = _REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    fix = (
        "free some space or write elsewhere"
        if exc.errno in _SPACE_REASONS
        else "choose a location you can write to"
    )
    return f"cannot write {target}: {reason}; {fix}"


def check_writable(
    target: str | Path, *, folder: bool = False, suffixes: tuple[str, ...] = ()
) -> Path:
    """Raise :class:`OutputError` unless ``target`` can be written; create nothing.

    ``target`` is a file (``folder=False``) whose name must end in one of ``suffixes`` if
    given, or a folder. Folders that do not exist yet are fine if the nearest existing one
    above them is writable. Call it before a long step, so that a read-only output folder
    fails in a second rather than after the work.
    """
    target = Path(target)
    if not folder and target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder; give a file name")
    if suffixes and not target.name.lower().endswith(suffixes):
        raise OutputError(f"cannot write {target}: use a {' or '.join(suffixes)} file name")
    if folder and target.exists() and not target.is_dir():
        raise OutputError(f"cannot write into {target}: it is a file, not a folder")
    existing = target if folder else target.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write {target}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".healthscore-check-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(cannot_write(target, exc)) from exc
    return target


def _file_mode() -> int:
    """The mode the user's umask gives a new file (``0o644`` under the usual ``022``).

    ``mkstemp`` creates its file readable by the owner only; an output is meant for a team (a
    shared drive, a CRM import), so it gets the permissions a plain ``open`` would give it.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success only.

    The file gets the permissions the user's umask gives a new file, not the owner-only mode
    of a temporary file.

    An ``OSError`` while writing (read-only folder, full disk) becomes an
    :class:`OutputError` naming ``target``; the temporary file is removed either way. The
    temporary name carries the writer's process id, so the hidden leftovers of a run that
    was killed (``.<name>.<pid>.*.tmp``) are removed by the next write of the same file.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent
        )
        os.close(fd)
    except OSError as exc:
        raise OutputError(cannot_write(target, exc)) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(cannot_write(target, exc)) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _remove_leftovers(target: Path) -> None:
    """Remove temporary files of ``target`` left by writers whose process no longer runs."""
    prefix = f".{target.name}."
    for leftover in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = leftover.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                leftover.unlink()


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _map_text(
    frame: pd.DataFrame, pattern: re.Pattern[str], change: Callable[[str], str]
) -> pd.DataFrame:
    """A copy of ``frame`` with ``change`` applied to every text cell and column name that
    ``pattern`` matches at its start.

    A column of text (of the text dtype, or of Python objects that are all text or missing)
    is searched as a whole and only its matching cells (few, in practice) are changed; any
    other column of Python objects goes cell by cell, as it may hold other values than text,
    which the copy turns into the dtype they infer, as before.
    """

    def fix(value: object) -> object:
        return change(value) if isinstance(value, str) and pattern.match(value) else value

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.cat.rename_categories(fix)
        elif isinstance(column.dtype, pd.StringDtype) or infer_dtype(column) in _ALL_TEXT:
            out[name] = _change_matches(column, pattern, change)
        elif pd.api.types.is_string_dtype(column.dtype):
            out[name] = column.map(fix).astype(column.dtype)
    out.columns = [fix(c) for c in out.columns]
    return out


def _change_matches(
    column: pd.Series, pattern: re.Pattern[str], change: Callable[[str], str]
) -> pd.Series:
    """``column`` (of text) with ``change`` applied to the cells ``pattern`` matches."""
    text = column if isinstance(column.dtype, pd.StringDtype) else column.astype("str")
    hit = text.str.match(pattern.pattern).fillna(False).to_numpy(dtype=bool)
    if not hit.any():
        return column
    changed = column.copy()
    changed[hit] = [change(value) for value in column[hit]]
    return changed


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells a spreadsheet will not run as formulas.

    A text cell (or column name) starting with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets a leading single quote, as OWASP advises against CSV injection;
    so does one that already starts with quotes followed by such a character, which makes
    :func:`restore_formulas` its exact inverse. Numeric, boolean and date columns are left
    as they are.

    Examples
    --------
    >>> safe = neutralise_formulas(pd.DataFrame({"id": ["=1+2", "A1"], "arr": [-5.0, 3.0]}))
    >>> safe["id"].tolist(), safe["arr"].tolist()
    (["'=1+2", 'A1'], [-5.0, 3.0])
    """
    return _map_text(frame, _FORMULA, lambda v: "'" + v)


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas`: text as it was before it was written for people."""
    return _map_text(frame, _NEUTRALISED, lambda v: v[1:])


def _write_csv(
    frame: pd.DataFrame,
    path: Path,
    *,
    for_people: bool,
    encoding: str = "utf-8",
    labels: list[str] | None = None,
) -> None:
    """Write ``frame`` as ``to_csv`` does with :data:`~healthscore.csv_rows.CSV_OPTIONS`; the
    rows are formatted a column at a time (:func:`~healthscore.csv_rows.write_rows`)."""
    table = neutralise_formulas(frame) if for_people else frame
    with path.open("w", encoding=encoding, newline="") as out:
        if labels is not None:  # the English names, then the label row, then the rows
            pd.DataFrame([labels], columns=table.columns).to_csv(out, **CSV_OPTIONS)
        else:
            table.iloc[:0].to_csv(out, **CSV_OPTIONS)
        utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
        write_rows(table, out, write_utf8=out.buffer.write if utf8 else None)


def write_frame(
    frame: pd.DataFrame,
    target: str | Path,
    *,
    for_people: bool = True,
    output: OutputConfig | None = None,
) -> Path:
    """Write a DataFrame as Parquet or CSV (by suffix), atomically.

    CSV is a file people open in a spreadsheet, so its text cells pass through
    :func:`neutralise_formulas` (and :func:`read_frame` undoes it); ``for_people=False``
    writes them as they are, for CSV that software reads as input (the simulator's tables).
    CSV lines end in CRLF (RFC 4180). Parquet is written as it is.

    ``output`` (the config's ``[output]``) shapes a CSV for its readers: its ``encoding``
    (``utf-8-sig`` starts the file with the byte-order mark Excel needs to read UTF-8), the
    people's text of the scores in its ``locale``, and with ``header_labels`` a second header
    row naming each column in that language (:mod:`healthscore.people_csv`). Column names
    stay English.
    """
    target = Path(target)
    encoding, labels = "utf-8", None
    if output is not None and target.suffix.lower() == ".csv":
        lang = Language(output.locale, output.currency)
        frame = for_people_text(frame, lang)
        encoding = output.encoding
        if output.header_labels and not lang.english:
            labels = column_labels(frame.columns, lang)
    writers: dict[str, Callable[[Path], None]] = {
        ".parquet": lambda p: frame.to_parquet(p, index=False),
        ".csv": lambda p: _write_csv(
            frame, p, for_people=for_people, encoding=encoding, labels=labels
        ),
    }
    suffix = target.suffix.lower()
    if suffix not in writers:
        raise SchemaError(f"cannot write {target}: use a .parquet or .csv file name")
    with atomic_path(target) as tmp:
        writers[suffix](tmp)
    return target


def write_text(text: str, target: str | Path) -> Path:
    """Write a text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_tables(
    tables: Mapping[str, pd.DataFrame], directory: str | Path, *, fmt: str = "parquet"
) -> list[Path]:
    """Write each table as ``<directory>/<name>.<fmt>``; return the paths written."""
    if fmt not in ("parquet", "csv"):
        raise SchemaError(f"unknown format {fmt!r}: use parquet or csv")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_frame(frame, directory / f"{name}.{fmt}", for_people=False)
        for name, frame in tables.items()
    ]


def metadata_path(target: str | Path) -> Path:
    """Where the metadata of a derived table lives: ``<file>.meta.json`` beside it."""
    target = Path(target)
    return target.with_name(target.name + ".meta.json")


def write_frame_with_metadata(
    frame: pd.DataFrame, target: str | Path, metadata: Mapping[str, object]
) -> Path:
    """Write a derived table and its JSON metadata (config, fingerprint, version) beside it.

    The metadata is written first and the table last, each atomically: a table on disk always
    has its metadata, so a run killed in between leaves no entry that looks complete.
    """

    write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str), metadata_path(target))
    write_frame(frame, target)
    return Path(target)


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV file written by :func:`write_frame` (undoing neutralised cells)."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"{path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    # utf-8-sig reads files with and without Excel's byte-order mark alike.
    first = pd.read_csv(path, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    skip = [1] if len(first) and is_label_row(first.columns, first.iloc[0]) else None
    return restore_formulas(pd.read_csv(path, encoding="utf-8-sig", skiprows=skip))


def read_metadata(path: str | Path) -> dict[str, object]:
    """The metadata written beside ``path`` by :func:`write_frame_with_metadata`."""
    meta = metadata_path(path)
    if not meta.is_file():
        raise SchemaError(f"{meta} does not exist; was {path} written by healthscore?")
    return json.loads(meta.read_text(encoding="utf-8"))
