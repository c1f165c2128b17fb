"""Languages: what a person reads, in their language, with numbers, money and dates as written.

Every sentence a CS team reads is an English message id translated through a gettext message
catalogue (``healthscore/locale/<locale>/LC_MESSAGES/healthscore.po``), extracted and compiled
with Babel; numbers, percentages, money and dates are formatted by Babel from the locale's CLDR
data. English is the default and needs no catalogue.

The catalogues ship as ``.po`` files and are compiled in memory by Babel the first time a
process asks for a language (:func:`translations`), so a fresh clone, an editable install and a
read-only installed package all work without a build step, and no compiled file can fall out
of date with its source.

:class:`Language` is what the report, the CLI and the account card hold: one locale and one
currency, with ``t`` (a message), ``nt`` (a message with a count) and the formatters. Code
names (``at_risk``, ``high_touch``, ``usage``) stay English in every file; :meth:`Language.word`
says them in words.

Examples
--------
>>> Language().percent(12.55), Language().word("risk tier", "at_risk")
('12.6%', 'at risk')
"""

from __future__ import annotations

import gettext
import io
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from healthscore import money

#: The languages healthscore speaks; English is the default.
LOCALES: tuple[str, ...] = ("en", "ja")
DEFAULT_LOCALE = "en"
#: The gettext domain: the catalogue files are ``<locale>/LC_MESSAGES/healthscore.po``.
DOMAIN = "healthscore"


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the catalogue; it is translated where it is shown."""
    return message


def NC_(context: str, message: str) -> str:
    """Mark ``message`` with a context (the same English word may need two translations)."""
    return message


def check_locale(locale: str) -> str:
    """``locale`` if healthscore speaks it, else a ``ValueError`` listing the ones it does."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
    return locale


def catalogue_path(locale: str) -> Any:
    """The ``.po`` file of ``locale`` inside the installed package (a Traversable)."""
    return resources.files("healthscore") / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled message catalogue of ``locale``, compiled from its ``.po`` once per process.

    English is the language of the message ids, so it has no catalogue. A message missing
    from a catalogue falls back to its English id (the test suite checks none is missing).
    """
    check_locale(locale)
    if locale == DEFAULT_LOCALE:
        return gettext.NullTranslations()
    with catalogue_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Message(str):
    """English text that keeps its message id and values, so a page can say it in any language.

    It is a ``str`` (the English sentence), so logs, JSON and older callers see plain text;
    :meth:`Language.say` translates the id and fills in the values, themselves translated
    when they are messages too.

    Examples
    --------
    >>> note = Message("%(n)s recommendation(s) are pending.", n=12)
    >>> str(note), note.msgid
    ('12 recommendation(s) are pending.', '%(n)s recommendation(s) are pending.')
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Message:
        text = msgid % params
        made = super().__new__(cls, text)
        made.msgid = msgid
        made.params = params
        return made

    def __reduce__(self) -> tuple[Any, ...]:
        return (str, (str(self),))


class Reason(str):
    """A reason scoring writes in English (``holdout_exclusion``, ``owner_reason``): inside a
    :class:`Message` it is said with :meth:`Language.reason`."""


#: Words for the codes that files keep in English: (context, code) -> message id.
_WORDS: dict[tuple[str, str], str] = {
    ("risk tier", "healthy"): NC_("risk tier", "healthy"),
    ("risk tier", "watch"): NC_("risk tier", "watch"),
    ("risk tier", "at_risk"): NC_("risk tier", "at risk"),
    ("touch tier", "high_touch"): NC_("touch tier", "high touch"),
    ("touch tier", "low_touch"): NC_("touch tier", "low touch"),
    ("touch tier", "tech_touch"): NC_("touch tier", "tech touch"),
    ("family", "usage"): NC_("family", "usage"),
    ("family", "adoption"): NC_("family", "adoption"),
    ("family", "support"): NC_("family", "support"),
    ("family", "satisfaction"): NC_("family", "satisfaction"),
    ("family", "contract"): NC_("family", "contract"),
    ("family", "account"): NC_("family", "account"),
    ("owner", "account CSM"): NC_("owner", "account CSM"),
    ("owner", "pooled CS team"): NC_("owner", "pooled CS team"),
    ("owner", "automated sequence"): NC_("owner", "automated sequence"),
    ("verdict", "ok"): NC_("verdict", "ok"),
    ("verdict", "watch"): NC_("verdict", "watch"),
    ("verdict", "retrain"): NC_("verdict", "retrain"),
    ("segment", "SMB"): NC_("segment", "SMB"),
    ("segment", "smb"): NC_("segment", "SMB"),
    ("segment", "mid_market"): NC_("segment", "mid-market"),
    ("segment", "enterprise"): NC_("segment", "enterprise"),
    ("stage", "onboarding"): NC_("stage", "onboarding"),
    ("stage", "adoption"): NC_("stage", "adoption"),
    ("stage", "mature"): NC_("stage", "mature"),
    ("arm", "all"): NC_("arm", "all"),
    ("split", "train"): NC_("split", "train"),
    ("split", "valid"): NC_("split", "valid"),
    ("split", "test"): NC_("split", "test"),
    ("split", "gap"): NC_("split", "gap"),
    ("split", "before"): NC_("split", "before"),
    ("split", "after"): NC_("split", "after"),
}


