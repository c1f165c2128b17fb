"""The customer-success leader's report: one self-contained HTML page.

The page answers, top to bottom, the questions a CS leader brings to a Monday review: how is
the book doing (risk today against the last scoring run, KPI tiles of the last final month,
trends), what changed since the last scoring run, are newer cohorts keeping their logos,
where the risk is, which accounts to call this week and who calls them, what each CSM has on
their plate, who carries the work (and which accounts are held out as the control group), and
can the score be trusted (the model against its baselines, and its calibration).

The page carries everything it needs: CSS inline, every chart an embedded PNG, no external
script, font or link, so it renders the same from an e-mail attachment or an offline laptop.
Every value taken from the data is HTML-escaped, since account names and driver texts are
user data. A missing value (no NPS survey, a metric undefined on the test period) is shown as
``n/a``; it never stops the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore import report_charts
from healthscore.config import ScoreConfig
from healthscore.errors import DataError
from healthscore.health import FLAGGED_TIERS, tier_bands
from healthscore.kpis import KPI_DEFINITIONS, kpi_summary
from healthscore.report_html import (
    NA,
    as_float,
    count,
    date,
    esc,
    missing,
    number,
    pct,
    section,
    table,
    text,
    tile,
    trend,
)
from healthscore.report_outcomes import LoopReport, loop_sections
from healthscore.report_worklist import (
    account_cell,
    changes_section,
    control_group_summary,
    portfolio_section,
    previous_tiers,
    renewal_words,
)
from healthscore.scoring import OPTIONAL_OUTPUT_COLUMNS, OUTPUT_COLUMNS
from healthscore.storage import write_text
from healthscore.touch import OWNERS
from healthscore.wording import count as counted

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

_FORMULAS: dict[str, str] = {d.column: d.formula.replace("`", "") for d in KPI_DEFINITIONS}


@dataclass(frozen=True)
class _Tile:
    label: str
    key: str  # in kpi_summary()
    column: str  # in the KPI frame
    kind: str  # "count", "amount", "pct" or "points"
    higher_is_better: bool
    note: str


_KPI_TILES: tuple[_Tile, ...] = (
    _Tile("Customers", "customers", "customers_end", "count", True, "customers at month end"),
    _Tile("ARR", "arr", "arr_end", "amount", True, "annual recurring revenue at month end"),
    _Tile(
        "Logo churn",
        "logo_churn_rate_pct",
        "logo_churn_rate_pct",
        "pct",
        False,
        "of the customers at start lost",
    ),
    _Tile("GRR", "grr_pct", "grr_pct", "pct", True, "ARR kept, before expansion"),
    _Tile("NRR", "nrr_pct", "nrr_pct", "pct", True, "ARR kept, with expansion"),
    _Tile("NPS", "nps", "nps", "points", True, "promoters minus detractors"),
    _Tile("LTV", "ltv", "ltv", "amount", True, "lifetime gross margin per account"),
)
_ONBOARDING = _Tile(
    "Onboarding",
    "onboarding_completion_pct",
    "onboarding_completion_pct",
    "pct",
    True,
    "new accounts activated",
)

_MODEL_METRICS: tuple[tuple[str, str, bool, str], ...] = (
    ("roc_auc", "ROC AUC", True, "how well the score ranks churners above stayers (0.5 = random)"),
    (
        "pr_auc",
        "PR AUC",
        True,
        "precision averaged over the list, the ranking that matters when churners are rare",
    ),
    ("brier", "Brier score", False, "mean squared error of the probabilities (lower is better)"),
    ("precision_at_k", "Precision at k", True, "share of the top k accounts that churned"),
    ("arr_recall_at_k", "ARR recall at k", True, "share of churned ARR found in the top k"),
)
_MODEL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("", "Model"),
    ("baseline_rules_", "Rule scorecard"),
    ("baseline_logreg_", "Logistic regression"),
)

_PLOT_TITLES: dict[str, tuple[str, str]] = {
    "calibration": (
        "Calibration",
        "Each point is a group of accounts: predicted churn probability against the share "
        "that churned. On the diagonal, a 20% score means one in five churn.",
    ),
    "roc_pr": (
        "ROC and precision-recall curves",
        "The model against the baselines over every cut-off; higher curves rank better.",
    ),
    "gains": (
        "Cumulative gains and lift",
        "Share of churners caught when working the riskiest accounts first.",
    ),
    "family_importance": (
        "Driver family importance",
        "Which families of signals move the score most across accounts.",
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
    title: str = "Customer health report",
    loop: LoopReport | None = None,
    score_config: ScoreConfig | None = None,
    previous_as_of: pd.Timestamp | None = None,
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
        The page title.
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

    Returns
    -------
    str
        The HTML page. Write it with :func:`write_report`.

    Raises
    ------
    DataError
        If ``scores`` lacks one of :data:`SCORE_COLUMNS`.

    Examples
    --------
    >>> page = render_report(as_of=as_of, kpis=kpis, cohorts=cohorts,
    ...                      scores=scores, metrics=metrics)  # doctest: +SKIP
    >>> write_report(page, "reports/health.html")  # doctest: +SKIP
    """
    if top_n < 0:
        raise ValueError(f"top_n is {top_n}; use 0 or more accounts")
    missing_columns = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing_columns:
        raise DataError(
            f"scores lacks column(s) {', '.join(missing_columns)}; the report needs the output "
            "of scoring (one row per account with drivers and playbooks)"
        )
    config = score_config or ScoreConfig()
    since = date(previous_as_of) if previous_as_of is not None else "the previous run"
    sections = [
        _header(title, as_of=as_of, kpis=kpis, scores=scores, metrics=metrics, config=config),
        _kpi_section(kpis, scores, config=config, since=since),
        changes_section(scores, config, since=since),
        _cohort_section(cohorts),
        _risk_section(scores),
        _accounts_section(scores, top_n=top_n),
        portfolio_section(scores),
        _workload_section(scores),
        _model_section(metrics, model_plots or {}),
        loop_sections(loop),
    ]
    return _page(title, sections)


