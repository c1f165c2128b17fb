"""Small helpers that make generated sentences read as a person would write them.

Sentences are built from templates with numbers in them ("{value:.0f} escalated tickets"), so
a count of one needs the singular noun ("1 escalated ticket", "Last login 1 day ago").
:func:`pluralise` fixes the nouns that follow a stand-alone ``1``; :func:`count` writes a
number with its noun; :func:`peer_label` says who an account is compared with.
"""

from __future__ import annotations

import re

from healthscore.i18n import N_, Language

#: Plural nouns of the generated sentences and their singular.
_SINGULAR: dict[str, str] = {
    "accounts": "account",
    "actions": "action",
    "answers": "answer",
    "days": "day",
    "employees": "employee",
    "events": "event",
    "features": "feature",
    "logins": "login",
    "months": "month",
    "periods": "period",
    "points": "point",
    "seats": "seat",
    "tickets": "ticket",
    "times": "time",
    "users": "user",
}
_NUMBER = re.compile(r"^[+-]?\d[\d,]*(\.\d+)?%?$")
_LOOK_AHEAD = 4  # words after a "1" in which its noun is looked for


def pluralise(text: str) -> str:
    """``text`` with the noun after each stand-alone count of one in the singular.

    The noun is the first known plural within the next few words, unless another number
    comes first ("1 of the last 30 days" keeps "days").

    Examples
    --------
    >>> pluralise("1 escalated tickets in the last 90 days")
    '1 escalated ticket in the last 90 days'
    >>> pluralise("Latest NPS answer is 1 days old; 2 days ago; 1 of the last 30 days")
    'Latest NPS answer is 1 day old; 2 days ago; 1 of the last 30 days'
    """
    words = text.split(" ")
    for i, word in enumerate(words):
        if word.strip("(") not in ("1", "+1", "-1"):
            continue
        for j in range(i + 1, min(i + 1 + _LOOK_AHEAD, len(words))):
            bare = words[j].rstrip(",.;:)")
            if _NUMBER.match(bare):
                break
            if bare in _SINGULAR:
                words[j] = words[j].replace(bare, _SINGULAR[bare], 1)
                break
    return " ".join(words)


def count(n: float, noun: str, plural: str | None = None) -> str:
    """``n`` with ``noun`` in the right number, thousands separated.

    Examples
    --------
    >>> count(1, "account"), count(1250, "account"), count(0, "family", "families")
    ('1 account', '1,250 accounts', '0 families')
    """
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,.0f} {word}"


_STAGES: dict[str, str] = {
    "onboarding": "in their first 90 days",
    "adoption": "in their first year",
    "mature": "that have been customers for over a year",
}


def segment_label(segment: object) -> str:
    """A segment value as words: ``mid_market`` -> ``mid-market``, ``smb`` -> ``SMB``."""
    text = str(segment).replace("_", "-").strip()
    return text.upper() if text.isalpha() and text.islower() and len(text) <= 3 else text


#: A peer group in another language: its stage, its segment, both, or neither.
_PEERS_BY_STAGE = {
    "onboarding": (
        N_("%(segment)s accounts in their first 90 days"),
        N_("accounts in their first 90 days"),
    ),
    "adoption": (
        N_("%(segment)s accounts in their first year"),
        N_("accounts in their first year"),
    ),
    "mature": (
        N_("%(segment)s accounts that have been customers for over a year"),
        N_("accounts that have been customers for over a year"),
    ),
}


def peer_label(
    segment: object | None, stage: object | None, *, lang: Language | None = None
) -> str:
    """Who a peer group is, in words ("mid-market accounts in their first year").

    In another language than English (``lang``) the words come from its message catalogue,
    a known segment in its own word ("mid_market" is 中堅企業 in Japanese).

    Examples
    --------
    >>> peer_label("mid_market", "adoption")
    'mid-market accounts in their first year'
    >>> peer_label(None, "mature"), peer_label(None, None)
    ('accounts that have been customers for over a year', 'all accounts')
    """
    has_segment = segment is not None and str(segment) not in ("", "nan", "None")
    has_stage = stage is not None and str(stage) in _STAGES
    if lang is not None and not lang.english:
        if not has_segment and not has_stage:
            return lang.t("all accounts")
        name = lang.word("segment", segment) if has_segment else ""
        if not has_stage:
            return lang.t("%(segment)s accounts", segment=name)
        with_segment, alone = _PEERS_BY_STAGE[str(stage)]
        return lang.t(with_segment, segment=name) if has_segment else lang.t(alone)
    if not has_segment and not has_stage:
        return "all accounts"
    who = f"{segment_label(segment)} accounts" if has_segment else "accounts"
    return f"{who} {_STAGES[str(stage)]}" if has_stage else who
