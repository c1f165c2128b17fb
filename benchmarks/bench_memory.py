"""Benchmark: peak memory of ``validate``, ``build`` and ``score`` on a 20-million-event world.

Generates a simulated book (``book.py``; ``--accounts`` 30,000 make about 20 million events
over 14 months, kept in a cache folder), trains a small model on a separate world, then runs
each command through the installed ``healthscore`` program in its own process and reads that
process's peak resident memory from the kernel (``wait4``). DuckDB's memory limit is the
config's (``[engine] memory_limit``, default half of the machine); ``--memory-limit`` sets
it for the run. Target: ``score`` under 2 GB.

    python benchmarks/bench_memory.py                      # 30,000 accounts
    python benchmarks/bench_memory.py --quick              # 3,000 accounts
    python benchmarks/bench_memory.py --memory-limit 1GB
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book
from peak import run_measured

#: 2 GB, in GiB (the peaks are printed in GiB).
TARGET_SCORE_GIB = 2e9 / 2**30


def measure(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in GiB and exit code of one command."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        seconds, peak, code = run_measured(command, stderr=errors)
        if code != 0:
            errors.seek(0)
            print(errors.read()[-2000:])
    return seconds, peak, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=30_000)
    parser.add_argument("--memory-limit", default=None, help="DuckDB's, e.g. 1GB")
    parser.add_argument("--quick", action="store_true", help="3,000 accounts")
    parser.add_argument("--workdir", type=Path, default=None, help="where books are kept")
    args = parser.parse_args()
    if args.quick:
        args.accounts = 3_000

    cache = book.cache_dir(args.workdir)
    data = cache / f"book-{args.accounts}"
    meta = book.make_book(data, accounts=args.accounts)
    model = book.trained_model(cache)
    # Flush a book just written: its write-back would otherwise land in the first command.
    os.sync()
    program = str(Path(sys.executable).with_name("healthscore"))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "healthscore.toml"
        lines = ["[tracking]", "enabled = false"]
        if args.memory_limit:
            lines += ["[engine]", f'memory_limit = "{args.memory_limit}"']
        config.write_text("\n".join(lines) + "\n")
        common = ["--data", str(data), "--config", str(config)]
        as_of = meta["end"]
        commands = {
            "validate": [program, "validate", *common],
            "build": [program, "build", *common, "--out", str(Path(tmp) / "training.parquet")],
            "score": [
                program,
                "score",
                *common,
                "--as-of",
                as_of,
                "--model",
                str(model),
                "--out",
                str(Path(tmp) / "scores.csv"),
                # The model comes from a small simulated world of another project: scored
                # as `score --force` does, the output recording it.
                "--force",
            ],
        }
        print(
            f"{args.accounts:,} accounts, {meta['events']:,} events; DuckDB memory limit "
            f"{args.memory_limit or 'from the config (default: half of the machine)'}; "
            f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        )
        for name, command in commands.items():
            seconds, peak, code = measure(command)
            verdict = ""
            if code != 0:
                verdict = "  (failed: no figure)"
            elif name == "score":
                ok = peak < TARGET_SCORE_GIB
                verdict = (
                    f"  (target < 2 GB = {TARGET_SCORE_GIB:.2f} GiB: {'met' if ok else 'NOT met'})"
                )
            status = "" if code == 0 else f"  exit code {code}"
            print(f"  {name:<9} {seconds:7.1f} s  peak RSS {peak:5.2f} GiB{verdict}{status}")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
