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
from healthscore.dataset import TrainingSet
from healthscore.storage import DataSource, open_source, read_frame, write_tables

log = logging.getLogger(__name__)

TRUTH_DIR = "_truth"
TREND_PERIODS = 24  # KPI periods the report's trend charts show
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


def describe_source(data: str | Path) -> str:
    """``data`` as it may be recorded: a database URL loses its password."""
    import re

    return re.sub(r"(://[^:/@]+):[^/]*@", r"\1:***@", str(data))


def open_checked_source(data: str | Path, config: Config) -> DataSource:
    """Open a data folder after validating it; raise a SchemaError listing every error."""
    from healthscore.validation import validate_data

    validate_data(data, config).raise_for_errors()
    return open_source(data, config)


def oracle_probability(
    data: str | Path, snapshots: pd.DataFrame, config: Config
) -> pd.Series | None:
    """The simulator's true churn probability of each snapshot, if ``data`` has ground truth."""
    hazard_file = Path(data) / TRUTH_DIR / "hazard.parquet"
    if not hazard_file.is_file():
        return None
    from healthscore.synthetic import oracle_churn_probability

    hazard = read_frame(hazard_file)
    return oracle_churn_probability(
        hazard,
        snapshots[["account_id", "as_of"]],
        horizon_days=config.labels.horizon_days,
        lead_days=config.labels.lead_days,
    )


def training_set_for(source: DataSource, config: Config, cache_dir: Path) -> TrainingSet:
    """Build the training set, or reuse the cached one built from the same data and config."""
    from healthscore.dataset import (
        build_training_set,
        data_fingerprint,
        load_training_set,
        save_training_set,
    )

    key_material = config.model_dump_json(include={"data", "labels", "snapshots", "features"})
    fingerprint = data_fingerprint(source)
    key = hashlib.sha256(f"{fingerprint}|{key_material}".encode()).hexdigest()[:16]
    cached = cache_dir / f"training_set_{key}.parquet"
    if cached.is_file():
        log.info("reusing the training set %s", cached)
        return load_training_set(cached)
    from healthscore.features.rollups import RollupCache

    rollups = RollupCache.for_data(cache_dir / "rollups", fingerprint)
    ts = build_training_set(source, config, rollups=rollups)
    save_training_set(ts, cached)
    return ts


def build_dataset(data: str | Path, config: Config, *, out: str | Path) -> TrainingSet:
    """Build the training set of ``data`` and write it (Parquet + ``.meta.json``) to ``out``."""
    from healthscore.dataset import build_training_set, save_training_set

    training_set = build_training_set(open_checked_source(data, config), config)
    save_training_set(training_set, out)
    return training_set


def features_table(
    data: str | Path, as_of: str, config: Config, *, out: str | Path | None = None
) -> pd.DataFrame:
    """Features of every account eligible at ``as_of`` (the scoring code path)."""
    from healthscore.scoring import eligible_features
    from healthscore.storage import write_frame

    features = eligible_features(open_checked_source(data, config), pd.Timestamp(as_of), config)
    features = features.drop(columns=["current_arr"], errors="ignore")
    if out is not None:
        write_frame(features, out)
    return features


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
            y, test["raw_probability"], test["churn_probability"], out / "calibration.png"
        ),
        "plots/gains.png": plots.plot_gains(y, test["churn_probability"], out / "gains.png"),
        "plots/roc_pr.png": plots.plot_roc_pr(
            y,
            {
                "model": test["churn_probability"],
                "rule scorecard": test["rules_probability"],
                "logistic regression": test["logreg_probability"],
            },
            out / "roc_pr.png",
        ),
        "plots/score_distribution.png": plots.plot_score_distribution(
            test["health_score"], y, out / "score_distribution.png"
        ),
    }
    sample = test.sample(min(len(test), 2000), random_state=0)
    contrib = evaluation.model.contributions(sample)
    matrix = evaluation.model.matrix(sample)
    made["plots/shap_summary.png"] = plots.plot_shap_summary(
        contrib[evaluation.model.features].to_numpy(), matrix, out / "shap_summary.png"
    )
    made["plots/family_importance.png"] = plots.plot_family_importance(
        family_contributions(contrib), out / "family_importance.png"
    )
    return made


