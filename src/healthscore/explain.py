"""Per-account risk drivers: exact TreeSHAP contributions, checked against comparable accounts.

Contributions are in log-odds of the uncalibrated model: per row they add up, with the
``bias`` (the expected value), to the raw score. Calibration is monotone, so the order of
drivers is the order of their effect on the calibrated probability too. A feature's family
is the part of its name before ``__`` (``usage__logins_30d`` is a usage driver), so families
and playbooks compose without glue.

The driver rule
---------------
A tree model can attribute risk to a value that is, on its own, perfectly healthy ("2,164
logins in 90 days" raising risk because of how it interacts with other signals). A person
cannot check such a driver and stops trusting the list. So a feature is shown as a driver
only when all three hold:

1. its contribution raises this account's risk (positive SHAP value), and
2. the account's value is on the risky side of its **peers**: comparable accounts, same
   segment and lifecycle stage, scored at the same ``as_of``. "Risky side" follows the
   feature's direction in the catalogue: below the peers' median when more is safer
   (logins), above it when more is riskier (tickets). Features without a direction, context
   features and missing values are never drivers.
3. it adds at least :data:`MIN_POINTS` (0.1) percentage points of churn risk: a signal that
   moves a 0.03% risk to 0.031% is true but not worth a CSM's attention.

A peer group smaller than :data:`MIN_PEERS` accounts widens to the lifecycle stage alone,
then to every account scored at that date, and the sentence names the group it used
(:func:`peer_groups`). Each driver's sentence carries the account's value and the peers'
median ("12 logins in the last 90 days, against a median of 85 for mid-market accounts in
their first year"), and its weight is given in percentage points of churn risk
(:func:`risk_points`). The playbook is picked by the family of the first shown driver.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache

import numpy as np
import pandas as pd

from healthscore.features.catalogue import CATALOGUE, FAMILIES, feature_spec
from healthscore.i18n import N_, Language
from healthscore.wording import peer_label, pluralise

#: Features that say *when* or *for whom* risk materialises rather than *why* (their role in
#: the catalogue is "context"): they stay in the model and in the family totals, but are not
#: offered as drivers and do not pick the playbook.
CONTEXT_FEATURES: frozenset[str] = frozenset(s.name for s in CATALOGUE if s.role == "context")


def family_of(feature: str) -> str:
    """The driver family encoded in a feature name (``family__measure_window``)."""
    return feature.split("__", 1)[0]


def driver_features(columns: list[str] | pd.Index) -> list[str]:
    """The columns that can be drivers: every feature except the context ones and ``bias``."""
    return [c for c in columns if c != "bias" and c not in CONTEXT_FEATURES]


def family_contributions(
    contributions: pd.DataFrame, *, drivers_only: bool = False
) -> pd.DataFrame:
    """Sum feature contributions by family: columns ``family__usage``, ``family__support``...

    Every family in :data:`FAMILIES` gets a column (0 when it has no feature), so downstream
    rules can rely on the columns existing. With ``drivers_only`` the context features
    (:data:`CONTEXT_FEATURES`) are left out: the sums then say *why*, and pick playbooks.
    """
    features = (
        driver_features(contributions.columns)
        if drivers_only
        else [c for c in contributions.columns if c != "bias"]
    )
    out = pd.DataFrame(index=contributions.index)
    for family in FAMILIES:
        cols = [c for c in features if family_of(c) == family]
        out[f"family__{family}"] = contributions[cols].sum(axis=1) if cols else 0.0
    return out


#: The columns that define comparable accounts, finest first.
PEER_KEYS: tuple[str, ...] = ("account__segment", "contract__lifecycle_stage")
#: Smallest peer group whose median is shown; a smaller one widens (see :func:`peer_groups`).
MIN_PEERS = 20
#: Smallest effect on the churn probability, in percentage points, a shown driver must have.
MIN_POINTS = 0.1
#: Features that are 0/1 flags: their peer figure is the share of peers with the flag.
FLAG_FEATURES: Mapping[str, str] = {
    "contract__cancellation_known": N_("A cancellation is on record")
}
_DIRECTION: dict[str, int] = {s.name: s.direction for s in CATALOGUE}


def peer_groups(features: pd.DataFrame, *, min_size: int = MIN_PEERS) -> pd.DataFrame:
    """The peer group of every row: same ``as_of``, segment and lifecycle stage.

    A group with fewer than ``min_size`` rows widens to the same lifecycle stage, then to
    every row of that ``as_of``. Returns ``peer_group`` (a key: rows sharing it are peers)
    and ``peer_label`` (the group in words), on ``features``' index.

    Examples
    --------
    >>> rows = pd.DataFrame({"as_of": "2025-01-01", "account__segment": ["SMB"] * 3,
    ...                      "contract__lifecycle_stage": ["mature"] * 3})
    >>> peer_groups(rows, min_size=2)["peer_label"].tolist()[0]
    'SMB accounts that have been customers for over a year'
    """
    as_of = pd.to_datetime(features["as_of"]).dt.strftime("%Y-%m-%d")
    values = {
        key: (
            features[key].astype("object").where(features[key].notna(), None)
            if key in features.columns
            else pd.Series(None, index=features.index, dtype="object")
        )
        for key in PEER_KEYS
    }
    segment, stage = values["account__segment"], values["contract__lifecycle_stage"]
    levels = (
        (segment, stage),
        (pd.Series(None, index=features.index, dtype="object"), stage),
        (pd.Series(None, index=features.index, dtype="object"),) * 2,
    )
    group = pd.Series(None, index=features.index, dtype="object")
    label = pd.Series(None, index=features.index, dtype="object")
    for i, (seg, stg) in enumerate(levels):
        key = (
            as_of + "|" + seg.fillna("(none)").astype(str) + "|" + stg.fillna("(none)").astype(str)
        )
        size = key.map(key.value_counts())
        take = group.isna() & ((size >= min_size) | (i == len(levels) - 1))
        group[take] = key[take]
        label[take] = _peer_labels(seg[take], stg[take])
    return pd.DataFrame({"peer_group": group, "peer_label": label}, index=features.index)


def _peer_labels(segment: pd.Series, stage: pd.Series) -> list[str]:
    """:func:`peer_label` of each row, worded once per distinct (segment, stage) pair.

    A book has a handful of pairs and many accounts. The type is part of a pair's key, as
    ``1`` and ``1.0`` are equal keys that :func:`peer_label` words differently.
    """
    words: dict[tuple[object, ...], str] = {}
    out = []
    for a, b in zip(segment, stage, strict=True):
        key = (type(a), a, type(b), b)
        if key not in words:
            words[key] = peer_label(a, b)
        out.append(words[key])
    return out


def peer_medians(
    features: pd.DataFrame, groups: pd.DataFrame, columns: list[str] | None = None
) -> pd.DataFrame:
    """Each row's peer figure for every driver feature: the median of its peer group.

    Flags (:data:`FLAG_FEATURES`) get the share of peers with the flag instead. Missing values
    are left out of the median; a group with no value gives NaN.
    """
    columns = columns if columns is not None else candidate_features(features.columns)
    numeric = features[columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    grouped = numeric.groupby(groups["peer_group"].to_numpy())
    medians = grouped.transform("median")
    flags = [c for c in columns if c in FLAG_FEATURES]
    if flags:
        medians[flags] = grouped[flags].transform("mean")
    return medians.set_axis(features.index)


def candidate_features(columns: list[str] | pd.Index) -> list[str]:
    """Driver features with a risk direction: the only ones a person can check against peers."""
    return [c for c in driver_features(columns) if _DIRECTION.get(c, 0) != 0]


# ------------------------------------------------------------------------------ drivers


def select_drivers(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    medians: pd.DataFrame,
    *,
    n: int = 3,
    calibrate: Callable[[np.ndarray], np.ndarray] | None = None,
    min_points: float = MIN_POINTS,
) -> pd.DataFrame:
    """The ``n`` largest risk-raising features per row whose value is worse than its peers'.

    ``contributions`` (TreeSHAP, log-odds) may hold a subset of ``features``' rows (those
    explained); ``medians`` comes from :func:`peer_medians` over all of them. With
    ``calibrate`` (the model's calibration map), a driver must also add at least
    ``min_points`` percentage points of churn risk (:func:`risk_points`). Returns, on
    ``contributions``' index, ``driver_k``, ``driver_k_family``, ``driver_k_contribution``
    (log-odds), ``driver_k_points`` (NaN without ``calibrate``), ``driver_k_value`` and
    ``driver_k_peer_value`` for k = 1..n; a slot stays empty when fewer than k features pass
    the rule (see the module's docstring).
    """
    index = contributions.index
    names = [c for c in candidate_features(contributions.columns) if c in medians.columns]
    contrib = contributions[names].to_numpy(dtype="float64")
    values = (
        features.loc[index, names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    )
    peers = medians.loc[index, names].to_numpy(dtype="float64")
    direction = np.array([_DIRECTION[c] for c in names], dtype="float64")
    with np.errstate(invalid="ignore"):
        risky = direction * (values - peers) > 0
    points = np.full(contrib.shape, np.nan)
    shown = (contrib > 0) & risky
    if calibrate is not None and contrib.size:
        raw = contributions.sum(axis=1).to_numpy(dtype="float64")[:, None]
        points = 100.0 * (calibrate(raw) - calibrate(raw - contrib))
        shown &= points >= min_points
    ranked = np.where(shown, contrib, -np.inf)
    # A column of -inf at the end gives every row an empty slot to point at.
    ranked = np.column_stack([ranked, np.full(len(index), -np.inf)])
    order = np.argsort(-ranked, axis=1, kind="stable")
    labels = np.array([*names, None], dtype=object)
    rows = np.arange(len(index))
    out = pd.DataFrame(index=index)
    for k in range(n):
        idx = order[:, min(k, order.shape[1] - 1)]
        ok = np.isfinite(ranked[rows, idx]) if k < order.shape[1] else np.zeros(len(index), bool)
        idx = np.where(ok, idx, len(names))
        name = pd.Series(labels[idx], index=index, dtype="object")
        out[f"driver_{k + 1}"] = name
        out[f"driver_{k + 1}_family"] = pd.Series(
            [family_of(x) if isinstance(x, str) else None for x in name], index=index, dtype=object
        )
        for suffix, table in (
            ("contribution", contrib),
            ("points", points),
            ("value", values),
            ("peer_value", peers),
        ):
            padded = np.column_stack([table, np.full(len(index), np.nan)])
            out[f"driver_{k + 1}_{suffix}"] = padded[rows, idx]
    return out


def describe_drivers(
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    calibrate: Callable[[np.ndarray], np.ndarray],
    *,
    n: int = 3,
    medians: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
    lang: Language | None = None,
) -> pd.DataFrame:
    """The shown drivers of the explained rows, in numbers and in words.

    ``features`` holds every account scored at the date (the peers); ``contributions`` the
    rows explained (all or a subset, on ``features``' index). ``medians`` and ``groups`` may
    be given when computed elsewhere (the account card computes them from the peer group
    alone). Returns, on ``contributions``' index, the columns of :func:`select_drivers` with
    ``driver_k_value`` and ``driver_k_peer_value`` renamed ``driver_k_peer_median``, plus
    ``driver_k_points`` (percentage points of churn risk, :func:`risk_points`),
    ``driver_k_text``, ``peer_group`` (the peers in words) and ``top_family`` (the family of
    the first shown driver, which picks the playbook; missing when none is shown). The
    sentences and the peer group are in ``lang`` (default: English).
    """
    lang = lang or Language()
    groups = groups if groups is not None else peer_groups(features)
    medians = medians if medians is not None else peer_medians(features, groups)
    drivers = select_drivers(contributions, features, medians, n=n, calibrate=calibrate)
    labels = groups.loc[contributions.index, "peer_label"]
    if not lang.english:
        keys = groups.loc[contributions.index, "peer_group"]
        labels = keys.map({key: _peer_label_of(key, lang) for key in keys.unique()})
    shown = drivers[[f"driver_{k}" for k in range(1, n + 1)]]
    read = _sentence_columns(features.columns, shown)
    records = features.loc[contributions.index, read].to_dict("records")
    out = pd.DataFrame(index=contributions.index)
    for k in range(1, n + 1):
        name, peer = drivers[f"driver_{k}"], drivers[f"driver_{k}_peer_value"]
        out[f"driver_{k}"] = name
        out[f"driver_{k}_family"] = drivers[f"driver_{k}_family"]
        out[f"driver_{k}_contribution"] = drivers[f"driver_{k}_contribution"]
        out[f"driver_{k}_points"] = drivers[f"driver_{k}_points"].round(2)
        out[f"driver_{k}_value"] = drivers[f"driver_{k}_value"]
        out[f"driver_{k}_peer_median"] = peer
        out[f"driver_{k}_text"] = _sentences(name, records, peer, labels, lang)
    out["peer_group"] = labels.astype("object")
    out["top_family"] = drivers["driver_1_family"].astype("object")
    return out


def _sentences(
    names: Iterable[object],
    records: list[dict[str, object]],
    peer_values: Iterable[float],
    peers: Iterable[str],
    lang: Language,
) -> list[str | None]:
    """:func:`driver_sentence` of each row (``None`` where no driver is shown).

    Accounts of a peer group often share a driver and its values, so each distinct sentence
    is worded once. Its key holds each number's type and sign besides its value, as ``0.0``
    and ``-0.0`` are equal keys that format differently.
    """
    compared: dict[str, str | None] = {}
    done: dict[tuple[object, ...], str] = {}
    out: list[str | None] = []
    for feature, row, peer_value, who in zip(names, records, peer_values, peers, strict=True):
        if not isinstance(feature, str):
            out.append(None)
            continue
        if feature not in compared:
            compared[feature] = feature_spec(feature).compare_to
        before = compared[feature]
        key = (
            feature,
            *_exactly(row[feature]),
            *_exactly(row.get(before) if before else None),
            *_exactly(peer_value),
            who,
        )
        if key not in done:
            done[key] = driver_sentence(feature, row, peer_value, who, lang=lang)
        out.append(done[key])
    return out


def _exactly(value: object) -> tuple[object, object, float]:
    """``value`` as part of a dictionary key that tells apart values that format apart."""
    sign = math.copysign(1.0, value) if isinstance(value, float) else 0.0
    return type(value), value, sign


def _sentence_columns(columns: pd.Index, shown: pd.DataFrame) -> list[str]:
    """The columns :func:`driver_sentence` reads for these shown drivers, in ``columns``' order.

    A sentence reads its driver's value and, for a change, the value it compares to; the rows
    handed to it hold only those columns, as turning every feature of every explained row
    into a dictionary costs more than the sentences themselves.
    """
    names = {name for name in pd.unique(shown.to_numpy().ravel()) if isinstance(name, str)}
    compared = {feature_spec(name).compare_to for name in names}
    return [c for c in columns if c in names or c in compared]


def risk_points(
    contributions: pd.Series | np.ndarray,
    raw_log_odds: pd.Series | np.ndarray,
    calibrate: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """A contribution as percentage points of churn risk.

    How much lower the calibrated churn probability would be without this contribution: the
    calibrated probability at the raw log-odds minus the one at the raw log-odds less the
    contribution, times 100. Missing contributions give NaN.

    Examples
    --------
    >>> sigmoid = lambda z: 1 / (1 + np.exp(-z))
    >>> risk_points(np.array([np.log(3)]), np.array([0.0]), sigmoid).round(1).tolist()
    [25.0]
    """
    c = np.asarray(contributions, dtype="float64")
    z = np.asarray(raw_log_odds, dtype="float64")
    known = ~np.isnan(c)
    out = np.full(len(c), np.nan)
    if known.any():
        out[known] = 100.0 * (calibrate(z[known]) - calibrate(z[known] - c[known]))
    return out


def _peer_label_of(key: object, lang: Language) -> str:
    """The peer group of a :func:`peer_groups` key (``as_of|segment|stage``) in ``lang``."""
    segment, _, stage = str(key).split("|", 1)[1].rpartition("|")
    return peer_label(
        None if segment == "(none)" else segment, None if stage == "(none)" else stage, lang=lang
    )


def driver_sentence(
    feature: str,
    row: Mapping[str, object],
    peer_value: float,
    peers: str,
    *,
    lang: Language | None = None,
) -> str:
    """The sentence of one shown driver: the account's value and its peers' figure.

    The change over the period is said ("Logins fell from 40 to 12 ...") only when it went
    the risky way; numbers get one or two more decimals when rounding would make the
    account's value and the peers' figure look equal. The sentence templates are the
    catalogue's, translated into ``lang`` (default: English) by its message catalogue.

    Examples
    --------
    >>> driver_sentence("usage__logins_90d", {"usage__logins_90d": 12.0}, 85.0,
    ...                 "mid-market accounts in their first year")
    '12 logins in the last 90 days, against a median of 85 for mid-market accounts in their \
first year'
    >>> driver_sentence("support__escalations_90d", {"support__escalations_90d": 1.0}, 0.0,
    ...                 "SMB accounts")
    '1 escalated ticket in the last 90 days, against a median of 0 for SMB accounts'
    """
    lang = lang or Language()
    spec = feature_spec(feature)
    value = float(row[feature])  # type: ignore[arg-type]
    if feature in FLAG_FEATURES:
        return lang.t(
            "%(flag)s, as for %(share)s of %(peers)s",
            flag=lang.t(FLAG_FEATURES[feature]),
            share=lang.share(peer_value, 0),
            peers=peers,
        )
    text = lang.raw(spec.text)
    fmt = _value_format(text)
    extra = next(
        (
            e
            for e in range(3)
            if format(value, _widen(fmt, e)) != format(peer_value, _widen(fmt, e))
        ),
        0,
    )
    template, change = text, ""
    previous = _number(row.get(spec.compare_to)) if spec.compare_to else float("nan")
    if spec.change_text and not np.isnan(previous) and (value - previous) * spec.direction > 0:
        rose = value > previous
        template = lang.raw(spec.change_text)
        change = lang.tc("change", "rose") if rose else lang.tc("change", "fell")
    body = template.format(
        value=_Shown(value, extra), previous=_Shown(previous, extra), change=change
    )
    return lang.t(
        "%(sentence)s, against a median of %(peer)s for %(peers)s",
        sentence=pluralise(body) if lang.english else body,
        peer=format(peer_value, _widen(fmt, extra)),
        peers=peers,
    )


class _Shown(float):
    """A number that formats with ``extra`` more decimals than its template asks for."""

    def __new__(cls, value: float, extra: int) -> _Shown:
        shown = super().__new__(cls, value)
        shown.extra = extra  # type: ignore[attr-defined]
        return shown

    def __format__(self, spec: str) -> str:
        return format(float(self), _widen(spec, self.extra))  # type: ignore[attr-defined]


_FORMAT = re.compile(r"\{value:([^}]*)\}")


@cache
def _value_format(template: str) -> str:
    """The format spec of ``{value:...}`` in a sentence template (``.0f`` if none)."""
    found = _FORMAT.search(template)
    return found.group(1) if found else ".0f"


@cache
def _widen(spec: str, extra: int) -> str:
    """``spec`` with ``extra`` more decimals (``.0f`` -> ``.1f``)."""
    if not extra:
        return spec
    return re.sub(r"\.(\d+)", lambda m: f".{int(m.group(1)) + extra}", spec)


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return number
