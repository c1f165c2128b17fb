"""Pages from templates: the Jinja2 environment of the report and the model card.

Templates live in ``healthscore/templates/`` (package data). HTML templates are autoescaped,
so every value from the data (account names, driver texts, playbook actions) is escaped where
it is written; Markdown templates (the model card) are not, Markdown being no HTML. Each
locale and currency gets its own environment: Jinja2's i18n extension with that locale's
message catalogue (``{% trans %}`` and ``_()`` in the templates), and the formatting filters
of :class:`~healthscore.i18n.Language`, one place for each:

=================  ==========================================================
``na``             the value, or "n/a" when missing
``number(d)``      a number with separators and ``d`` decimals
``count``          a whole number with separators
``signed(d)``      a change with its sign (``+1.5``)
``percent(d)``     a value already in percent (``12.6%``)
``share(d)``       a share as a percentage (``0.126`` -> ``12.6%``)
``points(d)``      a change in percentage points (``+1.5 pts``)
``money``          an amount in full in the portfolio's currency
``compact_money``  an amount in few characters (``1.24M``, ``1.23億円``)
``date``           a date as prose writes it (ISO; ``2026年1月1日``)
``period``         a KPI period label (``2024-03``; ``2024年3月``)
``word(ctx)``      a code in words (``at_risk`` -> "at risk")
``owner``          who runs a play: a team's role in words, a CSM's name as it is
``reason``         an owner or control-group reason of the scores, in words
``say``            a :class:`~healthscore.i18n.Message` in the page's language
=================  ==========================================================
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from healthscore.i18n import Language, translations

ENGLISH = Language()

#: The report's font stack: the platform's sans-serif, then CJK fonts for Japanese pages.
FONTS_LATIN = '-apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial'
FONTS_CJK = (
    '"Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic UI", "Yu Gothic", Meiryo, '
    '"Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP", "IPAexGothic", "IPAGothic"'
)


def font_stack(lang: Language) -> str:
    """The CSS ``font-family`` of a page in ``lang``: a CJK stack first for Japanese."""
    if lang.locale == "ja":
        return f"{FONTS_CJK}, {FONTS_LATIN}, sans-serif"
    return f"{FONTS_LATIN}, sans-serif"


@cache
def environment(lang: Language = ENGLISH) -> jinja2.Environment:
    """The template environment of one language and currency (built once per process)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("healthscore", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=True, default=False
        ),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(lang.locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        na=lambda value: lang.na if lang.missing(value) or value == "" else value,
        number=lang.number,
        count=lang.count,
        signed=lang.signed,
        percent=lang.percent,
        share=lang.share,
        points=lang.points,
        money=lang.money,
        compact_money=lang.compact_money,
        date=lang.date,
        period=lang.period,
        word=lambda code, context: lang.word(context, code),
        owner=lang.owner,
        reason=lang.reason,
        say=lang.say,
    )
    env.tests["missing"] = lang.missing
    env.globals.update(lang=lang, font_stack=font_stack(lang))
    return env


def render(template: str, lang: Language = ENGLISH, /, **context: Any) -> str:
    """Render ``template`` (a path under ``healthscore/templates``) in ``lang``."""
    return environment(lang).get_template(template).render(**context)
