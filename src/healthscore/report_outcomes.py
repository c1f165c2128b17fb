"""The report's two closing sections: did the plays work, and can the model still be trusted.

:func:`loop_context` gathers them from a :class:`LoopReport` (what ``healthscore outcomes``
and ``healthscore monitor`` found, or why they found nothing) for the templates
``templates/report/outcomes.html.j2`` and ``monitoring.html.j2``; :func:`loop_sections`
renders the two alone. Like the rest of the page they are self-contained (charts are inline
PNGs) and autoescaped; anything missing is said in words, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from healthscore.i18n import N_, Language, Message
from healthscore.monitor import MonitorReport
from healthscore.outcomes import OutcomesReport
from healthscore.pages import render
from healthscore.report_charts import Charts

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


def loop_sections(loop: LoopReport | None, lang: Language | None = None) -> str:
    """Both sections as HTML; the empty string when there is nothing to report on."""
    lang = lang or Language()
    context = loop_context(loop, lang=lang, charts=Charts(lang))
    return "" if context is None else render("report/loop.html.j2", lang, closing=context)


def loop_context(
    loop: LoopReport | None, *, lang: Language, charts: Charts
) -> dict[str, Any] | None:
    """The figures of both sections; None when there is nothing to report on."""
    if loop is None:
        return None
    return {
        "outcomes": _outcomes(loop, lang=lang, charts=charts),
        "monitor": _monitor(loop, lang=lang, charts=charts),
    }


def _note(note: str, lang: Language, *, absent: str, untranslated: str) -> str:
    """Why a section is empty, in the page's language.

    A note that is a :class:`~healthscore.i18n.Message` is translated; another note (an error
    message) is English only, so another language says ``untranslated`` instead and the
    command named there gives the details.
    """
    if not note:
        return lang.t(absent)
    if lang.english or isinstance(note, Message):
        return lang.say(note)
    return lang.t(untranslated)


def _outcomes(loop: LoopReport, *, lang: Language, charts: Charts) -> dict[str, Any]:
    report = loop.outcomes
    if report is None:
        note = _note(
            loop.outcomes_note,
            lang,
            absent=N_("No outcome measured."),
            untranslated=N_("The outcomes could not be measured; `healthscore outcomes` says why."),
        )
        return {"note": note}
    compared = report.comparison
    shown = compared[
        (compared["tier"] == "all") | ((compared["treated"] > 0) & (compared["held_out"] > 0))
    ]
    empty = compared.empty or int(compared[["treated", "held_out"]].sum().sum()) == 0
    return {
        "note": None,
        "done": int(report.recommendations["complete"].sum()),
        "files": len(report.score_files),
        "horizon_days": report.horizon_days,
        "since": report.since,
        "empty": empty,
        "chart": None if empty else charts.outcome_differences(compared),
        "rows": [] if empty else shown.to_dict("records"),
        "notices": [lang.say(n) for n in report.notices],
    }


def _monitor(loop: LoopReport, *, lang: Language, charts: Charts) -> dict[str, Any]:
    report = loop.monitor
    if report is None:
        note = _note(
            loop.monitor_note,
            lang,
            absent=N_("The model was not checked."),
            untranslated=N_("The model could not be checked; `healthscore monitor` says why."),
        )
        return {"note": note}
    return {
        "note": None,
        "verdict": report.verdict,
        "badge": _BADGE.get(report.verdict, "watch"),
        "reasons": [lang.say(r) for r in report.reasons],
        "as_of": report.as_of,
        "reference_period": report.reference_period,
        "accounts": report.facts.get("accounts_scored"),
        "score_psi": report.score_psi,
        "test_roc_auc": report.test_roc_auc,
        "drift": [
            {**row, "badge": _BADGE.get(str(row["status"]), "watch")}
            for row in report.drift.head(_SHOWN_FEATURES).to_dict("records")
        ],
        "chart": charts.monitor_performance(report.performance, report.calibration),
        "performance": [
            {**row, "as_of": pd.Timestamp(row["as_of"])}
            for row in report.performance.tail(_SHOWN_DATES).to_dict("records")
        ],
    }