def write_report(html_text: str, path: str | Path) -> Path:
    """Write the report to ``path`` atomically; a reader never sees half a page."""
    return write_text(html_text, path)


# ------------------------------------------------------------------ sections


def _header(
    title: str,
    *,
    as_of: pd.Timestamp,
    kpis: pd.DataFrame,
    scores: pd.DataFrame,
    metrics: Mapping[str, object],
    config: ScoreConfig,
) -> str:
    versions = sorted({str(v) for v in scores["model_version"].dropna()})
    facts = [
        ("Scored as of", date(as_of)),
        ("Accounts scored", count(len(scores))),
        ("KPIs of", NA if kpis.empty else text(kpi_summary(kpis)["period"])),
        ("Model", esc(", ".join(versions)) if versions else NA),
        ("Test period", text(metrics.get("test_period"))),
    ]
    items = "".join(f"<span><b>{esc(k)}</b> {v}</span>" for k, v in facts)
    checks = sorted({str(c) for c in scores.get("model_check", pd.Series(dtype=str)).dropna()})
    forced = [c for c in checks if c != "ok"]
    if forced:
        items += (
            '<span class="alarm"><b>Model of other data, scored with --force:</b> '
            + esc("; ".join(forced).removeprefix("forced: "))
            + "</span>"
        )
    bands = tier_bands(config)
    scale = (
        '<p class="scale">Health score 0-100: each tier is a band of churn probability over '
        "the label horizon, and within it the score is the account's position among that "
        "tier's accounts in the model's validation period (see docs/scoring.md). "
        f'<span class="badge at_risk">at risk</span> {esc(bands["at_risk"])}; '
        f'<span class="badge watch">watch</span> {esc(bands["watch"])}; '
        f'<span class="badge healthy">healthy</span> {esc(bands["healthy"])}.</p>'
    )
    nav = "".join(
        f'<a href="#{anchor}">{esc(name)}</a>'
        for anchor, name in (
            ("kpis", "KPIs"),
            ("changes", "Changes"),
            ("cohorts", "Cohorts"),
            ("risk", "Risk"),
            ("accounts", "Accounts to call"),
            ("portfolio", "CSM portfolios"),
            ("workload", "Workload"),
            ("model", "Model"),
        )
    )
    return (
        f'<header><h1>{esc(title)}</h1><p class="facts">{items}</p>{scale}<nav>{nav}</nav></header>'
    )


