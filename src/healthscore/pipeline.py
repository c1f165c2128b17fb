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
from typing import TYPE_CHECKING

import pandas as pd

from healthscore.bundle import LATEST, load_bundle_model, project_lock
from healthscore.config import Config, flatten_config
from healthscore.dataset import TrainingSet
from healthscore.errors import HealthscoreError, ModelError
from healthscore.fingerprint import (
    FINGERPRINT_FILE,
    SchemaFingerprint,
    check_model_matches,
    project_name,
    read_fingerprint,
    schema_fingerprint,
    write_fingerprint,
)
from healthscore.i18n import Language
from healthscore.model import HealthModel
from healthscore.redaction import redact_url
from healthscore.storage import (
    FRAME_SUFFIXES,
    DataSource,
    check_writable,
    open_source,
    read_frame,
    write_tables,
)
from healthscore.validation import check_for_scoring

if TYPE_CHECKING:
    from healthscore.tracking import Promotion

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
    currency: str = "USD",
    names: str = "en",
) -> dict[str, int]:
    """Simulate a world and write its tables to ``out`` and its ground truth to ``out/_truth``.

    ``currency`` and ``names`` write it in yen with Japanese names (``"JPY"``, ``"ja"``).
    Returns the row count of every table written.
    """
    from healthscore.synthetic import generate_world

    world = generate_world(
        n_accounts, start=start, end=end, seed=seed, currency=currency, names=names
    )
    out = Path(out)
    write_tables(world.tables, out, fmt=fmt)
    write_tables(world.truth, out / TRUTH_DIR, fmt="parquet")
    return {name: len(frame) for name, frame in world.tables.items()}


