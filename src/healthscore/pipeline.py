"""Orchestration: the steps a user runs, each a thin composition of library functions.

This is the only layer that sequences reading, computing and writing; the CLI calls one
function here per command, and notebooks may too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from healthscore.bundle import LATEST
from healthscore.config import Config, flatten_config
from healthscore.dataset import TrainingSet
from healthscore.errors import ModelError
from healthscore.fingerprint import (
    FINGERPRINT_FILE,
    SchemaFingerprint,
    check_model_matches,
    project_name,
    read_fingerprint,
    schema_fingerprint,
    write_fingerprint,
)
from healthscore.model import HealthModel
from healthscore.storage import (
    FRAME_SUFFIXES,
    DataSource,
    check_writable,
    open_source,
    read_frame,
    write_tables,
)

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
    ts = build_training_set(source, config)
    save_training_set(ts, cached)
    return ts


def build_dataset(data: str | Path, config: Config, *, out: str | Path) -> TrainingSet:
    """Build the training set of ``data`` and write it (Parquet + ``.meta.json``) to ``out``."""
    check_writable(out, suffixes=FRAME_SUFFIXES)
    from healthscore.dataset import build_training_set, save_training_set

    training_set = build_training_set(open_checked_source(data, config), config)
    save_training_set(training_set, out)
    return training_set


def features_table(
    data: str | Path, as_of: str, config: Config, *, out: str | Path | None = None
) -> pd.DataFrame:
    """Features of every account eligible at ``as_of`` (the scoring code path)."""
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)
    from healthscore.scoring import eligible_features
    from healthscore.storage import write_frame

    features = eligible_features(open_checked_source(data, config), pd.Timestamp(as_of), config)
    features = features.drop(columns=["current_arr"], errors="ignore")
    if out is not None:
        write_frame(features, out)
    return features


@dataclass
class TrainOutcome:
    """What ``train`` produced: where the bundle is, its metrics, the registry decision.

    ``notices`` are the plain warnings a person must read (a leak alarm, contract terms that
    are unknown), each one sentence or paragraph, printed once by the CLI.
    """

    run_id: str
    bundle: Path
    latest: Path
    metrics: dict[str, object]
    promotion: object | None
    tracking_uri: str | None
    project: str = "default"
    notices: list[str] = field(default_factory=list)


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
    check_writable(model_dir, folder=True)
    from healthscore import tracking
    from healthscore.bundle import publish_latest, write_bundle
    from healthscore.contract_terms import unknown_term_notice
    from healthscore.dataset import purge_days
    from healthscore.features import catalogue_frame
    from healthscore.leak_alarm import LeakSuspect
    from healthscore.leak_alarm import describe as describe_leaks
    from healthscore.model_card import render_model_card
    from healthscore.training import fit_and_evaluate

    model_dir = Path(model_dir)
    project = project_name(data, config)
    project_dir = model_dir / project
    source = open_checked_source(data, config) if validate else open_source(data, config)
    fingerprint = schema_fingerprint(source, project)
    ts = training_set_for(source, config, model_dir / CACHE_DIR)
    oracle = oracle_probability(data, ts.frame, config)
    evaluation = fit_and_evaluate(ts.frame, config, oracle=oracle, tune_trials=tune)
    notices = [n for n in (unknown_term_notice(source, grace_days=config.labels.grace_days),) if n]
    suspects = [LeakSuspect(**s) for s in evaluation.metrics.get("leak_suspects", [])]
    if suspects:
        notices.append(describe_leaks(suspects))
    data_hash = str(ts.metadata.get("data_fingerprint", ""))
    card = render_model_card(
        evaluation.metrics,
        config,
        data=describe_source(data),
        fingerprint=data_hash,
        project=project,
        purge_days=int(ts.metadata.get("purge_days", purge_days(config))),
    )
    tracking_config = config.tracking.for_project(project)

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        extras = _plots(evaluation, scratch_dir / "plots")
        evaluation.slices.to_csv(scratch_dir / "slices.csv", index=False)
        extras["slices.csv"] = scratch_dir / "slices.csv"
        if not evaluation.backtest.empty:
            evaluation.backtest.to_csv(scratch_dir / "backtest.csv", index=False)
            extras["backtest.csv"] = scratch_dir / "backtest.csv"
        extras[FINGERPRINT_FILE] = write_fingerprint(fingerprint, scratch_dir)

        def make_bundle(run_id: str) -> Path:
            evaluation.model.info["run_id"] = run_id
            evaluation.model.info["project"] = project
            bundle = write_bundle(
                project_dir / run_id,
                model=evaluation.model,
                metrics=evaluation.metrics,
                config=config,
                catalogue=catalogue_frame(),
                card=card,
                extras=extras,
            )
            return bundle

        def outcome(run_id, bundle, latest, promotion, uri) -> TrainOutcome:  # noqa: ANN001
            return TrainOutcome(
                run_id, bundle, latest, evaluation.metrics, promotion, uri, project, notices
            )

        if not config.tracking.enabled:
            run_id = time.strftime("run-%Y%m%d-%H%M%S")
            bundle = make_bundle(run_id)
            return outcome(run_id, bundle, publish_latest(bundle, project_dir), None, None)
        run_name = f"{project} {config.labels.mode} {time.strftime('%Y-%m-%d %H:%M')}"
        with tracking.training_run(tracking_config, root=root, name=run_name) as run_id:
            bundle = make_bundle(run_id)
            latest = publish_latest(bundle, project_dir)
            tracking.log_run_contents(
                params=flatten_config(config)
                | {f"tuned.{k}": str(v) for k, v in evaluation.tuned_params.items()},
                metrics=evaluation.metrics,
                tags={
                    "project": project,
                    "data_fingerprint": data_hash,
                    "schema_fingerprint": json.dumps(fingerprint.to_dict(), sort_keys=True),
                    "leak_suspects": ", ".join(s.feature for s in suspects) or "none",
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
                config=tracking_config,
                champion_score=lambda champion: champion_test_score(
                    champion, fingerprint, evaluation.test
                ),
            )
        return outcome(
            run_id, bundle, latest, promotion, tracking.configure(tracking_config, root=root)
        )


def champion_test_score(
    champion_bundle: Path, fingerprint: SchemaFingerprint, test: pd.DataFrame
) -> tuple[float | None, str]:
    """The champion's PR AUC on the challenger's test snapshots, or None and why not.

    The gate compares both models on the same rows; a champion trained on data of another
    fingerprint (another project, catalogue or set of columns) is never compared.
    """
    from sklearn.metrics import average_precision_score

    from healthscore.model import HealthModel

    theirs = read_fingerprint(champion_bundle)
    if theirs is None or theirs.to_dict() != fingerprint.to_dict():
        why = "no fingerprint" if theirs is None else "; ".join(theirs.mismatches(fingerprint))
        return (
            None,
            f"the champion was trained on data of another fingerprint ({why or 'columns differ'})",
        )
    try:
        champion = HealthModel.load(champion_bundle)
        probability = champion.predict_proba(test)
    except ModelError as exc:
        return None, f"the champion cannot score this data ({exc})"
    return float(average_precision_score(test["label"].to_numpy(int), probability)), (
        "re-scored on the same test snapshots"
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
    """Load a model for ``data`` and check that it belongs to it (see :mod:`fingerprint`).

    ``spec`` is a bundle folder, a registry URI (``models:/healthscore-demo@champion``), or
    None for the project's newest model. A model of another project, catalogue version or
    set of columns raises :class:`ModelError` unless ``force``; then ``check`` says so.
    """
    from healthscore.model import HealthModel

    text = str(spec) if spec is not None else ""
    if text.startswith(("models:/", "runs:/")):
        from healthscore import tracking

        project = project_name(data, config)
        bundle = tracking.download_bundle(text, config.tracking.for_project(project), root=root)
        model = HealthModel.load(bundle)
        version = f"{text} (run {model.info.get('run_id', '?')})"
    else:
        bundle = Path(spec) if spec is not None else default_model(data, config)
        if not bundle.exists():
            raise ModelError(
                f"model {bundle} does not exist; train one with `healthscore train --data "
                f"{describe_source(data)}`"
            )
        model = HealthModel.load(bundle)
        version = str(model.info.get("run_id", bundle.name))
    data_print = schema_fingerprint(source, project_name(data, config))
    check = check_model_matches(
        read_fingerprint(bundle), data_print, model=text or str(bundle), force=force
    )
    if check != "ok":
        log.warning("scoring with a model that does not match the data: %s", check)
    return LoadedModel(model, version, bundle, check)


def score(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path | None = None,
    out: str | Path | None = None,
    previous: str | Path | None = None,
    validate: bool = True,
    force: bool = False,
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``; write the table atomically to ``out``.

    ``model`` defaults to the project's newest bundle; ``force`` scores with a model of other
    data (the ``model_check`` column records it).
    """
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)
    from healthscore.playbooks import load_playbooks
    from healthscore.scoring import score_accounts
    from healthscore.storage import write_frame

    source = open_checked_source(data, config) if validate else open_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    catalogue = load_playbooks(config.playbooks.catalogue)
    prior = read_frame(previous) if previous else None
    scores = score_accounts(
        source,
        fitted.model,
        pd.Timestamp(as_of),
        config,
        catalogue=catalogue,
        previous=prior,
        model_version=fitted.version,
    )
    scores["model_check"] = fitted.check
    if out is not None:
        write_frame(scores, out)
    return scores


