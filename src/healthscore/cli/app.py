"""The ``healthscore`` program: one Typer app that the subcommand modules register on.

Subcommand modules only parse options, call one library function, and report. A
:class:`~healthscore.errors.HealthscoreError` becomes one clear line on stderr and exit code 1;
the traceback is shown only with ``-v``.

Everything printed is plain text: account ids, file names and messages come from the user's
data, so the consoles never read Rich markup or emoji codes, and :func:`plain` shows control
characters (terminal escapes, bidirectional overrides) as escapes instead of sending them to
the terminal. Pass data through :func:`plain`, table cells included.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.text import Text

from healthscore.config import Config, load_config
from healthscore.errors import DataError, HealthscoreError

app = typer.Typer(
    name="healthscore",
    help="Learn a customer health score from SaaS account history: churn risk, drivers, plays.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Piped or captured output is not wrapped at 80 columns: tables stay one line per row.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(highlight=False, soft_wrap=True, width=_WIDTH, markup=False, emoji=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
#: Characters a terminal acts on rather than shows: C0/C1 controls but tab and newline, DEL,
#: and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(value: object) -> Text:
    r"""``value`` as text that prints exactly as written: no markup, no emoji, no controls.

    Examples
    --------
    >>> print(plain("[/x] \x1b[31m").plain)
    [/x] \x1b[31m
    """
    return Text(_CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value)))


def check_date(param: typer.CallbackParam, value: str | None) -> str | None:
    """Typer callback of a date option (``--as-of``, ``--start``): an ISO date, or date and
    time, without a time zone; anything else is one clear error."""
    if value is None:
        return None
    option = param.opts[0] if param.opts else param.name
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        detail = "" if value in str(exc) else f" ({exc})"
        raise DataError(
            f"{option} {value!r} is not a date{detail}; give an ISO date such as 2025-12-01"
        ) from None
    if parsed.tzinfo is not None:
        raise DataError(
            f"{option} {value!r} has a time zone; give the date alone (times are UTC), "
            "e.g. 2025-12-01"
        )
    return value


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML config file (defaults apply without one).",
        exists=False,
        dir_okay=False,
    ),
]
DataOption = Annotated[
    str,
    typer.Option("--data", "-d", help="Folder of input tables, a .duckdb file, or a database URL."),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=(
            "Bundle folder, or a registry URI such as models:/healthscore-demo@champion "
            "(default: models/<project>/latest)."
        ),
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="duckdb (one machine) or spark (default: [engine] name, else duckdb).",
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Score with a model trained on other data (the output records it).",
    ),
]
LangOption = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="Language of what people read: en or ja (default: [output] locale, else en).",
    ),
]


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logs, tracebacks.")
    ] = False,
) -> None:
    """healthscore: which accounts will churn, why, and what to do about it."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        _plain_warnings()


def _plain_warnings() -> None:
    """Warnings as one line each, each message once (``-v`` keeps Python's full form).

    Only healthscore's own warnings are for the user; those that libraries raise about their
    own internals (deprecations inside MLflow or SQLAlchemy) are shown with ``-v`` only.
    """
    warnings.simplefilter("once")
    own = str(Path(__file__).resolve().parents[1])

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not str(Path(filename).resolve()).startswith(own):
            return
        stream = file or sys.stderr
        stream.write(plain(f"warning: {message}").plain + "\n")

    warnings.showwarning = show


def config_from(path: Path | None, *, lang: str | None = None, engine: str | None = None) -> Config:
    """The config of a command: the file if given, else the defaults; ``--lang`` overrides
    its ``[output] locale``, ``--engine`` its ``[engine] name``."""
    config = load_config(path)
    if lang is not None:
        config = config.with_overrides(output={"locale": lang})
    if engine is not None:
        config = config.with_overrides(engine={"name": engine})
    return config


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Show a spinner with ``message`` while a long step runs (only on a terminal)."""
    if console.is_terminal:
        with console.status(plain(message)):
            yield
    else:
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program; return the exit code instead of exiting (tests call this)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        code = app(args=args, prog_name="healthscore", standalone_mode=False)
    except HealthscoreError as exc:
        if verbose:
            err_console.print_exception()
        err_console.print(Text.assemble(("error:", "bold red"), " ", plain(exc)))
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        err_console.print("aborted")
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
