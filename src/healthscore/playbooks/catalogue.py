"""The playbook catalogue: what each play is, when it fires, and how it is loaded.

Plays are data, not code, so that a CS team can reword a play, change its channels or reorder
the rules that choose it by editing one TOML file. The catalogue is validated strictly when it
is loaded: a misspelt driver family in a rule would otherwise never match and quietly send its
accounts to a later rule, which nobody would notice until the wrong customers got the wrong call.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from healthscore.errors import ConfigError
from healthscore.features.catalogue import FAMILIES, Family
from healthscore.features.contract import LIFECYCLE_STAGES, LifecycleStage
from healthscore.health import TIERS, RiskTier
from healthscore.touch import TOUCH_TIERS, TouchTier

#: The values rules are checked against, declared where they are made.
RISK_TIERS = TIERS

FALLBACK_PLAYBOOK = "monitor"
"""The playbook of an account that no rule matches; every catalogue must define it."""

FALLBACK_RULE = "fallback"
"""The ``rule`` reported for an account that no rule matches."""

_DEFAULT_ORIGIN = "the shipped playbook catalogue (healthscore/defaults/playbooks.toml)"

_NonEmpty = Annotated[str, Field(min_length=1)]
_Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channels(_Model):
    """How a playbook is delivered to accounts of each touch tier."""

    high_touch: _NonEmpty
    low_touch: _NonEmpty
    tech_touch: _NonEmpty

    def for_tier(self, tier: TouchTier) -> str:
        """The channel for one touch tier."""
        return str(getattr(self, tier))


class Playbook(_Model):
    """One play: why it exists, what a CSM does, by when, and through which channel."""

    id: _Identifier
    title: _NonEmpty
    description: _NonEmpty
    actions: tuple[_NonEmpty, ...] = Field(min_length=1)
    due_days: int = Field(ge=0, description="Due this many days after the observation date.")
    due_before_renewal_days: int | None = Field(
        None,
        ge=0,
        description="If set, due this many days before the renewal date (never before as_of).",
    )
    holdout: bool = Field(
        True, description="Whether at-risk accounts on this play may be held out as a control."
    )
    channels: Channels


class Rule(_Model):
    """One rule: conditions on an account, and the playbook it gets when they all hold.

    A condition left out places no constraint. A missing value never satisfies a condition.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: _Identifier
    playbook: str
    risk_tiers: tuple[RiskTier, ...] | None = None
    top_families: tuple[Family, ...] | None = None
    lifecycle_stages: tuple[LifecycleStage, ...] | None = None
    touch_tiers: tuple[TouchTier, ...] | None = None
    max_days_to_renewal: float | None = None
    at_least: dict[str, float] = Field(default_factory=dict, alias="min")
    at_most: dict[str, float] = Field(default_factory=dict, alias="max")

    @property
    def categorical_conditions(self) -> dict[str, tuple[str, ...] | None]:
        """The list conditions by key; ``None`` where the rule leaves the key out."""
        return {
            "risk_tiers": self.risk_tiers,
            "top_families": self.top_families,
            "lifecycle_stages": self.lifecycle_stages,
            "touch_tiers": self.touch_tiers,
        }

    @property
    def is_catch_all(self) -> bool:
        """Whether the rule has no condition and therefore matches every account."""
        return (
            all(values is None for values in self.categorical_conditions.values())
            and self.max_days_to_renewal is None
            and not self.at_least
            and not self.at_most
        )


