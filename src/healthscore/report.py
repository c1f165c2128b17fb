"""The customer-success leader's report: one self-contained HTML page.

The page answers, top to bottom, the questions a CS leader brings to a weekly review: how is
the book doing (KPI tiles and trends), are newer cohorts keeping their logos (cohort curves),
how much revenue is at risk today and where (health distribution, ARR at risk), which accounts
need a call this week and what to say (the top at-risk table with drivers and playbooks), who
carries the work (playbook workload per owner), and can the score be trusted (the model
against its baselines, and its calibration).

The page carries everything it needs: CSS inline, every chart an embedded PNG, no external
script, font or link, so it renders the same from an e-mail attachment or an offline laptop.
Every value taken from the data is HTML-escaped, since account names and driver texts are
user data. A missing value (no NPS survey, a metric undefined on the test period) is shown as
``n/a``; it never stops the report.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from healthscore import report_charts
from healthscore.errors import DataError
from healthscore.kpis import KPI_DEFINITIONS, kpi_summary
from healthscore.report_outcomes import LoopReport, loop_sections
from healthscore.scoring import OPTIONAL_OUTPUT_COLUMNS, OUTPUT_COLUMNS
from healthscore.storage import write_text
from healthscore.touch import OWNERS

SCORE_COLUMNS: tuple[str, ...] = tuple(
    c for c in OUTPUT_COLUMNS if c not in OPTIONAL_OUTPUT_COLUMNS
)
"""The columns :func:`render_report` needs in ``scores``; ``segment`` is optional."""

_NA = "n/a"
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
    _Tile("Customers", "customers", "customers_end", "count", True, "customers at period end"),
    _Tile("ARR", "arr", "arr_end", "amount", True, "annual recurring revenue at period end"),
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
    _Tile(
        "Onboarding",
        "onboarding_completion_pct",
        "onboarding_completion_pct",
        "pct",
        True,
        "new accounts activated",
    ),
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
) -> str:
    """Render the CS leader's report as one self-contained HTML page.

    Parameters
    ----------
    as_of
        The scoring date of ``scores``, shown in the header.
    kpis
        Retention KPIs per period, as returned by :func:`healthscore.kpis.compute_kpis`. The
        tiles show the latest period with the change from the one before; may be empty.
    cohorts
        Logo retention per cohort, as returned by :func:`healthscore.kpis.cohort_retention`;
        the latest 12 cohorts are drawn. May be empty.
    scores
        One row per account scored at ``as_of``, with the columns of :data:`SCORE_COLUMNS`
        and optionally ``segment``.
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
    missing = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise DataError(
            f"scores lacks column(s) {', '.join(missing)}; the report needs the output of "
            "scoring (one row per account with drivers and playbooks)"
        )
    sections = [
        _header(title, as_of=as_of, kpis=kpis, scores=scores, metrics=metrics),
        _kpi_section(kpis, scores),
        _cohort_section(cohorts),
        _risk_section(scores),
        _accounts_section(scores, top_n=top_n),
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
) -> str:
    versions = sorted({str(v) for v in scores["model_version"].dropna()})
    facts = [
        ("Scored as of", _date(as_of)),
        ("Accounts scored", _count(len(scores))),
        ("Latest KPI period", _NA if kpis.empty else _text(_latest(kpis)["period"])),
        ("Model", _esc(", ".join(versions)) if versions else _NA),
        ("Test period", _text(metrics.get("test_period"))),
    ]
    items = "".join(f"<span><b>{_esc(k)}</b> {v}</span>" for k, v in facts)
    checks = sorted({str(c) for c in scores.get("model_check", pd.Series(dtype=str)).dropna()})
    forced = [c for c in checks if c != "ok"]
    if forced:
        items += (
            '<span class="alarm"><b>Model of other data, scored with --force:</b> '
            + _esc("; ".join(forced).removeprefix("forced: "))
            + "</span>"
        )
    nav = "".join(
        f'<a href="#{anchor}">{_esc(name)}</a>'
        for anchor, name in (
            ("kpis", "KPIs"),
            ("cohorts", "Cohorts"),
            ("risk", "Risk"),
            ("accounts", "At-risk accounts"),
            ("workload", "Workload"),
            ("model", "Model"),
        )
    )
    return f'<header><h1>{_esc(title)}</h1><p class="facts">{items}</p><nav>{nav}</nav></header>'


