"""Experiment tracking and the model registry: the only module that imports MLflow.

Runs live in a SQLite store under ``mlruns/`` (MLflow's file store is deprecated); artifacts
under ``mlruns/artifacts``. The model is logged as a pyfunc whose ``predict`` returns
calibrated churn probabilities, with the plain-file bundle as its artifact, an explicit
signature and input example, and pinned requirements (inferring them is slow and fragile).
Every project has its own experiment and registered model (``healthscore-<project>`` by
default). Registry versions are tagged with aliases: each new one becomes ``challenger``;
``champion`` moves to it only when it is at least as good on the test PR AUC, the champion
re-scored on the challenger's own test snapshots.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PyFuncModel, PythonModel, PythonModelContext
from mlflow.tracking import MlflowClient

from healthscore.bundle import load_bundle_model
from healthscore.config import TrackingConfig
from healthscore.errors import ModelError
from healthscore.redaction import redact_url, scrub
from healthscore.storage import process_alive

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_METRIC = "pr_auc"


class HealthScorePyfunc(PythonModel):
    """MLflow wrapper: ``predict`` returns the calibrated churn probability of each row."""

    def load_context(self, context: PythonModelContext) -> None:

        self.model = load_bundle_model(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
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
    experiment = _named(config.experiment, "experiment")
    if client.get_experiment_by_name(experiment) is None:
        artifacts = (root / config.artifact_root).resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        client.create_experiment(experiment, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(experiment)
    return uri


def _named(name: str | None, what: str) -> str:
    """The experiment or registered model name, which ``TrackingConfig.for_project`` sets."""
    if not name:
        raise ModelError(f"the tracking config names no {what}; resolve it with for_project()")
    return name


@contextmanager
def training_run(
    config: TrackingConfig, *, root: str | Path = ".", name: str = "train"
) -> Iterator[str]:
    """Start a run in the configured experiment; yield its run id.

    A run ends FINISHED, or FAILED when anything stops it: an error, Ctrl-C (SIGINT) or a
    SIGTERM from a scheduler, which is turned into an exit while the run is open. A run that
    was killed harder (SIGKILL, power loss) stays RUNNING in the store; the next run on the
    same machine marks such runs KILLED (:func:`mark_killed_runs`).
    """
    configure(config, root=root)
    mark_killed_runs(config)
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    with _sigterm_as_exit(), mlflow.start_run(run_name=name, tags=tags) as run:
        yield run.info.run_id


HOST_TAG = "healthscore.host"
PID_TAG = "healthscore.pid"


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit (so ``finally`` blocks and MLflow run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def mark_killed_runs(config: TrackingConfig) -> list[str]:
    """Mark this machine's RUNNING runs whose process is gone as KILLED; return their ids."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(_named(config.experiment, "experiment"))
    if experiment is None:
        return []
    host = socket.gethostname().replace("'", "")
    running = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' AND tags.`{HOST_TAG}` = '{host}'",
    )
    killed = []
    for run in running:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
    if killed:
        log.warning("marked %d run(s) killed mid-way as KILLED: %s", len(killed), ", ".join(killed))
    return killed


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
    model = load_bundle_model(bundle_dir)
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
    model_uri: str,
    *,
    run_id: str,
    new_score: float,
    config: TrackingConfig,
    champion_score: Callable[[Path], tuple[float | None, str]],
) -> Promotion:
    """Register ``model_uri`` as a new version, alias it challenger, gate champion on PR AUC.

    The champion is judged on the challenger's own test snapshots: ``champion_score`` gets
    the champion's bundle folder and returns its test PR AUC there, or None and why it
    cannot be compared (a champion trained on data of another fingerprint never is). A
    champion that cannot be compared hands over to the challenger, and the reason says so.
    """
    client = MlflowClient()
    name = _named(config.registered_model, "registered model")
    mv = mlflow.register_model(model_uri, name, tags={"run_id": run_id})
    client.set_registered_model_alias(name, CHALLENGER, mv.version)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        current = None
    if current is None:
        client.set_registered_model_alias(name, CHAMPION, mv.version)
        return Promotion(str(mv.version), True, new_score, None, "no champion yet")
    bundle = _version_bundle(f"models:/{name}/{current.version}")
    score, how = champion_score(bundle)
    if score is None:
        client.set_registered_model_alias(name, CHAMPION, mv.version)
        reason = f"version {current.version} was not compared: {how}"
        return Promotion(str(mv.version), True, new_score, None, reason)
    if new_score >= score:
        client.set_registered_model_alias(name, CHAMPION, mv.version)
        reason = f"test {GATE_METRIC} {new_score:.4f} >= champion's {score:.4f} ({how})"
        return Promotion(str(mv.version), True, new_score, score, reason)
    reason = f"test {GATE_METRIC} {new_score:.4f} < champion's {score:.4f} ({how})"
    return Promotion(str(mv.version), False, new_score, score, reason)


def _version_bundle(model_uri: str) -> Path:
    """The bundle folder inside a registered model version, downloaded locally."""
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    for candidate in local.rglob("model.json"):
        return candidate.parent
    raise ModelError(f"{model_uri} holds no healthscore bundle")


def download_bundle(model_uri: str, config: TrackingConfig, *, root: str | Path = ".") -> Path:
    """Resolve ``models:/name@alias`` (or any model URI) to a local bundle folder."""
    configure(config, root=root)
    try:
        return _version_bundle(model_uri.rstrip("/"))
    except ModelError:
        raise
    except Exception as exc:  # MLflow raises several types for a bad URI
        detail = scrub(str(exc), config.uri)
        raise ModelError(f"cannot load {model_uri} from the registry: {detail}") from None


def load_pyfunc(model_uri: str) -> PyFuncModel:
    """Load a logged model through MLflow (as any MLflow consumer would)."""
    return mlflow.pyfunc.load_model(model_uri)


def ui_command(uri: str) -> str:
    """The shell command that opens the MLflow UI on these runs, runnable as printed.

    ``uri`` is the tracking URI a run used (as :func:`configure` returns it). The program is
    the ``mlflow`` installed beside the running Python (``.venv/bin/mlflow`` after ``make
    demo``), and paths inside the working directory are shown relative to it.
    """
    uri = redact_url(uri)
    here = Path.cwd().resolve()
    exe = Path(sys.executable).with_name("mlflow")
    program = _relative(exe, here) if exe.is_file() else "mlflow"
    prefix = "sqlite:///"
    if uri.startswith(prefix) and uri[len(prefix) :].startswith("/"):
        uri = prefix + _relative(Path(uri[len(prefix) :]), here)
    return f"{shlex.quote(program)} ui --backend-store-uri {shlex.quote(uri)} --port 5000"


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        return str(path)
