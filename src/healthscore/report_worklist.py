"""The report's worklist sections: what changed, each CSM's portfolio, the control group.

Monday morning a CS leader asks three things the model scores alone do not answer: which
accounts moved since the last scoring run, what each CSM has on their plate, and which
at-risk accounts are deliberately left alone and why. Every function here reads the scores
table only (the previous run's scores are implied by ``score_change``) and returns the
figures its template (``templates/report/changes.html.j2``, ``portfolio.html.j2``,
``workload.html.j2``) shows.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from healthscore.config import ScoreConfig
from healthscore.health import FLAGGED_TIERS, risk_tier
from healthscore.i18n import N_, Language

NO_CSM = N_("No CSM on record")
_FLAGGED = FLAGGED_TIERS


def previous_tiers(scores: pd.DataFrame, config: ScoreConfig) -> pd.Series:
    """Each account's risk tier at the previous scoring run; missing when it was not scored.

    The previous score is ``health_score - score_change``; tiers are score bands, so the
    tier follows exactly.
    """
    before = pd.to_numeric(scores["health_score"]) - pd.to_numeric(scores["score_change"])
    tiers = pd.Series(risk_tier(before.fillna(100.0), config), index=scores.index, dtype=object)
    return tiers.where(before.notna(), None)


def trend(
    change: float, shown: str, *, higher_is_better: bool | None, since: str
) -> dict[str, str] | None:
    """A change with its arrow, green when it went the right way, red when the wrong way.

    ``higher_is_better=None`` means neither way is good or bad (grey). None when the change
    is unknown.
    """
    if math.isnan(change):
        return None
    arrow = "\u25b2" if change > 0 else "\u25bc" if change < 0 else "\u25b6"
    if change == 0 or higher_is_better is None:
        css = "flat"
    else:
        css = "up" if (change > 0) == higher_is_better else "down"
    return {"css": css, "arrow": arrow, "shown": shown, "since": since}


def changes_context(
    scores: pd.DataFrame, config: ScoreConfig, *, lang: Language, shown: int = 8
) -> dict[str, Any]:
    """New at-risk accounts, recovered ones, and the sharpest falls since the last run."""
    before = previous_tiers(scores, config)
    now = scores["risk_tier"].astype(str)
    compared = before.notna()
    if not compared.any():
        return {"compared": False}
    new_risk = compared & (now == "at_risk") & (before != "at_risk")
    recovered = compared & before.isin(_FLAGGED) & (now == "healthy")
    new_flagged = compared & now.isin(_FLAGGED) & (before == "healthy")
    change = pd.to_numeric(scores["score_change"])
    tables = []
    for title, mask, order in (
        (N_("Newly at risk, by ARR at risk"), new_risk, "arr_at_risk"),
        (N_("Recovered, by ARR"), recovered, "arr"),
        (N_("Sharpest falls (more than 10 points)"), compared & (change < -10), "score_change"),
    ):
        chosen = scores[mask]
        ascending = order == "score_change"
        chosen = chosen.sort_values(order, ascending=ascending, kind="stable").head(shown)
        rows = [
            {
                **r,
                "before": r["health_score"] - r["score_change"],
                "tier_before": before[i],
                "renewal": _renewal(r, lang),
            }
            for i, r in chosen.to_dict("index").items()
        ]
        tables.append({"title": title, "rows": rows})
    return {
        "compared": True,
        "new_risk": int(new_risk.sum()),
        "new_risk_arr": _arr(scores, new_risk),
        "new_flagged": int(new_flagged.sum()),
        "recovered": int(recovered.sum()),
        "recovered_arr": _arr(scores, recovered),
        "first_time": int((~compared).sum()),
        "tables": tables,
    }


def portfolio_context(
    scores: pd.DataFrame, *, lang: Language, shown: int = 3
) -> dict[str, Any] | None:
    """One row per CSM: their book, its risk, and this step's actions (theirs and passed on).

    None when the scores have no ``csm`` column.
    """
    if "csm" not in scores.columns:
        return None
    csm = scores["csm"].astype(object).where(scores["csm"].notna() & (scores["csm"] != ""), NO_CSM)
    owner = scores["owner"].astype(str)
    due = _bool(scores, "action_due", default=~_bool(scores, "holdout"))
    reason = scores.get("owner_reason", pd.Series("", index=scores.index)).astype(str)
    flagged = scores["risk_tier"].isin(_FLAGGED)
    names = [n for n in sorted(set(csm)) if n != NO_CSM] + (
        [NO_CSM] if (csm == NO_CSM).any() else []
    )
    rows = []
    for name in names:
        mine = csm == name
        by_them = mine & due & (owner == name)
        overflow = mine & reason.str.startswith("overflow")
        by_teams = mine & due & (owner != name)
        first = scores[by_them].sort_values("priority_rank", kind="stable").head(shown)
        rows.append(
            {
                "name": lang.t(NO_CSM) if name == NO_CSM else name,
                "named": name != NO_CSM,
                "accounts": int(mine.sum()),
                "arr": _sum(scores.loc[mine, "arr"]),
                "flagged": int((mine & flagged).sum()),
                "flagged_arr": _sum(scores.loc[mine & flagged, "arr_at_risk"]),
                "by_them": int(by_them.sum()),
                "by_teams": int(by_teams.sum()),
                "overflow": int(overflow.sum()),
                "held": int((mine & _bool(scores, "holdout")).sum()),
                "first": first.to_dict("records"),
            }
        )
    return {"rows": rows}


def control_group_context(scores: pd.DataFrame, *, lang: Language) -> dict[str, Any]:
    """The control group: its size, its share, and the exclusions counted by reason."""
    held = int(_bool(scores, "holdout").sum())
    if "holdout_exclusion" not in scores.columns:
        return {"held": held, "known": False}
    excluded = scores["holdout_exclusion"].astype(object).where(scores["holdout_exclusion"].notna())
    eligible = int((scores["risk_tier"].isin(_FLAGGED) & excluded.isna()).sum())
    reasons = excluded.dropna().value_counts()
    listed = [
        lang.t(
            "%(accounts)s: %(reason)s",
            accounts=lang.nt("%(num)s account", "%(num)s accounts", int(n)),
            reason=lang.reason(r),
        )
        for r, n in reasons.items()
    ]
    return {
        "held": held,
        "known": True,
        "eligible": eligible,
        "share": held / eligible * 100 if eligible else math.nan,
        "listed": lang.list(listed) if listed else lang.t("none"),
    }


def _renewal(row: dict[str, Any], lang: Language) -> str | None:
    days = row.get("days_to_renewal")
    if lang.missing(days):
        return None
    days = float(days)  # type: ignore[arg-type]
    if days <= 0:
        return lang.t("today")
    return lang.nt("in %(num)s day", "in %(num)s days", int(days))


def _bool(scores: pd.DataFrame, column: str, default: pd.Series | None = None) -> pd.Series:
    if column not in scores.columns:
        return default if default is not None else pd.Series(False, index=scores.index)
    return scores[column].fillna(False).astype(bool)


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").sum())


def _arr(scores: pd.DataFrame, mask: pd.Series) -> float:
    return _sum(scores.loc[mask, "arr"])
