"""The customer-success leader's report: one self-contained HTML page.

The page answers, top to bottom, the questions a CS leader brings to a Monday review: how is
the book doing (risk today against the last scoring run, KPI tiles of the last final month,
trends), what changed since the last scoring run, are newer cohorts keeping their logos,
where the risk is, which accounts to call this week and who calls them, what each CSM has on
their plate, who carries the work (and which accounts are held out as the control group), and
can the score be trusted (the model against its baselines, and its calibration).

This module gathers the figures of each section; the page itself is the Jinja2 template
``templates/report/page.html.j2`` and its section templates (see :mod:`healthscore.pages`),
in the reader's language (:class:`~healthscore.i18n.Language`). The page carries everything
it needs: its CSS (``templates/report/report.css``) inline, every chart an embedded PNG, no
external script, font or link, so it renders the same from an e-mail attachment or an offline
laptop. The templates are autoescaped, so every value taken from the data (account names,
driver texts) is HTML-escaped. A missing value (no NPS survey, a metric undefined on the test
period) is shown as ``n/a``; it never stops the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from healthscore import report_charts
from healthscore.config import ScoreConfig
from healthscore.errors import DataError
from healthscore.health import FLAGGED_TIERS, churn_probability_at
from healthscore.i18n import N_, Language
from healthscore.kpis import KPI_DEFINITIONS, kpi_summary
from healthscore.pages import render
from healthscore.report_outcomes import LoopReport, loop_context
from healthscore.report_worklist import (
    changes_context,
    control_group_context,
    portfolio_context,
    previous_tiers,
    trend,
)
from healthscore.scoring import OPTIONAL_OUTPUT_COLUMNS, OUTPUT_COLUMNS
from healthscore.storage import write_text
from healthscore.touch import OWNERS

#: Score columns the report shows when present, so that an older scores file still renders.
_USED_WHEN_PRESENT: frozenset[str] = frozenset(
    [
        *OPTIONAL_OUTPUT_COLUMNS,
        *(f"driver_{k}_{s}" for k in (1, 2, 3) for s in ("points", "value", "peer_median")),
        "peer_group",
        "owner_reason",
        "action_due",
        "holdout_exclusion",
    ]
)
SCORE_COLUMNS: tuple[str, ...] = tuple(c for c in OUTPUT_COLUMNS if c not in _USED_WHEN_PRESENT)
"""The columns :func:`render_report` needs in ``scores``; the rest are used when present."""

_FORMULAS: dict[str, str] = {d.column: d.formula for d in KPI_DEFINITIONS}


@dataclass(frozen=True)
class _Tile:
    label: str
    key: str  # in kpi_summary()
    column: str  # in the KPI frame
    kind: str  # "count", "amount", "pct" or "points"
    higher_is_better: bool
    note: str


_KPI_TILES: tuple[_Tile, ...] = (
    _Tile(
        N_("Customers"), "customers", "customers_end", "count", True, N_("customers at month end")
    ),
    _Tile(N_("ARR"), "arr", "arr_end", "amount", True, N_("annual recurring revenue at month end")),
    _Tile(
        N_("Logo churn"),
        "logo_churn_rate_pct",
        "logo_churn_rate_pct",
        "pct",
        False,
        N_("of the customers at start lost"),
    ),
    _Tile(N_("GRR"), "grr_pct", "grr_pct", "pct", True, N_("ARR kept, before expansion")),
    _Tile(N_("NRR"), "nrr_pct", "nrr_pct", "pct", True, N_("ARR kept, with expansion")),
    _Tile(N_("NPS"), "nps", "nps", "points", True, N_("promoters minus detractors")),
    _Tile(N_("LTV"), "ltv", "ltv", "amount", True, N_("lifetime gross margin per account")),
)
_ONBOARDING = _Tile(
    N_("Onboarding"),
    "onboarding_completion_pct",
    "onboarding_completion_pct",
    "pct",
    True,
    N_("new accounts activated"),
)

_MODEL_METRICS: tuple[tuple[str, str, bool, str], ...] = (
    (
        "roc_auc",
        N_("ROC AUC"),
        True,
        N_("how well the score ranks churners above stayers (0.5 = random)"),
    ),
    (
        "pr_auc",
        N_("PR AUC"),
        True,
        N_("precision averaged over the list, the ranking that matters when churners are rare"),
    ),
    (
        "brier",
        N_("Brier score"),
        False,
        N_("mean squared error of the probabilities (lower is better)"),
    ),
    ("precision_at_k", N_("Precision at k"), True, N_("share of the top k accounts that churned")),
    ("arr_recall_at_k", N_("ARR recall at k"), True, N_("share of churned ARR found in the top k")),
)
_MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("", N_("Model")),
    ("baseline_rules_", N_("Rule scorecard")),
    ("baseline_logreg_", N_("Logistic regression")),
)

_PLOT_TITLES: dict[str, tuple[str, str]] = {
    "calibration": (
        N_("Calibration"),
        N_(
            "Each point is a group of accounts: predicted churn probability against the share "
            "that churned. On the diagonal, a 20%% score means one in five churn."
        ),
    ),
    "roc_pr": (
        N_("ROC and precision-recall curves"),
        N_("The model against the baselines over every cut-off; higher curves rank better."),
    ),
    "gains": (
        N_("Cumulative gains and lift"),
        N_("Share of churners caught when working the riskiest accounts first."),
    ),
    "family_importance": (
        N_("Driver family importance"),
        N_("Which families of signals move the score most across accounts."),
    ),
    "score_distribution": (
        N_("Health score by outcome"),
        N_("Health scores of the accounts that stayed and of those that churned."),
    ),
    "shap_summary": (
        N_("Feature contributions"),
        N_("Each dot is one account: how much one feature moved its churn risk."),
    ),
}


def render_report(
    *,
    as_of: pd.Timestamp,
    kpis: pd.DataFrame,
    cohorts: pd.DataFrame,
    scores: pd.DataFrame,
    metrics: Mapping[str, object],
    model_plots: Mapping[str, Path] | None = None,
    top_n: int = 20,
    title: str | None = None,
    loop: LoopReport | None = None,
    score_config: ScoreConfig | None = None,
    previous_as_of: pd.Timestamp | None = None,
    lang: Language | None = None,
) -> str:
    """Render the CS leader's report as one self-contained HTML page.

    Parameters
    ----------
    as_of
        The scoring date of ``scores``, shown in the header.
    kpis
        Retention KPIs per period, as returned by :func:`healthscore.kpis.compute_kpis`. The
        tiles show the latest final period (:func:`healthscore.kpis.kpi_summary`) with the
        change from the one before; may be empty.
    cohorts
        Logo retention per cohort, as returned by :func:`healthscore.kpis.cohort_retention`;
        the latest 12 cohorts are drawn with the average curve. May be empty.
    scores
        One row per account scored at ``as_of``, with the columns of :data:`SCORE_COLUMNS`;
        ``account_name``, ``csm``, ``segment``, ``owner_reason``, ``action_due``,
        ``holdout_exclusion`` and the drivers' ``_points`` are used when present.
    metrics
        The model's test metrics and its baselines' (``baseline_rules_*``,
        ``baseline_logreg_*``); ``oracle_roc_auc``, ``test_period`` and ``ece`` when known.
        Missing or undefined metrics show as ``n/a``.
    model_plots
        PNG files of the evaluation, by name (``"calibration"``, ``"roc_pr"``, ``"gains"``,
        ``"family_importance"``, ...); calibration comes first, the rest in the order given.
        A file that does not exist is reported in words, not as a broken image.
    top_n
        How many accounts the at-risk table lists, by ``priority_rank``.
    title
        The page title (default: "Customer health report" in the page's language).
    loop
        What ``outcomes`` and ``monitor`` found, for the sections "Did the plays work?" and
        "Can we still trust the model?" (see :mod:`healthscore.report_outcomes`); None leaves
        them out.
    score_config
        The score scale and tiers of the model that scored (default: the defaults); the
        header states each tier as a band of churn probability.
    previous_as_of
        The date of the previous scoring run, which ``score_change`` compares with; it names
        the comparison ("vs 2025-12-01").
    lang
        The page's language and the portfolio's currency (default: English, no currency).

    Returns
    -------
    str
        The HTML page. Write it with :func:`write_report`.

    Raises
    ------
    DataError
        If ``scores`` lacks one of :data:`SCORE_COLUMNS`.

    Example (illustration, not run)::

        page = render_report(as_of=as_of, kpis=kpis, cohorts=cohorts,
                             scores=scores, metrics=metrics)
        write_report(page, "reports/health.html")
    """
    if top_n < 0:
        raise ValueError(f"top_n is {top_n}; use 0 or more accounts")
    missing_columns = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing_columns:
        raise DataError(
            f"scores lacks column(s) {', '.join(missing_columns)}; the report needs the output "
            "of scoring (one row per account with drivers and playbooks)"
        )
    lang = lang or Language()
    config = score_config or ScoreConfig()
    since = lang.date(previous_as_of) if previous_as_of is not None else None
    charts = report_charts.Charts(lang)
    return render(
        "report/page.html.j2",
        lang,
        title=title or lang.t("Customer health report"),
        header=_header(
            as_of=as_of, kpis=kpis, scores=scores, metrics=metrics, config=config, lang=lang
        ),
        kpis=_kpi_section(kpis, scores, config=config, since=since, lang=lang, charts=charts),
        changes=changes_context(scores, config, lang=lang),
        cohorts={"image": charts.cohort_curves(cohorts)},
        risk=_risk_section(scores, charts),
        accounts=_accounts_section(scores, top_n=top_n, lang=lang),
        portfolio=portfolio_context(scores, lang=lang),
        workload=_workload_section(scores, lang=lang),
        model=_model_section(metrics, model_plots or {}, lang=lang),
        closing=loop_context(loop, lang=lang, charts=charts),
        since=since,
    )


def write_report(html_text: str, path: str | Path) -> Path:
    """Write the report to ``path`` atomically; a reader never sees half a page."""
    return write_text(html_text, path)


# ------------------------------------------------------------------ sections


def _header(
    *,
    as_of: pd.Timestamp,
    kpis: pd.DataFrame,
    scores: pd.DataFrame,
    metrics: Mapping[str, object],
    config: ScoreConfig,
    lang: Language,
) -> dict[str, Any]:
    checks = sorted({str(c) for c in scores.get("model_check", pd.Series(dtype=str)).dropna()})
    forced = [c.removeprefix("forced: ") for c in checks if c != "ok"]
    return {
        "as_of": as_of,
        "accounts": len(scores),
        "kpi_period": None if kpis.empty else kpi_summary(kpis)["period"],
        "versions": sorted({str(v) for v in scores["model_version"].dropna()}),
        "test_period": date_range(metrics.get("test_period"), lang),
        "forced": forced,
        "watch_probability": churn_probability_at(config.watch_below, config),
        "at_risk_probability": churn_probability_at(config.at_risk_below, config),
        "watch_below": f"{config.watch_below:g}",
        "at_risk_below": f"{config.at_risk_below:g}",
    }


def _kpi_section(
    kpis: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    config: ScoreConfig,
    since: str | None,
    lang: Language,
    charts: report_charts.Charts,
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "today": _risk_tiles(scores, config=config, since=since, lang=lang),
        "trends": charts.kpi_trends(kpis),
        "later": [],
    }
    if kpis.empty:
        section["period"] = None
        section["tiles"] = [
            _tile(lang.t(t.label), lang.na, lang.t(t.note)) for t in (*_KPI_TILES, _ONBOARDING)
        ]
        return section
    ordered = kpis.sort_values("period_start").reset_index(drop=True)
    summary = kpi_summary(ordered)
    position = ordered.index[ordered["period"].astype(str) == str(summary["period"])][0]
    previous = ordered.iloc[position - 1] if position > 0 else None
    section["period"] = summary["period"]
    section["provisional"] = bool(summary.get("provisional"))
    section["later"] = [lang.period(p) for p in summary.get("later_periods") or []]
    section["tiles"] = [_kpi_tile(t, summary, previous, lang=lang) for t in _KPI_TILES]
    section["tiles"].append(_onboarding_tile(ordered, summary, lang=lang))
    return section


def _tile(
    label: str, value: str, note: str, *, delta: dict | None = None, formula: str | None = None
) -> dict[str, Any]:
    return {"label": label, "value": value, "note": note, "delta": delta, "formula": formula}


def _risk_tiles(
    scores: pd.DataFrame, *, config: ScoreConfig, since: str | None, lang: Language
) -> list[dict[str, Any]]:
    tiers = scores["risk_tier"].astype("str")
    before = previous_tiers(scores, config)
    compared = before.notna()
    total_arr = _sum(scores["arr"])
    arr_at_risk = _sum(scores["arr_at_risk"])
    share = arr_at_risk / total_arr * 100 if total_arr > 0 else math.nan
    n = len(scores)
    against = since or lang.t("the previous run")

    def tier_tile(tier: str, label: str) -> dict[str, Any]:
        now = int((tiers == tier).sum())
        change = float(now - int((before == tier).sum())) if compared.any() else math.nan
        shown = lang.signed(change, 0)
        delta = trend(change, shown, higher_is_better=False, since=against)
        note = lang.t("%(share)s of accounts", share=lang.percent(now / n * 100 if n else math.nan))
        return _tile(label, lang.count(now), note, delta=delta)

    held = scores["holdout"].fillna(False).astype(bool)
    return [
        _tile(
            lang.t("Accounts scored"),
            lang.count(n),
            lang.t("ARR %(amount)s", amount=lang.compact_money(total_arr)),
        ),
        tier_tile("at_risk", lang.t("At risk")),
        tier_tile("watch", lang.t("Watch")),
        _tile(
            lang.t("ARR at risk"),
            lang.compact_money(arr_at_risk),
            lang.t("%(share)s of ARR (ARR x churn probability)", share=lang.percent(share)),
        ),
        _tile(
            lang.t("Control group"),
            lang.count(int(held.sum())),
            lang.t("at-risk accounts held out: no action"),
        ),
    ]


def _kpi_tile(
    spec: _Tile, summary: Mapping[str, object], previous: pd.Series | None, *, lang: Language
) -> dict[str, Any]:
    """One KPI tile: the value, its change from the month before, its formula on hover."""
    value = lang.as_float(summary.get(spec.key))
    shown = {
        "count": lang.count,
        "amount": lang.compact_money,
        "pct": lang.percent,
        "points": lambda v: lang.number(v, 0),
    }[spec.kind](value)
    delta = None
    before = lang.as_float(previous.get(spec.column)) if previous is not None else math.nan
    if not (math.isnan(value) or math.isnan(before)):
        if spec.kind in ("pct", "points"):
            change, label = value - before, lang.points(value - before)
        elif before != 0:
            change = value - before
            label = lang.t("%(change)s%%", change=lang.signed((value - before) / abs(before) * 100))
        else:
            change, label = math.nan, ""
        since = lang.period(previous.get("period"))  # type: ignore[union-attr]
        delta = trend(change, label, higher_is_better=spec.higher_is_better, since=since)
    return _tile(
        lang.t(spec.label), shown, lang.t(spec.note), delta=delta, formula=_formula(spec, lang)
    )


def _formula(spec: _Tile, lang: Language) -> str | None:
    formula = _FORMULAS.get(spec.column)
    return None if formula is None else lang.raw(formula).replace("`", "")


def _onboarding_tile(
    kpis: pd.DataFrame, summary: Mapping[str, object], *, lang: Language
) -> dict[str, Any]:
    period = summary.get("onboarding_period")
    value = lang.as_float(summary.get("onboarding_completion_pct"))
    label = lang.t(_ONBOARDING.label)
    if period is None:
        return _tile(
            label, lang.na, lang.t("no signup month has finished its onboarding window yet")
        )
    done = kpis.dropna(subset=["onboarding_completion_pct"]).reset_index(drop=True)
    delta = None
    if len(done) > 1:
        before = float(done["onboarding_completion_pct"].iloc[-2])
        delta = trend(
            value - before,
            lang.points(value - before),
            higher_is_better=True,
            since=lang.period(done["period"].iloc[-2]),
        )
    return _tile(
        label,
        lang.percent(value),
        lang.t(
            "of the accounts signed up in %(period)s activated (the latest month whose "
            "onboarding windows are over)",
            period=lang.period(period),
        ),
        delta=delta,
        formula=_formula(_ONBOARDING, lang),
    )


def _risk_section(scores: pd.DataFrame, charts: report_charts.Charts) -> dict[str, Any]:
    return {
        "histogram": charts.health_histogram(scores),
        "bars": charts.arr_at_risk_bars(scores),
    }


def _accounts_section(scores: pd.DataFrame, *, top_n: int, lang: Language) -> dict[str, Any]:
    flagged = scores[scores["risk_tier"].isin(FLAGGED_TIERS)]
    top = flagged.sort_values("priority_rank", kind="stable", na_position="last").head(top_n)
    rows = []
    for r in top.to_dict("records"):
        days = lang.as_float(r.get("days_to_renewal"))
        holdout = r.get("holdout")
        rows.append(
            {
                **r,
                "drivers": _drivers(r, lang),
                "actions": _actions(r.get("playbook_actions")),
                "in_holdout": not lang.missing(holdout) and bool(holdout),
                "renews": None if math.isnan(days) else renewal_words(days, lang),
            }
        )
    return {"rows": rows, "has_segment": "segment" in scores.columns}


def date_range(period: object, lang: Language) -> object:
    """A ``start..end`` period of ISO dates (the test period) as prose writes it.

    Examples
    --------
    >>> date_range("2025-07-01..2025-09-01", Language("ja"))
    '2025年7月1日〜2025年9月1日'
    >>> date_range("2025-07-01..2025-09-01", Language())
    '2025-07-01..2025-09-01'
    """
    if lang.english or not isinstance(period, str) or ".." not in period:
        return period
    start, _, end = period.partition("..")
    return lang.t("%(start)s to %(end)s", start=lang.date(start), end=lang.date(end))


def renewal_words(days: float, lang: Language) -> str:
    """When the account renews, in words: "renews today", "renews in 1 day", "in 45 days"."""
    if days <= 0:
        return lang.t("renews today")
    return lang.nt("renews in %(num)s day", "renews in %(num)s days", int(days))


def _drivers(row: Mapping[str, object], lang: Language) -> dict[str, Any]:
    items = []
    peers = row.get("peer_group")
    suffix = f" for {peers}" if lang.english and not lang.missing(peers) else None
    for i in (1, 2, 3):
        sentence = row.get(f"driver_{i}_text")
        if lang.missing(sentence) or str(sentence) == "":
            continue
        text = str(sentence)
        if suffix and text.endswith(suffix):  # the peers are named once, below
            text = text[: -len(suffix)]
        items.append(
            {
                "family": row.get(f"driver_{i}_family"),
                "text": text,
                "points": lang.as_float(row.get(f"driver_{i}_points")),
            }
        )
    # English names the peers once below the drivers; a Japanese sentence names them inline.
    return {"items": items, "peers": peers if suffix else None}


def _actions(actions: object) -> list[str]:
    if Language.missing(actions):
        return []
    return [step for step in (a.strip() for a in str(actions).split("|")) if step]


def _workload_section(scores: pd.DataFrame, *, lang: Language) -> dict[str, Any]:
    holdout = scores["holdout"].fillna(False).astype(bool)
    by_action = "action_due" in scores.columns
    worked = (
        scores[scores["action_due"].fillna(False).astype(bool)] if by_action else scores[~holdout]
    )
    section: dict[str, Any] = {
        "by_action": by_action,
        "holdout": int(holdout.sum()),
        "control": control_group_context(scores, lang=lang),
        "rows": [],
    }
    if worked.empty:
        return section
    owners_seen = set(worked["owner"].astype("str"))
    teams = [o for o in OWNERS.values() if o in owners_seen]
    owners = sorted(owners_seen - set(teams)) + teams
    arr = pd.to_numeric(worked["arr_at_risk"], errors="coerce")
    grouped = (
        worked.assign(_arr=arr, _owner=worked["owner"].astype("str"))
        .groupby(["playbook_id", "_owner"], sort=True)
        .agg(accounts=("account_id", "size"), arr=("_arr", "sum"))
    )
    titles = worked.groupby("playbook_id", sort=True)["playbook_title"].first()
    by_play = grouped.groupby(level="playbook_id")["arr"].sum().sort_values(ascending=False)

    def cell(values: pd.Series) -> dict[str, float]:
        return {"accounts": float(values["accounts"]), "arr": float(values["arr"])}

    rows = []
    for play in by_play.index:
        mine = grouped.xs(play, level="playbook_id")
        rows.append(
            {
                "title": titles.get(play),
                "id": play,
                "cells": [cell(mine.loc[o]) if o in mine.index else None for o in owners],
                "total": cell(mine.sum()),
            }
        )
    totals = grouped.groupby(level="_owner").sum()
    section.update(
        owners=owners,
        rows=rows,
        totals=[cell(totals.loc[owner]) for owner in owners],
        total=cell(totals.sum()),
    )
    return section


def _model_section(
    metrics: Mapping[str, object], model_plots: Mapping[str, Path], *, lang: Language
) -> dict[str, Any]:
    rows = []
    for key, label, higher, meaning in _MODEL_METRICS:
        values = [lang.as_float(metrics.get(prefix + key)) for prefix, _ in _MODEL_COLUMNS]
        known = [v for v in values if not math.isnan(v)]
        best = (max(known) if higher else min(known)) if known else math.nan
        rows.append(
            {
                "label": label,
                "meaning": meaning,
                "cells": [{"value": v, "best": v == best} for v in values],
            }
        )
    suspects = metrics.get("leak_suspects") or []
    suspects = suspects if isinstance(suspects, list) else []
    ordered = sorted(model_plots, key=lambda name: name != "calibration")
    return {
        "columns": [lang.t(name) for _, name in _MODEL_COLUMNS],
        "rows": rows,
        "test_period": date_range(metrics.get("test_period"), lang),
        "top_k": metrics.get("top_k"),
        "ece": metrics.get("ece"),
        "oracle": lang.as_float(metrics.get("oracle_roc_auc")),
        "suspects": [s for s in suspects if isinstance(s, Mapping)],
        "plots": [_model_plot(name, model_plots[name]) for name in ordered],
    }


def _model_plot(name: str, path: Path) -> dict[str, Any]:
    title, caption = _PLOT_TITLES.get(name, (name.replace("_", " ").capitalize(), ""))
    path = Path(path)
    image = report_charts.png_data_uri(path.read_bytes()) if path.is_file() else None
    return {"title": title, "caption": caption, "image": image, "path": str(path)}


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").sum())