def describe_source(data: str | Path) -> str:
    """``data`` as it may be recorded: a database URL loses its password and secrets."""
    return redact_url(str(data))


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
    """Build the training set, or reuse the cached one built from the same data and config.

    A cache entry that cannot be read (a half-written file of a run killed long ago, a disk
    error) counts as a miss and is built again.
    """
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
        try:
            training_set = load_training_set(cached)
        except (HealthscoreError, OSError, ValueError, KeyError) as exc:
            log.warning(
                "the cached training set %s is unreadable (%s); building it again", cached, exc
            )
        else:
            log.info("reusing the training set %s", cached)
            return training_set
    from healthscore.features.rollups import RollupCache

    rollups = RollupCache.for_data(cache_dir / "rollups", fingerprint)
    ts = build_training_set(source, config, rollups=rollups)
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
    promotion: Promotion | None
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
        purge_days=purge_days(config),
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
            with project_lock(project_dir):
                latest = publish_latest(bundle, project_dir)
            return outcome(run_id, bundle, latest, None, None)
        run_name = f"{project} {config.labels.mode} {time.strftime('%Y-%m-%d %H:%M')}"
        with tracking.training_run(tracking_config, root=root, name=run_name) as run_id:
            bundle = make_bundle(run_id)
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
            # One training at a time decides: two runs at once must not both take champion.
            with project_lock(project_dir):
                latest = publish_latest(bundle, project_dir)
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

    theirs = read_fingerprint(champion_bundle)
    if theirs is None or theirs.to_dict() != fingerprint.to_dict():
        why = "no fingerprint" if theirs is None else "; ".join(theirs.mismatches(fingerprint))
        return (
            None,
            f"the champion was trained on data of another fingerprint ({why or 'columns differ'})",
        )
    try:
        champion = load_bundle_model(champion_bundle)
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

    text = str(spec) if spec is not None else ""
    if text.startswith(("models:/", "runs:/")):
        from healthscore import tracking

        project = project_name(data, config)
        bundle = tracking.download_bundle(text, config.tracking.for_project(project), root=root)
        model = load_bundle_model(bundle)
        version = f"{text} (run {model.info.get('run_id', '?')})"
    else:
        bundle = Path(spec) if spec is not None else default_model(data, config)
        if not bundle.exists():
            raise ModelError(
                f"model {bundle} does not exist; train one with `healthscore train --data "
                f"{describe_source(data)}`"
            )
        model = load_bundle_model(bundle)
        version = str(model.info.get("run_id", bundle.resolve().name))
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
    force: bool = False,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``; write the table atomically to ``out``.

    ``model`` defaults to the project's newest bundle; ``force`` scores with a model of other
    data (the ``model_check`` column records it). Scoring checks the data's schema as it
    opens it and the small tables in full (accounts and contracts: ids, dates, ARR that is
    finite and plausible), so the worklist never ranks a broken amount; the full contract
    check that scans the event logs is ``validate`` and runs in ``train``. ``timings``, when
    given, collects the seconds spent per stage.
    """
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)
    from healthscore.playbooks import load_playbooks
    from healthscore.scoring import score_accounts
    from healthscore.storage import write_frame

    timings = {} if timings is None else timings
    clock = time.perf_counter()
    source = open_source(data, config)
    check_for_scoring(source, config)
    timings["open and check schema"] = time.perf_counter() - clock
    clock = time.perf_counter()
    fitted = load_model(model, data, source, config, force=force)
    catalogue = load_playbooks(config.playbooks.catalogue, locale=config.output.locale)
    timings["load model"] = time.perf_counter() - clock
    prior = read_frame(previous) if previous else None
    scores = score_accounts(
        source,
        fitted.model,
        pd.Timestamp(as_of),
        config,
        catalogue=catalogue,
        previous=prior,
        model_version=fitted.version,
        timings=timings,
    )
    scores["model_check"] = fitted.check
    if out is not None:
        clock = time.perf_counter()
        write_frame(scores, out, output=config.output)
        timings["write"] = time.perf_counter() - clock
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
        catalogue=load_playbooks(config.playbooks.catalogue, locale=config.output.locale),
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
        write_frame(table, out, output=config.output)
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
    past_scores: str | Path | None = None,
) -> Path:
    """Write the self-contained HTML report for CS leaders at ``as_of``.

    ``past_scores`` is the folder of earlier score files whose outcomes the report measures
    (default: the report's own folder, where the demo keeps them).
    """
    check_writable(out)
    from healthscore.bundle import read_metrics
    from healthscore.kpis import cohort_retention, compute_kpis
    from healthscore.report import render_report, write_report

    source = open_checked_source(data, config) if validate else open_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    if scores is None:
        scores = score(data, as_of, config, model=model, force=force)
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
        lang=Language.of(config),
        loop=closing_the_loop(
            data,
            as_of,
            config,
            past_scores=Path(out).parent if past_scores is None else past_scores,
            model=fitted.bundle,
            force=force,
        ),
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
    locale = config.output.locale
    # Another language gets its own world (yen and Japanese names for "ja") and reports.
    data = workdir / "data" / ("demo" if locale == "en" else f"demo-{locale}")
    reports = workdir / "reports" / ("" if locale == "en" else locale)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    if regenerate or not (data / "accounts.parquet").is_file():
        generate_data(
            data,
            n_accounts=n_accounts,
            seed=seed,
            currency="JPY" if config.output.currency == "JPY" else "USD",
            names="en" if locale == "en" else locale,
        )
    lap("generate")
    validate_data(data, config).raise_for_errors()
    lap("validate")
    outcome = train(data, config, model_dir=workdir / "models", root=workdir, validate=False)
    lap("train")
    source = open_source(data, config)
    as_of = latest_as_of(source, config)
    scores_path = reports / f"scores_{as_of:%Y-%m-%d}.csv"
    scores = score(data, str(as_of.date()), config, model=outcome.latest, out=scores_path)
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


# --------------------------------------------------------------------------- closing the loop

SCORES_DIR = "_scores"  # where a world with actions keeps the score files of its past run


@dataclass
class ActionsWorld:
    """What ``generate --with-actions`` wrote: the tables, the past run, the true effects."""

    data: Path
    rows: dict[str, int]
    as_of: pd.Timestamp
    scores_path: Path
    truth: pd.DataFrame


def generate_with_actions(
    out: str | Path,
    *,
    n_accounts: int = 3000,
    start: str = "2023-01-01",
    end: str = "2026-01-01",
    seed: int = 42,
    fmt: str = "parquet",
    config: Config | None = None,
    act_at: str | None = None,
    model: str | Path | None = None,
    effects=None,  # noqa: ANN001 - a synthetic.treatment.TreatmentEffects
) -> ActionsWorld:
    """Simulate a world in which the CS team acted on a past scoring run.

    The plain world is simulated, scored at ``act_at`` (default: six months before ``end``)
    with ``model`` or, without one, with a model trained here on the snapshots whose label
    windows ended before ``act_at``; the team then runs the recommended plays on the accounts
    not held out, with the true effect of ``effects`` (see
    :mod:`healthscore.synthetic.treatment`), and the world is simulated again with them.
    Writes the tables (with ``playbook_actions``) to ``out``, the truth to ``out/_truth``
    (``treatment`` holds each recommendation's true effect), and the run's score file to
    ``out/_scores/scores_<act_at>.csv``.
    """
    from healthscore.errors import DataError
    from healthscore.playbooks import load_playbooks
    from healthscore.scoring import score_accounts
    from healthscore.storage import source_from_frames, write_frame
    from healthscore.synthetic import generate_world
    from healthscore.synthetic.treatment import (
        Treatment,
        TreatmentEffects,
        actions_table,
        default_action_date,
        plan_actions,
        splice_past,
        true_effects,
    )

    out = Path(out)
    check_writable(out, folder=True)
    config = config or Config()
    effects = effects or TreatmentEffects()
    as_of = pd.Timestamp(act_at) if act_at else default_action_date(start, end)
    window = config.labels.lead_days + config.labels.horizon_days + config.labels.grace_days
    if not pd.Timestamp(start) < as_of or as_of + pd.Timedelta(days=window) >= pd.Timestamp(end):
        raise DataError(
            f"the plays start {as_of.date()}, which leaves no label window of {window} days "
            f"(lead, horizon and grace) inside {start}..{end}; choose an earlier --act-at"
        )
    untreated = generate_world(n_accounts, start=start, end=end, seed=seed)
    source = source_from_frames(untreated.tables, config)
    if model is not None:
        fitted = HealthModel.load(model)
        version = f"simulated scoring run, model {model}"
    else:
        fitted = _model_before(source, config, before=as_of - pd.Timedelta(days=window))
        version = f"simulated scoring run, model trained before {as_of.date()}"
    catalogue = load_playbooks(config.playbooks.catalogue)
    scores = score_accounts(
        source, fitted, as_of, config, catalogue=catalogue, model_version=version
    )
    plan = plan_actions(scores, effects=effects, seed=seed)
    treated = generate_world(
        n_accounts, start=start, end=end, seed=seed, treatment=Treatment(plan, effects)
    )
    tables = splice_past(untreated.tables, treated.tables, at=as_of)
    tables["playbook_actions"] = actions_table(plan, data_end=treated.data_end)
    truth = true_effects(
        untreated.truth["hazard"],
        plan,
        effects=effects,
        horizon_days=config.labels.horizon_days,
        lead_days=config.labels.lead_days,
    )
    write_tables(tables, out, fmt=fmt)
    write_tables({**treated.truth, "treatment": truth}, out / TRUTH_DIR, fmt="parquet")
    scores_path = write_frame(scores, out / SCORES_DIR / f"scores_{as_of:%Y-%m-%d}.csv")
    rows = {name: len(frame) for name, frame in tables.items()}
    return ActionsWorld(out, rows, as_of, scores_path, truth)


def _model_before(source: DataSource, config: Config, *, before: pd.Timestamp) -> HealthModel:
    """A model trained on the snapshots up to ``before`` (no backtest, nothing written).

    The simulated tables lack some optional columns by design; the warning that says so is
    for a user's own data, not for this internal run.
    """
    import warnings

    from healthscore.dataset import build_training_set
    from healthscore.features import FeaturesOffWarning
    from healthscore.training import fit_and_evaluate

    limited = config.with_overrides(
        snapshots={"end": str(before.date())}, split={"backtest_cutoffs": 0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeaturesOffWarning)
        training_set = build_training_set(source, limited)
    return fit_and_evaluate(training_set.frame, limited).model


def outcomes(
    data: str | Path,
    config: Config,
    *,
    scores: str | Path = "reports",
    since: str | None = None,
    out: str | Path | None = None,
    validate: bool = True,
):  # noqa: ANN201 - an outcomes.OutcomesReport
    """Did the plays work: treated against held-out accounts per playbook and tier.

    Reads the score files in the folder ``scores`` (the record of recommendations and
    holdouts) and the data's ``playbook_actions`` if any. With ``out``, writes
    ``outcomes.csv`` (the comparison) and ``outcome_accounts.csv`` (one row per compared
    recommendation) into that folder, atomically.
    """
    from healthscore.outcomes import find_score_files, measure_outcomes
    from healthscore.playbooks import load_playbooks
    from healthscore.storage import write_frame

    if out is not None:
        check_writable(out, folder=True)
    source = open_checked_source(data, config) if validate else open_source(data, config)
    catalogue = load_playbooks(config.playbooks.catalogue)
    report = measure_outcomes(
        source,
        find_score_files(scores),
        config,
        since=pd.Timestamp(since) if since else None,
        playbook_ids=[p.id for p in catalogue.playbooks],
    )
    if out is not None:
        write_frame(report.comparison, Path(out) / "outcomes.csv")
        write_frame(report.recommendations, Path(out) / "outcome_accounts.csv")
    return report


def monitor(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path | None = None,
    out: str | Path | None = None,
    model_dir: str | Path | None = None,
    force: bool = False,
    validate: bool = True,
):  # noqa: ANN201 - a monitor.MonitorReport
    """Compare the population scored at ``as_of`` with the model's training population, and
    the model's scores of later dates with the churn that followed; one verdict (see
    :mod:`healthscore.monitor`).

    The training population is the data's snapshots in the model's training period,
    rebuilt with the scoring code path, or reused from the training-set cache of
    ``model_dir`` (default: the models folder the bundle lies in, where ``train`` keeps
    it). With ``out``, writes ``drift.csv``, ``score_bins.csv``, ``performance.csv``,
    ``calibration.csv`` and ``verdict.json`` into that folder, atomically.
    """
    if out is not None:
        check_writable(out, folder=True)
    from healthscore.bundle import read_metrics
    from healthscore.errors import DataError
    from healthscore.labels import is_observed, label_window_end
    from healthscore.monitor import (
        MonitorReport,
        calibration_by_decile,
        decide,
        feature_drift,
        gain_importance,
        period_bounds,
        realised_vs_predicted,
        score_shift,
        split_periods,
    )
    from healthscore.scoring import eligible_features

    when = pd.Timestamp(as_of)
    source = open_checked_source(data, config) if validate else open_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    metrics = read_metrics(fitted.bundle)
    bounds = period_bounds(metrics.get("train_period"))
    if bounds is None:
        raise ModelError(f"{fitted.bundle}: metrics.json records no train_period to compare with")
    frame = _training_frame(source, config, fitted.bundle, model_dir)
    reference = frame[(frame["as_of"] >= bounds[0]) & (frame["as_of"] <= bounds[1])]
    if reference.empty:
        raise DataError(
            f"the data has no snapshot in the model's training period {bounds[0].date()}.."
            f"{bounds[1].date()}; monitor compares with the data the model was trained on"
        )
    current = eligible_features(source, when, config)
    model_ = fitted.model
    settings = config.monitor
    drift = feature_drift(
        reference,
        current,
        features=model_.features,
        importance=gain_importance(model_.booster, model_.features),
        config=settings,
    )
    score_psi, score_bins = score_shift(
        model_.predict_proba(reference), model_.predict_proba(current), bins=settings.bins
    )
    labelled = frame[
        (frame["as_of"] > bounds[1]) & (frame["as_of"] <= when) & frame["label"].notna()
    ]
    done = labelled[is_observed(label_window_end(labelled, config), config, data_end=when)]
    done = done.assign(
        churn_probability=model_.predict_proba(done) if len(done) else pd.Series(dtype=float)
    )
    performance = realised_vs_predicted(done)
    performance["period"] = split_periods(performance["as_of"], metrics)
    recent_dates = sorted(performance["as_of"])[-settings.recent_dates :]
    recent = performance[performance["as_of"].isin(recent_dates)]
    test_auc = float(str(metrics.get("roc_auc") or "nan"))
    verdict, reasons = decide(
        drift, score_psi=score_psi, recent=recent, test_roc_auc=test_auc, config=settings
    )
    report = MonitorReport(
        as_of=when,
        verdict=verdict,
        reasons=reasons,
        drift=drift,
        score_psi=score_psi,
        score_bins=score_bins,
        performance=performance,
        calibration=calibration_by_decile(done[done["as_of"].isin(recent_dates)]),
        reference_period=str(metrics.get("train_period")),
        test_roc_auc=test_auc,
        facts={
            "accounts_scored": len(current),
            "reference_snapshots": len(reference),
            "model": fitted.version,
            "model_check": fitted.check,
        },
    )
    if out is not None:
        _write_monitor(report, Path(out))
    return report


def _training_frame(
    source: DataSource, config: Config, bundle: Path, model_dir: str | Path | None
) -> pd.DataFrame:
    """The data's training set: cached beside the models if ``train`` keeps a cache there,
    else built here (and not written: monitoring creates no folder of its own)."""
    from healthscore.dataset import build_training_set

    folder = Path(model_dir) if model_dir is not None else Path(bundle).resolve().parent.parent
    if (folder / CACHE_DIR).is_dir():
        return training_set_for(source, config, folder / CACHE_DIR).frame
    return build_training_set(source, config).frame


def _write_monitor(report, out: Path) -> None:  # noqa: ANN001
    from healthscore.storage import write_frame, write_text

    write_frame(report.drift, out / "drift.csv")
    write_frame(report.score_bins, out / "score_bins.csv")
    write_frame(report.performance, out / "performance.csv")
    write_frame(report.calibration, out / "calibration.csv")
    verdict = {
        "as_of": str(report.as_of.date()),
        "verdict": report.verdict,
        "reasons": report.reasons,
        "score_psi": report.score_psi,
        "reference_period": report.reference_period,
        "test_roc_auc": report.test_roc_auc,
        **report.facts,
    }
    write_text(json.dumps(verdict, indent=2, default=str), out / "verdict.json")


def closing_the_loop(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    past_scores: str | Path,
    model: str | Path | None = None,
    force: bool = False,
):  # noqa: ANN201 - a report_outcomes.LoopReport
    """Outcomes of the past score files and the model's check at ``as_of``, for the report.

    Either may be missing (no score file yet, a bundle without a training period): the
    report then says why in words, so a missing input never stops it.
    """
    from healthscore.errors import HealthscoreError
    from healthscore.report_outcomes import LoopReport

    parts: dict[str, object] = {}
    try:
        parts["outcomes"] = outcomes(data, config, scores=past_scores, validate=False)
    except HealthscoreError as exc:
        parts["outcomes_note"] = str(exc)
    try:
        parts["monitor"] = monitor(data, as_of, config, model=model, validate=False, force=force)
    except HealthscoreError as exc:
        parts["monitor_note"] = str(exc)
    return LoopReport(**parts)  # type: ignore[arg-type]