def _kpi_section(
    kpis: pd.DataFrame, scores: pd.DataFrame, *, config: ScoreConfig, since: str
) -> str:
    today = _risk_tiles(scores, config=config, since=since)
    if kpis.empty:
        heading = "Last month: no complete month yet"
        tiles = "".join(tile(t.label, NA, t.note) for t in (*_KPI_TILES, _ONBOARDING))
        note = ""
    else:
        ordered = kpis.sort_values("period_start").reset_index(drop=True)
        summary = kpi_summary(ordered)
        position = ordered.index[ordered["period"].astype(str) == str(summary["period"])][0]
        previous = ordered.iloc[position - 1] if position > 0 else None
        final = "" if summary.get("provisional") else "final "
        heading = f"Last {final}month: {text(summary['period'])}"
        tiles = "".join(_kpi_tile(t, summary, previous) for t in _KPI_TILES)
        tiles += _onboarding_tile(ordered, summary)
        later = summary.get("later_periods") or []
        note = (
            f'<p class="hint">{esc(", ".join(later))} '
            f"{'is' if len(later) == 1 else 'are'} not final yet: a renewal may still arrive "
            "within the grace period and undo some of its churn, so the tiles show the last "
            "final month; the trends shade the months that are not final.</p>"
            if later
            else ""
        )
        if summary.get("provisional"):
            note = (
                '<p class="hint">No month is final yet: a renewal may still arrive within the '
                "grace period and undo some of this month's churn.</p>"
            )
    trends = report_charts.kpi_trends(kpis)
    chart = (
        f'<img src="{trends}" alt="KPI trends">'
        if trends
        else '<p class="empty">No complete period yet.</p>'
    )
    return section(
        "kpis",
        "How the book is doing",
        f'<h3>Today, against the scoring run of {since}</h3><div class="tiles">{today}</div>'
        f'<h3>{heading}</h3><div class="tiles">{tiles}</div>{note}'
        f"<h3>Trends</h3>{chart}"
        '<p class="hint">Churn is counted in the month a customer first goes without revenue. '
        "Arrows compare with the month before (KPIs) or with the previous scoring run (today).</p>",
    )


def _risk_tiles(scores: pd.DataFrame, *, config: ScoreConfig, since: str) -> str:
    tiers = scores["risk_tier"].astype("str")
    before = previous_tiers(scores, config)
    compared = before.notna()
    total_arr = _sum(scores["arr"])
    arr_at_risk = _sum(scores["arr_at_risk"])
    share = arr_at_risk / total_arr * 100 if total_arr > 0 else float("nan")
    n = len(scores)

    def tier_tile(tier: str, label: str) -> str:
        now = int((tiers == tier).sum())
        change = float(now - int((before == tier).sum())) if compared.any() else float("nan")
        delta = trend(change, f"{change:+.0f}", higher_is_better=False, since=since)
        return tile(label, count(now), _share(tiers == tier, n), delta=delta)

    held = scores["holdout"].fillna(False).astype(bool)
    return "".join(
        [
            tile("Accounts scored", count(n), f"ARR {report_charts.compact_amount(total_arr)}"),
            tier_tile("at_risk", "At risk"),
            tier_tile("watch", "Watch"),
            tile(
                "ARR at risk",
                report_charts.compact_amount(arr_at_risk),
                f"{pct(share)} of ARR (ARR x churn probability)",
            ),
            tile(
                "Control group",
                count(int(held.sum())),
                "at-risk accounts held out: no action",
            ),
        ]
    )


