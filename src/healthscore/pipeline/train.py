"""``train``: fit, evaluate out of time, write the bundle, record the run, gate the registry."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score

from healthscore import tracking
from healthscore.bundle import load_bundle_model, project_lock, publish_latest, write_bundle
from healthscore.config import Config, flatten_config
from healthscore.contract_terms import unknown_term_notice
from healthscore.dataset import CACHE_DIR, purge_days, training_set_for
from healthscore.errors import ModelError
from healthscore.features import catalogue_frame
from healthscore.fingerprint import (
    FINGERPRINT_FILE,
    SchemaFingerprint,
    project_name,
    read_fingerprint,
    schema_fingerprint,
    write_fingerprint,
)
from healthscore.i18n import Language
from healthscore.leak_alarm import LeakSuspect
from healthscore.leak_alarm import describe as describe_leaks
from healthscore.model_card import render_model_card
from healthscore.plots import evaluation_plots
from healthscore.provenance import git_commit, package_version
from healthscore.redaction import redact_url
from healthscore.storage import check_writable, open_source
from healthscore.synthetic import oracle_probability
from healthscore.tracking import Promotion
from healthscore.training import fit_and_evaluate
from healthscore.validation import validated_source


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

    model_dir = Path(model_dir)
    project = project_name(data, config)
    project_dir = model_dir / project
    if config.engine.name == "spark":  # features by Spark, the fit here (docs/scale.md)
        from healthscore.spark.pipeline import training_inputs

        spark_source, ts = training_inputs(data, config)
        fingerprint = schema_fingerprint(spark_source, project)  # type: ignore[arg-type]
        source = spark_source.small()
    else:
        source = validated_source(data, config) if validate else open_source(data, config)
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
        data=redact_url(data),
        fingerprint=data_hash,
        project=project,
        purge_days=purge_days(config),
    )
    tracking_config = config.tracking.for_project(project)

    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        extras = evaluation_plots(evaluation, scratch_dir / "plots", lang=Language.of(config))
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

        def outcome(
            run_id: str, bundle: Path, latest: Path, promotion: Promotion | None, uri: str | None
        ) -> TrainOutcome:
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
                    "git_commit": git_commit(root),
                    "package_version": package_version(),
                    "data": redact_url(data),
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
