"""Benchmark: do the recommended playbooks address the true churn causes?

On simulated data with ground truth (``DATA/_truth``), it scores every snapshot of the test
period with the trained model (the same ``score_frame`` the ``score`` command uses), keeps
the accounts that were flagged at risk and then churned within the horizon, and compares the
playbook of their last flagged snapshot with the simulator's true cause. Random churns are
left out. Prints the confusion table (true cause x playbook) and the match rate.

    python benchmarks/bench_playbooks.py --data data/demo --model models/latest
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from healthscore.bundle import read_metrics
from healthscore.config import Config
from healthscore.dataset import CACHE_DIR, training_set_for
from healthscore.model import HealthModel
from healthscore.playbooks import load_playbooks
from healthscore.scoring import score_frame
from healthscore.storage import open_source, read_frame
from healthscore.synthetic import TRUTH_DIR
from healthscore.truth_checks import CAUSE_TO_PLAYBOOK, playbook_cause_agreement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--model", default="models/latest")
    parser.add_argument(
        "--flagged", default="at_risk", help="comma-separated risk tiers that count as flagged"
    )
    args = parser.parse_args()

    config = Config()
    source = open_source(args.data, config)
    model = HealthModel.load(args.model)
    start, end = str(read_metrics(args.model)["test_period"]).split("..")
    cache = Path(args.model).parent / CACHE_DIR
    frame = training_set_for(source, config, cache).frame
    test = frame[(frame["as_of"] >= start) & (frame["as_of"] <= end)].reset_index(drop=True)
    scores = score_frame(test, model, config, catalogue=load_playbooks(None))
    truth = read_frame(Path(args.data) / TRUTH_DIR / "accounts.parquet")
    result = playbook_cause_agreement(
        scores,
        truth,
        horizon_days=config.labels.horizon_days,
        lead_days=config.labels.lead_days,
        flagged=tuple(args.flagged.split(",")),
    )
    pd.set_option("display.width", 200)
    print(f"test period {start}..{end}: {len(scores):,} scored snapshots")
    print(
        f"accounts flagged {args.flagged} that churned within "
        f"{config.labels.horizon_days} days (random churns left out): {result.n_accounts}"
    )
    print("\nconfusion (rows: true cause, columns: recommended playbook)")
    print(result.confusion.to_string())
    print("\nper cause (expected playbook, match rate)")
    per = result.per_cause.assign(expected=lambda d: d.index.map(CAUSE_TO_PLAYBOOK))
    print(per.to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"\nplaybook matches the true cause: {result.match_rate:.1%} (target >= 70%)")


if __name__ == "__main__":
    main()
