"""Experiment tracking and the model registry: the only module that imports MLflow.

Runs live in a SQLite store under ``mlruns/`` (MLflow's file store is deprecated); artifacts
under ``mlruns/artifacts``. The model is logged as a pyfunc whose ``predict`` returns
calibrated churn probabilities, with the plain-file bundle as its artifact, an explicit
signature and input example, and pinned requirements (inferring them is slow and fragile).
Registry versions are tagged with aliases: each new one becomes ``challenger``; ``champion``
moves to it only when it is at least as good on the test PR AUC.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from healthscore.config import TrackingConfig
from healthscore.errors import ModelError

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_METRIC = "pr_auc"


class HealthScorePyfunc(mlflow.pyfunc.PythonModel):
    """MLflow wrapper: ``predict`` returns the calibrated churn probability of each row."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        from healthscore.model import HealthModel

        self.model = HealthModel.load(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:  # noqa: ANN001
        return self.model.predict_proba(model_input)


def _absolute_sqlite(uri: str, root: Path) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str((root / uri[len(prefix) :]).resolve())
    return uri


def configure(config: TrackingConfig, *, root: str | Path = ".") -> str:
    """Point MLflow at the configured store (relative paths from ``root``); return its URI."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    root = Path(root)
    uri = _absolute_sqlite(config.uri, root)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri)
    if client.get_experiment_by_name(config.experiment) is None:
        artifacts = (root / config.artifact_root).resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        client.create_experiment(config.experiment, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(config.experiment)
    return uri


@contextmanager
def training_run(
    config: TrackingConfig, *, root: str | Path = ".", name: str = "train"
) -> Iterator[str]:
    """Start a run in the configured experiment; yield its run id."""
    configure(config, root=root)
    with mlflow.start_run(run_name=name) as run:
        yield run.info.run_id


def log_run_contents(
    *,
    params: dict[str, str],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts_dir: str | Path,
) -> None:
    """Log params, numeric metrics, tags and a folder of artifacts to the active run."""
    mlflow.log_params({k: v[:6000] for k, v in params.items()})
    numeric = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float, np.floating, np.integer)) and np.isfinite(v)
    }
    mlflow.log_metrics(numeric)
    mlflow.set_tags(tags)
    mlflow.log_artifacts(str(artifacts_dir))


def log_model(bundle_dir: str | Path, input_example: pd.DataFrame) -> str:
    """Log the bundle as a pyfunc model of the active run; return its model URI."""
    from healthscore.model import HealthModel

    model = HealthModel.load(bundle_dir)
    example = model.matrix(input_example).astype({c: "object" for c in model.categories}).head(5)
    example = example.astype({c: "float64" for c in example.columns if c not in model.categories})
    signature = infer_signature(example, model.predict_proba(example))
    requirements = [
        f"{pkg}=={version(pkg)}"
        for pkg in ("lightgbm", "pandas", "numpy", "scikit-learn", "mlflow")
    ]
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={"bundle": str(bundle_dir)},
        signature=signature,
        input_example=example,
        pip_requirements=requirements,
    )
    return info.model_uri


@dataclass(frozen=True)
class Promotion:
    """What the registry did with a new model version."""

    version: str
    promoted: bool
    new_score: float
    champion_score: float | None
    reason: str


def register_and_gate(
    model_uri: str, *, run_id: str, new_score: float, config: TrackingConfig
) -> Promotion:
    """Register ``model_uri`` as a new version, alias it challenger, gate champion on PR AUC."""
    client = MlflowClient()
    name = config.registered_model
    mv = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
    client.set_registered_model_alias(name, CHALLENGER, mv.version)
    champion_score = None
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
        champion_run = client.get_run(current.run_id) if current.run_id else None
        if champion_run is not None:
            champion_score = champion_run.data.metrics.get(GATE_METRIC)
    except mlflow.exceptions.MlflowException:
        current = None
    if champion_score is None or new_score >= champion_score:
        client.set_registered_model_alias(name, CHAMPION, mv.version)
        reason = (
            "no champion yet"
            if champion_score is None
            else f"test {GATE_METRIC} {new_score:.4f} >= champion's {champion_score:.4f}"
        )
        return Promotion(str(mv.version), True, new_score, champion_score, reason)
    reason = f"test {GATE_METRIC} {new_score:.4f} < champion's {champion_score:.4f}"
    return Promotion(str(mv.version), False, new_score, champion_score, reason)


def download_bundle(model_uri: str, config: TrackingConfig, *, root: str | Path = ".") -> Path:
    """Resolve ``models:/name@alias`` (or any model URI) to a local bundle folder."""
    configure(config, root=root)
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri.rstrip("/"))
    except Exception as exc:  # MLflow raises several types for a bad URI
        raise ModelError(f"cannot load {model_uri} from the registry: {exc}") from None
    for candidate in Path(local).rglob("model.json"):
        return candidate.parent
    raise ModelError(f"{model_uri} holds no healthscore bundle")


def load_pyfunc(model_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """Load a logged model through MLflow (as any MLflow consumer would)."""
    return mlflow.pyfunc.load_model(model_uri)


def ui_command(config: TrackingConfig) -> str:
    """The shell command that opens the MLflow UI on these runs."""
    return f"mlflow ui --backend-store-uri {config.uri} --port 5000"
