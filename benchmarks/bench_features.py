"""Benchmark: the whole feature build, DuckDB engine against polars and pandas versions.

Generates every table of the contract with numpy straight into Parquet
(``feature_data.py``: logins and feature usage share the ``--events``, tickets and NPS
answers scale with the accounts; the event logs in time order, as an export is written, or
with ``--order random`` in none), then computes all 58 catalogue features of every account
at every monthly snapshot with each engine, each in its own process so that each reports its
own peak resident memory:

* ``duckdb``: :func:`healthscore.features.build_features`, opening the files included;
* ``duckdb-1``: the same at the last snapshot date alone (what scoring computes);
* ``duckdb-cached`` (only when asked for with ``--engines``): the build reading the day
  roll-ups that an earlier training build of the same data left in its cache (writing them
  is not timed);
* ``polars`` and ``pandas``: ``features_polars.py`` and ``features_pandas.py``, the same
  features written as a competent user would (integer ids, duplicates dropped once, time-
  sorted tables sliced with a binary search, one group-by per window), file reading
  included.

Each engine's clock starts once its modules are imported (the import seconds are printed
beside it) and holds everything else: opening the files, the set-up and the build. The
outputs are asserted equal (every feature, every row; numbers to 1e-9 relative) before
any figure is printed. Then wall and CPU seconds, events per second and peak RSS
(``ru_maxrss``: the whole process) per engine, and the ratios against the targets, all
measured in this run on the same data.

    python benchmarks/bench_features.py                        # 5M and 50M events
    python benchmarks/bench_features.py --quick                # 1M events, 10,000 accounts
    python benchmarks/bench_features.py --events 5e6 --engines duckdb,polars
    python benchmarks/bench_features.py --order random       # event logs in no time order

polars is a benchmark-only dependency: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import feature_data
from peak import peak_rss_gib

#: The peak's target is 2 GB, in GiB (the peaks are printed in GiB).
TARGETS = {"polars": 1.5, "pandas": 4.0, "one_date": 5.0, "peak_gib": 2e9 / 2**30}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _import_engine(engine: str) -> None:
    """Import what ``engine`` runs on, so that no engine's clock holds module imports (pandas
    is imported by this module already)."""
    if engine.startswith("duckdb"):
        import healthscore.dataset
        import healthscore.features
        import healthscore.features.rollups
        import healthscore.storage  # noqa: F401
    elif engine == "polars":
        import features_polars  # noqa: F401
    else:
        import features_pandas  # noqa: F401


def run_engine(engine: str, directory: Path, out: Path, args: argparse.Namespace) -> dict:
    """Compute the features with one engine; write them to ``out``; return the timings.

    The clock starts after the engine's modules are imported (their seconds are returned
    apart) and includes everything else: opening the files, the set-up and the build.
    """
    meta = json.loads((directory / "meta.json").read_text())
    dates = feature_data.snapshot_dates(meta)
    if engine == "polars":
        os.environ.setdefault("POLARS_MAX_THREADS", str(args.threads))
    imported = time.perf_counter()
    _import_engine(engine)
    imported = time.perf_counter() - imported
    started, cpu = time.perf_counter(), _cpu_seconds()
    if engine.startswith("duckdb"):
        import warnings

        from healthscore.config import Config
        from healthscore.features import build_features
        from healthscore.storage import open_source

        engine_config = {"threads": args.threads}
        if args.memory_limit:
            engine_config["memory_limit"] = args.memory_limit
        config = Config().with_overrides(data={"end": meta["end"]}, engine=engine_config)
        source = open_source(directory, config)
        ids = source.con.sql("SELECT DISTINCT account_id FROM accounts ORDER BY 1").fetchall()
        days = dates[-1:] if engine == "duckdb-1" else dates
        snapshots = pd.DataFrame(
            {
                "account_id": np.tile([row[0] for row in ids], len(days)),
                "as_of": np.repeat(days.to_numpy(), len(ids)),
            }
        )
        rollups = None
        if engine == "duckdb-cached":  # the day roll-ups a previous training build left
            from healthscore.dataset import data_fingerprint
            from healthscore.features.rollups import RollupCache

            rollups = RollupCache.for_data(out.parent / "rollups", data_fingerprint(source))
            rollups.ensure(source)
            started, cpu = time.perf_counter(), _cpu_seconds()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            features = build_features(source, snapshots, config, rollups=rollups)
    elif engine == "polars":
        import features_polars

        features = features_polars.compute(directory, dates)
    else:
        import features_pandas

        features = features_pandas.compute(directory, dates)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    features.to_parquet(out)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "import_seconds": imported,
        "rows": len(features),
        "features": features.shape[1] - 2,
        "peak_rss_gib": peak_rss_gib(),
    }


def _subprocess(engine: str, directory: Path, out: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--run", engine, "--data", str(directory)]
    command += ["--out", str(out), "--threads", str(args.threads)]
    if args.memory_limit:
        command += ["--memory-limit", args.memory_limit]
    env = dict(os.environ, POLARS_MAX_THREADS=str(args.threads))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_same(engine: pd.DataFrame, reference: pd.DataFrame, name: str) -> None:
    """Every feature of every row equal (numbers to 1e-9 relative, NaN equal to NaN)."""
    keys = ["as_of", "account_id"]
    for frame in (engine, reference):
        frame["as_of"] = pd.to_datetime(frame["as_of"])
        frame["account_id"] = frame["account_id"].astype(str)
    left = engine.sort_values(keys, ignore_index=True)
    right = reference.sort_values(keys, ignore_index=True)
    if list(left.columns) != list(right[left.columns].columns) or len(left) != len(right):
        raise AssertionError(f"{name}: different columns or row counts")
    if not (left[keys].to_numpy() == right[keys].to_numpy()).all():
        raise AssertionError(f"{name}: different (as_of, account_id) rows")
    for column in left.columns[2:]:
        a, b = left[column], right[column]
        if pd.api.types.is_numeric_dtype(a):
            same = np.isclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True
            )
        else:
            same = (
                a.astype(object).where(a.notna(), None).to_numpy()
                == b.astype(object).where(b.notna(), None).to_numpy()
            )
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            raise AssertionError(
                f"{name}: {column} differs in {int((~same).sum())} rows, e.g. "
                f"{left.loc[i, 'account_id']} at {left.loc[i, 'as_of']:%Y-%m-%d}: "
                f"engine {a.iloc[i]!r}, {name} {b.iloc[i]!r}"
            )


def _line(label: str, events: int, result: dict) -> None:
    print(
        f"  {label:<13} {result['seconds']:7.1f} s wall {result['cpu_seconds']:7.1f} s cpu "
        f"{events / result['seconds'] / 1e6:6.2f} M events/s  peak RSS "
        f"{result['peak_rss_gib']:.2f} GiB  ({result['rows']:,} rows x {result['features']}; "
        f"imports {result['import_seconds']:.1f} s before the clock)"
    )


def _verdict(value: float, target: float, *, at_most: bool = False) -> str:
    ok = value <= target if at_most else value >= target
    return "met" if ok else "NOT met"


def _sizes(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=_sizes, default=[5_000_000, 50_000_000])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--engines", default="duckdb,duckdb-1,polars,pandas")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB and polars threads")
    parser.add_argument("--memory-limit", default=None, help="DuckDB's; default: the config's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--order",
        choices=["time", "random"],
        default="time",
        help="the event logs' row order: time (as an export is written) or random",
    )
    parser.add_argument("--quick", action="store_true", help="1M events, 10,000 accounts")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_engine(args.run, args.data, args.out, args)))
        return
    if args.quick:
        args.events, args.accounts = [1_000_000], 10_000
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]

    print(
        f"load {os.getloadavg()[0]:.2f} (1-minute average) on {os.cpu_count()} cores; "
        f"{args.threads} threads for DuckDB and polars; {args.accounts:,} accounts, "
        f"{args.snapshots} monthly snapshots; event logs in {args.order} order; each engine "
        "in its own process"
    )
    for i, events in enumerate(args.events):
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            directory = Path(tmp) / "data"
            started = time.perf_counter()
            meta = feature_data.generate(
                directory,
                accounts=args.accounts,
                events=events,
                snapshots=args.snapshots,
                seed=args.seed + i,
                order=args.order,
            )
            print(
                f"{events:,} events ({meta['logins']:,} logins, {meta['feature_usage']:,} "
                f"feature usage rows, {meta['tickets']:,} tickets, {meta['nps_responses']:,} "
                f"NPS answers; generated in {time.perf_counter() - started:.1f} s):"
            )
            # Flush the files just written: their write-back would otherwise land in the
            # first engine's time.
            os.sync()
            results, frames = {}, {}
            for engine in engines:
                out = Path(tmp) / f"{engine}.parquet"
                results[engine] = _subprocess(engine, directory, out, args)
                frames[engine] = pd.read_parquet(out)
            if "duckdb" in frames:
                for reference in ("polars", "pandas"):
                    if reference in frames:
                        assert_same(frames["duckdb"], frames[reference], reference)
                if "duckdb-cached" in frames:
                    assert_same(frames["duckdb-cached"], frames["duckdb"].copy(), "duckdb-cached")
                if "duckdb-1" in frames:
                    last = frames["duckdb"][
                        frames["duckdb"]["as_of"] == frames["duckdb"]["as_of"].max()
                    ]
                    assert_same(frames["duckdb-1"], last.copy(), "duckdb at one date")
                checked = [e for e in engines if e != "duckdb"]
                print(f"  outputs equal: duckdb = {' = '.join(checked) or '(nothing to compare)'}")
        for engine in engines:
            _line(engine, events, results[engine])
        duck = results.get("duckdb")
        if duck is None:
            continue
        peak_verdict = _verdict(duck["peak_rss_gib"], TARGETS["peak_gib"], at_most=True)
        print(
            f"  duckdb peak RSS {duck['peak_rss_gib']:.2f} GiB (target < 2 GB = "
            f"{TARGETS['peak_gib']:.2f} GiB: {peak_verdict})"
        )
        for reference in ("polars", "pandas"):
            if reference in results:
                ratio = results[reference]["seconds"] / duck["seconds"]
                print(
                    f"  duckdb vs {reference}: {ratio:.2f}x faster wall, "
                    f"{results[reference]['cpu_seconds'] / duck['cpu_seconds']:.2f}x cpu "
                    f"(target >= {TARGETS[reference]}x: {_verdict(ratio, TARGETS[reference])})"
                )
        if "duckdb-1" in results:
            ratio = duck["seconds"] / results["duckdb-1"]["seconds"]
            print(
                f"  one date vs {args.snapshots} dates: {ratio:.2f}x cheaper "
                f"(target >= {TARGETS['one_date']}x: {_verdict(ratio, TARGETS['one_date'])})"
            )
    print(f"load at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
