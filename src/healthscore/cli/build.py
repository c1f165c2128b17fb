"""``build``: the training set, one row per (account_id, as_of)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    EngineOption,
    app,
    config_from,
    console,
    plain,
    progress,
)


@app.command()
def build(
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Training set file (.parquet).")],
    config: ConfigOption = None,
    engine: EngineOption = None,
) -> None:
    """Build the training set: one row per (account_id, as_of), features and label."""
    cfg = config_from(config, engine=engine)
    with progress("Building snapshots, labels and features"):
        if cfg.engine.name == "spark":
            from healthscore.spark.pipeline import build_dataset as build_on_spark

            ts = build_on_spark(data, cfg, out=out)
        else:
            from healthscore.pipeline import build_dataset

            ts = build_dataset(data, cfg, out=out)
    meta = ts.metadata
    rate = meta["n_churned"] / max(meta["n_labelled"], 1)
    console.print(
        plain(
            f"Wrote {out}: {meta['n_rows']:,} snapshots, {meta['n_labelled']:,} labelled "
            f"({meta['n_rows'] - meta['n_labelled']:,} censored), churn rate {rate:.1%} over "
            f"{meta['horizon_days']} days, {len(meta['features'])} features. "
            f"Metadata: {out}.meta.json"
        )
    )
