"""Benchmark: does ``outcomes`` recover each playbook's true effect?

Simulates a world with actions (``generate_with_actions``: the plain world, scored at a past
date by a model trained on what was known then, the plays run on the accounts not held out,
the world simulated again with the plays' documented effect), measures it with ``outcomes``,
and prints, per playbook, the estimated churn difference (treated minus held out) with its
interval beside the true intent-to-treat effect from ``_truth/treatment.parquet``, whether
the interval covers it, and how many more accounts the difference needs.

    python benchmarks/bench_outcomes.py --out data/bench-loop --accounts 3000 --holdout 0.5
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from healthscore.config import Config
from healthscore.pipeline import SCORES_DIR, generate_with_actions, outcomes
from healthscore.synthetic.treatment import effects_by_playbook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/bench-loop")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--holdout", type=float, default=0.5, help="holdout share of the run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--act-at", default=None, help="scoring date the team acts on")
    args = parser.parse_args()

    config = Config().with_overrides(
        playbooks={"holdout_share": args.holdout}, tracking={"enabled": False}
    )
    started = time.perf_counter()
    world = generate_with_actions(
        args.out, n_accounts=args.accounts, seed=args.seed, config=config, act_at=args.act_at
    )
    generated = time.perf_counter() - started
    report = outcomes(world.data, config, scores=world.data / SCORES_DIR, validate=False)
    measured = time.perf_counter() - started - generated

    rows = report.comparison[report.comparison["tier"] == "all"]
    truth = effects_by_playbook(world.truth)
    pooled = world.truth["effect"].mean()
    truth = pd.concat(
        [truth, pd.DataFrame({"playbook_id": ["all"], "true_effect": [pooled]})],
        ignore_index=True,
    )
    table = rows.merge(truth[["playbook_id", "true_effect"]], on="playbook_id", how="left")
    table["covered"] = table["true_effect"].between(
        table["churn_difference_low"], table["churn_difference_high"]
    )
    shown = pd.DataFrame(
        {
            "playbook": table["playbook_id"],
            "treated": table["treated"],
            "held out": table["held_out"],
            "estimated (pts)": (table["churn_difference"] * 100).round(1),
            "interval (pts)": [
                f"{lo * 100:+.1f} to {hi * 100:+.1f}"
                for lo, hi in zip(
                    table["churn_difference_low"], table["churn_difference_high"], strict=True
                )
            ],
            "true (pts)": (table["true_effect"] * 100).round(1),
            "covered": table["covered"],
            "more accounts needed": table["more_accounts_needed"],
        }
    )
    pd.set_option("display.width", 200)
    print(
        f"{args.accounts:,} accounts, seed {args.seed}, holdout share {args.holdout}, team "
        f"acting on {world.as_of.date()}; generated in {generated:.0f} s, measured in "
        f"{measured:.0f} s"
    )
    print(f"{int(report.recommendations['complete'].sum()):,} recommendations compared")
    print(shown.to_string(index=False))
    print(f"covered: {int(table['covered'].sum())} of {len(table)}")


if __name__ == "__main__":
    main()
