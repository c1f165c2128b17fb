"""The report's worklist sections: what changed, each CSM's portfolio, the control group.

Monday morning a CS leader asks three things the model scores alone do not answer: which
accounts moved since the last scoring run, what each CSM has on their plate, and which
at-risk accounts are deliberately left alone and why. Every function here reads the scores
table only (the previous run's scores are implied by ``score_change``).
"""

from __future__ import annotations

import pandas as pd

from healthscore import report_charts
from healthscore.config import ScoreConfig
from healthscore.health import FLAGGED_TIERS, risk_tier
from healthscore.report_html import NA, count, esc, missing, number, section, table, text
from healthscore.wording import count as counted

NO_CSM = "No CSM on record"
_FLAGGED = FLAGGED_TIERS


def previous_tiers(scores: pd.DataFrame, config: ScoreConfig) -> pd.Series:
    """Each account's risk tier at the previous scoring run; missing when it was not scored.

    The previous score is ``health_score - score_change``; tiers are score bands, so the
    tier follows exactly.
    """
    before = pd.to_numeric(scores["health_score"]) - pd.to_numeric(scores["score_change"])
    tiers = pd.Series(risk_tier(before.fillna(100.0), config), index=scores.index, dtype=object)
    return tiers.where(before.notna(), None)


def account_cell(row: pd.Series | dict) -> str:
    """The account's name in bold and its id below, or the id alone in bold."""
    name = row.get("account_name")
    if missing(name) or str(name) == "":
        return f"<b>{text(row['account_id'])}</b>"
    return f"<b>{text(name)}</b><br><small>{text(row['account_id'])}</small>"


def renewal_words(days: float) -> str:
    """When the account renews, in words: "renews today", "renews in 1 day", "in 45 days"."""
    if days <= 0:
        return "renews today"
    return f"renews in {counted(int(days), 'day')}"


def changes_section(
    scores: pd.DataFrame, config: ScoreConfig, *, since: str, shown: int = 8
) -> str:
    """New at-risk accounts, recovered ones, and the sharpest falls since the last run."""
    before = previous_tiers(scores, config)
    now = scores["risk_tier"].astype(str)
    compared = before.notna()
    if not compared.any():
        return section(
            "changes",
            "What changed since the last scoring run",
            '<p class="empty">No previous scoring run to compare with.</p>',
        )
    new_risk = compared & (now == "at_risk") & (before != "at_risk")
    recovered = compared & before.isin(_FLAGGED) & (now == "healthy")
    new_flagged = compared & now.isin(_FLAGGED) & (before == "healthy")
    first_time = ~compared
    change = pd.to_numeric(scores["score_change"])
    summary = (
        f"<p>Against the run of {esc(since)}: <b>{counted(int(new_risk.sum()), 'account')}</b> "
        f"newly <i>at risk</i> ({report_charts.compact_amount(_arr(scores, new_risk))} ARR), "
        f"<b>{counted(int(new_flagged.sum()), 'healthy account')}</b> now on watch or at risk, "
        f"<b>{counted(int(recovered.sum()), 'account')}</b> recovered to healthy "
        f"({report_charts.compact_amount(_arr(scores, recovered))} ARR); "
        f"{counted(int(first_time.sum()), 'account')} scored for the first time.</p>"
    )
    parts = [summary]
    for title, mask, order in (
        ("Newly at risk, by ARR at risk", new_risk, "arr_at_risk"),
        ("Recovered, by ARR", recovered, "arr"),
        ("Sharpest falls (more than 10 points)", compared & (change < -10), "score_change"),
    ):
        chosen = scores[mask]
        ascending = order == "score_change"
        chosen = chosen.sort_values(order, ascending=ascending, kind="stable").head(shown)
        if chosen.empty:
            parts.append(f'<h3>{esc(title)}</h3><p class="empty">None.</p>')
            continue
        rows = [
            [
                account_cell(r),
                text(r.get("csm")) if not missing(r.get("csm")) else '<span class="muted">-</span>',
                f"{number(r['health_score'] - r['score_change'], 1)} &rarr; "
                f"{number(r['health_score'], 1)}",
                f"{text(str(before[i]).replace('_', ' '))} &rarr; "
                f"{text(str(r['risk_tier']).replace('_', ' '))}",
                report_charts.compact_amount(r["arr"]),
                _renewal(r),
                text(r.get("driver_1_text")) if not missing(r.get("driver_1_text")) else "-",
            ]
            for i, r in chosen.iterrows()
        ]
        head = ["Account", "CSM", "Health", "Tier", "ARR", "Renewal", "First driver now"]
        parts.append(f"<h3>{esc(title)}</h3>" + table(head, rows, css="changes"))
    return section("changes", "What changed since the last scoring run", "".join(parts))


