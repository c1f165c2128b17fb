"""Touch tiers: how much human attention an account can get, decided by its ARR.

A CS team cannot give every account a named CSM. The usual split is by revenue: the largest
accounts get a dedicated CSM (``high_touch``), the middle band shares a pooled team
(``low_touch``) and the long tail is served by automated, one-to-many programmes
(``tech_touch``). A playbook says *what* to do; the touch tier says *who* does it and
through which channel, so the same play scales from a CSM-led QBR to an email sequence.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from healthscore.config import TouchConfig

TouchTier = Literal["high_touch", "low_touch", "tech_touch"]

TOUCH_TIERS: tuple[TouchTier, ...] = ("high_touch", "low_touch", "tech_touch")
"""Touch tiers from the most to the least human attention."""

OWNERS: MappingProxyType[str, str] = MappingProxyType(
    {
        "high_touch": "account CSM",
        "low_touch": "pooled CS team",
        "tech_touch": "automated sequence",
    }
)
"""Who runs a playbook for an account of each touch tier."""


def assign_touch_tiers(arr: pd.Series, *, touch: TouchConfig) -> pd.Series:
    """The touch tier of each account from its ARR.

    Parameters
    ----------
    arr : pandas.Series
        Annual recurring revenue per account.
    touch : TouchConfig
        The ARR thresholds, in the portfolio's currency (``TouchConfig.for_currency``; unset
        ones take the currency-less defaults here). Each threshold belongs to the tier above
        it, so an account at exactly ``high_touch_min_arr`` is ``high_touch``.

    Returns
    -------
    pandas.Series
        ``high_touch``, ``low_touch`` or ``tech_touch``, on ``arr``'s index. An account whose
        ARR is missing is ``tech_touch``: without a known revenue there is no case for spending
        scarce CSM time on it, and the automated channel still reaches it.

    Examples
    --------
    >>> import pandas as pd
    >>> from healthscore.config import TouchConfig
    >>> assign_touch_tiers(pd.Series([60_000, 10_000, 500]), touch=TouchConfig()).tolist()
    ['high_touch', 'low_touch', 'tech_touch']
    >>> yen = TouchConfig().for_currency("JPY")
    >>> assign_touch_tiers(pd.Series([9_000_000, 2_000_000, 60_000]), touch=yen).tolist()
    ['high_touch', 'low_touch', 'tech_touch']
    """
    high, low = touch.thresholds
    values = pd.to_numeric(arr).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        tiers = np.select(
            [values >= high, values >= low],
            ["high_touch", "low_touch"],
            default="tech_touch",
        )
    return pd.Series(tiers, index=arr.index, dtype="str", name="touch_tier")
