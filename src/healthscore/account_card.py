"""The account card: what a CSM reads before calling the customer.

Score history over the last months, the drivers with the account's values against its
peers', and the recommended playbook with its steps, owner and due date.

The card computes one account, not the portfolio: the features of the account at each date
of its history, and, for the driver rule, those of its peer group at ``as_of`` (same segment
and lifecycle stage, found from the cheap contract and account features of the eligible
accounts), in one feature build over the event logs of those accounts only
(:func:`narrowed_source`). So its score, drivers and peer figures are those of a full
scoring run, in a fraction of the time. Two things are decided across the whole portfolio and are
therefore only stated as far as the account alone settles them: whether it is in the control
group (an account excluded by its touch tier or a near renewal never is; otherwise the
scoring run draws it), and whether its CSM's list overflowed (the scoring run caps each
CSM's list at ``capacity.accounts_per_csm``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.explain import FAMILIES, peer_groups, peer_medians
from healthscore.features import FeaturesOffWarning, build_features
from healthscore.i18n import Language, Message, Reason
from healthscore.model import HealthModel
from healthscore.playbooks import PlaybookCatalogue
from healthscore.playbooks.control import HOLDOUT_RISK_TIERS, exclusion_reasons
from healthscore.scoring import (
    N_DRIVERS,
    account_details,
    current_arr,
    score_frame,
    step_back,
)
from healthscore.snapshots import eligible_accounts
from healthscore.storage import DataSource, source_from_frames

#: Families the peer search needs (segment and lifecycle stage); the others are skipped then.
_PEER_SEARCH_FAMILIES = ("contract", "account")


@dataclass(frozen=True)
class AccountCard:
    """One account's health at ``as_of`` and how it got there."""

    account_id: str
    scores: pd.Series
    history: pd.DataFrame
    drivers: list[tuple[str, str, float]]
    actions: list[str]
    control: str = ""
    peers: int = 0

    def render(self, lang: Language | None = None) -> str:
        """The card as text, in ``lang`` (default: English)."""
        lang = lang or Language()
        t = lang.t
        s = self.scores
        name = s.get("account_name")
        title = f"{self.account_id} ({name})" if isinstance(name, str) else self.account_id
        csm = s.get("csm")
        lines = [
            t("Account %(account)s at %(date)s", account=title, date=lang.date(s["as_of"])),
            "  "
            + t(
                "CSM %(csm)s, %(touch)s, ARR %(arr)s",
                csm=csm if isinstance(csm, str) else t("none on record"),
                touch=lang.word("touch tier", s["touch_tier"]),
                arr=lang.money(s["arr"]),
            ),
            "  "
            + t(
                "health score %(score)s (%(tier)s), churn probability %(probability)s, "
                "ARR at risk %(arr)s",
                score=lang.number(s["health_score"], 1),
                tier=lang.word("risk tier", s["risk_tier"]),
                probability=lang.share(s["churn_probability"], 1),
                arr=lang.money(s["arr_at_risk"]),
            ),
            "",
            t("Score history:"),
        ]
        dates = [lang.date(day) for day in self.history["as_of"]]
        width = max((len(day) for day in dates), default=0)  # 2025年9月1日 / 2025年10月1日
        for day, (_, row) in zip(dates, self.history.iterrows(), strict=True):
            lines.append(
                f"  {day:<{width}}  {row['health_score']:5.1f}  "
                f"{lang.word('risk tier', row['risk_tier'])}"
            )
        peers = (
            lang.nt("%(num)s account", "%(num)s accounts", self.peers)
            if self.peers
            else t("its peers")
        )
        lines += [
            "",
            t(
                "Risk drivers (against %(group)s, %(peers)s):",
                group=s.get("peer_group", t("its peers")),
                peers=peers,
            ),
        ]
        if not self.drivers:
            lines.append(
                "  " + t("none: no signal both raises its risk and is worse than its peers'")
            )
        for family, text, points in self.drivers:
            lines.append(
                "  "
                + t(
                    "[%(family)s] %(text)s (+%(points)s pts of churn risk)",
                    family=lang.word("family", family),
                    text=text,
                    points=lang.number(points, 1),
                )
            )
        lines += [
            "",
            t(
                "Playbook: %(title)s (%(id)s), owner %(owner)s, due by %(date)s",
                title=s["playbook_title"],
                id=s["playbook_id"],
                owner=lang.owner(s["owner"]),
                date=lang.date(s["due_by"]),
            ),
        ]
        lines += [f"  {i}. {step}" for i, step in enumerate(self.actions, start=1)]
        if self.control:
            lines += ["", t("Control group: %(text)s", text=lang.say(self.control))]
        return "\n".join(lines)


