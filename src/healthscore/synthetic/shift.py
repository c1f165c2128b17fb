"""A world whose behaviour shifts on purpose: what monitoring must notice.

:func:`shift_behaviour` takes a simulated world's tables and, from a date on, keeps only a
share of the login and feature-usage rows, as when a product change (single sign-on that
keeps sessions open, a mobile app that logs usage elsewhere) makes every account look less
engaged without anyone being less likely to leave. Churn is untouched. A model trained
before the shift then sees usage fall everywhere and predicts more churn than comes:
feature drift, a score shift and realised churn below the prediction, all three of which
``healthscore monitor`` checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The tables thinned, and their date column.
THINNED: dict[str, str] = {"logins": "ts", "feature_usage": "ts"}


def shift_behaviour(
    tables: dict[str, pd.DataFrame],
    *,
    since: str | pd.Timestamp,
    kept_share: float = 0.5,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """The tables with only ``kept_share`` of the usage rows dated on or after ``since``.

    Rows are dropped at random (seeded); the tables are not modified in place.

    Examples
    --------
    >>> logins = pd.DataFrame({"account_id": ["A"] * 4, "user_id": ["u"] * 4,
    ...     "ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-02"])})
    >>> shifted = shift_behaviour({"logins": logins}, since="2024-03-01", kept_share=0.0)
    >>> len(shifted["logins"])
    2
    """
    if not 0 <= kept_share <= 1:
        raise ValueError(f"kept_share must lie in [0, 1], got {kept_share}")
    rng = np.random.default_rng(seed)
    since = pd.Timestamp(since)
    out = dict(tables)
    for name, column in THINNED.items():
        if name not in tables:
            continue
        frame = tables[name]
        after = (frame[column] >= since).to_numpy()
        keep = ~after | (rng.random(len(frame)) < kept_share)
        out[name] = frame[keep].reset_index(drop=True)
    return out
