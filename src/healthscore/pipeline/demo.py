"""``demo``: the main job end to end on the embedded simulated data."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore import simulation_defaults as default
from healthscore.config import Config
from healthscore.pipeline.data import generate_data
from healthscore.pipeline.report import report
from healthscore.pipeline.score import score
from healthscore.pipeline.train import TrainOutcome, train
from healthscore.snapshots import latest_as_of
from healthscore.storage import check_writable, open_source
from healthscore.validation import validate_data


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


def demo(
    *,
    workdir: str | Path = ".",
    n_accounts: int = default.ACCOUNTS,
    seed: int = default.SEED,
    config: Config | None = None,
    regenerate: bool = False,
) -> DemoOutcome:
    """The main job end to end on simulated data: generate, validate, train, score, report."""
    check_writable(workdir, folder=True)

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