def portfolio_section(scores: pd.DataFrame, *, shown: int = 3) -> str:
    """One row per CSM: their book, its risk, and this step's actions (theirs and passed on)."""
    if "csm" not in scores.columns:
        return section(
            "portfolio",
            "Each CSM's portfolio",
            '<p class="empty">The accounts table has no owner column: add `owner` (the CSM) '
            "to see each CSM's portfolio and worklist.</p>",
        )
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
        held = mine & _bool(scores, "holdout")
        first = scores[by_them].sort_values("priority_rank", kind="stable").head(shown)
        listed = "".join(f"<li>{account_cell(r)}</li>" for _, r in first.iterrows())
        rows.append(
            [
                f"<b>{esc(name)}</b>",
                count(int(mine.sum())),
                report_charts.compact_amount(_sum(scores.loc[mine, "arr"])),
                f"{count(int((mine & flagged).sum()))}<br><small>"
                f"{report_charts.compact_amount(_sum(scores.loc[mine & flagged, 'arr_at_risk']))}"
                " ARR at risk</small>",
                count(int(by_them.sum())) if name != NO_CSM else '<span class="muted">-</span>',
                f"{count(int(by_teams.sum()))}"
                + (
                    f"<br><small>{count(int(overflow.sum()))} overflow</small>"
                    if overflow.any()
                    else ""
                ),
                count(int(held.sum())),
                f"<ol>{listed}</ol>" if listed else '<span class="muted">-</span>',
            ]
        )
    head = [
        "CSM",
        "Accounts",
        "ARR",
        "At risk or watch",
        "Plays the CSM runs",
        "Plays run by teams",
        "Control group",
        "First on the list",
    ]
    hint = (
        '<p class="hint">A CSM runs the plays of their high-touch accounts, the most ARR at risk '
        "first, up to their capacity per scoring run; the rest (overflow) and the plays of their "
        "low- and tech-touch accounts go to the pooled CS team and the automated sequences. "
        "Plays include expansion talks with healthy accounts; accounts in the control group get "
        "none.</p>"
    )
    return section("portfolio", "Each CSM's portfolio", table(head, rows, css="portfolio") + hint)


def control_group_summary(scores: pd.DataFrame) -> str:
    """The control group in one paragraph: its size, its share, and the exclusions counted."""
    held = _bool(scores, "holdout")
    if "holdout_exclusion" not in scores.columns:
        return f"<p>{counted(int(held.sum()), 'account')} held out as the control group.</p>"
    excluded = scores["holdout_exclusion"].astype(object).where(scores["holdout_exclusion"].notna())
    eligible = int((scores["risk_tier"].isin(_FLAGGED) & excluded.isna()).sum())
    reasons = excluded.dropna().value_counts()
    listed = (
        ", ".join(f"{counted(int(n), 'account')}: {esc(r)}" for r, n in reasons.items()) or "none"
    )
    share = f"{held.sum() / eligible:.0%}" if eligible else NA
    return (
        f"<p><b>Control group:</b> {counted(int(held.sum()), 'account')} held out, {share} of "
        f"the {counted(eligible, 'eligible at-risk account')}, drawn in every stratum of risk "
        "tier and segment; they get no action so each playbook's effect can be measured. "
        f"Never held out: {listed}.</p>"
    )


def _renewal(row: pd.Series) -> str:
    days = row.get("days_to_renewal")
    if missing(days):
        return '<span class="muted">-</span>'
    return esc(renewal_words(float(days)).removeprefix("renews "))


def _bool(scores: pd.DataFrame, column: str, default: pd.Series | None = None) -> pd.Series:
    if column not in scores.columns:
        return default if default is not None else pd.Series(False, index=scores.index)
    return scores[column].fillna(False).astype(bool)


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").sum())


def _arr(scores: pd.DataFrame, mask: pd.Series) -> float:
    return _sum(scores.loc[mask, "arr"])
