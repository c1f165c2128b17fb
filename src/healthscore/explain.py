"""Per-account risk drivers: exact TreeSHAP contributions, grouped by driver family.

Contributions are in log-odds of the uncalibrated model: per row they add up, with the
``bias`` (the expected value), to the raw score. Calibration is monotone, so the order of
drivers is the order of their effect on the calibrated probability too. A feature's family
is the part of its name before ``__`` (``usage__logins_30d`` is a usage driver), so families
and playbooks compose without glue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.features.catalogue import CATALOGUE

FAMILIES: tuple[str, ...] = ("usage", "adoption", "support", "satisfaction", "contract", "account")

#: Features that say *when* or *for whom* risk materialises rather than *why* (their role in
#: the catalogue is "context"): they stay in the model and in the family totals, but are not
#: offered as drivers and do not pick the playbook.
CONTEXT_FEATURES: frozenset[str] = frozenset(s.name for s in CATALOGUE if s.role == "context")


def family_of(feature: str) -> str:
    """The driver family encoded in a feature name (``family__measure_window``)."""
    return feature.split("__", 1)[0]


def driver_features(columns: list[str] | pd.Index) -> list[str]:
    """The columns that can be drivers: every feature except the context ones and ``bias``."""
    return [c for c in columns if c != "bias" and c not in CONTEXT_FEATURES]


def family_contributions(
    contributions: pd.DataFrame, *, drivers_only: bool = False
) -> pd.DataFrame:
    """Sum feature contributions by family: columns ``family__usage``, ``family__support``...

    Every family in :data:`FAMILIES` gets a column (0 when it has no feature), so downstream
    rules can rely on the columns existing. With ``drivers_only`` the context features
    (:data:`CONTEXT_FEATURES`) are left out: the sums then say *why*, and pick playbooks.
    """
    features = (
        driver_features(contributions.columns)
        if drivers_only
        else [c for c in contributions.columns if c != "bias"]
    )
    out = pd.DataFrame(index=contributions.index)
    for family in FAMILIES:
        cols = [c for c in features if family_of(c) == family]
        out[f"family__{family}"] = contributions[cols].sum(axis=1) if cols else 0.0
    return out


def top_family(families: pd.DataFrame) -> pd.Series:
    """The family with the largest positive (risk-raising) contribution; NaN if none is."""
    values = families.to_numpy(dtype=float)
    best = values.argmax(axis=1)
    names = np.array([c.removeprefix("family__") for c in families.columns], dtype=object)
    chosen = names[best]
    chosen[values.max(axis=1) <= 0] = None
    return pd.Series(chosen, index=families.index, name="top_family", dtype=object)


def top_drivers(contributions: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The ``n`` most risk-raising features per row, with their families and contributions.

    Columns ``driver_k``, ``driver_k_family``, ``driver_k_contribution`` for k = 1..n; a slot
    stays empty when fewer than k features raise the risk. Context features
    (:data:`CONTEXT_FEATURES`) are never drivers.
    """
    features = driver_features(contributions.columns)
    values = contributions[features].to_numpy(dtype=float)
    order = np.argsort(-values, axis=1, kind="stable")[:, :n]
    names = np.array(features, dtype=object)
    out = pd.DataFrame(index=contributions.index)
    for k in range(n):
        idx = order[:, k] if k < order.shape[1] else np.zeros(len(values), dtype=int)
        contrib = values[np.arange(len(values)), idx]
        positive = contrib > 0
        out[f"driver_{k + 1}"] = np.where(positive, names[idx], None)
        out[f"driver_{k + 1}_family"] = np.where(positive, [family_of(x) for x in names[idx]], None)
        out[f"driver_{k + 1}_contribution"] = np.where(positive, contrib, np.nan)
    return out
