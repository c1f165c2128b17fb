"""Benchmark: the feature build on Spark beside DuckDB, on the same generated world.

The world is ``bench_features.py``'s (``feature_data.py``: every table of the contract as
Parquet; 50,000 accounts, 24 monthly snapshots, 5 million events by default). Each engine
runs in its own process and builds all features of every account at every snapshot date
from the files:

* ``duckdb``: :func:`healthscore.features.build_features` (2 threads);
* ``spark``: :func:`healthscore.spark.features.features_frame` in a Spark session started
  by healthscore (``local[2]`` by default, ``--master`` to change), the JVM included.

Spark's start-up (JVM and session until a first trivial query returns) is timed apart from
its build, and the build is split into opening the data (typed views, reading the small
tables to the driver) and computing plus collecting the features. The outputs are
asserted equal (every feature of every row, numbers to 1e-9, the same nulls) before any
figure is printed, then the times side by side with the machine's load.

    python benchmarks/bench_spark.py                    # 5M events, 50,000 accounts
    python benchmarks/bench_spark.py --quick            # 1M events, 10,000 accounts
    python benchmarks/bench_spark.py --master 'local[8]' --driver-memory 8g
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import feature_data
from bench_features import assert_same
from peak import peak_rss_gib


def _snapshots(ids: list[str], dates: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": np.tile(ids, len(dates)),
            "as_of": np.repeat(dates.to_numpy(), len(ids)),
        }
    )


def run_duckdb(directory: Path, out: Path, args: argparse.Namespace) -> dict:
    from healthscore.config import Config
    from healthscore.features import build_features
    from healthscore.storage import open_source

    meta = json.loads((directory / "meta.json").read_text())
    started = time.perf_counter()
    config = Config().with_overrides(data={"end": meta["end"]}, engine={"threads": args.threads})
    source = open_source(directory, config)
    ids = [r[0] for r in source.con.sql("SELECT DISTINCT account_id FROM accounts").fetchall()]
    snapshots = _snapshots(sorted(ids), feature_data.snapshot_dates(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = build_features(source, snapshots, config)
    seconds = time.perf_counter() - started
    features.to_parquet(out)
    return {"build": seconds, "rows": len(features), "peak_rss_gib": peak_rss_gib()}


def run_spark(directory: Path, out: Path, args: argparse.Namespace) -> dict:
    from healthscore.config import Config
    from healthscore.spark.features import features_frame
    from healthscore.spark.session import spark_session
    from healthscore.spark.source import open_spark_source

    meta = json.loads((directory / "meta.json").read_text())
    conf = {"spark.driver.memory": args.driver_memory}
    config = Config().with_overrides(
        data={"end": meta["end"]}, engine={"spark": {"master": args.master, "conf": conf}}
    )
    started = time.perf_counter()
    spark = spark_session(config)
    spark.range(1).count()
    startup = time.perf_counter() - started
    started = time.perf_counter()
    source = open_spark_source(str(directory), config, spark=spark)
    source.small()
    ids = [r[0] for r in source.frame("accounts").select("account_id").distinct().collect()]
    snapshots = _snapshots(sorted(ids), feature_data.snapshot_dates(meta))
    opened = time.perf_counter() - started
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = features_frame(source, snapshots, config)
    seconds = time.perf_counter() - started
    features.to_parquet(out)
    return {
        "startup": startup,
        "open": opened,
        "features": seconds,
        "build": opened + seconds,
        "rows": len(features),
        "peak_rss_gib": peak_rss_gib(),  # the Python driver only; the JVM is another process
    }


def _subprocess(engine: str, directory: Path, out: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--run", engine, "--data", str(directory)]
    command += ["--out", str(out), "--threads", str(args.threads), "--master", args.master]
    command += ["--driver-memory", args.driver_memory]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=5e6)
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument("--master", default="local[2]", help="Spark master")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1M events, 10,000 accounts")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        runner = run_spark if args.run == "spark" else run_duckdb
        print(json.dumps(runner(args.data, args.out, args)))
        return
    if args.quick:
        args.events, args.accounts = 1e6, 10_000
    events = int(args.events)
    print(
        f"load {os.getloadavg()[0]:.2f} (1-minute average) on {os.cpu_count()} cores; DuckDB "
        f"{args.threads} threads, Spark {args.master}; {args.accounts:,} accounts, "
        f"{args.snapshots} monthly snapshots; each engine in its own process"
    )
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        directory = Path(tmp) / "data"
        meta = feature_data.generate(
            directory,
            accounts=args.accounts,
            events=events,
            snapshots=args.snapshots,
            seed=args.seed,
        )
        print(
            f"{events:,} events ({meta['logins']:,} logins, {meta['feature_usage']:,} feature "
            f"usage rows, {meta['tickets']:,} tickets, {meta['nps_responses']:,} NPS answers)"
        )
        results, frames = {}, {}
        for engine in ("duckdb", "spark"):
            out = Path(tmp) / f"{engine}.parquet"
            results[engine] = _subprocess(engine, directory, out, args)
            frames[engine] = pd.read_parquet(out)
            print(f"  {engine} done (load {os.getloadavg()[0]:.2f})")
        assert_same(frames["spark"], frames["duckdb"], "spark")
        print(f"  outputs equal: {results['duckdb']['rows']:,} rows, spark = duckdb")
    duck, spark = results["duckdb"], results["spark"]
    print(f"  {'':<34} {'DuckDB':>10} {'Spark':>10}")
    print(f"  {'start-up (JVM, session, 1 query)':<34} {'-':>10} {spark['startup']:>9.1f}s")
    print(f"  {'open the data, small tables':<34} {'':>10} {spark['open']:>9.1f}s")
    print(f"  {'features, collected':<34} {'':>10} {spark['features']:>9.1f}s")
    print(f"  {'build (without start-up)':<34} {duck['build']:>9.1f}s {spark['build']:>9.1f}s")
    total = spark["startup"] + spark["build"]
    print(f"  {'build with start-up':<34} {duck['build']:>9.1f}s {total:>9.1f}s")
    print(
        f"  Spark/DuckDB: {spark['build'] / duck['build']:.1f}x the build time on this machine "
        f"({total / duck['build']:.1f}x with start-up); driver peak RSS DuckDB "
        f"{duck['peak_rss_gib']:.2f} GiB, Spark's Python driver {spark['peak_rss_gib']:.2f} GiB"
    )
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