def _kpi_section(kpis: pd.DataFrame, scores: pd.DataFrame) -> str:
    tiles = [_risk_tiles(scores)]
    if kpis.empty:
        heading = "no complete period yet"
        tiles.append("".join(_tile(t.label, _NA, t.note) for t in _KPI_TILES))
    else:
        ordered = kpis.sort_values("period_start")
        summary = kpi_summary(ordered)
        previous = ordered.iloc[-2] if len(ordered) > 1 else None
        heading = f"period {_text(summary['period'])}"
        if summary.get("provisional"):
            heading += ' <span class="badge watch">provisional</span>'
        tiles.append("".join(_kpi_tile(t, summary, previous) for t in _KPI_TILES))
    trend = _image(report_charts.kpi_trends(kpis), "KPI trends", empty="No complete period yet.")
    return _section(
        "kpis",
        "How the book is doing",
        f'<h3>Today</h3><div class="tiles">{tiles[0]}</div>'
        f'<h3>Latest complete {heading}</h3><div class="tiles">{tiles[1]}</div>'
        f"<h3>Trends</h3>{trend}"
        '<p class="hint">Churn is counted in the period a customer first goes without revenue; '
        "shaded periods are provisional: a late renewal may still undo some of their churn.</p>",
    )


def _risk_tiles(scores: pd.DataFrame) -> str:
    tiers = scores["risk_tier"].astype("str")
    total_arr = _sum(scores["arr"])
    arr_at_risk = _sum(scores["arr_at_risk"])
    share = arr_at_risk / total_arr * 100 if total_arr > 0 else float("nan")
    n = len(scores)
    return "".join(
        [
            _tile("Accounts scored", _count(n), f"ARR {report_charts.compact_amount(total_arr)}"),
            _tile("At risk", _count((tiers == "at_risk").sum()), _share(tiers == "at_risk", n)),
            _tile("Watch", _count((tiers == "watch").sum()), _share(tiers == "watch", n)),
            _tile(
                "ARR at risk",
                report_charts.compact_amount(arr_at_risk),
                f"{_pct(share)} of ARR (ARR x churn probability)",
            ),
        ]
    )


def _cohort_section(cohorts: pd.DataFrame) -> str:
    image = _image(
        report_charts.cohort_curves(cohorts), "Cohort retention curves", empty="No cohort yet."
    )
    return _section(
        "cohorts",
        "Are newer customers staying?",
        f'{image}<p class="hint">Each line is the share of one acquisition cohort\'s accounts '
        "still customers after that many periods; the dashed line is the mean of all cohorts. "
        "A recent cohort below it is churning faster than usual: look at its onboarding.</p>",
    )


def _risk_section(scores: pd.DataFrame) -> str:
    histogram = _image(
        report_charts.health_histogram(scores), "Health distribution", empty="No account scored."
    )
    bars = _image(report_charts.arr_at_risk_bars(scores), "ARR at risk", empty="No account scored.")
    return _section(
        "risk",
        "Where the risk is",
        f'<div class="pair">{histogram}{bars}</div>'
        '<p class="hint">The health score falls as the churn probability rises; the tiers are '
        "its colour bands. ARR at risk weighs each account's ARR by its churn probability, so "
        "it is the revenue the book expects to lose if nothing is done.</p>",
    )


def _accounts_section(scores: pd.DataFrame, *, top_n: int) -> str:
    flagged = scores[scores["risk_tier"].isin(["at_risk", "watch"])]
    top = flagged.sort_values("priority_rank", kind="stable", na_position="last").head(top_n)
    has_segment = "segment" in scores.columns
    head = ["#", "Account", "Health", "Churn risk", "ARR", "ARR at risk", "Touch"]
    head += ["Segment"] if has_segment else []
    head += ["Why (top drivers)", "Playbook", "Owner", "Due"]
    rows = []
    for r in top.to_dict("records"):
        tier = str(r["risk_tier"])
        cells = [
            _text(r["priority_rank"]),
            f"<b>{_text(r['account_id'])}</b>",
            f'<span class="badge {_esc(tier)}">{_number(r["health_score"], 1)}</span>'
            f"<br><small>{_change(r['score_change'])}</small>",
            _pct(_float(r["churn_probability"]) * 100),
            report_charts.compact_amount(r["arr"]),
            report_charts.compact_amount(r["arr_at_risk"]),
            _text(str(r["touch_tier"]).replace("_", " ")),
        ]
        cells += [_text(r["segment"])] if has_segment else []
        cells += [_drivers(r), _playbook(r), _text(r["owner"]), _date(r["due_by"])]
        rows.append(cells)
    if not rows:
        return _section(
            "accounts", "Accounts to call this week", '<p class="empty">No account scored.</p>'
        )
    return _section(
        "accounts",
        f"Accounts to call this week (top {len(rows)} by ARR at risk)",
        _table(head, rows, css="accounts")
        + '<p class="hint">Drivers are the signals that raise this account\'s risk the most, '
        "with their contribution to the log-odds of churn. Accounts marked <i>holdout</i> are "
        "deliberately left untreated so the playbook's effect can be measured: do not contact "
        "them.</p>",
    )


