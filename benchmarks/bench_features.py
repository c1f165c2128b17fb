"""Benchmark: usage features over a large login log, DuckDB engine versus plain pandas.

Generates a synthetic login log with numpy straight into Parquet (no simulator), then runs
each engine in its own subprocess so that each reports its own peak resident memory:

* ``duckdb``: :func:`healthscore.features.build_features` on every account at every monthly
  snapshot (the usage, contract and account families, since only those tables exist);
* ``pandas``: a straightforward pandas implementation of the same 14 usage-family features
  (logins and distinct active users over 7/30/90 days and the prior 30 days, login days,
  trends, days since the last login, seat utilisation) for every account at every snapshot:
  duplicates dropped once, then a boolean mask and a ``groupby`` per date and window, the
  way such features are often first written.

Each size in ``--events`` (default 5 and 50 million) gets its own data set, and both engines
run on it: the ratio is measured in the same run, on the same data. Reported: wall and CPU
time of the feature computation (file reading included for both), events per second, and
peak RSS of each process (``ru_maxrss``: Python, pandas and DuckDB together). The pandas
baseline holds every event in memory (about 9 GiB at 50 million); ``--pandas-up-to`` skips
it above a size.

Usage::

    python benchmarks/bench_features.py                      # defaults above
    python benchmarks/bench_features.py --events 5e6 --accounts 10000
    python benchmarks/bench_features.py --pandas-up-to 5e6   # DuckDB alone at 50 million
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

USERS_PER_ACCOUNT = 12
CHUNK = 5_000_000


def _dictionary(indices: np.ndarray, prefix: str, size: int) -> pa.DictionaryArray:
    names = pa.array([f"{prefix}{i:07d}" for i in range(size)])
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), names)


def generate(directory: Path, *, accounts: int, events: int, snapshots: int, seed: int) -> None:
    """Write accounts, contracts and logins Parquet files covering ``snapshots`` months."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2022-01-01")
    start = first - pd.Timedelta(days=120)
    end = first + pd.DateOffset(months=snapshots - 1)
    ids = [f"a{i:07d}" for i in range(accounts)]
    pd.DataFrame(
        {
            "account_id": ids,
            "created_at": start,
            "segment": rng.choice(["smb", "mid_market", "enterprise"], accounts),
        }
    ).to_parquet(directory / "accounts.parquet", index=False)
    pd.DataFrame(
        {
            "contract_id": [f"c{i}" for i in range(accounts)],
            "account_id": ids,
            "start_date": start,
            "end_date": end + pd.Timedelta(days=365),
            "arr": rng.integers(1_000, 100_000, accounts).astype(float),
            "seats": rng.integers(5, 50, accounts).astype(float),
        }
    ).to_parquet(directory / "contracts.parquet", index=False)
    # Account activity is skewed (a few accounts log in far more than most) and logins come
    # in sessions: a user who logs in on a day logs in 1 to 5 times that day. About 1% of the
    # rows are exact duplicates, as in real exports.
    weights = rng.pareto(1.5, accounts) + 0.1
    weights /= weights.sum()
    days = (end - start).days
    schema = pa.schema(
        [
            ("account_id", pa.dictionary(pa.int32(), pa.string())),
            ("user_id", pa.dictionary(pa.int32(), pa.string())),
            ("ts", pa.timestamp("us")),
        ]
    )
    day_us = 86_400 * 1_000_000
    start_us = int(start.value // 1000)
    with pq.ParquetWriter(directory / "logins.parquet", schema) as writer:
        for lo in range(0, events, CHUNK):
            n = min(CHUNK, events - lo)
            sessions = rng.integers(1, 6, n)
            n_days = int(np.searchsorted(np.cumsum(sessions), n)) + 1
            account = rng.choice(accounts, n_days, p=weights)
            user = account * USERS_PER_ACCOUNT + rng.integers(0, USERS_PER_ACCOUNT, n_days)
            day = rng.integers(0, days, n_days)
            repeat = sessions[:n_days]
            account, user, day = (np.repeat(x, repeat)[:n] for x in (account, user, day))
            ts = start_us + day * day_us + rng.integers(0, day_us, n)
            dup = rng.random(n) < 0.01
            ts[1:][dup[1:]] = ts[:-1][dup[1:]]
            user[1:][dup[1:]] = user[:-1][dup[1:]]
            account[1:][dup[1:]] = account[:-1][dup[1:]]
            writer.write_table(
                pa.table(
                    {
                        "account_id": _dictionary(account, "a", accounts),
                        "user_id": _dictionary(user, "u", accounts * USERS_PER_ACCOUNT),
                        "ts": pa.array(ts, type=pa.timestamp("us")),
                    },
                    schema=schema,
                )
            )
    (directory / "meta.json").write_text(
        json.dumps(
            {
                "first": str(first.date()),
                "end": str(end.date()),
                "events": events,
                "accounts": accounts,
                "snapshots": snapshots,
            }
        )
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_duckdb(directory: Path, *, threads: int, memory_limit: str) -> dict[str, float]:
    """Time the usage family, then the whole build_features, over every snapshot."""
    import warnings

    from healthscore.config import Config
    from healthscore.features import build_features, engine, usage
    from healthscore.snapshots import make_snapshots
    from healthscore.storage import open_source

    meta = json.loads((directory / "meta.json").read_text())
    config = Config().with_overrides(
        data={"end": meta["end"]}, snapshots={"start": meta["first"], "end": meta["end"]}
    )
    source = open_source(directory, config)
    source.con.execute("SET threads = $t", {"t": threads})
    source.con.execute("SET memory_limit = $m", {"m": memory_limit})
    source.con.execute("SET temp_directory = $d", {"d": str(directory / "duckdb_tmp")})
    snapshots = make_snapshots(source, config)
    reads = {}
    for view in ("logins", "raw_logins"):  # what typing the input costs, for the record
        cpu = _cpu_seconds()
        source.con.execute(
            f"SELECT max(length(account_id) + length(user_id) + epoch(ts)) FROM {view}"
        ).fetchall()
        reads[view] = _cpu_seconds() - cpu
    started, cpu = time.perf_counter(), _cpu_seconds()
    with engine.session(source, snapshots, config) as run:
        usage_features = usage.compute(run)
    usage_seconds, usage_cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    started, cpu = time.perf_counter(), _cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = build_features(source, snapshots, config)
    return {
        "seconds": usage_seconds,
        "cpu_seconds": usage_cpu,
        "rows": len(features),
        "columns": usage_features.shape[1] - 1,
        "build_seconds": time.perf_counter() - started,
        "build_cpu_seconds": _cpu_seconds() - cpu,
        "build_columns": features.shape[1] - 2,
        "typed_read_cpu_seconds": reads["logins"],
        "raw_read_cpu_seconds": reads["raw_logins"],
        "peak_rss_mb": _peak_rss_mb(),
    }


def pandas_usage(directory: Path) -> pd.DataFrame:
    """Plain pandas computing every usage-family feature the DuckDB engine computes.

    The way an analyst would first write it: duplicates dropped once, then for each
    snapshot date a boolean mask per window and a ``groupby`` per measure, and the result
    reindexed onto every account (0 where nothing happened, as the engine does).
    """
    meta = json.loads((directory / "meta.json").read_text())
    dates = pd.date_range(meta["first"], meta["end"], freq="MS")
    accounts = pd.read_parquet(directory / "accounts.parquet", columns=["account_id"])
    contracts = pd.read_parquet(directory / "contracts.parquet")
    logins = pd.read_parquet(directory / "logins.parquet").drop_duplicates()
    logins["account_id"] = logins["account_id"].astype(str)
    logins["user_id"] = logins["user_id"].astype(str)
    logins["day"] = logins["ts"].dt.normalize()
    index = pd.Index(accounts["account_id"], name="account_id")
    parts = []
    for as_of in dates:
        row = {}
        before = logins[logins["ts"] < as_of]
        for days in (7, 30, 90):
            window = before[before["ts"] >= as_of - pd.Timedelta(days=days)]
            grouped = window.groupby("account_id")
            row[f"logins_{days}d"] = grouped.size()
            row[f"active_users_{days}d"] = grouped["user_id"].nunique()
            if days == 30:
                row["login_days_30d"] = grouped["day"].nunique()
        prior = before[
            (before["ts"] >= as_of - pd.Timedelta(days=60))
            & (before["ts"] < as_of - pd.Timedelta(days=30))
        ].groupby("account_id")
        row["logins_prior_30d"] = prior.size()
        row["active_users_prior_30d"] = prior["user_id"].nunique()
        part = pd.DataFrame(row).reindex(index).fillna(0)
        last = before.groupby("account_id")["day"].max().reindex(index)
        part["days_since_last_login"] = (as_of - last).dt.days
        part["logins_trend_30d"] = part["logins_30d"] / part["logins_prior_30d"].replace(0, np.nan)
        part["active_users_trend_30d"] = part["active_users_30d"] / part[
            "active_users_prior_30d"
        ].replace(0, np.nan)
        part["logins_vs_avg_90d"] = part["logins_30d"] / (part["logins_90d"] / 3).replace(0, np.nan)
        active = contracts[(contracts["start_date"] < as_of) & (contracts["end_date"] >= as_of)]
        seats = active.groupby("account_id")["seats"].sum().reindex(index)
        part["seat_utilisation_30d"] = part["active_users_30d"] / seats.replace(0, np.nan)
        part["as_of"] = as_of
        parts.append(part)
    return pd.concat(parts)


def run_pandas(directory: Path) -> dict[str, float]:
    """Time :func:`pandas_usage`, file reading included."""
    started, cpu = time.perf_counter(), _cpu_seconds()
    features = pandas_usage(directory)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": _cpu_seconds() - cpu,
        "rows": len(features),
        "columns": features.shape[1] - 1,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _subprocess(engine: str, directory: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--run",
        engine,
        "--data",
        str(directory),
        "--threads",
        str(args.threads),
        "--memory-limit",
        args.memory_limit,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(label: str, events: int, result: dict[str, float], key: str = "seconds") -> None:
    seconds, cpu = result[key], result[key.replace("seconds", "cpu_seconds")]
    columns = result["columns" if key == "seconds" else "build_columns"]
    print(
        f"  {label:<22} {seconds:7.1f} s wall {cpu:7.1f} s cpu "
        f"{events / seconds / 1e6:6.2f} M events/s  "
        f"({int(result['rows']):,} rows x {int(columns)} features)"
    )


def _memory(label: str, result: dict[str, float]) -> None:
    print(f"  {label:<22} peak RSS {result['peak_rss_mb'] / 1024:.2f} GiB (whole process)")


def _reading(result: dict[str, float]) -> None:
    print(
        f"  {'(reading logins)':<22} typed view {result['typed_read_cpu_seconds']:.1f} s cpu, "
        f"untyped file {result['raw_read_cpu_seconds']:.1f} s cpu"
    )


def _sizes(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events",
        type=_sizes,
        default=[5_000_000, 50_000_000],
        help="login events per run, comma-separated (default 5000000,50000000)",
    )
    parser.add_argument(
        "--pandas-up-to",
        type=lambda text: int(float(text)),
        default=50_000_000,
        help="largest size the pandas baseline runs at; it holds every event in memory",
    )
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--snapshots", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--run", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run == "duckdb":
        print(
            json.dumps(run_duckdb(args.data, threads=args.threads, memory_limit=args.memory_limit))
        )
        return
    if args.run == "pandas":
        print(json.dumps(run_pandas(args.data)))
        return

    print(
        f"DuckDB threads={args.threads} memory_limit={args.memory_limit}; "
        f"{args.accounts:,} accounts, {args.snapshots} monthly snapshots; "
        "each engine in its own process"
    )
    ratios = []
    for i, events in enumerate(args.events):
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            directory = Path(tmp) / "data"
            started = time.perf_counter()
            generate(
                directory,
                accounts=args.accounts,
                events=events,
                snapshots=args.snapshots,
                seed=args.seed + i,
            )
            print(f"{events:,} login events (generated in {time.perf_counter() - started:.1f} s):")
            duck = _subprocess("duckdb", directory, args)
            plain = _subprocess("pandas", directory, args) if events <= args.pandas_up_to else None
        _report("duckdb usage family", events, duck)
        if plain is not None:
            _report("pandas usage family", events, plain)
        _report("duckdb build_features", events, duck, "build_seconds")
        _reading(duck)
        _memory("duckdb", duck)
        if plain is None:
            print(f"  pandas baseline skipped (above --pandas-up-to {args.pandas_up_to:,})")
            continue
        _memory("pandas", plain)
        speed_up = plain["seconds"] / duck["seconds"]
        ratios.append((events, speed_up, plain["cpu_seconds"] / duck["cpu_seconds"]))
        print(
            f"  speed-up of the usage family over pandas: {speed_up:.1f}x wall, "
            f"{ratios[-1][2]:.1f}x cpu (same windows on both sides: duckdb "
            f"{int(duck['columns'])} and pandas {int(plain['columns'])} usage features for "
            "every account at every snapshot)"
        )
    if ratios:
        print("summary: " + "; ".join(f"{e:,} events {w:.1f}x wall" for e, w, _ in ratios))


if __name__ == "__main__":
    main()