class PlaybookCatalogue(_Model):
    """The playbooks and the ordered rules that choose between them (first match wins)."""

    playbooks: tuple[Playbook, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PlaybookCatalogue:
        problems = _cross_check(self)
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    @property
    def by_id(self) -> dict[str, Playbook]:
        """The playbooks keyed by id."""
        return {playbook.id: playbook for playbook in self.playbooks}

    def playbook(self, playbook_id: str) -> Playbook:
        """One playbook by id."""
        return self.by_id[playbook_id]


def _rule_label(number: int, rule: Rule) -> str:
    return f"rule {number} ({rule.name!r})"


def _cross_check(catalogue: PlaybookCatalogue) -> list[str]:
    """Problems that span several entries, each phrased with its fix."""
    problems: list[str] = []
    ids = [playbook.id for playbook in catalogue.playbooks]
    for playbook_id, count in Counter(ids).items():
        if count > 1:
            problems.append(
                f"playbook id {playbook_id!r} is defined {count} times; give each playbook "
                "a unique id"
            )
    if FALLBACK_PLAYBOOK not in ids:
        problems.append(
            f"no playbook has id {FALLBACK_PLAYBOOK!r}: it is the fallback for accounts that no "
            f'rule matches; add a [[playbooks]] entry with id = "{FALLBACK_PLAYBOOK}"'
        )
    names = Counter(rule.name for rule in catalogue.rules)
    for number, rule in enumerate(catalogue.rules, start=1):
        label = _rule_label(number, rule)
        if rule.playbook not in ids:
            problems.append(
                f"{label} names unknown playbook {rule.playbook!r}; use one of "
                f"{', '.join(dict.fromkeys(ids))}, or add a [[playbooks]] entry with "
                f'id = "{rule.playbook}"'
            )
        if names[rule.name] > 1:
            problems.append(f"{label}: the name is used by {names[rule.name]} rules; rename")
        if rule.name == FALLBACK_RULE:
            problems.append(f"{label}: the name {FALLBACK_RULE!r} is reserved; rename")
        for key, values in rule.categorical_conditions.items():
            if values == ():
                problems.append(
                    f"{label}: {key} is empty, so the rule can never match; list at least one "
                    "value or remove the key"
                )
        if rule.is_catch_all and number < len(catalogue.rules):
            problems.append(
                f"{label} has no conditions, so it matches every account and rules "
                f"{number + 1}-{len(catalogue.rules)} can never fire; move it last or add "
                "conditions"
            )
    return problems


_CHOICES = {
    "top_families": ("driver family", FAMILIES),
    "risk_tiers": ("risk tier", RISK_TIERS),
    "lifecycle_stages": ("lifecycle stage", LIFECYCLE_STAGES),
    "touch_tiers": ("touch tier", TOUCH_TIERS),
}


def _where(loc: tuple[int | str, ...], raw: dict[str, Any]) -> str:
    """A location in the file as a person counts it: 'rule 4 ('name'): top_families'."""
    if len(loc) >= 2 and loc[0] in ("playbooks", "rules") and isinstance(loc[1], int):
        entries = raw.get(loc[0])
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else {}
        key = "id" if loc[0] == "playbooks" else "name"
        name = entry.get(key) if isinstance(entry, dict) else None
        head = f"{loc[0][:-1]} {loc[1] + 1}" + (f" ({name!r})" if name else "")
        rest = ".".join(str(part) for part in loc[2:])
        return f"{head}: {rest}" if rest else head
    return ".".join(str(part) for part in loc) or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    if len(loc) == 3 and loc[0] == "playbooks":
        return tuple(Playbook.model_fields)
    if len(loc) == 3 and loc[0] == "rules":
        return tuple(field.alias or name for name, field in Rule.model_fields.items())
    return tuple(PlaybookCatalogue.model_fields)


def _explain(err: Any, raw: dict[str, Any]) -> str:
    """One pydantic error as a sentence naming the entry, the problem and the fix."""
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "value_error" and not loc:
        return str(err["msg"]).removeprefix("Value error, ")
    where = _where(loc, raw)
    in_channels = len(loc) >= 3 and loc[-2] == "channels"
    if kind == "extra_forbidden" and in_channels:
        return f"{where}: unknown touch tier; use {', '.join(TOUCH_TIERS)}"
    if kind == "extra_forbidden":
        return f"{where}: unknown key; allowed keys: {', '.join(_allowed_keys(loc))}"
    if kind == "missing" and in_channels:
        return f'{where}: missing the channel for this touch tier; add {loc[-1]} = "..."'
    if kind == "missing":
        return f"{where}: missing required key"
    if kind == "literal_error" and len(loc) >= 3 and loc[2] in _CHOICES:
        what, choices = _CHOICES[str(loc[2])]
        return f"{where}: unknown {what} {err['input']!r}; use one of {', '.join(choices)}"
    return f"{where}: {err['msg']}"


def catalogue_from_dict(
    raw: dict[str, Any], *, origin: str = "playbook catalogue"
) -> PlaybookCatalogue:
    """Validate a plain dictionary (a parsed TOML file) as a :class:`PlaybookCatalogue`.

    Raises
    ------
    ConfigError
        Listing every problem at once, each with the entry it concerns and how to fix it.
    """
    try:
        return PlaybookCatalogue.model_validate(raw)
    except ValidationError as exc:
        problems = [_explain(err, raw) for err in exc.errors()]
        raise ConfigError(f"{origin} is invalid:\n  " + "\n  ".join(problems)) from None


def load_playbooks(path: str | Path | None = None, *, locale: str = "en") -> PlaybookCatalogue:
    """Load a playbook catalogue from TOML; ``None`` gives the shipped one of ``locale``.

    Parameters
    ----------
    path : str, Path or None
        A catalogue file, usually ``Config.playbooks.catalogue``: it is used whatever the
        locale. The default is read as package data, so it is found wherever the package is
        installed.
    locale : str
        The output language (``Config.output.locale``): without ``path``, ``"ja"`` loads the
        shipped Japanese catalogue ``defaults/playbooks.ja.toml`` (the same playbooks and rules,
        worded in Japanese).

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or does not describe a valid catalogue.

    Examples
    --------
    >>> catalogue = load_playbooks()
    >>> catalogue.playbook("exec_sponsor").title
    'Executive sponsor outreach'
    >>> load_playbooks(locale="ja").playbook("exec_sponsor").title
    'エグゼクティブスポンサー対応'
    """
    if path is None:
        name = "playbooks.toml" if locale == "en" else f"playbooks.{locale}.toml"
        resource = resources.files("healthscore") / "defaults" / name
        if not resource.is_file():
            raise ConfigError(f"no shipped playbook catalogue in locale {locale!r}")
        origin = _DEFAULT_ORIGIN.replace("playbooks.toml", name)
        text = resource.read_text(encoding="utf-8")
    else:
        path = Path(path)
        origin = f"playbook catalogue {path}"
        if not path.is_file():
            raise ConfigError(
                f"{origin} does not exist; point playbooks.catalogue at an existing TOML file, "
                "or leave it unset to use the shipped catalogue"
            )
        text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML: {exc}") from None
    return catalogue_from_dict(raw, origin=origin)
