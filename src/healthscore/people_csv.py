"""CSV files for people: the reader's language where it helps, English where programs read.

Column names are an interface (CRM imports, ``--previous``, ``outcomes`` read them back), so
they stay English in every language. For a person opening the scores or the KPIs in a
spreadsheet, ``[output] header_labels = true`` adds a second header row with each column's
name in the output language (:func:`column_labels`); :func:`healthscore.storage.read_frame`
recognises that row and skips it. In a language other than English the people's text of the
scores is written in it too: who runs the play (a team's role) and why, and why an account
may not be held out. Codes (``risk_tier``, ``touch_tier``, ``playbook_id``) stay English.

Examples
--------
>>> from healthscore.i18n import Language
>>> column_labels(["account_id", "driver_2_text", "family__usage"], Language("ja"))
['顧客ID', '要因2（説明）', '要因の合計: 利用状況']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import pandas as pd

from healthscore.i18n import LOCALES, NC_, Language

#: Each column of the scores and KPI tables, as a person names it (translated in use).
COLUMN_LABELS: dict[str, str] = {
    "account_id": NC_("column", "account id"),
    "account_name": NC_("column", "account name"),
    "csm": NC_("column", "CSM"),
    "as_of": NC_("column", "scored as of"),
    "churn_probability": NC_("column", "churn probability"),
    "health_score": NC_("column", "health score"),
    "risk_tier": NC_("column", "risk tier"),
    "score_change": NC_("column", "score change"),
    "arr": NC_("column", "ARR"),
    "arr_at_risk": NC_("column", "ARR at risk"),
    "touch_tier": NC_("column", "touch tier"),
    "priority_rank": NC_("column", "priority rank"),
    "peer_group": NC_("column", "peer group"),
    "playbook_id": NC_("column", "playbook id"),
    "playbook_title": NC_("column", "playbook"),
    "playbook_actions": NC_("column", "playbook actions"),
    "owner": NC_("column", "owner"),
    "owner_reason": NC_("column", "why this owner"),
    "action_due": NC_("column", "action due"),
    "channel": NC_("column", "channel"),
    "due_by": NC_("column", "due by"),
    "holdout": NC_("column", "control group"),
    "holdout_exclusion": NC_("column", "why never held out"),
    "model_version": NC_("column", "model version"),
    "model_check": NC_("column", "model check"),
    "segment": NC_("column", "segment"),
    "lifecycle_stage": NC_("column", "lifecycle stage"),
    "days_to_renewal": NC_("column", "days to renewal"),
    "top_family": NC_("column", "first driver's family"),
    "period": NC_("column", "period"),
    "period_start": NC_("column", "period start"),
    "period_end": NC_("column", "period end (exclusive)"),
    "provisional": NC_("column", "provisional"),
    "customers_start": NC_("column", "customers at start"),
    "new_customers": NC_("column", "new customers"),
    "reactivated_customers": NC_("column", "reactivated customers"),
    "churned_customers": NC_("column", "churned customers"),
    "customers_end": NC_("column", "customers at end"),
    "retention_rate_pct": NC_("column", "retention rate (%%)"),
    "logo_churn_rate_pct": NC_("column", "churn rate (%%)"),
    "arr_start": NC_("column", "ARR at start"),
    "arr_end": NC_("column", "ARR at end"),
    "expansion_arr": NC_("column", "expansion ARR"),
    "contraction_arr": NC_("column", "contraction ARR"),
    "churned_arr": NC_("column", "churned ARR"),
    "grr_pct": NC_("column", "GRR (%%)"),
    "nrr_pct": NC_("column", "NRR (%%)"),
    "upsell_rate_pct": NC_("column", "upsell rate (%%)"),
    "arpa": NC_("column", "ARPA"),
    "ltv": NC_("column", "LTV"),
    "nps_responses": NC_("column", "NPS responses"),
    "nps": NC_("column", "NPS"),
    "onboarding_eligible": NC_("column", "signups with a finished onboarding window"),
    "onboarding_completion_pct": NC_("column", "onboarding completion (%%)"),
}
#: The columns of each shown driver (``driver_1_text`` ...), with ``%(k)s`` its number.
DRIVER_COLUMN_LABELS: dict[str, str] = {
    "": NC_("column", "driver %(k)s"),
    "_family": NC_("column", "driver %(k)s (family)"),
    "_contribution": NC_("column", "driver %(k)s (log-odds)"),
    "_points": NC_("column", "driver %(k)s (points of churn risk)"),
    "_value": NC_("column", "driver %(k)s (value)"),
    "_peer_median": NC_("column", "driver %(k)s (peer median)"),
    "_text": NC_("column", "driver %(k)s (in words)"),
}
_DRIVER = re.compile(r"driver_(\d+)(.*)")
#: Columns of people's text that scoring writes in English (see :meth:`Language.reason`).
_REASON_COLUMNS = ("owner_reason", "holdout_exclusion")


def column_label(column: str, lang: Language) -> str:
    """``column`` as a person names it in ``lang``; an unknown column keeps its name."""
    if column in COLUMN_LABELS:
        return lang.tc("column", COLUMN_LABELS[column])
    driver = _DRIVER.fullmatch(column)
    if driver and driver.group(2) in DRIVER_COLUMN_LABELS:
        return lang.tc("column", DRIVER_COLUMN_LABELS[driver.group(2)], k=driver.group(1))
    if column.startswith("family__"):
        family = lang.word("family", column.removeprefix("family__"))
        return lang.tc("column", "driver total: %(family)s", family=family)
    return column


def column_labels(columns: Iterable[str], lang: Language) -> list[str]:
    """The label row of a table with these ``columns``."""
    return [column_label(str(c), lang) for c in columns]


def is_label_row(columns: Iterable[str], row: Iterable[object]) -> bool:
    """Whether ``row`` (the first data row of a CSV file) is a label row of any language."""
    values = ["" if Language.missing(v) else str(v) for v in row]
    names = list(columns)
    return any(
        values == column_labels(names, Language(locale)) for locale in LOCALES if locale != "en"
    )


def for_people(frame: pd.DataFrame, lang: Language) -> pd.DataFrame:
    """``frame`` with the scores' people's text in ``lang`` (a copy; English: as it is)."""
    if lang.english:
        return frame
    out = frame.copy()
    if "owner" in out.columns:
        owner = _once_per_text(lambda v: v if lang.missing(v) else lang.owner(v))
        out["owner"] = out["owner"].map(owner)
    reason = _once_per_text(lambda v: v if lang.missing(v) else lang.reason(v))
    for column in _REASON_COLUMNS:
        if column in out.columns:
            out[column] = out[column].map(reason)
    return out


def _once_per_text(change: Callable[[object], object]) -> Callable[[object], object]:
    """``change``, worked out once per distinct text.

    A column of a book of tens of thousands of accounts holds a handful of owners and
    reasons. Other values (missing ones) are passed to ``change`` each time.
    """
    done: dict[str, object] = {}

    def changed(value: object) -> object:
        if type(value) is not str:
            return change(value)
        if value not in done:
            done[value] = change(value)
        return done[value]

    return changed
