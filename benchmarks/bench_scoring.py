"""Benchmark: scoring throughput, SHAP and playbooks included.

Trains nothing: it loads a model bundle (default ``models/latest``, as left by ``make demo``),
computes the features of every eligible account at one date of the data, then replicates
those feature rows (with a little noise on the numbers, so trees see varied inputs) up to
``--accounts`` rows and scores them through the same function the ``score`` command uses:
calibrated probability, health score, exact TreeSHAP contributions, top drivers with their
sentences, playbooks, touch tiers and ranking. It prints the time of each part and the
accounts per second.

    python benchmarks/bench_scoring.py --data data/demo --model models/latest --accounts 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.model import HealthModel
from healthscore.pipeline import latest_as_of
from healthscore.playbooks import load_playbooks
from healthscore.scoring import eligible_features, score_frame
from healthscore.storage import open_source


def replicate(features: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``n`` feature rows drawn from ``features``, numbers jittered by +-10%."""
    rng = np.random.default_rng(seed)
    rows = features.iloc[rng.integers(0, len(features), n)].reset_index(drop=True)
    numeric = [c for c in rows.columns if pd.api.types.is_float_dtype(rows[c])]
    rows[numeric] = rows[numeric] * rng.uniform(0.9, 1.1, (n, len(numeric)))
    rows["account_id"] = [f"B{i:07d}" for i in range(n)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--model", default="models/latest")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = Config()
    source = open_source(args.data, config)
    as_of = latest_as_of(source, config)
    model = HealthModel.load(args.model)
    catalogue = load_playbooks(None)

    t0 = time.perf_counter()
    features = eligible_features(source, as_of, config)
    t_features = time.perf_counter() - t0
    rows = replicate(features, args.accounts, args.seed)

    t0 = time.perf_counter()
    scores = score_frame(rows, model, config, catalogue=catalogue)
    t_score = time.perf_counter() - t0

    t0 = time.perf_counter()
    model.contributions(rows)
    t_shap = time.perf_counter() - t0

    print(
        f"features at {as_of.date()}: {len(features):,} accounts in {t_features:.2f} s "
        f"({len(features) / t_features:,.0f} accounts/s)"
    )
    print(
        f"scoring {len(scores):,} accounts (probability, score, SHAP, drivers, playbooks): "
        f"{t_score:.2f} s = {len(scores) / t_score:,.0f} accounts/s"
    )
    print(
        f"  of which exact TreeSHAP alone: {t_shap:.2f} s "
        f"({len(rows) / t_shap:,.0f} rows/s, {config.model.num_threads} threads, "
        f"{model.best_iteration} trees)"
    )
    print(
        f"target: {args.accounts:,} accounts in under 60 s -> "
        f"{'met' if t_score < 60 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
