"""Orchestration: the steps a user runs, each a thin composition of library functions.

This is the only layer that sequences reading, computing and writing; the CLI calls one
function here per command, and notebooks may too.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore.config import Config, flatten_config
from healthscore.storage import DataSource, open_source, read_frame, write_tables

log = logging.getLogger(__name__)

TRUTH_DIR = "_truth"
CACHE_DIR = "cache"


def generate_data(
    out: str | Path,
    *,
    n_accounts: int = 3000,
    start: str = "2023-01-01",
    end: str = "2026-01-01",
    seed: int = 42,
    fmt: str = "parquet",
) -> dict[str, int]:
    """Simulate a world and write its tables to ``out`` and its ground truth to ``out/_truth``.

    Returns the row count of every table written.
    """
    from healthscore.synthetic import generate_world

    world = generate_world(n_accounts, start=start, end=end, seed=seed)
    out = Path(out)
    write_tables(world.tables, out, fmt=fmt)
    write_tables(world.truth, out / TRUTH_DIR, fmt="parquet")
    return {name: len(frame) for name, frame in world.tables.items()}


def open_checked_source(data: str | Path, config: Config) -> DataSource:
    """Open a data folder after validating it; raise a SchemaError listing every error."""
    from healthscore.validation import validate_data

    validate_data(data, config).raise_for_errors()
    return open_source(data, config)


def oracle_probability(data: str | Path, snapshots: pd.DataFrame, config: Config
                       ) -> pd.Series | None:
    """The simulator's true churn probability of each snapshot, if ``data`` has ground truth."""
    hazard_file = Path(data) / TRUTH_DIR / "hazard.parquet"
    if not hazard_file.is_file():
        return None
    from healthscore.synthetic import oracle_churn_probability

    hazard = read_frame(hazard_file)
    return oracle_churn_probability(
        hazard, snapshots[["account_id", "as_of"]],
        horizon_days=config.labels.horizon_days, lead_days=config.labels.lead_days,
    )


def training_set_for(source: DataSource, config: Config, cache_dir: Path):  # noqa: ANN201
    """Build the training set, or reuse the cached one built from the same data and config."""
    from healthscore.dataset import build_training_set, load_training_set, save_training_set

    key_material = config.model_dump_json(include={"data", "labels", "snapshots", "features"})
    ts = None
    from healthscore.dataset import data_fingerprint

    fingerprint = data_fingerprint(source)
    key = hashlib.sha256(f"{fingerprint}|{key_material}".encode()).hexdigest()[:16]
    cached = cache_dir / f"training_set_{key}.parquet"
    if cached.is_file():
        log.info("reusing the training set %s", cached)
        return load_training_set(cached)
    ts = build_training_set(source, config)
    save_training_set(ts, cached)
    return ts


@dataclass
class TrainOutcome:
    """What ``train`` produced: where the bundle is, its metrics, the registry decision."""

    run_id: str
    bundle: Path
    latest: Path
    metrics: dict[str, object]
    promotion: object | None
    tracking_uri: str | None


def _plots(evaluation, out: Path) -> dict[str, Path]:  # noqa: ANN001
    from healthscore import plots
    from healthscore.explain import family_contributions

    test = evaluation.test
    y = test["label"].to_numpy(int)
    out.mkdir(parents=True, exist_ok=True)
    made = {
        "plots/calibration.png": plots.plot_calibration(
            y, test["raw_probability"], test["churn_probability"], out / "calibration.png"),
        "plots/gains.png": plots.plot_gains(y, test["churn_probability"], out / "gains.png"),
        "plots/roc_pr.png": plots.plot_roc_pr(
            y, {"model": test["churn_probability"], "rule scorecard": test["rules_probability"],
                "logistic regression": test["logreg_probability"]}, out / "roc_pr.png"),
        "plots/score_distribution.png": plots.plot_score_distribution(
            test["health_score"], y, out / "score_distribution.png"),
    }
    sample = test.sample(min(len(test), 2000), random_state=0)
    contrib = evaluation.model.contributions(sample)
    matrix = evaluation.model.matrix(sample)
    made["plots/shap_summary.png"] = plots.plot_shap_summary(
        contrib[evaluation.model.features].to_numpy(), matrix, out / "shap_summary.png")
    made["plots/family_importance.png"] = plots.plot_family_importance(
        family_contributions(contrib), out / "family_importance.png")
    return made


def train(
    data: str | Path,
    config: Config,
    *,
    model_dir: str | Path = "models",
    tune: int = 0,
    root: str | Path = ".",
) -> TrainOutcome:
    """Build (or reuse) the training set, fit, evaluate, write the bundle, track the run."""
    from healthscore import tracking
    from healthscore.bundle import publish_latest, write_bundle
    from healthscore.features import catalogue_frame
    from healthscore.model_card import render_model_card
    from healthscore.training import fit_and_evaluate

    model_dir = Path(model_dir)
    source = open_checked_source(data, config)
    ts = training_set_for(source, config, model_dir / CACHE_DIR)
    oracle = oracle_probability(data, ts.frame, config)
    evaluation = fit_and_evaluate(ts.frame, config, oracle=oracle, tune_trials=tune)
    fingerprint = str(ts.metadata.get("data_fingerprint", ""))
    card = render_model_card(evaluation.metrics, config, data=str(data), fingerprint=fingerprint)

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        extras = _plots(evaluation, scratch_dir / "plots")
        evaluation.slices.to_csv(scratch_dir / "slices.csv", index=False)
        extras["slices.csv"] = scratch_dir / "slices.csv"
        if not evaluation.backtest.empty:
            evaluation.backtest.to_csv(scratch_dir / "backtest.csv", index=False)
            extras["backtest.csv"] = scratch_dir / "backtest.csv"

        def make_bundle(run_id: str) -> Path:
            bundle = write_bundle(
                model_dir / run_id, model=evaluation.model, metrics=evaluation.metrics,
                config=config, catalogue=catalogue_frame(), card=card, extras=extras)
            return bundle

        if not config.tracking.enabled:
            run_id = time.strftime("run-%Y%m%d-%H%M%S")
            bundle = make_bundle(run_id)
            return TrainOutcome(run_id, bundle, publish_latest(bundle, model_dir),
                                evaluation.metrics, None, None)
        with tracking.training_run(config.tracking, root=root) as run_id:
            bundle = make_bundle(run_id)
            latest = publish_latest(bundle, model_dir)
            tracking.log_run_contents(
                params=flatten_config(config) | {f"tuned.{k}": str(v)
                                                 for k, v in evaluation.tuned_params.items()},
                metrics=evaluation.metrics,
                tags={"data_fingerprint": fingerprint, "git_commit": _git_commit(root),
                      "package_version": _package_version(), "data": str(data)},
                artifacts_dir=bundle,
            )
            uri = tracking.log_model(bundle, evaluation.test)
            promotion = tracking.register_and_gate(
                uri, run_id=run_id, new_score=float(evaluation.metrics["pr_auc"]),
                config=config.tracking)
        return TrainOutcome(run_id, bundle, latest, evaluation.metrics, promotion,
                            tracking.configure(config.tracking, root=root))


def _package_version() -> str:
    from importlib.metadata import version

    return version("healthscore")


def _git_commit(root: str | Path) -> str:
    """The commit of the working copy, or 'unknown' outside a git checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
