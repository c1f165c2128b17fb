"""Benchmark: the account card of one account against scoring the whole portfolio.

Runs the two library calls behind ``healthscore explain`` and ``healthscore score`` on the
same data, model and date (validation included, as the commands do), prints their times
side by side with the part of each that is the data validation they share, and checks that
the card agrees with the account's row of the scores: same health score, drivers with their
peer figures, and playbook. The account defaults to the first of the scores (the most ARR
at risk).

    python benchmarks/bench_explain.py --data data/demo [--model models/demo/latest]
        [--as-of 2026-01-01] [--account A000123] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from healthscore.config import Config
from healthscore.pipeline import explain, score
from healthscore.scoring import N_DRIVERS
from healthscore.snapshots import latest_as_of
from healthscore.storage import open_source
from healthscore.validation import validated_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--model", default=None, help="default: models/<project>/latest")
    parser.add_argument("--as-of", default=None, help="default: the latest cadence date")
    parser.add_argument("--account", default=None, help="default: the top of the scores")
    parser.add_argument("--repeat", type=int, default=3, help="explain runs (median shown)")
    args = parser.parse_args()

    config = Config()
    as_of = args.as_of or str(latest_as_of(open_source(args.data, config), config).date())

    t0 = time.perf_counter()
    validated_source(args.data, config)
    t_validate = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = score(args.data, as_of, config, model=args.model)
    t_score = time.perf_counter() - t0
    account = args.account or str(scores["account_id"].iloc[0])

    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        card, _ = explain(args.data, as_of, account, config, model=args.model)
        times.append(time.perf_counter() - t0)
    t_explain = statistics.median(times)

    row = scores.set_index("account_id").loc[account]
    same = bool(
        row["health_score"] == card.scores["health_score"]
        and row["playbook_id"] == card.scores["playbook_id"]
        and all(
            (pd.isna(row[f"driver_{k}_text"]) and pd.isna(card.scores[f"driver_{k}_text"]))
            or row[f"driver_{k}_text"] == card.scores[f"driver_{k}_text"]
            for k in range(1, N_DRIVERS + 1)
        )
    )
    print(f"data {args.data}, as of {as_of}, {len(scores):,} accounts scored")
    print(
        f"score, the whole portfolio:       {t_score:6.1f} s "
        f"({t_score - t_validate:.1f} s after the {t_validate:.1f} s data validation)"
    )
    print(
        f"explain, one account ({account}): {t_explain:6.1f} s "
        f"({t_explain - t_validate:.1f} s after the validation; median of {len(times)} runs: "
        f"{', '.join(f'{t:.1f}' for t in times)})"
    )
    print(f"explain / score: {t_explain / t_score:.0%}")
    print(f"card agrees with the scores (score, drivers, playbook): {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