#: The reasons scoring writes in ``owner_reason`` and ``holdout_exclusion`` (see
#: :mod:`healthscore.playbooks.capacity` and :mod:`~healthscore.playbooks.control`), as
#: patterns and the messages that say them.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"renewing within (?P<n>\d+) days", N_("renewing within %(n)s days")),
        (r"in the top (?P<n>\d+) by ARR at risk", N_("in the top %(n)s by ARR at risk")),
        (r"playbook without control group", N_("playbook without control group")),
        (r"control group: no action", N_("control group: no action")),
        (r"no action due \(monitor\)", N_("no action due (monitor)")),
        (r"high touch: the account's CSM", N_("high touch: the account's CSM")),
        (r"high touch: no CSM on record", N_("high touch: no CSM on record")),
        (r"low touch: pooled team", N_("low touch: pooled team")),
        (r"tech touch: automated", N_("tech touch: automated")),
        (
            r"overflow: (?P<who>.+)'s list is full \((?P<n>\d+) accounts with more ARR at risk\)",
            N_("overflow: %(who)s's list is full (%(n)s accounts with more ARR at risk)"),
        ),
    )
)


@dataclass(frozen=True)
class Language:
    """One reader's language and the portfolio's currency: messages and formats for them.

    ``currency`` is an ISO 4217 code (``"JPY"``) or ``None`` for amounts without a symbol.
    Every formatter returns :attr:`na` for a missing value instead of failing.
    """

    locale: str = DEFAULT_LOCALE
    currency: str | None = None

    def __post_init__(self) -> None:
        check_locale(self.locale)
        if self.currency is not None:
            money.check_currency(self.currency)

    @classmethod
    def of(cls, config: Any) -> Language:
        """The language of a :class:`~healthscore.config.Config` (its ``[output]`` section)."""
        return cls(config.output.locale, config.output.currency)

    @property
    def english(self) -> bool:
        return self.locale == DEFAULT_LOCALE

    # ------------------------------------------------------------------ messages

    def t(self, message: str, /, **params: Any) -> str:
        """``message`` translated, with ``%(name)s`` placeholders filled from ``params``.

        Like Jinja2's ``_()``, the message is always a format string: a literal percent sign
        is written ``%%``.
        """
        return translations(self.locale).gettext(message) % params

    def raw(self, message: str) -> str:
        """``message`` translated and left as it is (a template with its own placeholders)."""
        return translations(self.locale).gettext(message)

    def tc(self, context: str, message: str, /, **params: Any) -> str:
        """``message`` translated in ``context``."""
        return translations(self.locale).pgettext(context, message) % params

    def nt(self, singular: str, plural: str, n: float, /, **params: Any) -> str:
        """The singular or plural form for ``n`` (``%(num)s`` is ``n`` with separators, as
        in Jinja2's ``ngettext``)."""
        text = translations(self.locale).ngettext(singular, plural, int(n))
        return text % {"num": self.count(n), **params}

    def say(self, text: object) -> str:
        """A :class:`Message` in this language (its values too); other text as it is."""
        if not isinstance(text, Message):
            return "" if text is None else str(text)
        params = {
            k: self.say(v)
            if isinstance(v, Message)
            else self.reason(v)
            if isinstance(v, Reason)
            else v
            for k, v in text.params.items()
        }
        return translations(self.locale).gettext(text.msgid) % params

    def word(self, context: str, code: object) -> str:
        """A code in words: ``word("risk tier", "at_risk")`` is "at risk" ("解約リスク高")."""
        if self.missing(code):
            return self.na
        known = _WORDS.get((context, str(code)))
        if known is None:
            return str(code).replace("_", " ") if context != "segment" else str(code)
        return self.tc(context, known)

    def owner(self, owner: object) -> str:
        """Who runs a play: a team's role in words, a CSM's name as it is."""
        if self.missing(owner):
            return self.na
        known = _WORDS.get(("owner", str(owner)))
        return str(owner) if known is None else self.tc("owner", known)

    def reason(self, text: object) -> str:
        """A reason the scores give in English (``owner_reason``, ``holdout_exclusion``),
        in this language; text it does not know is returned as it is."""
        if self.missing(text):
            return self.na
        text = str(text)
        if self.english:
            return text
        tier = text.replace(" ", "_")
        if ("touch tier", tier) in _WORDS:  # excluded for its touch tier
            return self.word("touch tier", tier)
        for pattern, message in _REASONS:
            found = pattern.fullmatch(text)
            if found:
                return self.t(message, **found.groupdict())
        return text

    # ------------------------------------------------------------------ formats

    @property
    def na(self) -> str:
        """What a missing value shows."""
        return self.t("n/a")

    @staticmethod
    def missing(value: object) -> bool:
        """Whether ``value`` is missing (None, NaN, NaT, NA)."""
        if value is None or value is pd.NA or value is pd.NaT:
            return True
        try:
            return bool(pd.isna(value))
        except (TypeError, ValueError):
            return False

    @classmethod
    def as_float(cls, value: object) -> float:
        """``value`` as a float; NaN when missing or not a number."""
        if cls.missing(value) or isinstance(value, bool | str):
            return math.nan
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return math.nan

    def number(self, value: object, digits: int = 0) -> str:
        """A number with the locale's separators and ``digits`` decimals."""
        x = self.as_float(value)
        if math.isnan(x):
            return self.na
        with money.half_up():
            return format_decimal(x, format=_pattern(digits), locale=self.locale)

    def count(self, value: object) -> str:
        """A whole number with the locale's thousands separators."""
        return self.number(value, 0)

    def signed(self, value: object, digits: int = 1) -> str:
        """A change with its sign: ``+1.5``, ``-3.0``, ``+0.0``."""
        x = self.as_float(value)
        if math.isnan(x):
            return self.na
        body = _pattern(digits)
        with money.half_up():
            return format_decimal(x, format=f"+{body};-{body}", locale=self.locale)

    def percent(self, value: object, digits: int = 1) -> str:
        """A percentage of a value already in percent (``12.55`` -> ``12.6%``)."""
        x = self.as_float(value)
        if math.isnan(x):
            return self.na
        with money.half_up():
            return format_percent(x / 100, format=_pattern(digits) + "%", locale=self.locale)

    def share(self, value: object, digits: int = 1) -> str:
        """A percentage of a share (``0.1255`` -> ``12.6%``)."""
        return self.percent(self.as_float(value) * 100, digits)

    def points(self, value: object, digits: int = 1) -> str:
        """A signed change in percentage points (``+1.5 pts``)."""
        x = self.as_float(value)
        if math.isnan(x):
            return self.na
        return self.t("%(change)s pts", change=self.signed(x, digits))

    def money(self, value: object) -> str:
        """An amount in full, in the portfolio's currency (yen without decimals)."""
        x = self.as_float(value)
        return self.na if math.isnan(x) else money.format_money(x, self.currency, self.locale)

    def compact_money(self, value: object) -> str:
        """An amount in few characters: ``1.24M``, ``356K``; ``1,235万円``, ``1.23億円`` in ja."""
        x = self.as_float(value)
        return self.na if math.isnan(x) else money.compact_money(x, self.currency, self.locale)

    def date(self, value: object) -> str:
        """A date as prose writes it: ISO in English, ``2026年1月1日`` in Japanese."""
        if self.missing(value):
            return self.na
        try:
            day = pd.Timestamp(value).date()
        except (TypeError, ValueError):
            return str(value)
        return day.isoformat() if self.english else format_date(day, "long", locale=self.locale)

    def period(self, label: object) -> str:
        """A KPI period label (``2024-03``, ``2024Q1``) as this language writes a month."""
        if self.missing(label):
            return self.na
        text = str(label)
        if self.english:
            return text
        try:
            start = pd.Period(text).start_time.date()
        except (TypeError, ValueError):
            return text
        skeleton = "yQQQ" if "Q" in text.upper() else "yMMM"
        return format_skeleton(skeleton, start, locale=self.locale)

    def list(self, items: list[str]) -> str:
        """Items joined as this language lists them ("a, b" / "a、b")."""
        return self.t(", ").join(items)

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)


def _pattern(digits: int) -> str:
    """A CLDR number pattern with grouping and exactly ``digits`` decimals."""
    return "#,##0" + ("." + "0" * digits if digits > 0 else "")
