"""Drivers plus context -> one primary playbook per account, by the catalogue's ordered rules.

One pure function, :func:`recommend_playbooks`, applies the rules to every account at once:
each rule becomes a boolean mask over the accounts and the first mask that holds picks the
playbook. The same inputs always give the same plays, on any machine, which is what makes a
play auditable (the ``rule`` column) and a holdout measurable.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from healthscore.config import CapacityConfig, TouchConfig
from healthscore.errors import ConfigError, SchemaError
from healthscore.playbooks.capacity import assign_owners
from healthscore.playbooks.catalogue import (
    FALLBACK_PLAYBOOK,
    FALLBACK_RULE,
    FAMILIES,
    LIFECYCLE_STAGES,
    RISK_TIERS,
    Playbook,
    PlaybookCatalogue,
    Rule,
)
from healthscore.playbooks.control import (
    HOLDOUT_RISK_TIERS,
    draw_control_group,
    exclusion_reasons,
    holdout_draws,
)
from healthscore.touch import TOUCH_TIERS, assign_touch_tiers

REQUIRED_COLUMNS = ("account_id", "as_of", "risk_tier", "arr")
"""Columns :func:`recommend_playbooks` cannot work without; every other one is optional."""

#: The strata of the control group: it mirrors the treated accounts in each.
HOLDOUT_STRATA = ("risk_tier", "segment")
#: What :func:`decide_book` reads of each account.
BOOK_COLUMNS = (
    "account_id",
    "risk_tier",
    "touch_tier",
    "days_to_renewal",
    "contract__length_days",
    "arr_at_risk",
    "playbook_id",
    "holdout_allowed",
    "segment",
    "csm",
)

__all__ = [
    "BOOK_COLUMNS",
    "HOLDOUT_RISK_TIERS",
    "OUTPUT_COLUMNS",
    "decide_book",
    "holdout_draws",
    "recommend_playbooks",
]

OUTPUT_COLUMNS = (
    "account_id",
    "as_of",
    "playbook_id",
    "playbook_title",
    "playbook_actions",
    "touch_tier",
    "channel",
    "owner",
    "owner_reason",
    "action_due",
    "due_by",
    "holdout",
    "holdout_exclusion",
    "rule",
    "arr_at_risk",
)

ACTION_SEPARATOR = " | "

Mask = npt.NDArray[np.bool_]


def recommend_playbooks(
    accounts: pd.DataFrame,
    catalogue: PlaybookCatalogue,
    *,
    touch: TouchConfig,
    holdout_share: float,
    holdout_exclude_touch_tiers: Iterable[str] = ("high_touch",),
    holdout_exclude_renewal_days: int | None = 60,
    holdout_exclude_top: int = 20,
    capacity: CapacityConfig | None = None,
) -> pd.DataFrame:
    """One primary playbook per account: the playbook of the first rule the account matches.

    Parameters
    ----------
    accounts : pandas.DataFrame
        One row per account: ``account_id``, ``as_of``, ``risk_tier`` and ``arr`` are required;
        ``lifecycle_stage``, ``days_to_renewal``, ``renewal_date``, ``top_family``,
        ``churn_probability``, the ``family__<family>`` SHAP sums and any context column a
        rule names are used when present. A missing ``family__`` column counts as 0; any other
        missing column counts as missing values, which never satisfy a condition. Without
        ``top_family`` it is derived from the ``family__`` columns (largest positive sum).
    catalogue : PlaybookCatalogue
        The playbooks and their ordered rules, see :func:`load_playbooks`.
    touch : TouchConfig
        ARR thresholds of the touch tiers, which decide the channel and owner.
    holdout_share : float
        Share in [0, 1) of the eligible at-risk accounts held out as a control group, drawn
        in every stratum of risk tier and segment (see :mod:`healthscore.playbooks.control`).
    holdout_exclude_touch_tiers, holdout_exclude_renewal_days, holdout_exclude_top
        Accounts never held out: of these touch tiers, renewing within that many days
        (``None``: no limit), or among the top accounts by ARR at risk.
    capacity : CapacityConfig, optional
        Caps each CSM's list (``csm`` column, from ``accounts.owner``); the overflow goes to
        the pooled CS team (:func:`~healthscore.playbooks.capacity.assign_owners`). Default:
        no cap.

    Returns
    -------
    pandas.DataFrame
        On ``accounts``' index: ``account_id``, ``as_of``, ``playbook_id``, ``playbook_title``,
        ``playbook_actions`` (joined by ``" | "``), ``touch_tier``, ``channel``, ``owner``
        (the CSM's name, or the team), ``owner_reason``, ``action_due`` (bool), ``due_by``,
        ``holdout`` (bool), ``holdout_exclusion`` (why an at-risk account may not be held out,
        else missing), ``rule`` (the rule that fired, ``"fallback"`` if none) and
        ``arr_at_risk`` (``churn_probability * arr``; work each queue in descending order).
        ``due_by`` is ``as_of + due_days``, except for playbooks with
        ``due_before_renewal_days``: then it is that many days before the renewal date (from
        ``renewal_date``, else ``as_of + days_to_renewal``). Either way it is never after
        the day before the renewal, and never before ``as_of``.

    Raises
    ------
    SchemaError
        If a required column is missing, a tier, stage or family value is unknown, or a rule
        compares a non-numeric column with a number.
    """
    if not 0 <= holdout_share < 1:
        raise ConfigError(f"playbooks.holdout_share is {holdout_share}; use a share in [0, 1)")
    table = _prepare(accounts, touch=touch)
    masks = [_rule_mask(rule, table) for rule in catalogue.rules]
    chosen = np.select(masks, np.arange(len(masks)), default=len(masks))
    rule_names = np.array([r.name for r in catalogue.rules] + [FALLBACK_RULE])[chosen]
    # Everything below is looked up per playbook once, then indexed by each account's play.
    playbooks = catalogue.playbooks
    position = {playbook.id: i for i, playbook in enumerate(playbooks)}
    rule_plays = [r.playbook for r in catalogue.rules] + [FALLBACK_PLAYBOOK]
    plays = np.array([position[playbook_id] for playbook_id in rule_plays])[chosen]
    tiers = pd.Categorical(table["touch_tier"], categories=TOUCH_TIERS).codes
    channels = np.array([[p.channels.for_tier(t) for t in TOUCH_TIERS] for p in playbooks])
    index = accounts.index
    arr_at_risk = table["churn_probability"].to_numpy("float64") * table["arr"].to_numpy("float64")
    recommendations = pd.DataFrame(
        {
            "account_id": accounts["account_id"],
            "as_of": accounts["as_of"],
            "playbook_id": _text([p.id for p in playbooks], plays, index),
            "playbook_title": _text([p.title for p in playbooks], plays, index),
            "playbook_actions": _text(
                [ACTION_SEPARATOR.join(p.actions) for p in playbooks], plays, index
            ),
            "touch_tier": table["touch_tier"],
            "channel": pd.Series(channels[plays, tiers], index=index, dtype="str"),
            "due_by": _due_by(table, playbooks, plays),
            "rule": pd.Series(rule_names, index=index, dtype="str"),
            "arr_at_risk": pd.Series(arr_at_risk, index=index, dtype="float64"),
        },
        index=index,
    )
    table = table.assign(
        arr_at_risk=arr_at_risk,
        playbook_id=recommendations["playbook_id"],
        holdout_allowed=np.array([p.holdout for p in playbooks], dtype=bool)[plays],
    )
    decided = decide_book(
        table,
        holdout_share=holdout_share,
        holdout_exclude_touch_tiers=holdout_exclude_touch_tiers,
        holdout_exclude_renewal_days=holdout_exclude_renewal_days,
        holdout_exclude_top=holdout_exclude_top,
        capacity=capacity,
    )
    recommendations = pd.concat([recommendations, decided], axis=1)
    return recommendations[list(OUTPUT_COLUMNS)]


def decide_book(
    book: pd.DataFrame,
    *,
    holdout_share: float,
    holdout_exclude_touch_tiers: Iterable[str] = ("high_touch",),
    holdout_exclude_renewal_days: int | None = 60,
    holdout_exclude_top: int = 20,
    capacity: CapacityConfig | None = None,
) -> pd.DataFrame:
    """The decisions taken over the whole book at once: the control group and the owners.

    Everything else :func:`recommend_playbooks` decides looks at one account; these rank
    accounts against each other (the top by ARR at risk, each stratum's quota, each CSM's
    capacity), so an engine that scores the book in parts takes them here, over all of it.
    ``book`` has, per account, the columns :data:`BOOK_COLUMNS` (``contract__length_days``,
    ``segment`` and ``csm`` may be missing). Returns ``holdout``, ``holdout_exclusion``,
    ``action_due``, ``owner`` and ``owner_reason`` on ``book``'s index.
    """
    at_risk = book["risk_tier"].isin(HOLDOUT_RISK_TIERS).to_numpy(dtype=bool)
    allowed = book["holdout_allowed"].to_numpy(dtype=bool)
    if "segment" not in book.columns:
        book = book.assign(segment=np.nan)
    reasons = exclusion_reasons(
        book,
        exclude_touch_tiers=holdout_exclude_touch_tiers,
        exclude_renewal_days=holdout_exclude_renewal_days,
        exclude_top=holdout_exclude_top,
    )
    reasons = reasons.where(allowed, "playbook without control group").where(at_risk, None)
    candidates = book[at_risk & reasons.isna().to_numpy()]
    decided = pd.DataFrame(index=book.index)
    decided["holdout"] = draw_control_group(
        candidates, share=holdout_share, strata=HOLDOUT_STRATA
    ).reindex(book.index, fill_value=False)
    decided["holdout_exclusion"] = reasons.astype("str")
    owners = assign_owners(
        book.assign(holdout=decided["holdout"]),
        capacity=capacity or CapacityConfig(accounts_per_csm=10**9),
    )
    return pd.concat([decided, owners], axis=1)


def _text(per_playbook: list[str], plays: npt.NDArray[np.intp], index: pd.Index) -> pd.Series:
    """One value per account: its playbook's entry of ``per_playbook``."""
    return pd.Series(np.array(per_playbook, dtype=object)[plays], index=index, dtype="str")


def _prepare(accounts: pd.DataFrame, *, touch: TouchConfig) -> pd.DataFrame:
    """A checked copy of the accounts with every column the rules read, derived or filled."""
    missing = [column for column in REQUIRED_COLUMNS if column not in accounts.columns]
    if missing:
        raise SchemaError(
            f"accounts to recommend playbooks for lack column(s) {', '.join(missing)}; "
            "score the accounts first (the scores table has them)"
        )
    _check_numeric(accounts, "arr", reason="touch tiers are set by ARR")
    reasons = {
        "churn_probability": "ARR at risk is computed from it",
        "days_to_renewal": "rules compare it with a number of days",
        **{f"family__{family}": "it holds SHAP contributions" for family in FAMILIES},
    }
    for column, reason in reasons.items():
        if column in accounts.columns:
            _check_numeric(accounts, column, reason=reason)
    table = accounts.assign(as_of=pd.to_datetime(accounts["as_of"]))
    for family in FAMILIES:
        column = f"family__{family}"
        values = table[column] if column in table.columns else pd.Series(0.0, index=table.index)
        table[column] = pd.to_numeric(values).fillna(0.0)
    for column in ("lifecycle_stage", "churn_probability", "days_to_renewal", "segment"):
        if column not in table.columns:
            table[column] = np.nan
    table["renewal_date"] = _renewal_dates(table)
    if "days_to_renewal" not in accounts.columns:
        table["days_to_renewal"] = (table["renewal_date"] - table["as_of"]) / pd.Timedelta(days=1)
    if "top_family" not in table.columns:
        table["top_family"] = _top_family(table)
    _check_values(table, "risk_tier", RISK_TIERS, allow_missing=False)
    _check_values(table, "top_family", FAMILIES, allow_missing=True)
    _check_values(table, "lifecycle_stage", LIFECYCLE_STAGES, allow_missing=True)
    table["touch_tier"] = assign_touch_tiers(table["arr"], touch=touch)
    return table


def _check_numeric(table: pd.DataFrame, column: str, *, reason: str) -> None:
    dtype = table[column].dtype
    if not (pd.api.types.is_numeric_dtype(dtype) or table[column].isna().all()):
        raise SchemaError(f"accounts.{column} holds {dtype} values but must be numeric: {reason}")


def _check_values(
    table: pd.DataFrame, column: str, allowed: tuple[str, ...], *, allow_missing: bool
) -> None:
    values = table[column]
    bad = ~values.isin(allowed) & (values.notna() | (not allow_missing))
    if bad.any():
        rows = table.loc[bad, "account_id"].astype(str).head(5).tolist()
        found = sorted({str(v) for v in values[bad].head(20)})
        raise SchemaError(
            f"accounts.{column} has unknown value(s) {', '.join(found)} (accounts "
            f"{', '.join(rows)}{', ...' if bad.sum() > 5 else ''}); expected one of "
            f"{', '.join(allowed)}" + (" or missing" if allow_missing else "")
        )


def _top_family(table: pd.DataFrame) -> pd.Series:
    """The family with the largest positive contribution; missing where none is positive.

    Ties go to the family listed first in :data:`FAMILIES`, so the result is deterministic.
    """
    contributions = table[[f"family__{family}" for family in FAMILIES]].to_numpy("float64")
    best = contributions.argmax(axis=1) if len(table) else np.zeros(0, dtype=int)
    positive = contributions.max(axis=1, initial=0.0) > 0
    names = np.array(FAMILIES, dtype=object)[best]
    return pd.Series(np.where(positive, names, None), index=table.index, dtype="str")


def _renewal_dates(table: pd.DataFrame) -> pd.Series:
    """``renewal_date`` in ``as_of``'s time zone, else ``as_of + days_to_renewal``."""
    as_of = table["as_of"]
    from_days = as_of + pd.to_timedelta(pd.to_numeric(table["days_to_renewal"]), unit="D")
    if "renewal_date" not in table.columns:
        return from_days
    renewal = pd.to_datetime(table["renewal_date"])
    target_tz = getattr(as_of.dtype, "tz", None)
    if getattr(renewal.dtype, "tz", None) is None:
        renewal = renewal.dt.tz_localize("UTC")  # naive times are UTC by the data contract
    renewal = renewal.dt.tz_convert(target_tz or "UTC")
    if target_tz is None:
        renewal = renewal.dt.tz_localize(None)
    return renewal.astype(as_of.dtype).fillna(from_days)


def _numeric(table: pd.DataFrame, column: str, rule: Rule) -> npt.NDArray[np.float64]:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    _check_numeric(table, column, reason=f"rule {rule.name!r} compares it with a number")
    return pd.to_numeric(table[column]).to_numpy(dtype="float64", na_value=np.nan)


def _rule_mask(rule: Rule, table: pd.DataFrame) -> Mask:
    """Accounts meeting every condition of ``rule``; missing values meet none."""
    mask = np.ones(len(table), dtype=bool)
    categorical = (
        ("risk_tier", rule.risk_tiers),
        ("top_family", rule.top_families),
        ("lifecycle_stage", rule.lifecycle_stages),
        ("touch_tier", rule.touch_tiers),
    )
    for column, allowed in categorical:
        if allowed is not None:
            mask &= table[column].isin(allowed).to_numpy(dtype=bool)
    if rule.max_days_to_renewal is not None:
        mask &= _numeric(table, "days_to_renewal", rule) <= rule.max_days_to_renewal
    for column, bound in rule.at_least.items():
        mask &= _numeric(table, column, rule) >= bound
    for column, bound in rule.at_most.items():
        mask &= _numeric(table, column, rule) <= bound
    return mask


def _due_by(
    table: pd.DataFrame, playbooks: tuple[Playbook, ...], plays: npt.NDArray[np.intp]
) -> pd.Series:
    """``as_of + due_days``, or N days before the renewal date (not before ``as_of``)."""
    as_of = table["as_of"]
    due_days = np.array([p.due_days for p in playbooks], dtype="float64")[plays]
    before = np.array(
        [
            np.nan if p.due_before_renewal_days is None else p.due_before_renewal_days
            for p in playbooks
        ],
        dtype="float64",
    )[plays]
    due = as_of + pd.to_timedelta(due_days, unit="D")
    target = table["renewal_date"] - pd.to_timedelta(before, unit="D")
    target = target.where(target.isna() | (target >= as_of), as_of)
    due = due.where(target.isna(), target)
    # Never due after the renewal: at the latest the day before it (and not before as_of).
    last = table["renewal_date"] - pd.Timedelta(days=1)
    last = last.where(last.isna() | (last >= as_of), as_of)
    return due.where(last.isna() | (due <= last), last).rename("due_by")