def _onboarding_tile(kpis: pd.DataFrame, summary: Mapping[str, object]) -> str:
    period = summary.get("onboarding_period")
    value = as_float(summary.get("onboarding_completion_pct"))
    if period is None:
        return tile("Onboarding", NA, "no signup month has finished its onboarding window yet")
    done = kpis.dropna(subset=["onboarding_completion_pct"]).reset_index(drop=True)
    delta = ""
    if len(done) > 1:
        before = float(done["onboarding_completion_pct"].iloc[-2])
        delta = trend(
            value - before,
            f"{value - before:+.1f} pts",
            higher_is_better=True,
            since=str(done["period"].iloc[-2]),
        )
    return tile(
        "Onboarding",
        pct(value),
        f"of the accounts signed up in {period} activated (the latest month whose "
        "onboarding windows are over)",
        delta=delta,
        formula=_FORMULAS.get("onboarding_completion_pct"),
    )


def _cohort_section(cohorts: pd.DataFrame) -> str:
    image = report_charts.cohort_curves(cohorts)
    body = (
        f'<img src="{image}" alt="Cohort retention curves">'
        if image
        else '<p class="empty">No cohort yet.</p>'
    )
    return section(
        "cohorts",
        "Are newer customers staying?",
        f'{body}<p class="hint">Each line is the share of one acquisition cohort still a '
        "customer since it was acquired, after that many months; it can only fall. The dashed "
        "line is the average cohort, over the cohorts old enough to have reached each month "
        "(at least three). A recent cohort below it is churning faster than usual: look at its "
        "onboarding.</p>",
    )


def _risk_section(scores: pd.DataFrame) -> str:
    histogram = report_charts.health_histogram(scores)
    bars = report_charts.arr_at_risk_bars(scores)
    if histogram is None:
        body = '<p class="empty">No account scored.</p>'
    else:
        body = (
            f'<div class="pair"><img src="{histogram}" alt="Health distribution">'
            f'<img src="{bars}" alt="ARR at risk"></div>'
        )
    return section(
        "risk",
        "Where the risk is",
        body + '<p class="hint">The health score falls as the churn probability rises; the '
        "tiers are its colour bands. ARR at risk weighs each account's ARR by its churn "
        "probability, so it is the revenue the book expects to lose if nothing is done.</p>",
    )


def _accounts_section(scores: pd.DataFrame, *, top_n: int) -> str:
    flagged = scores[scores["risk_tier"].isin(FLAGGED_TIERS)]
    top = flagged.sort_values("priority_rank", kind="stable", na_position="last").head(top_n)
    has_segment = "segment" in scores.columns
    head = ["#", "Account", "Health", "Churn risk", "ARR", "ARR at risk", "Touch"]
    head += ["Segment"] if has_segment else []
    head += ["Why (signals worse than peers)", "Playbook", "Owner", "Due"]
    rows = []
    for position, r in enumerate(top.to_dict("records"), start=1):
        tier = str(r["risk_tier"])
        cells = [
            str(position),
            account_cell(r),
            f'<span class="badge {esc(tier)}">{number(r["health_score"], 1)}</span>'
            f"<br><small>{_change(r['score_change'])}</small>",
            pct(as_float(r["churn_probability"]) * 100),
            report_charts.compact_amount(r["arr"]),
            report_charts.compact_amount(r["arr_at_risk"]),
            text(str(r["touch_tier"]).replace("_", " ")),
        ]
        cells += [text(r["segment"])] if has_segment else []
        cells += [_drivers(r), _playbook(r), _owner(r), _due(r)]
        rows.append(cells)
    if not rows:
        return section(
            "accounts", "Accounts to call this week", '<p class="empty">No account scored.</p>'
        )
    return section(
        "accounts",
        f"Accounts to call this week (top {len(rows)} at risk or on watch, by ARR at risk)",
        table(head, rows, css="accounts")
        + '<p class="hint">A signal is listed only when it raises this account\'s risk and '
        "the account is worse on it than comparable accounts (same segment and lifecycle "
        "stage, scored the same day); the figure after it is how many percentage points of "
        "churn risk it adds. Accounts marked <i>holdout</i> are the control group: left "
        "untreated so the playbook's effect can be measured; do not contact them.</p>",
    )


