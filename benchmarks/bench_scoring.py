"""Benchmark: scoring a simulated book end to end, as ``healthscore score`` runs it.

Generates a book of ``--accounts`` accounts with the simulator (``book.py``: 14 months of
history, about 580 events per account; kept in a cache folder so a rerun measures scoring
alone), trains a model on a small separate world, then runs the ``score`` command's own
library call (:func:`healthscore.pipeline.score`) in a fresh process: model loading, the
schema check, the features of the scoring date and of the previous cadence step in one
build, prediction, SHAP drivers, driver sentences, playbooks and the CSV write. It prints
the seconds of each stage, the peak resident memory of that process, and both against the
targets (100,000 accounts in under 30 s and 2 GB on two cores).

    python benchmarks/bench_scoring.py                        # 100,000 accounts
    python benchmarks/bench_scoring.py --quick                # 5,000 accounts
    python benchmarks/bench_scoring.py --accounts 20000 --drivers all
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book
from peak import peak_rss_gib

TARGET_SECONDS = 30.0
#: 2 GB, in GiB (the peaks are printed in GiB).
TARGET_GIB = 2e9 / 2**30


def score_once(data: Path, model: Path, out: Path, drivers: str, memory_limit: str | None) -> dict:
    """Score ``data`` at its latest cadence date (run in a fresh process)."""
    from healthscore.config import Config
    from healthscore.pipeline import score
    from healthscore.snapshots import latest_as_of
    from healthscore.storage import open_source

    engine = {"memory_limit": memory_limit} if memory_limit else {}
    config = Config().with_overrides(score={"drivers": drivers}, engine=engine)
    as_of = latest_as_of(open_source(data, config), config)
    timings: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    # The model comes from a small simulated world of another project (trained once, kept):
    # the book is scored with it as `score --force` would, the output recording that.
    scores = score(
        data, str(as_of.date()), config, model=model, out=out, timings=timings, force=True
    )
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "as_of": str(as_of.date()),
        "accounts": len(scores),
        "explained": int(scores["driver_1"].notna().sum()),
        "flagged": int((scores["risk_tier"] != "healthy").sum()),
        "seconds": total,
        "cpu_seconds": cpu,
        "stages": timings,
        "peak_rss_gib": peak_rss_gib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--drivers", choices=["watch", "all"], default="watch")
    parser.add_argument("--memory-limit", default=None, help="DuckDB's; default: the config's")
    parser.add_argument("--quick", action="store_true", help="5,000 accounts")
    parser.add_argument("--workdir", type=Path, default=None, help="where books are kept")
    parser.add_argument("--run", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        data, model, out = args.run
        print(json.dumps(score_once(data, model, out, args.drivers, args.memory_limit)))
        return
    if args.quick:
        args.accounts = 5_000

    cache = book.cache_dir(args.workdir)
    started = time.perf_counter()
    meta = book.make_book(cache / f"book-{args.accounts}", accounts=args.accounts)
    model = book.trained_model(cache)
    # Flush a book just written: its write-back would otherwise land in the timed run.
    os.sync()
    print(
        f"book: {args.accounts:,} accounts, {meta['events']:,} events "
        f"({meta['rows']['logins']:,} logins, {meta['rows']['feature_usage']:,} feature usage "
        f"rows), {meta['start']} to {meta['end']}; ready in {time.perf_counter() - started:.0f} s"
    )
    print(f"load before {os.getloadavg()[0]:.2f} (1-minute average) on {os.cpu_count()} cores")
    out = cache / f"scores-{args.accounts}.csv"
    command = [sys.executable, __file__, "--drivers", args.drivers]
    if args.memory_limit:
        command += ["--memory-limit", args.memory_limit]
    command.append("--run")
    done = subprocess.run(
        [*command, str(cache / f"book-{args.accounts}"), str(model), str(out)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"scored {result['accounts']:,} accounts at {result['as_of']} "
        f"({result['flagged']:,} in watch or at_risk; drivers for {result['explained']:,}, "
        f"drivers = {args.drivers!r}; DuckDB memory limit {args.memory_limit or 'default'}):"
    )
    for stage, seconds in result["stages"].items():
        print(f"  {stage:<24} {seconds:6.2f} s  {100 * seconds / result['seconds']:4.0f}%")
    seconds, peak = result["seconds"], result["peak_rss_gib"]
    print(
        f"  {'total':<24} {seconds:6.2f} s wall, {result['cpu_seconds']:.2f} s cpu, "
        f"peak RSS {peak:.2f} GiB (whole process)"
    )
    if args.accounts >= 100_000:
        print(
            f"targets at {args.accounts:,} accounts: under {TARGET_SECONDS:.0f} s -> "
            f"{'met' if seconds < TARGET_SECONDS else 'NOT met'}; "
            f"under 2 GB ({TARGET_GIB:.2f} GiB) -> "
            f"{'met' if peak < TARGET_GIB else 'NOT met'}"
        )
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