def alerts(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path | None = None,
    drop: float = 10.0,
    force: bool = False,
) -> pd.DataFrame:
    """Accounts whose health score fell more than ``drop`` points since the last step."""
    from healthscore.alerts import score_drops

    source = open_checked_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    drops = score_drops(source, fitted.model, as_of, config, drop=drop)
    drops["model_check"] = fitted.check
    return drops


def explain(
    data: str | Path,
    as_of: str,
    account_id: str,
    config: Config,
    *,
    model: str | Path | None = None,
    force: bool = False,
):  # noqa: ANN201
    """The account card of one account at ``as_of``."""
    from healthscore.account_card import account_card
    from healthscore.playbooks import load_playbooks

    source = open_checked_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    card = account_card(
        source,
        fitted.model,
        account_id,
        as_of,
        config,
        catalogue=load_playbooks(config.playbooks.catalogue),
    )
    return card, fitted.check


# --------------------------------------------------------------------------- KPIs and report


def kpis(
    data: str | Path, config: Config, *, freq: str = "month", out: str | Path | None = None
) -> pd.DataFrame:
    """Retention KPIs per period; written atomically to ``out`` if given."""
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)
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
    model: str | Path | None = None,
    scores: pd.DataFrame | None = None,
    validate: bool = True,
    force: bool = False,
) -> Path:
    """Write the self-contained HTML report for CS leaders at ``as_of``."""
    check_writable(out)
    from healthscore.bundle import read_metrics
    from healthscore.kpis import cohort_retention, compute_kpis
    from healthscore.report import render_report, write_report

    source = open_checked_source(data, config) if validate else open_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    if scores is None:
        scores = score(data, as_of, config, model=model, validate=False, force=force)
    bundle = fitted.bundle
    metrics = read_metrics(bundle)
    plots = {p.stem: p for p in sorted((bundle / "plots").glob("*.png"))}
    from healthscore.scoring import step_back

    html = render_report(
        as_of=pd.Timestamp(as_of),
        kpis=compute_kpis(source, config).tail(TREND_PERIODS),
        cohorts=cohort_retention(source, config),
        scores=scores,
        metrics=metrics,
        model_plots=plots,
        score_config=fitted.model.score_config,
        previous_as_of=step_back(pd.Timestamp(as_of), config),
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
    check_writable(workdir, folder=True)
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