def train(
    data: str | Path,
    config: Config,
    *,
    model_dir: str | Path = "models",
    tune: int = 0,
    root: str | Path = ".",
    validate: bool = True,
) -> TrainOutcome:
    """Build (or reuse) the training set, fit, evaluate, write the bundle, track the run.

    ``validate=False`` skips the contract check, for callers that just ran it.
    """
    from healthscore import tracking
    from healthscore.bundle import publish_latest, write_bundle
    from healthscore.features import catalogue_frame
    from healthscore.model_card import render_model_card
    from healthscore.training import fit_and_evaluate

    model_dir = Path(model_dir)
    source = open_checked_source(data, config) if validate else open_source(data, config)
    ts = training_set_for(source, config, model_dir / CACHE_DIR)
    oracle = oracle_probability(data, ts.frame, config)
    evaluation = fit_and_evaluate(ts.frame, config, oracle=oracle, tune_trials=tune)
    fingerprint = str(ts.metadata.get("data_fingerprint", ""))
    card = render_model_card(
        evaluation.metrics, config, data=describe_source(data), fingerprint=fingerprint
    )

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        extras = _plots(evaluation, scratch_dir / "plots")
        evaluation.slices.to_csv(scratch_dir / "slices.csv", index=False)
        extras["slices.csv"] = scratch_dir / "slices.csv"
        if not evaluation.backtest.empty:
            evaluation.backtest.to_csv(scratch_dir / "backtest.csv", index=False)
            extras["backtest.csv"] = scratch_dir / "backtest.csv"

        def make_bundle(run_id: str) -> Path:
            evaluation.model.info["run_id"] = run_id
            bundle = write_bundle(
                model_dir / run_id,
                model=evaluation.model,
                metrics=evaluation.metrics,
                config=config,
                catalogue=catalogue_frame(),
                card=card,
                extras=extras,
            )
            return bundle

        if not config.tracking.enabled:
            run_id = time.strftime("run-%Y%m%d-%H%M%S")
            bundle = make_bundle(run_id)
            return TrainOutcome(
                run_id, bundle, publish_latest(bundle, model_dir), evaluation.metrics, None, None
            )
        with tracking.training_run(config.tracking, root=root) as run_id:
            bundle = make_bundle(run_id)
            latest = publish_latest(bundle, model_dir)
            tracking.log_run_contents(
                params=flatten_config(config)
                | {f"tuned.{k}": str(v) for k, v in evaluation.tuned_params.items()},
                metrics=evaluation.metrics,
                tags={
                    "data_fingerprint": fingerprint,
                    "git_commit": _git_commit(root),
                    "package_version": _package_version(),
                    "data": describe_source(data),
                },
                artifacts_dir=bundle,
            )
            uri = tracking.log_model(bundle, evaluation.test)
            promotion = tracking.register_and_gate(
                uri,
                run_id=run_id,
                new_score=float(evaluation.metrics["pr_auc"]),
                config=config.tracking,
            )
        return TrainOutcome(
            run_id,
            bundle,
            latest,
            evaluation.metrics,
            promotion,
            tracking.configure(config.tracking, root=root),
        )


def _package_version() -> str:
    from importlib.metadata import version

    return version("healthscore")


def _git_commit(root: str | Path) -> str:
    """The commit of the working copy, or 'unknown' outside a git checkout."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


# --------------------------------------------------------------------------- scoring


def load_model(spec: str | Path, config: Config, *, root: str | Path = ".") -> tuple:
    """Load a model from a bundle folder or a registry URI (``models:/healthscore@champion``).

    Returns the model and a version label for the output (run id, or the URI).
    """
    from healthscore.errors import ModelError
    from healthscore.model import HealthModel

    text = str(spec)
    if text.startswith("models:/") or text.startswith("runs:/"):
        from healthscore import tracking

        model = HealthModel.load(tracking.download_bundle(text, config.tracking, root=root))
        return model, f"{text} (run {model.info.get('run_id', '?')})"
    path = Path(spec)
    if not path.exists():
        raise ModelError(f"model {path} does not exist; train one with `healthscore train`")
    model = HealthModel.load(path)
    return model, str(model.info.get("run_id", path.name))


def score(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path = "models/latest",
    out: str | Path | None = None,
    previous: str | Path | None = None,
    validate: bool = True,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``; write the table atomically to ``out``.

    Scoring checks the data's schema as it opens it (tables and required columns present,
    names mapped); the full contract check that scans every row is ``validate`` and runs in
    ``train``. ``validate`` is kept for callers and has no further effect. ``timings``, when
    given, collects the seconds spent per stage.
    """
    from healthscore.playbooks import load_playbooks
    from healthscore.scoring import score_accounts
    from healthscore.storage import write_frame

    timings = {} if timings is None else timings
    clock = time.perf_counter()
    fitted, version = load_model(model, config)
    catalogue = load_playbooks(config.playbooks.catalogue)
    timings["load model"] = time.perf_counter() - clock
    clock = time.perf_counter()
    source = open_source(data, config)
    prior = read_frame(previous) if previous else None
    timings["open and check schema"] = time.perf_counter() - clock
    scores = score_accounts(
        source,
        fitted,
        pd.Timestamp(as_of),
        config,
        catalogue=catalogue,
        previous=prior,
        model_version=version,
        timings=timings,
    )
    if out is not None:
        clock = time.perf_counter()
        write_frame(scores, out)
        timings["write"] = time.perf_counter() - clock
    return scores


