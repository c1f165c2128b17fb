"""Label-permutation check: how well does the same pipeline do when there is nothing to learn?

The labels are shuffled among the accounts of each observation date, which keeps the churn
rate of every date (and so every split's base rate) and breaks every link between an
account's features and its outcome. The model is then fitted and evaluated exactly as in
:func:`healthscore.training.fit_and_evaluate`. Its test ROC AUC should land near 0.5; the
spread of those AUCs is how far from 0.5 chance alone goes on a test set of this size. A real
model whose AUC does not clear that spread has found little signal, however good 0.6 sounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import Config
from healthscore.training import fit_and_evaluate


def shuffle_labels(training_frame: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """A copy of ``training_frame`` whose labels are permuted within each ``as_of``.

    Only the labelled rows (not censored, label known) take part; censored rows keep their
    missing label. ``churned_at`` moves with the label, so it stays consistent with it.

    Examples
    --------
    >>> frame = pd.DataFrame({"account_id": list("abcd"),
    ...                       "as_of": pd.to_datetime(["2024-01-01"] * 2 + ["2024-02-01"] * 2),
    ...                       "label": [1.0, 0.0, 0.0, 1.0], "censored": False})
    >>> shuffled = shuffle_labels(frame, seed=0)
    >>> shuffled.groupby("as_of")["label"].sum().tolist()
    [1.0, 1.0]
    """
    rng = np.random.default_rng(seed)
    shuffled = training_frame.copy()
    labelled = shuffled["label"].notna()
    if "censored" in shuffled.columns:
        labelled &= ~shuffled["censored"].astype(bool)
    moved = ["label"] + [c for c in ("churned_at",) if c in shuffled.columns]
    for _, index in shuffled[labelled].groupby("as_of", sort=True).groups.items():
        order = rng.permutation(len(index))
        shuffled.loc[index, moved] = shuffled.loc[index, moved].iloc[order].to_numpy()
    return shuffled


def permutation_check(
    training_frame: pd.DataFrame,
    config: Config,
    *,
    n: int = 5,
    seed: int | None = None,
) -> list[float]:
    """Test ROC AUCs of ``n`` fits on labels shuffled within each observation date.

    Parameters
    ----------
    training_frame
        The training set's frame (``TrainingSet.frame``): keys, features, ``label``,
        ``censored``.
    config
        The config the real model was trained with. The backtest is skipped: only the test
        AUC is needed.
    n
        Number of shuffles.
    seed
        Seed of the first shuffle (then ``seed + 1``, ...); default ``config.seed``.

    Returns
    -------
    list of float
        One test ROC AUC per shuffle.
    """

    first = config.seed if seed is None else seed
    light = config.with_overrides(split={"backtest_cutoffs": 0})
    aucs = []
    for i in range(n):
        shuffled = shuffle_labels(training_frame, seed=first + i)
        evaluation = fit_and_evaluate(shuffled, light)
        aucs.append(float(evaluation.metrics["roc_auc"]))
    return aucs
