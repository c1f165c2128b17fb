"""Command-line interface: ``healthscore <command> --help`` documents each command."""

from healthscore.cli import byod as _byod  # noqa: F401
from healthscore.cli import data as _data  # noqa: F401  (registers its commands)
from healthscore.cli import demo as _demo  # noqa: F401
from healthscore.cli import loop as _loop  # noqa: F401
from healthscore.cli import model as _model  # noqa: F401
from healthscore.cli import retention as _retention  # noqa: F401
from healthscore.cli import scores as _scores  # noqa: F401
from healthscore.cli.app import app, main, run

__all__ = ["app", "main", "run"]
