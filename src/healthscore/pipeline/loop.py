"""``outcomes`` and ``monitor``: did the plays work, and can the model still be trusted."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore import simulation_defaults as default
from healthscore.bundle import read_metrics
from healthscore.config import Config
from healthscore.dataset import CACHE_DIR, build_training_set, training_set_for
from healthscore.errors import DataError, HealthscoreError, ModelError
from healthscore.features import FeaturesOffWarning
from healthscore.labels import is_observed, label_window_end
from healthscore.model import HealthModel
from healthscore.model_loading import load_model
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
from healthscore.outcomes import OutcomesReport, find_score_files, measure_outcomes
from healthscore.playbooks import load_playbooks
from healthscore.report_outcomes import LoopReport
from healthscore.scoring import eligible_features, score_accounts
from healthscore.storage import (
    DataSource,
    check_writable,
    open_source,
    source_from_frames,
    write_frame,
    write_tables,
    write_text,
)
from healthscore.synthetic import TRUTH_DIR, generate_world
from healthscore.synthetic.treatment import (
    Treatment,
    TreatmentEffects,
    actions_table,
    default_action_date,
    plan_actions,
    splice_past,
    true_effects,
)
from healthscore.training import fit_and_evaluate
from healthscore.validation import validated_source

#: Where a world with actions keeps the score files of its past run.
SCORES_DIR = "_scores"


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
    n_accounts: int = default.ACCOUNTS,
    start: str = default.START,
    end: str = default.END,
    seed: int = default.SEED,
    fmt: str = "parquet",
    config: Config | None = None,
    act_at: str | None = None,
    model: str | Path | None = None,
    effects: TreatmentEffects | None = None,
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
        fitted = HealthModel.load(model, threads=config.model.predict_threads)
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
) -> OutcomesReport:
    """Did the plays work: treated against held-out accounts per playbook and tier.

    Reads the score files in the folder ``scores`` (the record of recommendations and
    holdouts) and the data's ``playbook_actions`` if any. With ``out``, writes
    ``outcomes.csv`` (the comparison) and ``outcome_accounts.csv`` (one row per compared
    recommendation) into that folder, atomically.
    """

    if out is not None:
        check_writable(out, folder=True)
    source = validated_source(data, config) if validate else open_source(data, config)
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
) -> MonitorReport:
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

    when = pd.Timestamp(as_of)
    source = validated_source(data, config) if validate else open_source(data, config)
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

    folder = Path(model_dir) if model_dir is not None else Path(bundle).resolve().parent.parent
    if (folder / CACHE_DIR).is_dir():
        return training_set_for(source, config, folder / CACHE_DIR).frame
    return build_training_set(source, config).frame


def _write_monitor(report: MonitorReport, out: Path) -> None:

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
) -> LoopReport:
    """Outcomes of the past score files and the model's check at ``as_of``, for the report.

    Either may be missing (no score file yet, a bundle without a training period): the
    report then says why in words, so a missing input never stops it.
    """

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
