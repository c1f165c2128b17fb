"""Benchmark: writing the scores as CSV, ``DataFrame.to_csv`` against :func:`write_frame`.

Writes one score table both ways (formula-like text neutralised in both, as for people),
prints the best of ``--repeat`` times of each and their ratio, and checks that the two files
are byte for byte equal. The table is a CSV written by ``healthscore score`` (``--scores``),
read back with its types (numbers, booleans, dates), or else a generated table of the same
shape as the score output (``--rows`` accounts; 28 text columns with sentences, 25 floats,
2 booleans, an integer and 2 dates).

    python benchmarks/bench_csv.py [--scores scores.csv] [--rows 79037] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.csv_rows import CSV_OPTIONS
from healthscore.storage import neutralise_formulas, write_frame

DATE_COLUMNS = ("as_of", "action_due", "due_by")


def read_scores(path: Path) -> pd.DataFrame:
    """A score CSV with the types it was written from: ISO dates as dates."""
    scores = pd.read_csv(path, low_memory=False)
    for name in DATE_COLUMNS:
        if name in scores and scores[name].dtype == "str":
            try:
                scores[name] = pd.to_datetime(scores[name], format="%Y-%m-%dT%H:%M:%S")
            except ValueError:
                continue
    return scores


def generated_scores(rows: int, seed: int = 0) -> pd.DataFrame:
    """A table shaped like the score output, with missing cells where the scores have them."""
    rng = np.random.default_rng(seed)
    words = np.array(["usage", "seats", "tickets", "NPS", "logins", "renewal", "=risk", "日本"])
    columns: dict[str, object] = {"account_id": [f"A{i:06d}" for i in range(rows)]}
    for i in range(27):
        if i % 3 == 0:  # a sentence with commas and, now and then, quotes
            picked = rng.choice(words, size=(rows, 6))
            text = [f'{a} {b}, against "{c}" {d}, {e} and {f}' for a, b, c, d, e, f in picked]
        else:
            text = list(rng.choice(words, size=rows))
        column = pd.Series(text, dtype="str")
        columns[f"text_{i}"] = column.mask(rng.random(rows) < 0.1)
    for i in range(25):
        values = rng.normal(size=rows) * 10.0 ** rng.integers(-6, 7)
        if i % 4 == 0:
            values = np.round(values, 1)
        columns[f"number_{i}"] = np.where(rng.random(rows) < 0.1, np.nan, values)
    columns["holdout"] = rng.random(rows) < 0.1
    columns["action_due"] = rng.random(rows) < 0.5
    columns["priority_rank"] = np.arange(1, rows + 1)
    columns["as_of"] = pd.Timestamp("2026-01-01")
    columns["due_by"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(
        rng.integers(0, 30, size=rows), unit="D"
    )
    return pd.DataFrame(columns)


def write_with_pandas(frame: pd.DataFrame, path: Path) -> None:
    """The file as ``to_csv`` alone writes it."""
    with path.open("w", encoding="utf-8", newline="") as out:
        neutralise_formulas(frame).to_csv(out, **CSV_OPTIONS)


def best_time(write, repeat: int) -> float:
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        write()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=Path, default=None, help="a score CSV to write again")
    parser.add_argument("--rows", type=int, default=79_037, help="rows of the generated table")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best shown)")
    args = parser.parse_args()

    frame = generated_scores(args.rows) if args.scores is None else read_scores(args.scores)
    kinds = ", ".join(f"{n} {k}" for k, n in frame.dtypes.astype(str).value_counts().items())
    print(f"table: {len(frame):,} rows x {frame.shape[1]} columns ({kinds})")

    with tempfile.TemporaryDirectory() as folder:
        by_pandas, ours = Path(folder) / "pandas.csv", Path(folder) / "ours.csv"
        t_pandas = best_time(lambda: write_with_pandas(frame, by_pandas), args.repeat)
        t_ours = best_time(lambda: write_frame(frame, ours), args.repeat)
        same = by_pandas.read_bytes() == ours.read_bytes()
        size = ours.stat().st_size / 2**20
    print(f"to_csv       {t_pandas:7.2f} s")
    print(f"write_frame  {t_ours:7.2f} s   ({t_pandas / t_ours:.1f}x faster, {size:.0f} MiB)")
    print(f"identical bytes: {same}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
