"""Which model scores a data set: a bundle folder or a registry URI, checked against the data.

``score``, ``alerts``, ``explain``, ``report`` and ``monitor`` resolve their ``--model`` here:
a bundle folder, a registry URI (``models:/healthscore-demo@champion``, ``runs:/...``), or
by default the newest model of the data's project, ``models/<project>/latest``. The bundle
is verified against its manifest before anything in it is read, and its schema fingerprint
is checked against the data's, so a model never silently scores a data set it was not
trained for (see :mod:`healthscore.fingerprint`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from healthscore import tracking
from healthscore.bundle import LATEST, load_bundle_model
from healthscore.config import Config
from healthscore.errors import ModelError
from healthscore.fingerprint import (
    check_model_matches,
    project_name,
    read_fingerprint,
    schema_fingerprint,
)
from healthscore.model import HealthModel
from healthscore.redaction import redact_url
from healthscore.storage import DataSource

log = logging.getLogger(__name__)


def default_model(data: str | Path, config: Config, *, model_dir: str | Path = "models") -> Path:
    """Where ``train`` publishes the newest model of the data's project."""
    return Path(model_dir) / project_name(data, config) / LATEST


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score one data set: the model, its label, and the fingerprint check."""

    model: HealthModel
    version: str
    bundle: Path
    check: str


def load_model(
    spec: str | Path | None,
    data: str | Path,
    source: DataSource,
    config: Config,
    *,
    force: bool = False,
    root: str | Path = ".",
) -> LoadedModel:
    """Load a model for ``data`` and check that it belongs to it.

    ``spec`` is a bundle folder, a registry URI (``models:/healthscore-demo@champion``), or
    None for the project's newest model. A model of another project, catalogue version or
    set of columns raises :class:`ModelError` unless ``force``; then ``check`` says so.
    """
    text = str(spec) if spec is not None else ""
    if text.startswith(("models:/", "runs:/")):
        project = project_name(data, config)
        bundle = tracking.download_bundle(text, config.tracking.for_project(project), root=root)
        model = load_bundle_model(bundle, threads=config.model.predict_threads)
        version = f"{text} (run {model.info.get('run_id', '?')})"
    else:
        bundle = Path(spec) if spec is not None else default_model(data, config)
        if not bundle.exists():
            raise ModelError(
                f"model {bundle} does not exist; train one with `healthscore train --data "
                f"{redact_url(str(data))}`"
            )
        model = load_bundle_model(bundle, threads=config.model.predict_threads)
        version = str(model.info.get("run_id", bundle.resolve().name))
    data_print = schema_fingerprint(source, project_name(data, config))
    check = check_model_matches(
        read_fingerprint(bundle), data_print, model=text or str(bundle), force=force
    )
    if check != "ok":
        log.warning("scoring with a model that does not match the data: %s", check)
    return LoadedModel(model, version, bundle, check)
