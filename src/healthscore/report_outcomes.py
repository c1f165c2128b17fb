"""The report's two closing sections: did the plays work, and can the model still be trusted.

:func:`loop_sections` renders them from a :class:`LoopReport` (what ``healthscore outcomes``
and ``healthscore monitor`` found, or why they found nothing) as HTML for
:func:`healthscore.report.render_report`, in the page's own style classes. Like the rest of
the page it is self-contained (charts are inline PNGs) and escapes every value that comes
from the data; anything missing is said in words, never an error.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from healthscore.monitor import MonitorReport
from healthscore.outcomes import OutcomesReport
from healthscore.report_charts import figure_data_uri

_NA = "n/a"
_BADGE = {"ok": "healthy", "watch": "watch", "retrain": "at_risk"}
_SHOWN_FEATURES = 12
_SHOWN_DATES = 12


@dataclass(frozen=True)
class LoopReport:
    """What the report shows of outcomes and monitoring; a note where either is missing."""

    outcomes: OutcomesReport | None = None
    outcomes_note: str = ""
    monitor: MonitorReport | None = None
    monitor_note: str = ""


def loop_sections(loop: LoopReport | None) -> str:
    """Both sections as HTML; the empty string when there is nothing to report on."""
    if loop is None:
        return ""
    return _outcomes_section(loop) + _monitor_section(loop)


# ---------------------------------------------------------------- did it work


def _outcomes_section(loop: LoopReport) -> str:
    report = loop.outcomes
    heading = "Did the plays work?"
    if report is None:
        body = f'<p class="empty">{_esc(loop.outcomes_note or "No outcome measured.")}</p>'
        return _section("outcomes", heading, body)
    compared = report.comparison
    done = int(report.recommendations["complete"].sum())
    intro = (
        f'<p class="hint">{done:,} recommendation(s) from {len(report.score_files)} past '
        f"scoring run(s) whose {report.horizon_days}-day window has ended"
        + (f", since {_date(report.since)}" if report.since is not None else "")
        + ". Each account counts in the arm it was assigned (intent to treat): the accounts "
        "held out at random are the control, so the difference is what assigning the play did, "
        "with the team's real follow-through. A difference is <b>readable</b> when its "
        "interval excludes zero; otherwise the last column says how many more accounts it "
        "needs.</p>"
    )
    if compared.empty or int(compared[["treated", "held_out"]].sum().sum()) == 0:
        return _section(
            "outcomes",
            heading,
            intro + '<p class="empty">No recommendation of a playbook with a holdout has '
            "completed its window yet.</p>" + _notices(report.notices),
        )
    chart = _image(_difference_chart(compared), "Churn difference per playbook")
    return _section(
        "outcomes",
        heading,
        intro + chart + _comparison_table(compared) + _notices(report.notices),
    )


def _comparison_table(compared: pd.DataFrame) -> str:
    head = [
        "Playbook",
        "Tier",
        "Treated",
        "Held out",
        "Got the play",
        "Churn treated",
        "Churn held out",
        "Difference (interval)",
        "ARR kept treated",
        "ARR kept held out",
        "Difference (interval)",
        "Can it be read?",
    ]
    rows = []
    shown = compared[
        (compared["tier"] == "all") | ((compared["treated"] > 0) & (compared["held_out"] > 0))
    ]
    for row in shown.to_dict("records"):
        tier = str(row["tier"])
        name = "All playbooks" if row["playbook_id"] == "all" else str(row["playbook_id"])
        first = (
            f"<b>{_esc(name)}</b>" if tier == "all" else f'<span class="muted">{_esc(name)}</span>'
        )
        rows.append(
            [
                first,
                _esc(tier.replace("_", " ")),
                _count(row["treated"]),
                _count(row["held_out"]),
                _pct(row["treated_actioned_share"]),
                _pct(row["churn_treated"]),
                _pct(row["churn_held_out"]),
                _interval(
                    row["churn_difference"],
                    row["churn_difference_low"],
                    row["churn_difference_high"],
                ),
                _pct(row["arr_retained_treated"]),
                _pct(row["arr_retained_held_out"]),
                _interval(
                    row["arr_retained_difference"],
                    row["arr_retained_difference_low"],
                    row["arr_retained_difference_high"],
                ),
                _readable(row),
            ]
        )
    return _table(head, rows, css="outcomes")


def _readable(row: dict[str, object]) -> str:
    if row["readable"]:
        better = _float(row["churn_difference"]) < 0
        word = "fewer churned" if better else "more churned"
        return f'<span class="badge {"healthy" if better else "at_risk"}">yes: {word}</span>'
    needed = _float(row["more_accounts_needed"])
    if math.isnan(needed):
        return '<span class="muted">no difference seen</span>'
    return f"not yet: about {needed:,.0f} more accounts"


def _difference_chart(compared: pd.DataFrame) -> str | None:
    rows = compared[(compared["tier"] == "all")].iloc[::-1]
    rows = rows[rows["churn_difference"].notna()]
    if rows.empty:
        return None
    figure = Figure(figsize=(8.0, 0.45 * len(rows) + 1.2), dpi=100)
    ax = figure.add_subplot()
    y = np.arange(len(rows))
    estimate = rows["churn_difference"].to_numpy(float) * 100
    low = rows["churn_difference_low"].to_numpy(float) * 100
    high = rows["churn_difference_high"].to_numpy(float) * 100
    colours = [
        "#2e7d32" if h < 0 else "#c62828" if lo > 0 else "#5b6b7f"
        for lo, h in zip(low, high, strict=True)
    ]
    ax.hlines(y, low, high, colors=colours, linewidth=2.5)
    ax.scatter(estimate, y, color=colours, zorder=3)
    ax.axvline(0, color="#1d2733", linewidth=1)
    ax.set_yticks(y, [str(p) for p in rows["playbook_id"]])
    ax.set_xlabel("churn rate, treated minus held out (points; left of 0: fewer churned)")
    ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure_data_uri(figure)


# ---------------------------------------------------------------- can we trust the model


def _monitor_section(loop: LoopReport) -> str:
    report = loop.monitor
    heading = "Can we still trust the model?"
    if report is None:
        body = f'<p class="empty">{_esc(loop.monitor_note or "The model was not checked.")}</p>'
        return _section("monitoring", heading, body)
    badge = _BADGE.get(report.verdict, "watch")
    verdict = (
        f'<p><span class="badge {badge}" style="font-size:16px">{_esc(report.verdict.upper())}'
        "</span></p><ul>" + "".join(f"<li>{_esc(r)}</li>" for r in report.reasons) + "</ul>"
    )
    facts = [
        ("Checked at", _date(report.as_of)),
        ("Training population", _esc(report.reference_period)),
        ("Accounts scored now", _count(report.facts.get("accounts_scored"))),
        ("Score shift (PSI)", _number(report.score_psi, 3)),
        ("Test-period ROC AUC", _number(report.test_roc_auc, 3)),
    ]
    fact_list = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    chart = _image(_performance_chart(report), "Realised against predicted churn")
    return _section(
        "monitoring",
        heading,
        verdict
        + f'<dl class="facts">{fact_list}</dl>'
        + "<h3>Feature drift (training population against the accounts scored now)</h3>"
        + _drift_table(report.drift)
        + '<p class="hint">PSI below 0.1 is stable, 0.1-0.25 a shift to watch, above 0.25 a '
        "population the model has not seen. Context features (tenure, renewal timing, "
        "segment) drift as the book ages and are listed without deciding; so are features "
        "with little weight in the model.</p>"
        + "<h3>Realised against predicted churn</h3>"
        + chart
        + _performance_table(report.performance),
    )


def _drift_table(drift: pd.DataFrame) -> str:
    if drift.empty:
        return '<p class="empty">No feature to compare.</p>'
    head = ["Feature", "Share of gain", "PSI", "Missing in training", "Missing now", "Status"]
    rows = []
    for row in drift.head(_SHOWN_FEATURES).to_dict("records"):
        status = str(row["status"])
        shown = (
            f'<span class="badge {_BADGE.get(status, "watch")}">{_esc(status)}</span>'
            if row["decides"]
            else f'<span class="muted">{_esc(status)} level, not counted: '
            f"{'context feature' if row['context'] else 'little weight'}</span>"
        )
        rows.append(
            [
                _esc(row["feature"]),
                _pct(row["importance"]),
                _number(row["psi"], 3),
                _pct(row["missing_reference"]),
                _pct(row["missing_current"]),
                shown,
            ]
        )
    return _table(head, rows, css="drift")


def _performance_table(performance: pd.DataFrame) -> str:
    if performance.empty:
        return (
            '<p class="empty">No scoring date after the training period has a complete label '
            "window yet.</p>"
        )
    head = [
        "Scored",
        "Period",
        "Accounts",
        "Churned",
        "Predicted",
        "Realised / predicted",
        "ROC AUC",
    ]
    rows = [
        [
            _date(row["as_of"]),
            _esc(row.get("period", "")),
            _count(row["accounts"]),
            _pct(row["realised_churn"]),
            _pct(row["predicted_churn"]),
            _number(row["ratio"], 2),
            _number(row["roc_auc"], 3),
        ]
        for row in performance.tail(_SHOWN_DATES).to_dict("records")
    ]
    return _table(head, rows, css="performance")


def _performance_chart(report: MonitorReport) -> str | None:
    performance, calibration = report.performance, report.calibration
    if performance.empty:
        return None
    figure = Figure(figsize=(11.0, 3.4), dpi=100)
    left, right = figure.subplots(1, 2)
    dates = pd.to_datetime(performance["as_of"])
    left.plot(dates, performance["realised_churn"] * 100, marker="o", label="realised")
    left.plot(dates, performance["predicted_churn"] * 100, marker="s", label="predicted")
    left.set_ylabel("churn in the window (%)")
    left.set_title("Churn by scoring date")
    left.legend(frameon=False)
    left.tick_params(axis="x", labelrotation=30)
    if not calibration.empty:
        top = max(calibration["predicted_churn"].max(), calibration["realised_churn"].max()) * 100
        right.plot([0, top], [0, top], color="#8a97a8", linestyle="--", linewidth=1)
        right.plot(
            calibration["predicted_churn"] * 100,
            calibration["realised_churn"] * 100,
            marker="o",
            color="#1f4e79",
        )
    right.set_xlabel("predicted (%)")
    right.set_ylabel("realised (%)")
    right.set_title("Latest dates by decile of the prediction")
    figure.tight_layout()
    return figure_data_uri(figure)


# ---------------------------------------------------------------- HTML pieces


def _section(anchor: str, heading: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(heading)}</h2>{body}</section>'


def _table(head: list[str], rows: list[list[str]], *, css: str) -> str:
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def _image(data_uri: str | None, alt: str) -> str:
    return "" if data_uri is None else f'<img src="{data_uri}" alt="{_esc(alt)}">'


def _notices(notices: list[str]) -> str:
    return "".join(f'<p class="hint">{_esc(n)}</p>' for n in notices)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _float(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _number(value: object, digits: int) -> str:
    number = _float(value)
    return _NA if math.isnan(number) else f"{number:,.{digits}f}"


def _count(value: object) -> str:
    return _number(value, 0)


def _pct(value: object) -> str:
    number = _float(value)
    return _NA if math.isnan(number) else f"{number * 100:.1f}%"


def _interval(estimate: object, low: object, high: object) -> str:
    e, lo, hi = _float(estimate), _float(low), _float(high)
    if math.isnan(e):
        return _NA
    spread = "" if math.isnan(lo) else f" <small>({lo * 100:+.1f} to {hi * 100:+.1f})</small>"
    return f"{e * 100:+.1f} pts{spread}"


def _date(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _NA
    try:
        return _esc(pd.Timestamp(value).date().isoformat())
    except (TypeError, ValueError):
        return _esc(value)
