"""Command-line interface: ``healthscore <command> --help`` documents each command.

One module per command, named after it; each registers itself on the app when imported.
"""

from healthscore.cli import alerts as _alerts  # noqa: F401
from healthscore.cli import build as _build  # noqa: F401
from healthscore.cli import demo as _demo  # noqa: F401
from healthscore.cli import explain as _explain  # noqa: F401
from healthscore.cli import features as _features  # noqa: F401
from healthscore.cli import generate as _generate  # noqa: F401
from healthscore.cli import init as _init  # noqa: F401
from healthscore.cli import kpis as _kpis  # noqa: F401
from healthscore.cli import monitor as _monitor  # noqa: F401
from healthscore.cli import outcomes as _outcomes  # noqa: F401
from healthscore.cli import report as _report  # noqa: F401
from healthscore.cli import score as _score  # noqa: F401
from healthscore.cli import train as _train  # noqa: F401
from healthscore.cli import validate as _validate  # noqa: F401
from healthscore.cli.app import app, main, run

__all__ = ["app", "main", "run"]
