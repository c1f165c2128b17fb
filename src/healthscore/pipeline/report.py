"""``kpis`` and ``report``: retention KPIs, and the CS leader's page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from healthscore.bundle import read_metrics
from healthscore.config import Config
from healthscore.i18n import Language
from healthscore.kpis import cohort_retention, compute_kpis
from healthscore.model_loading import load_model
from healthscore.pipeline.loop import closing_the_loop
from healthscore.pipeline.score import score
from healthscore.report import render_report, write_report
from healthscore.snapshots import step_back
from healthscore.storage import FRAME_SUFFIXES, check_writable, open_source, write_frame
from healthscore.validation import validated_source

#: KPI periods the report's trend charts show.
TREND_PERIODS = 24


def kpis(
    data: str | Path, config: Config, *, freq: str = "month", out: str | Path | None = None
) -> pd.DataFrame:
    """Retention KPIs per period; written atomically to ``out`` if given."""
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)

    table = compute_kpis(validated_source(data, config), config, freq=freq)
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

    source = validated_source(data, config) if validate else open_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    if scores is None:
        scores = score(data, as_of, config, model=model, force=force)
    bundle = fitted.bundle
    metrics = read_metrics(bundle)
    plots = {p.stem: p for p in sorted((bundle / "plots").glob("*.png"))}

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
