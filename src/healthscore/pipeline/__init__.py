"""Orchestration: the steps a user runs, one module per use case, each a thin composition.

This is the only layer that sequences reading, computing and writing. The CLI calls one
function here per command (importing it when the command runs, so a light command never
loads what a heavy one needs); notebooks may call them too.

* :mod:`~healthscore.pipeline.data`: ``generate_data``, ``build_dataset``, ``features_table``
* :mod:`~healthscore.pipeline.train`: ``train`` (and the registry gate's re-scoring)
* :mod:`~healthscore.pipeline.score`: ``score``, ``alerts``, ``explain``
* :mod:`~healthscore.pipeline.report`: ``kpis``, ``report``
* :mod:`~healthscore.pipeline.loop`: ``outcomes``, ``monitor``, ``generate_with_actions``
* :mod:`~healthscore.pipeline.demo`: ``demo``
"""

from healthscore.pipeline.data import build_dataset, features_table, generate_data
from healthscore.pipeline.demo import DemoOutcome, demo
from healthscore.pipeline.loop import (
    SCORES_DIR,
    ActionsWorld,
    closing_the_loop,
    generate_with_actions,
    monitor,
    outcomes,
)
from healthscore.pipeline.report import kpis, report
from healthscore.pipeline.score import alerts, explain, score
from healthscore.pipeline.train import TrainOutcome, champion_test_score, train

__all__ = [
    "SCORES_DIR",
    "ActionsWorld",
    "DemoOutcome",
    "TrainOutcome",
    "alerts",
    "build_dataset",
    "champion_test_score",
    "closing_the_loop",
    "demo",
    "explain",
    "features_table",
    "generate_data",
    "generate_with_actions",
    "kpis",
    "monitor",
    "outcomes",
    "report",
    "score",
    "train",
]