def _workload_section(scores: pd.DataFrame) -> str:
    holdout = scores["holdout"].fillna(False).astype(bool)
    if "action_due" in scores.columns:
        worked = scores[scores["action_due"].fillna(False).astype(bool)]
        what = "Plays due this scoring run"
        left_out = "and the accounts on <i>monitor</i> (nothing to do)"
    else:
        worked = scores[~holdout]
        what, left_out = "Accounts with a playbook", ""
    intro = (
        f'<p class="hint">{what}, per owner (count and ARR at risk); the '
        f"{counted(int(holdout.sum()), 'holdout account')} of the control group {left_out} "
        "are left out.</p>" + control_group_summary(scores)
    )
    if worked.empty:
        return section(
            "workload", "Who carries the work", intro + '<p class="empty">No account to work.</p>'
        )
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
    rows = []
    for play in by_play.index:
        cells = [f"<b>{text(titles.get(play))}</b><br><small>{text(play)}</small>"]
        for owner in owners:
            cells.append(_workload_cell(grouped, (play, owner)))
        cells.append(_workload_cell(grouped.xs(play, level="playbook_id").sum(), None))
        rows.append(cells)
    totals = grouped.groupby(level="_owner").sum()
    rows.append(
        ["<b>All playbooks</b>"]
        + [_workload_cell(totals.loc[owner], None) for owner in owners]
        + [_workload_cell(totals.sum(), None)]
    )
    head = ["Playbook", *owners, "All owners"]
    return section("workload", "Who carries the work", intro + table(head, rows, css="workload"))


def _model_section(metrics: Mapping[str, object], model_plots: Mapping[str, Path]) -> str:
    head = ["Metric", *(name for _, name in _MODEL_COLUMNS), "What it tells you"]
    rows = []
    for key, label, higher, meaning in _MODEL_METRICS:
        values = [as_float(metrics.get(prefix + key)) for prefix, _ in _MODEL_COLUMNS]
        known = [v for v in values if not math.isnan(v)]
        best = (max(known) if higher else min(known)) if known else float("nan")
        cells = [esc(label)]
        for value in values:
            shown = number(value, 3)
            cells.append(f"<b>{shown}</b>" if value == best else shown)
        rows.append([*cells, esc(meaning)])
    facts = [
        ("Test period", text(metrics.get("test_period"))),
        ("Accounts worked (k)", text(metrics.get("top_k"))),
        ("Calibration error (ECE)", number(metrics.get("ece"), 3)),
    ]
    if not math.isnan(as_float(metrics.get("oracle_roc_auc"))):
        facts.append(("Oracle ROC AUC (best possible)", number(metrics.get("oracle_roc_auc"), 3)))
    fact_list = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    suspects = metrics.get("leak_suspects") or []
    suspects = suspects if isinstance(suspects, list) else []
    alarm = (
        '<div class="alarm"><b>Possible leak.</b> '
        + " ".join(
            f"{esc(str(s.get('feature')))} {esc(str(s.get('reason')))}."
            for s in suspects
            if isinstance(s, Mapping)
        )
        + " Figures this good are rarely honest: check that the feature was known at each "
        "snapshot before trusting the metrics below.</div>"
        if suspects
        else ""
    )
    ordered = sorted(model_plots, key=lambda name: name != "calibration")
    plots = "".join(_model_plot(name, model_plots[name]) for name in ordered)
    return section(
        "model",
        "Can the score be trusted?",
        alarm
        + f'<dl class="facts">{fact_list}</dl>'
        + table(head, rows, css="metrics")
        + '<p class="hint">The best value of each row is in bold. The model earns its place '
        "only if it beats both baselines on the test period, which it never saw in training."
        "</p>"
        + (
            f'<div class="plots">{plots}</div>'
            if plots
            else '<p class="empty">No model plot given.</p>'
        ),
    )


def _model_plot(name: str, path: Path) -> str:
    title, caption = _PLOT_TITLES.get(name, (name.replace("_", " ").capitalize(), ""))
    path = Path(path)
    if not path.is_file():
        body = f'<p class="empty">Plot file not found: {esc(str(path))}</p>'
    else:
        body = f'<img src="{report_charts.png_data_uri(path.read_bytes())}" alt="{esc(title)}">'
    hint = f'<p class="hint">{esc(caption)}</p>' if caption else ""
    return f"<figure><figcaption>{esc(title)}</figcaption>{body}{hint}</figure>"


