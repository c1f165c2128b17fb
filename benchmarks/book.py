"""A simulated book of any size, for the scoring and memory benchmarks.

The simulator holds a whole world in memory, so a large book is generated in blocks of
``BLOCK`` accounts, each with its own seed and its ids prefixed with the block number, and
appended to one Parquet file per table. Books and the small model trained to score them are
kept in a cache folder keyed by their parameters, so that a rerun measures scoring only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

BLOCK = 10_000
START, END = "2024-11-01", "2026-01-01"  # 14 months: about 58 million events at 100,000


def cache_dir(workdir: Path | None) -> Path:
    folder = (workdir or Path(tempfile.gettempdir())) / "healthscore-bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_book(folder: Path, *, accounts: int, start: str = START, end: str = END, seed: int = 1):
    """Write a book of ``accounts`` accounts to ``folder`` (kept when already complete)."""
    done = folder / "book.json"
    if done.is_file():
        return json.loads(done.read_text())
    from healthscore.synthetic import generate_world

    folder.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    rows: dict[str, int] = {}
    try:
        for block, first in enumerate(range(0, accounts, BLOCK)):
            size = min(BLOCK, accounts - first)
            world = generate_world(size, start=start, end=end, seed=seed * 1000 + block)
            for name, frame in world.tables.items():
                frame = frame.copy()
                for column in [c for c in frame.columns if c.endswith("_id")]:
                    frame[column] = f"B{block:03d}-" + frame[column].astype(str)
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
                writers[name].write_table(table.cast(writers[name].schema))
                rows[name] = rows.get(name, 0) + len(frame)
            del world
    finally:
        for writer in writers.values():
            writer.close()
    events = sum(
        rows.get(t, 0) for t in ("logins", "feature_usage", "support_tickets", "nps_responses")
    )
    meta = {"accounts": accounts, "start": start, "end": end, "rows": rows, "events": events}
    done.write_text(json.dumps(meta))
    return meta


def trained_model(folder: Path) -> Path:
    """A model bundle trained on a small simulated world (tracking off), kept in ``folder``.

    A kept bundle is reused only while it still verifies: one written by an older healthscore
    (no manifest, another format) is trained again rather than failing the benchmark.
    """
    from healthscore.bundle import verify_bundle
    from healthscore.errors import ModelError

    record = folder / "model-path.txt"
    if record.is_file() and Path(record.read_text()).exists():
        try:
            return verify_bundle(Path(record.read_text()))
        except ModelError:
            pass
    from healthscore.config import Config
    from healthscore.pipeline import generate_data, train

    data = folder / "train-data"
    generate_data(data, n_accounts=2000, start="2023-07-01", end=END, seed=3)
    config = Config().with_overrides(tracking={"enabled": False})
    bundle = train(data, config, model_dir=folder / "models", root=folder).bundle
    record.write_text(str(bundle))
    return bundle
