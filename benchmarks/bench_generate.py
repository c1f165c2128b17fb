"""How fast the simulator generates events.

Events are the rows of logins, feature usage, support tickets and NPS responses. About
7,000 accounts over three years make some 10 million events::

    python benchmarks/bench_generate.py --accounts 7000
"""

from __future__ import annotations

import argparse
import time

from healthscore.synthetic import generate_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=7000, help="accounts to simulate")
    parser.add_argument("--start", default="2023-01-01", help="first observed day")
    parser.add_argument("--end", default="2026-01-01", help="exclusive end of the history")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    args = parser.parse_args()

    started = time.perf_counter()
    world = generate_world(args.accounts, start=args.start, end=args.end, seed=args.seed)
    seconds = time.perf_counter() - started

    for name, table in world.tables.items():
        print(f"{name:>16}: {len(table):>10,} rows")
    quantity = int(world.tables["feature_usage"]["quantity"].sum())
    print(f"{'feature events':>16}: {quantity:>10,} (sum of quantity)")
    print(f"accounts {args.accounts:,}, {args.start} to {args.end}, seed {args.seed}")
    print(
        f"events {world.n_events:,} in {seconds:.2f} s wall: "
        f"{world.n_events / seconds:,.0f} events per second"
    )


if __name__ == "__main__":
    main()