# ------------------------------------------------------------- HTML pieces


def _page(title: str, sections: Iterable[str]) -> str:
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n<script>{_IMAGE_CHECK}</script>\n</body></html>\n"
    )


def _kpi_tile(spec: _Tile, summary: Mapping[str, object], previous: pd.Series | None) -> str:
    """One KPI tile: the value, its change from the month before, its formula on hover."""
    value = as_float(summary.get(spec.key))
    shown = {
        "count": count,
        "amount": report_charts.compact_amount,
        "pct": pct,
        "points": lambda v: number(v, 0),
    }[spec.kind](value)
    delta = ""
    before = as_float(previous.get(spec.column)) if previous is not None else float("nan")
    if not (math.isnan(value) or math.isnan(before)):
        if spec.kind in ("pct", "points"):
            change, label = value - before, f"{value - before:+.1f} pts"
        elif before != 0:
            change, label = value - before, f"{(value - before) / abs(before) * 100:+.1f}%"
        else:
            change, label = float("nan"), ""
        since = str(previous.get("period"))  # type: ignore[union-attr]
        delta = trend(change, label, higher_is_better=spec.higher_is_better, since=since)
    return tile(spec.label, shown, spec.note, delta=delta, formula=_FORMULAS.get(spec.column))


def _workload_cell(grouped: pd.DataFrame | pd.Series, key: tuple[str, str] | None) -> str:
    if key is not None:
        if key not in grouped.index:
            return '<span class="muted">-</span>'
        grouped = grouped.loc[key]
    return (
        f"{count(grouped['accounts'])}<br>"
        f"<small>{report_charts.compact_amount(grouped['arr'])}</small>"
    )


def _drivers(row: Mapping[str, object]) -> str:
    items = []
    peers = row.get("peer_group")
    suffix = "" if missing(peers) else f" for {peers}"
    for i in (1, 2, 3):
        sentence = row.get(f"driver_{i}_text")
        if missing(sentence) or str(sentence) == "":
            continue
        if suffix and str(sentence).endswith(suffix):  # the peers are named once, below
            sentence = str(sentence)[: -len(suffix)]
        family = row.get(f"driver_{i}_family")
        points = as_float(row.get(f"driver_{i}_points"))
        tag = "" if missing(family) else f'<span class="tag">{text(family)}</span> '
        weight = "" if math.isnan(points) else f' <small class="muted">+{points:.1f} pts</small>'
        items.append(f"<li>{tag}{text(sentence)}{weight}</li>")
    if not items:
        return '<span class="muted">no signal worse than its peers</span>'
    who = "" if not suffix else f'<small class="muted">peers: {text(peers)}</small>'
    return f"<ul>{''.join(items)}</ul>{who}"


def _playbook(row: Mapping[str, object]) -> str:
    actions = row.get("playbook_actions")
    steps = [] if missing(actions) else [a.strip() for a in str(actions).split("|")]
    listed = "".join(f"<li>{esc(step)}</li>" for step in steps if step)
    holdout = row.get("holdout")
    in_holdout = not missing(holdout) and bool(holdout)
    flag = ' <span class="badge holdout">holdout</span>' if in_holdout else ""
    return f"<b>{text(row.get('playbook_title'))}</b>{flag}<ol>{listed}</ol>"


def _due(row: Mapping[str, object]) -> str:
    days = as_float(row.get("days_to_renewal"))
    renews = "" if math.isnan(days) else f"<br><small>{esc(renewal_words(days))}</small>"
    return date(row["due_by"]) + renews


def _owner(row: Mapping[str, object]) -> str:
    reason = row.get("owner_reason")
    note = "" if missing(reason) else f"<br><small>{text(reason)}</small>"
    return f"{text(row.get('owner'))}{note}"


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").sum())


def _share(mask: pd.Series, n: int) -> str:
    return f"{pct(mask.sum() / n * 100 if n else float('nan'))} of accounts"


