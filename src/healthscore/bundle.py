"""The model bundle: everything ``score`` needs, as plain files, without a tracking server.

``models/<project>/<run_id>/`` holds the model (``model.txt`` + ``model.json``), the feature
catalogue, the config (secrets hidden), ``metrics.json``, ``model_card.md``, the data's
``fingerprint.json`` and the evaluation plots, and ``manifest.json``: the SHA-256 of every
other file. ``models/<project>/latest`` is a symbolic link to the newest run's folder,
replaced in one atomic step, so a crash at any moment leaves either the old or the new one.

Bundles are trusted input (see docs/security.md): they are written by ``train`` on your
machine. Still, a bundle is checked before anything in it is read: a file that is missing,
truncated or edited since it was written is a clear "bundle is damaged or was edited" error,
not a crash inside LightGBM (a truncated ``model.txt`` would end the process) or a traceback
from a JSON parser. Bundles are written to a temporary folder and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from healthscore.config import Config, recordable
from healthscore.errors import ModelError
from healthscore.model import META_FILE, HealthModel

LATEST = "latest"
METRICS_FILE = "metrics.json"
CATALOGUE_FILE = "feature_catalogue.csv"
CONFIG_FILE = "config.json"
CARD_FILE = "model_card.md"
MANIFEST_FILE = "manifest.json"


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
        (tmp / CONFIG_FILE).write_text(json.dumps(recordable(config), indent=2))
        catalogue.to_csv(tmp / CATALOGUE_FILE, index=False)
        (tmp / CARD_FILE).write_text(card)
        for name, source in (extras or {}).items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        write_manifest(tmp)
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
    """Point ``models_dir/latest`` at ``bundle`` (a relative symbolic link), atomically.

    The new link is made beside the old one and renamed over it: one ``rename`` system call,
    so a reader sees the old model or the new one, never none. A ``latest`` folder left by
    an older healthscore is replaced once.
    """
    models_dir, bundle = Path(models_dir), Path(bundle)
    latest = models_dir / LATEST
    link = models_dir / f".{LATEST}.{os.getpid()}.tmp"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(bundle.resolve(), models_dir.resolve()))
    if latest.is_dir() and not latest.is_symlink():
        shutil.rmtree(latest)
    os.replace(link, latest)
    return latest


@contextmanager
def project_lock(models_dir: str | Path, *, timeout: float = 600) -> Iterator[None]:
    """Hold the lock of a project's model folder (``.lock`` in it) while inside.

    ``train`` takes it around the registry gate and the ``latest`` swap, so two trainings
    of one project that finish together decide one after the other.
    """

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(models_dir / ".lock"), timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise ModelError(
            f"another training of {models_dir.name} has held {models_dir / '.lock'} for "
            f"{timeout:.0f} s; wait for it, or remove the file if no training is running"
        ) from None


# ---------------------------------------------------------------- manifest and checks


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: str | Path) -> Path:
    """Write ``manifest.json``: the SHA-256 of every file of a bundle being assembled."""
    directory = Path(directory)
    files = {
        path.relative_to(directory).as_posix(): _sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST_FILE
    }
    target = directory / MANIFEST_FILE
    target.write_text(json.dumps({"algorithm": "sha256", "files": files}, indent=2))
    return target


def verify_bundle(directory: str | Path) -> Path:
    """Check every file of a bundle against its manifest before anything is loaded.

    Raises :class:`ModelError` naming the first file that is missing or differs, and for a
    folder that is no bundle at all.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"model {directory} does not exist; train one with `healthscore train`")
    manifest = directory / MANIFEST_FILE
    if not manifest.is_file():
        if not (directory / META_FILE).is_file():
            raise ModelError(
                f"{directory} is not a model bundle (no {MANIFEST_FILE}); train one with "
                "`healthscore train`"
            )
        raise ModelError(
            f"bundle {directory} is damaged or was edited: {MANIFEST_FILE} is missing "
            "(a bundle of an older healthscore: train again)"
        )
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"bundle {directory} is damaged or was edited: {MANIFEST_FILE} is unreadable ({exc})"
        ) from None
    for name, expected in listed.items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"bundle {directory} is damaged or was edited: {name} is missing")
        if _sha256(path) != expected:
            raise ModelError(f"bundle {directory} is damaged or was edited: {name}")
    return directory


def load_bundle_model(directory: str | Path, *, threads: int | None = None) -> HealthModel:
    """The model of a verified bundle (see :func:`verify_bundle`), predicting on ``threads``
    LightGBM threads (None: every core of this machine)."""
    return HealthModel.load(verify_bundle(directory), threads=threads)


def read_metrics(bundle: str | Path) -> dict[str, object]:
    """The ``metrics.json`` of a bundle."""
    path = Path(bundle) / METRICS_FILE
    if not path.is_file():
        raise ModelError(f"{bundle} has no {METRICS_FILE}; is it a healthscore bundle?")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        damaged = f"bundle {bundle} is damaged or was edited: {METRICS_FILE}"
        raise ModelError(f"{damaged} ({exc})") from None
    if not isinstance(metrics, dict):
        raise ModelError(f"bundle {bundle} is damaged or was edited: {METRICS_FILE} is no object")
    return metrics


def is_bundle(path: str | Path) -> bool:
    return (Path(path) / META_FILE).is_file()