def account_card(
    source: DataSource,
    model: HealthModel,
    account_id: str,
    as_of: str | pd.Timestamp,
    config: Config,
    *,
    catalogue: PlaybookCatalogue,
    months: int = 6,
) -> AccountCard:
    """Build the card of ``account_id`` at ``as_of``; unknown or ineligible ids are errors."""
    as_of = pd.Timestamp(as_of).normalize()
    if as_of > source.data_end:
        raise DataError(
            f"as_of {as_of.date()} is after the data's end ({source.data_end.date()}); "
            "features would be computed from an incomplete history"
        )
    dates = [as_of]
    for _ in range(months - 1):
        dates.append(step_back(dates[-1], config))
    eligible = eligible_accounts(source, dates, config)
    mine = eligible[eligible["account_id"] == account_id]
    if not (mine["as_of"] == as_of).any():
        _not_eligible(source, account_id, as_of)
    today = eligible[eligible["as_of"] == as_of][["account_id", "as_of"]]
    members = _peer_members(source, today, account_id, config)
    rows = pd.concat(
        [members.assign(_who="peer"), mine[["account_id", "as_of"]].assign(_who="self")],
        ignore_index=True,
    )
    narrow = narrowed_source(source, sorted(set(rows["account_id"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeaturesOffWarning)
        built = build_features(narrow, rows[["account_id", "as_of"]], config)
    peers = built[(rows["_who"] == "peer").to_numpy()].reset_index(drop=True)
    own = built[(rows["_who"] == "self").to_numpy()].sort_values("as_of").reset_index(drop=True)

    groups = peer_groups_of(peers, members)
    medians = peer_medians(peers, groups)
    current = own[own["as_of"] == as_of].reset_index(drop=True)
    current = current.merge(current_arr(source, as_of), on="account_id", how="left")
    current = current.merge(account_details(source, [account_id]), on="account_id", how="left")
    position = peers.index[peers["account_id"] == account_id][0]
    history = model.score(own)
    previous = own.loc[own["as_of"] < as_of, ["account_id"]].assign(
        health_score=history.loc[own["as_of"] < as_of, "health_score"]
    )
    scores = score_frame(
        current,
        model,
        config,
        catalogue=catalogue,
        previous=previous.tail(1),
        peers=medians.loc[[position]].reset_index(drop=True),
        groups=groups.loc[[position]].reset_index(drop=True),
    ).iloc[0]
    drivers = [
        (
            str(scores[f"driver_{k}_family"]),
            str(scores[f"driver_{k}_text"]),
            float(scores[f"driver_{k}_points"]),
        )
        for k in range(1, N_DRIVERS + 1)
        if isinstance(scores[f"driver_{k}"], str)
    ]
    actions = catalogue.playbook(scores["playbook_id"]).actions
    table = pd.DataFrame(
        {
            "as_of": own["as_of"],
            "health_score": history["health_score"],
            "risk_tier": history["risk_tier"],
        }
    )
    return AccountCard(
        account_id,
        scores,
        table,
        drivers,
        list(actions),
        control=_control_text(scores, catalogue, config),
        peers=int((groups["peer_group"] == groups.at[position, "peer_group"]).sum()),
    )


def peer_groups_of(peers: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """The peer groups of the members, as found over all eligible accounts."""
    return pd.DataFrame(
        {"peer_group": members["peer_group"].to_numpy(), "peer_label": members["peer_label"]},
        index=peers.index,
    )


def _peer_members(
    source: DataSource, today: pd.DataFrame, account_id: str, config: Config
) -> pd.DataFrame:
    """The eligible accounts in the peer group of ``account_id``, with the group's key.

    The groups are found over every eligible account from the contract and account features
    only (segment and lifecycle stage), which cost a small part of a full build.
    """
    light = config.with_overrides(
        features={
            "exclude": [
                *config.features.exclude,
                *(f for f in FAMILIES if f not in _PEER_SEARCH_FAMILIES),
            ]
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeaturesOffWarning)
        context = build_features(source, today, light)
    groups = peer_groups(context)
    key = groups.loc[context["account_id"] == account_id, "peer_group"].iloc[0]
    chosen = groups["peer_group"] == key
    return pd.concat(
        [context.loc[chosen, ["account_id", "as_of"]], groups.loc[chosen]], axis=1
    ).reset_index(drop=True)


def narrowed_source(source: DataSource, account_ids: list[str]) -> DataSource:
    """The data as the features of ``account_ids`` see it, with the event logs cut down.

    Every table is kept whole except the two large logs: ``logins`` keeps the rows of these
    accounts only (no feature of one account reads another's logins), ``feature_usage`` those
    rows plus, for every other account, its first use of each feature: the two adoption
    quantities that look at all accounts (the product catalogue and the core features, see
    :mod:`healthscore.features.adoption`) depend on nothing else. The features of these
    accounts are therefore exactly those of a full build, at a fraction of its cost.
    """

    ids = {"ids": list(account_ids)}
    mine = "account_id IN (SELECT unnest($ids::VARCHAR[]))"
    frames = {}
    for name in sorted(source.present):
        if name == "logins":
            sql = f"SELECT * FROM logins WHERE {mine}"
        elif name == "feature_usage":
            events = (
                "coalesce(quantity, 1)" if source.has_column("feature_usage", "quantity") else "1"
            )
            sql = f"""
                SELECT * FROM feature_usage WHERE {mine}
                UNION ALL
                SELECT * EXCLUDE (_first) FROM (
                    SELECT *, row_number() OVER (
                        PARTITION BY account_id, feature ORDER BY ts) AS _first
                    FROM feature_usage
                    WHERE NOT ({mine}) AND feature IS NOT NULL AND ts < $end AND {events} > 0
                ) WHERE _first = 1
            """
        else:
            sql = f"SELECT * FROM {name}"
        params = {**ids, "end": source.data_end} if "$end" in sql else ids if "$ids" in sql else {}
        frames[name] = source.con.sql(sql, params=params).to_arrow_table()
    return source_from_frames(frames, data_end=source.data_end)


def _control_text(scores: pd.Series, catalogue: PlaybookCatalogue, config: Config) -> str:
    """What the account alone says about the control group."""
    if scores["risk_tier"] not in HOLDOUT_RISK_TIERS:
        return ""
    if not catalogue.playbook(scores["playbook_id"]).holdout:
        return Message(
            "never held out (%(playbook)s has no control group)", playbook=scores["playbook_id"]
        )
    rules = config.playbooks
    reason = exclusion_reasons(
        scores.to_frame().T,
        exclude_touch_tiers=rules.holdout_exclude_touch_tiers,
        exclude_renewal_days=rules.holdout_exclude_renewal_days,
        exclude_top=0,
    ).iloc[0]
    if reason is not None:
        return Message("never held out (%(reason)s)", reason=Reason(reason))
    return Message(
        "drawn across the portfolio by `score` (%(share)s%% of each risk tier and segment): "
        "check the holdout column of the scores before contacting",
        share=format(rules.holdout_share * 100, ".0f"),
    )


def _not_eligible(source: DataSource, account_id: str, as_of: pd.Timestamp) -> None:
    known = source.scalar(
        "SELECT count(*) FROM accounts WHERE account_id = $id", {"id": account_id}
    )
    reason = (
        "it has no contract covering that day (churned or not yet a customer)"
        if known
        else "no such account_id in the accounts table"
    )
    raise DataError(f"account {account_id!r} cannot be scored at {as_of.date()}: {reason}")
