"""Benchmark: the pipeline on public data sets that nobody here generated.

For each data set it reads the exports through its example config (``examples/<name>.toml``),
builds the training set, fits and evaluates the model on the out-of-time test period exactly
as ``healthscore train`` does, and prints the test metrics beside the two baselines (the rule
scorecard and a logistic regression). It then re-runs the same fit on labels shuffled within
each observation date (:func:`healthscore.permutation.permutation_check`): the AUCs a model
reaches when there is nothing to learn. The gap between the real AUC and those is the signal.

    python benchmarks/bench_real_data.py                      # both data sets
    python benchmarks/bench_real_data.py --only ravenstack --permutations 10
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings
from pathlib import Path

from healthscore.config import load_config
from healthscore.dataset import build_training_set
from healthscore.permutation import permutation_check
from healthscore.training import fit_and_evaluate
from healthscore.validation import validated_source

ROOT = Path(__file__).resolve().parents[1]
#: name -> (folder under the data sets root, example config)
DATASETS: dict[str, tuple[str, Path]] = {
    "ravenstack": ("ravenstack", ROOT / "examples" / "ravenstack.toml"),
    "fightchurn": ("fightchurn_crm6", ROOT / "examples" / "fightchurn.toml"),
}
ROWS = (
    ("ROC AUC", "roc_auc"),
    ("PR AUC", "pr_auc"),
    ("Brier", "brier"),
    ("precision@k", "precision_at_k"),
)


def _f(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def bench(name: str, data: Path, config_path: Path, permutations: int) -> None:
    """Train on one data set and print its metrics, baselines and permutation AUCs."""
    config = load_config(config_path)
    clock = time.perf_counter()
    source = validated_source(data, config)
    training_set = build_training_set(source, config)
    t_build = time.perf_counter() - clock
    clock = time.perf_counter()
    evaluation = fit_and_evaluate(training_set.frame, config)
    t_fit = time.perf_counter() - clock
    m = evaluation.metrics
    meta = training_set.metadata
    test_rate = float(evaluation.test["label"].mean())

    print(f"== {name}: {data}")
    print(
        f"   {meta['n_rows']:,} snapshots, {meta['n_labelled']:,} labelled, "
        f"{meta['n_churned']:,} churned ({meta['n_churned'] / meta['n_labelled']:.1%} within "
        f"{meta['horizon_days']} days), {len(meta['features'])} features; "
        f"built in {t_build:.1f} s, fitted in {t_fit:.1f} s"
    )
    print(
        f"   train {m['train_period']} ({m['n_train']}), valid {m['valid_period']} "
        f"({m['n_valid']}), test {m['test_period']} ({m['n_test']}, churn rate "
        f"{test_rate:.1%}), top k = {m['top_k']}"
    )
    print(f"   {'metric':<14}{'model':>8}{'rules':>8}{'logreg':>8}")
    for label, key in ROWS:
        print(
            f"   {label:<14}{_f(m[key]):>8}{_f(m.get(f'baseline_rules_{key}')):>8}"
            f"{_f(m.get(f'baseline_logreg_{key}')):>8}"
        )
    if "backtest_roc_auc_mean" in m:
        print(
            f"   backtest ROC AUC {m['backtest_roc_auc_mean']:.3f} "
            f"+- {m['backtest_roc_auc_std']:.3f} over {len(evaluation.backtest)} earlier folds"
        )
    if permutations > 0:
        clock = time.perf_counter()
        aucs = permutation_check(training_set.frame, config, n=permutations)
        mean = statistics.fmean(aucs)
        spread = statistics.pstdev(aucs) if len(aucs) > 1 else 0.0
        print(
            f"   shuffled labels ({permutations} fits, {time.perf_counter() - clock:.0f} s): "
            f"ROC AUC {mean:.3f} +- {spread:.3f} (min {min(aucs):.3f}, max {max(aucs):.3f})"
        )
        print(f"   the model's ROC AUC is {m['roc_auc'] - mean:+.3f} above the shuffled mean")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=ROOT / "datasets",
        help="Folder holding the data set folders.",
    )
    parser.add_argument(
        "--only",
        choices=sorted(DATASETS),
        action="append",
        help="Run only this data set (repeatable).",
    )
    parser.add_argument(
        "--permutations",
        type=int,
        default=5,
        help="Fits on shuffled labels per data set (0: none).",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the features-off notices are expected here
    logging.getLogger("healthscore").setLevel(logging.ERROR)  # and the baselines' notes
    for name in args.only or list(DATASETS):
        folder, config_path = DATASETS[name]
        bench(name, args.datasets / folder, config_path, args.permutations)


if __name__ == "__main__":
    main()