def alerts(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path = "models/latest",
    drop: float = 10.0,
) -> pd.DataFrame:
    """Accounts whose health score fell more than ``drop`` points since the last step."""
    from healthscore.alerts import score_drops

    fitted, _ = load_model(model, config)
    source = open_checked_source(data, config)
    return score_drops(source, fitted, as_of, config, drop=drop)


def explain(
    data: str | Path,
    as_of: str,
    account_id: str,
    config: Config,
    *,
    model: str | Path = "models/latest",
):  # noqa: ANN201
    """The account card of one account at ``as_of``."""
    from healthscore.account_card import account_card
    from healthscore.playbooks import load_playbooks

    fitted, _ = load_model(model, config)
    source = open_checked_source(data, config)
    return account_card(
        source,
        fitted,
        account_id,
        as_of,
        config,
        catalogue=load_playbooks(config.playbooks.catalogue),
    )


# --------------------------------------------------------------------------- KPIs and report


def kpis(
    data: str | Path, config: Config, *, freq: str = "month", out: str | Path | None = None
) -> pd.DataFrame:
    """Retention KPIs per period; written atomically to ``out`` if given."""
    from healthscore.kpis import compute_kpis
    from healthscore.storage import write_frame

    table = compute_kpis(open_checked_source(data, config), config, freq=freq)
    if out is not None:
        write_frame(table, out)
    return table


def report(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    out: str | Path,
    model: str | Path = "models/latest",
    scores: pd.DataFrame | None = None,
    validate: bool = True,
) -> Path:
    """Write the self-contained HTML report for CS leaders at ``as_of``."""
    from healthscore.bundle import read_metrics
    from healthscore.kpis import cohort_retention, compute_kpis
    from healthscore.report import render_report, write_report

    source = open_checked_source(data, config) if validate else open_source(data, config)
    if scores is None:
        scores = score(data, as_of, config, model=model, validate=False)
    bundle = Path(model) if not str(model).startswith(("models:/", "runs:/")) else None
    metrics = read_metrics(bundle) if bundle is not None else {}
    plots = (
        {p.stem: p for p in sorted((bundle / "plots").glob("*.png"))} if bundle is not None else {}
    )
    html = render_report(
        as_of=pd.Timestamp(as_of),
        kpis=compute_kpis(source, config).tail(TREND_PERIODS),
        cohorts=cohort_retention(source, config),
        scores=scores,
        metrics=metrics,
        model_plots=plots,
    )
    return write_report(html, out)


# --------------------------------------------------------------------------- the demo


@dataclass
class DemoOutcome:
    """Where the demo wrote its outputs, and what it found."""

    data: Path
    train: TrainOutcome
    as_of: pd.Timestamp
    scores: pd.DataFrame
    scores_path: Path
    report_path: Path | None
    timings: dict[str, float]


def latest_as_of(source: DataSource, config: Config) -> pd.Timestamp:
    """The last observation date on the cadence that the data fully covers."""
    end = pd.Timestamp(source.data_end)
    if config.snapshots.cadence == "week":
        return end - pd.Timedelta(days=end.dayofweek)
    month = end.to_period("M").to_timestamp()
    if config.snapshots.cadence == "quarter":
        month = end.to_period("Q").to_timestamp()
    return month


def demo(
    *,
    workdir: str | Path = ".",
    n_accounts: int = 3000,
    seed: int = 42,
    config: Config | None = None,
    regenerate: bool = False,
) -> DemoOutcome:
    """The main job end to end on simulated data: generate, validate, train, score, report."""
    from healthscore.validation import validate_data

    config = config or Config()
    workdir = Path(workdir)
    data = workdir / "data" / "demo"
    reports = workdir / "reports"
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    if regenerate or not (data / "accounts.parquet").is_file():
        generate_data(data, n_accounts=n_accounts, seed=seed)
    lap("generate")
    validate_data(data, config).raise_for_errors()
    lap("validate")
    outcome = train(data, config, model_dir=workdir / "models", root=workdir, validate=False)
    lap("train")
    source = open_source(data, config)
    as_of = latest_as_of(source, config)
    scores_path = reports / f"scores_{as_of:%Y-%m-%d}.csv"
    scores = score(
        data, str(as_of.date()), config, model=outcome.latest, out=scores_path, validate=False
    )
    lap("score")
    report_path = report(
        data,
        str(as_of.date()),
        config,
        out=reports / "report.html",
        model=outcome.latest,
        scores=scores,
        validate=False,
    )
    lap("report")
    return DemoOutcome(data, outcome, as_of, scores, scores_path, report_path, timings)
