"""Benchmark: LightGBM fit time on a quiet machine and with another process holding a core.

Simulates a world (``--accounts``, default the demo's 3,000), builds its training set once,
then times the model fit of ``train`` (``HealthModel.fit`` on the out-of-time split, early
stopping and calibration included) for each thread count in ``--threads``, first alone and
then while ``--competitors`` busy processes (pure Python loops, one core each) run beside
it. Each fit runs in its own subprocess so that OpenMP starts fresh, and is repeated
``--repeats`` times (the median is reported). It prints the ratio loaded / quiet per thread
count, next to the target (at most 1.5x).

    python benchmarks/bench_training.py                    # 3,000 accounts, threads 1,2
    python benchmarks/bench_training.py --quick            # 600 accounts, one repeat
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5


def fit_once(training_set: Path, threads: int) -> float:
    """Seconds of one fit with ``threads`` LightGBM threads (run in a subprocess)."""
    from healthscore.config import Config
    from healthscore.dataset import load_training_set, time_split
    from healthscore.model import HealthModel

    ts = load_training_set(training_set)
    config = Config().with_overrides(model={"num_threads": threads})
    split = time_split(ts.labelled, config)
    started = time.perf_counter()
    HealthModel.fit(
        split.train,
        split.train["label"].to_numpy(int),
        split.valid,
        split.valid["label"].to_numpy(int),
        features=ts.features,
        config=config.model,
        score_config=config.score,
        seed=config.seed,
    )
    return time.perf_counter() - started


def _busy() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _timed(training_set: Path, threads: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, __file__, "--fit", str(training_set), "--threads", str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--threads", default="1,2", help="thread counts to compare")
    parser.add_argument("--competitors", type=int, default=1, help="busy processes beside it")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="600 accounts, one repeat")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--fit", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit is not None:
        print(json.dumps({"seconds": fit_once(args.fit, int(args.threads))}))
        return
    if args.quick:
        args.accounts, args.repeats = 600, 1

    from healthscore.config import Config
    from healthscore.dataset import build_training_set, save_training_set
    from healthscore.pipeline import generate_data
    from healthscore.storage import open_source

    print(f"load before: {os.getloadavg()[0]:.2f} (1-minute average), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        data = Path(tmp) / "data"
        generate_data(data, n_accounts=args.accounts, start="2023-01-01", end="2026-01-01")
        training_set = Path(tmp) / "training_set.parquet"
        ts = build_training_set(open_source(data, Config()), Config())
        save_training_set(ts, training_set)
        print(f"{args.accounts:,} accounts: {len(ts.labelled):,} labelled snapshots")
        for threads in [int(t) for t in args.threads.split(",")]:
            quiet = _timed(training_set, threads, args.repeats)
            busy = [_busy() for _ in range(args.competitors)]
            try:
                loaded = _timed(training_set, threads, args.repeats)
            finally:
                for process in busy:
                    process.kill()
                    process.wait()
            ratio = loaded / quiet
            print(
                f"  num_threads={threads}: quiet {quiet:.2f} s, with {args.competitors} busy "
                f"process(es) {loaded:.2f} s -> {ratio:.2f}x (target <= {TARGET}x: "
                f"{'met' if ratio <= TARGET else 'NOT met'})"
            )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
