"""The control group: at-risk accounts deliberately left untreated to measure the playbooks.

A CS leader accepts a control group only when it never costs an account the team must save
and when it looks like the treated accounts. So the draw is:

* **Eligible:** accounts at risk (risk tier ``at_risk`` or ``watch``) on a playbook that allows
  a holdout, *except* accounts of the excluded touch tiers (default: ``high_touch``, whose
  named CSM will not leave a key account alone), accounts whose *term* renews within
  ``exclude_renewal_days`` (default 60: too late to learn anything and too costly to lose),
  and the ``exclude_top`` accounts with the most ARR at risk (default 20). A month-to-month
  contract renews every month, so for it the renewal is no deadline: its accounts stay
  eligible (a term is month-to-month when the current term runs 31 days or less). Each excluded
  account keeps the reason in ``holdout_exclusion``, so the exclusions can be counted.
* **Stratified:** the eligible accounts are split into strata by risk tier and segment, and
  ``share`` of every stratum is held out (proportional allocation: each stratum gets the whole
  part of its quota, and the remaining places go to the largest remainders, so the total is
  ``round(share * eligible)``). Within a stratum the accounts held out are those with the
  smallest :func:`holdout_draws`, a hash of playbook and account id: the same accounts on
  every run and machine, so an account stays in its group while its situation is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthscore.health import FLAGGED_TIERS
from healthscore.i18n import Language

#: A term this short or shorter renews every month: its renewal is no deadline.
MONTH_TO_MONTH_DAYS = 31
HOLDOUT_RISK_TIERS = FLAGGED_TIERS
"""Only accounts at risk can be held out: a control group is only informative where we act."""


def holdout_draws(
    playbook_ids: Iterable[str], account_ids: Iterable[str]
) -> npt.NDArray[np.float64]:
    """A uniform number in [0, 1) per (playbook, account), the same on every run and machine.

    The number is the first 53 bits of ``sha256(f"{playbook_id}:{account_id}")``; the
    accounts of a stratum with the smallest numbers are held out.

    Examples
    --------
    >>> holdout_draws(["monitor"], ["a-1"]).round(4).tolist()
    [0.6416]
    """
    draws = [
        (int.from_bytes(hashlib.sha256(f"{p}:{a}".encode()).digest()[:8], "big") >> 11) / 2**53
        for p, a in zip(playbook_ids, account_ids, strict=True)
    ]
    return np.asarray(draws, dtype="float64")


def exclusion_reasons(
    table: pd.DataFrame,
    *,
    exclude_touch_tiers: Iterable[str],
    exclude_renewal_days: int | None,
    exclude_top: int,
) -> pd.Series:
    """Why each account may never be held out (``None`` when nothing stops it).

    ``table`` has ``touch_tier``, ``days_to_renewal`` and ``arr_at_risk`` (and, when known,
    ``contract__length_days``: month-to-month terms are never excluded for their renewal);
    the top ``exclude_top`` accounts by ARR at risk are ranked over all of ``table``.
    """
    tiers = table["touch_tier"].astype("object")
    by_tier = tiers.isin(tuple(exclude_touch_tiers)).to_numpy(dtype=bool)
    days = pd.to_numeric(table["days_to_renewal"]).to_numpy(dtype="float64", na_value=np.nan)
    term = (
        pd.to_numeric(table["contract__length_days"]).to_numpy(dtype="float64", na_value=np.nan)
        if "contract__length_days" in table.columns
        else np.full(len(table), np.nan)
    )
    month_to_month = term <= MONTH_TO_MONTH_DAYS
    soon = (
        (days <= exclude_renewal_days) & ~month_to_month
        if exclude_renewal_days is not None
        else np.zeros(len(table), dtype=bool)
    )
    rank = table["arr_at_risk"].astype("float64").rank(method="first", ascending=False)
    in_top = (rank <= exclude_top).to_numpy(dtype=bool)
    reasons = np.select(
        [by_tier, soon, in_top],
        [
            tiers.astype(str).str.replace("_", " ").to_numpy(dtype=object),
            np.full(len(table), f"renewing within {exclude_renewal_days} days", dtype=object),
            np.full(len(table), f"in the top {exclude_top} by ARR at risk", dtype=object),
        ],
        default=np.full(len(table), None, dtype=object),
    )
    return pd.Series(reasons, index=table.index, dtype="object", name="holdout_exclusion")


def draw_control_group(
    candidates: pd.DataFrame, *, share: float, strata: Iterable[str]
) -> pd.Series:
    """Hold out ``share`` of ``candidates`` in every stratum; True for the accounts held out.

    ``candidates`` has ``account_id``, ``playbook_id`` and the ``strata`` columns (a missing
    value is a stratum of its own).
    """
    held = pd.Series(False, index=candidates.index, dtype=bool)
    if share <= 0 or candidates.empty:
        return held
    stratum = _stratum_keys(candidates, strata)
    sizes = stratum.value_counts().sort_index()
    quota = sizes * share
    places = np.floor(quota).astype(int)
    left = int(round(share * len(candidates))) - int(places.sum())
    if left > 0:
        remainders = (quota - places).sort_values(ascending=False, kind="stable")
        places.loc[remainders.index[:left]] += 1
    draws = pd.Series(
        holdout_draws(candidates["playbook_id"].astype(str), candidates["account_id"].astype(str)),
        index=candidates.index,
    )
    ordered = pd.DataFrame({"stratum": stratum, "draw": draws, "id": candidates["account_id"]})
    ordered = ordered.sort_values(["stratum", "draw", "id"], kind="stable")
    position = ordered.groupby("stratum").cumcount()
    chosen = position < ordered["stratum"].map(places)
    held.loc[chosen[chosen].index] = True
    return held


def _stratum_keys(candidates: pd.DataFrame, strata: Iterable[str]) -> pd.Series:
    """Each account's stratum as text: its ``strata`` values joined by ``|``.

    A missing value reads ``(none)``, a stratum of its own. The columns are joined whole
    rather than row by row, which took seconds on a book of tens of thousands of accounts.
    """
    columns = list(strata)
    if not columns:
        return pd.Series("", index=candidates.index, dtype="str")
    keys = candidates[columns].astype("object").where(candidates[columns].notna(), "(none)")
    text = keys.astype(str)
    stratum = text.iloc[:, 0]
    for i in range(1, len(columns)):
        stratum = stratum + "|" + text.iloc[:, i]
    return stratum.rename(None)


def control_group_summary(scores: pd.DataFrame, lang: Language | None = None) -> str:
    """The control group of a scores table in one sentence, exclusions counted by reason,
    in ``lang`` (default: English).

    Examples
    --------
    >>> scores = pd.DataFrame({"risk_tier": ["at_risk", "watch", "watch", "healthy"],
    ...     "holdout": [True, False, False, False],
    ...     "holdout_exclusion": [None, None, "high touch", None]})
    >>> print(control_group_summary(scores))  # doctest: +NORMALIZE_WHITESPACE
    Control group: 1 account held out, 50% of 2 eligible at-risk accounts;
    never held out: 1 high touch.
    """
    held = scores["holdout"].fillna(False).astype(bool)
    reasons = (
        scores["holdout_exclusion"].astype(object).where(scores["holdout_exclusion"].notna())
        if "holdout_exclusion" in scores.columns
        else pd.Series(None, index=scores.index, dtype=object)
    )
    eligible = int((scores["risk_tier"].isin(HOLDOUT_RISK_TIERS) & reasons.isna()).sum())
    excluded = reasons.dropna().value_counts()
    lang = lang or Language()
    listed = [
        lang.t("%(n)s %(reason)s", reason=lang.reason(r), n=lang.count(n))
        for r, n in excluded.items()
    ]
    return lang.t(
        "Control group: %(held)s held out, %(share)s of %(eligible)s; never held out: %(listed)s.",
        held=lang.nt("%(num)s account", "%(num)s accounts", int(held.sum())),
        share=lang.share(held.sum() / eligible, 0) if eligible else lang.na,
        eligible=lang.nt(
            "%(num)s eligible at-risk account", "%(num)s eligible at-risk accounts", eligible
        ),
        listed=lang.list(listed) if listed else lang.t("none"),
    )