def _workload_section(scores: pd.DataFrame) -> str:
    holdout = scores["holdout"].fillna(False).astype(bool)
    worked = scores[~holdout]
    intro = (
        f'<p class="hint">Accounts with a playbook due, per owner (count and ARR at risk); '
        f"{_count(int(holdout.sum()))} holdout account(s) excluded.</p>"
    )
    if worked.empty:
        return _section(
            "workload", "Who carries the work", intro + '<p class="empty">No account to work.</p>'
        )
    owners_seen = set(worked["owner"].astype("str"))
    owners = [o for o in OWNERS.values() if o in owners_seen]
    owners += sorted(owners_seen - set(owners))
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
        cells = [f"<b>{_text(titles.get(play))}</b><br><small>{_text(play)}</small>"]
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
    return _section("workload", "Who carries the work", intro + _table(head, rows, css="workload"))


def _model_section(metrics: Mapping[str, object], model_plots: Mapping[str, Path]) -> str:
    head = ["Metric", *(name for _, name in _MODEL_COLUMNS), "What it tells you"]
    rows = []
    for key, label, higher, meaning in _MODEL_METRICS:
        values = [_float(metrics.get(prefix + key)) for prefix, _ in _MODEL_COLUMNS]
        known = [v for v in values if not math.isnan(v)]
        best = (max(known) if higher else min(known)) if known else float("nan")
        cells = [_esc(label)]
        for value in values:
            shown = _number(value, 3)
            cells.append(f"<b>{shown}</b>" if value == best else shown)
        rows.append([*cells, _esc(meaning)])
    facts = [
        ("Test period", _text(metrics.get("test_period"))),
        ("Accounts worked (k)", _text(metrics.get("top_k"))),
        ("Calibration error (ECE)", _number(metrics.get("ece"), 3)),
    ]
    if not math.isnan(_float(metrics.get("oracle_roc_auc"))):
        facts.append(("Oracle ROC AUC (best possible)", _number(metrics.get("oracle_roc_auc"), 3)))
    fact_list = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    suspects = metrics.get("leak_suspects") or []
    alarm = (
        '<div class="alarm"><b>Possible leak.</b> '
        + " ".join(
            f"{_esc(str(s.get('feature')))} {_esc(str(s.get('reason')))}."
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
    return _section(
        "model",
        "Can the score be trusted?",
        alarm
        + f'<dl class="facts">{fact_list}</dl>'
        + _table(head, rows, css="metrics")
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
        body = f'<p class="empty">Plot file not found: {_esc(str(path))}</p>'
    else:
        body = _image(report_charts.png_data_uri(path.read_bytes()), title, empty="")
    hint = f'<p class="hint">{_esc(caption)}</p>' if caption else ""
    return f"<figure><figcaption>{_esc(title)}</figcaption>{body}{hint}</figure>"


# ------------------------------------------------------------- HTML pieces


def _page(title: str, sections: Iterable[str]) -> str:
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n<script>{_IMAGE_CHECK}</script>\n</body></html>\n"
    )


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(heading)}</h2>{body}</section>'


def _table(head: list[str], rows: list[list[str]], *, css: str) -> str:
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _image(data_uri: str | None, alt: str, *, empty: str) -> str:
    if data_uri is None:
        return f'<p class="empty">{_esc(empty)}</p>'
    return f'<img src="{data_uri}" alt="{_esc(alt)}">'


def _tile(label: str, value: str, note: str, *, delta: str = "", formula: str | None = None) -> str:
    hover = f' title="{_esc(formula)}"' if formula else ""
    return (
        f'<div class="tile"{hover}><div class="label">{_esc(label)}</div>'
        f'<div class="value">{value}</div>{delta}<div class="note">{_esc(note)}</div></div>'
    )


def _kpi_tile(tile: _Tile, summary: Mapping[str, object], previous: pd.Series | None) -> str:
    """One KPI tile: the latest value, its change from the previous period, its formula."""
    value = _float(summary.get(tile.key))
    shown = {
        "count": _count,
        "amount": report_charts.compact_amount,
        "pct": _pct,
        "points": lambda v: _number(v, 0),
    }[tile.kind](value)
    delta = ""
    before = _float(previous.get(tile.column)) if previous is not None else float("nan")
    if not (math.isnan(value) or math.isnan(before)):
        if tile.kind in ("pct", "points"):
            change, text = value - before, f"{value - before:+.1f} pts"
        elif before != 0:
            change, text = value - before, f"{(value - before) / abs(before) * 100:+.1f}%"
        else:
            change, text = 0.0, ""
        if text:
            good = (
                "flat"
                if change == 0
                else ("up" if (change > 0) == tile.higher_is_better else "down")
            )
            delta = (
                f'<div class="delta {good}">{_esc(text)} vs '
                f"{_text(previous.get('period'))}</div>"  # type: ignore[union-attr]
            )
    return _tile(tile.label, shown, tile.note, delta=delta, formula=_FORMULAS.get(tile.column))


def _workload_cell(grouped: pd.DataFrame | pd.Series, key: tuple[str, str] | None) -> str:
    if key is not None:
        if key not in grouped.index:
            return '<span class="muted">-</span>'
        grouped = grouped.loc[key]
    return (
        f"{_count(grouped['accounts'])}<br>"
        f"<small>{report_charts.compact_amount(grouped['arr'])}</small>"
    )


def _drivers(row: Mapping[str, object]) -> str:
    items = []
    for i in (1, 2, 3):
        text = row.get(f"driver_{i}_text")
        if _missing(text) or str(text) == "":
            continue
        family = row.get(f"driver_{i}_family")
        share = _float(row.get(f"driver_{i}_contribution"))
        tag = "" if _missing(family) else f'<span class="tag">{_text(family)}</span> '
        weight = "" if math.isnan(share) else f' <small class="muted">{share:+.2f}</small>'
        items.append(f"<li>{tag}{_text(text)}{weight}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else _NA


def _playbook(row: Mapping[str, object]) -> str:
    actions = row.get("playbook_actions")
    steps = [] if _missing(actions) else [a.strip() for a in str(actions).split("|")]
    listed = "".join(f"<li>{_esc(step)}</li>" for step in steps if step)
    holdout = row.get("holdout")
    in_holdout = not _missing(holdout) and bool(holdout)
    flag = ' <span class="badge holdout">holdout</span>' if in_holdout else ""
    return f"<b>{_text(row.get('playbook_title'))}</b>{flag}<ol>{listed}</ol>"


# ------------------------------------------------------------------ formats


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: object) -> str:
    return _NA if _missing(value) else _esc(value)


def _float(value: object) -> float:
    if _missing(value) or isinstance(value, bool | str):
        return float("nan")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _number(value: object, digits: int) -> str:
    number = _float(value)
    return _NA if math.isnan(number) else f"{number:,.{digits}f}"


def _count(value: object) -> str:
    return _number(value, 0)


def _pct(value: object) -> str:
    number = _float(value)
    return _NA if math.isnan(number) else f"{number:.1f}%"


def _share(mask: pd.Series, n: int) -> str:
    return f"{_pct(mask.sum() / n * 100 if n else float('nan'))} of accounts"


def _change(value: object) -> str:
    number = _float(value)
    if math.isnan(number):
        return f"change {_NA}"
    css = "down" if number < 0 else "up" if number > 0 else "flat"
    return f'<span class="delta {css}">{number:+.1f}</span>'


def _date(value: object) -> str:
    if _missing(value):
        return _NA
    try:
        return _esc(pd.Timestamp(value).date().isoformat())
    except (TypeError, ValueError):
        return _text(value)


def _sum(values: pd.Series) -> float:
    return float(pd.to_numeric(values, errors="coerce").sum())


def _latest(kpis: pd.DataFrame) -> pd.Series:
    return kpis.sort_values("period_start").iloc[-1]


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
table.accounts td:nth-child(2) { min-width: 96px; overflow-wrap: anywhere; }
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