def _change(value: object) -> str:
    x = as_float(value)
    if math.isnan(x):
        return "new"
    css = "down" if x < 0 else "up" if x > 0 else "flat"
    return f'<span class="delta {css}">{x:+.1f}</span>'


# After the page has loaded, record in the DOM how many images decoded, so that a headless
# browser can confirm that every chart rendered.
_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
  }
  document.body.dataset.imagesLoaded = String(loaded);
  document.body.dataset.imagesTotal = String(images.length);
});
"""

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0 auto; max-width: 1340px; padding: 16px 24px 48px; color: #1d2733;
  background: #fff; font-size: 14px; line-height: 1.4; }
header { border-bottom: 3px solid #1f4e79; padding-bottom: 8px; margin-bottom: 8px; }
h1 { margin: 4px 0; color: #1f4e79; font-size: 26px; }
h2 { color: #1f4e79; border-bottom: 1px solid #d5dde6; padding-bottom: 4px; margin-top: 28px; }
h3 { margin: 14px 0 6px; font-size: 15px; color: #44546a; }
p.facts span { margin-right: 22px; white-space: nowrap; }
nav a { margin-right: 14px; color: #1f4e79; text-decoration: none; font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.tile { border: 1px solid #d5dde6; border-radius: 8px; padding: 10px 12px; background: #f7f9fb; }
.tile .label { font-size: 12px; text-transform: uppercase; color: #5b6b7f; letter-spacing: .04em; }
.tile .value { font-size: 24px; font-weight: 700; margin: 2px 0; }
.tile .note { font-size: 12px; color: #5b6b7f; }
.delta { font-size: 12px; font-weight: 600; }
.delta.up { color: #2e7d32; } .delta.down { color: #c62828; } .delta.flat { color: #5b6b7f; }
img { max-width: 100%; height: auto; display: block; }
.pair { display: grid; grid-template-columns: 1fr 1.6fr; gap: 12px; align-items: start; }
.plots { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
figure { margin: 0; } figcaption { font-weight: 600; margin: 8px 0 4px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th { background: #1f4e79; color: #fff; text-align: left; padding: 6px 8px; }
td { border-bottom: 1px solid #e3e8ee; padding: 6px 8px; vertical-align: top; }
tbody tr:nth-child(even) { background: #f7f9fb; }
td ul, td ol { margin: 0; padding-left: 18px; }
td ol { font-size: 12px; color: #44546a; }
table.accounts td:nth-child(2) { min-width: 120px; overflow-wrap: anywhere; }
table.portfolio td:nth-child(n+2):nth-child(-n+7) { text-align: right; white-space: nowrap; }
table.portfolio td ol { font-size: 13px; color: inherit; }
table.changes td:nth-child(3), table.changes td:nth-child(5) { white-space: nowrap; }
p.scale { font-size: 13px; color: #44546a; margin: 4px 0 8px; }
table.accounts td:last-child { white-space: nowrap; }
table.accounts td:nth-child(n+3):nth-child(-n+6) { white-space: nowrap; text-align: right; }
table.workload td:not(:first-child), table.metrics td:nth-child(n+2):nth-child(-n+4)
  { text-align: right; }
table.workload tr:last-child { font-weight: 600; background: #e8eef5; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 8px; color: #fff;
  font-weight: 700; font-size: 12px; background: #5b6b7f; }
.badge.healthy { background: #2e7d32; } .badge.watch { background: #e0a100; }
.badge.at_risk { background: #c62828; } .badge.holdout { background: #6d4c41; }
.tag { display: inline-block; background: #e3ecf6; color: #1f4e79; border-radius: 4px;
  padding: 0 5px; font-size: 11px; }
.muted { color: #8a97a8; }
.hint { color: #5b6b7f; font-size: 12.5px; max-width: 980px; }
.empty { color: #8a97a8; font-style: italic; }
.alarm { display: block; background: #fdecea; border-left: 4px solid #b3261e; color: #5c1411;
  padding: 8px 12px; margin: 8px 0; max-width: 980px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
"""
