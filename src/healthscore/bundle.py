"""The model bundle: everything ``score`` needs, as plain files, without a tracking server.

``models/<run_id>/`` holds the model (``model.txt`` + ``model.json``), the feature catalogue,
the config, ``metrics.json``, ``model_card.md`` and the evaluation plots; ``models/latest/``
is a copy of the newest. Bundles are written to a temporary folder and renamed into place, so
a crash never leaves a half-written bundle where a good one was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.errors import ModelError
from healthscore.model import META_FILE, HealthModel

LATEST = "latest"
METRICS_FILE = "metrics.json"
CATALOGUE_FILE = "feature_catalogue.csv"
CONFIG_FILE = "config.json"
CARD_FILE = "model_card.md"


def _jsonable(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def metrics_json(metrics: dict[str, object]) -> str:
    """Metrics as stable, sorted JSON (NaN becomes null)."""
    return json.dumps(
        {k: _jsonable(v) for k, v in metrics.items()}, indent=2, sort_keys=True, default=str
    )


def write_bundle(
    directory: str | Path,
    *,
    model: HealthModel,
    metrics: dict[str, object],
    config: Config,
    catalogue: pd.DataFrame,
    card: str,
    extras: dict[str, Path] | None = None,
) -> Path:
    """Write a complete bundle to ``directory`` atomically (temp folder, then rename)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.save(tmp)
        (tmp / METRICS_FILE).write_text(metrics_json(metrics))
        (tmp / CONFIG_FILE).write_text(config.model_dump_json(indent=2))
        catalogue.to_csv(tmp / CATALOGUE_FILE, index=False)
        (tmp / CARD_FILE).write_text(card)
        for name, source in (extras or {}).items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        _replace_dir(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return directory


def _replace_dir(new: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def publish_latest(bundle: str | Path, models_dir: str | Path) -> Path:
    """Make ``models_dir/latest`` a copy of ``bundle`` (atomically replaced)."""
    models_dir = Path(models_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".latest.", dir=models_dir))
    shutil.rmtree(tmp)
    shutil.copytree(bundle, tmp)
    _replace_dir(tmp, models_dir / LATEST)
    return models_dir / LATEST


def read_metrics(bundle: str | Path) -> dict[str, object]:
    """The ``metrics.json`` of a bundle."""
    path = Path(bundle) / METRICS_FILE
    if not path.is_file():
        raise ModelError(f"{bundle} has no {METRICS_FILE}; is it a healthscore bundle?")
    return json.loads(path.read_text())


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()
