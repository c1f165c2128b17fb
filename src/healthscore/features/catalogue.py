"""The feature catalogue: every feature declared once, with what it means and how to say it.

Features are declared here, not scattered through queries: the catalogue drives which
columns are built (and which are switched off when a table or column is missing), the
documentation (``healthscore features --list``, ``docs/features.md``), the plain sentences
an explanation shows next to a score, and the driver families that playbooks map onto.

Names follow ``family__measure_window`` (``usage__logins_30d``); a feature without a window
drops the suffix (``support__open_tickets``). Every window reads ``[as_of - window, as_of)``.

Sentences
---------
Each spec carries a ``text`` template formatted with ``value``. A spec that names a
``compare_to`` feature (the same measure one period earlier) also carries a ``change_text``
formatted with ``value``, ``previous`` and ``change`` ("rose"/"fell"), so an explanation can
say "Active users fell from 42 to 17 over the last 30 days" from one row of features:

>>> sentence("usage__active_users_30d",
...          {"usage__active_users_30d": 17, "usage__active_users_prior_30d": 42})
'Active users fell from 42 to 17 over the last 30 days'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

import pandas as pd

from healthscore.wording import pluralise

#: Version of the catalogue's meaning. Bump it whenever a feature is added, removed or
#: computed differently: a bundle trained under another version refuses to score
#: (:mod:`healthscore.fingerprint`). 2: contract renewal and length from the term grid.
CATALOGUE_VERSION = 2

#: The driver families: the part of a feature's name before ``__``; playbooks map onto them.
Family = Literal["usage", "adoption", "support", "satisfaction", "contract", "account"]
FAMILIES: tuple[Family, ...] = get_args(Family)


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: its name, where it comes from, what it means, and how to say it.

    Parameters
    ----------
    name
        ``family__measure_window``; the family prefix is the driver family.
    table
        The contract table the feature is computed from; if it is missing the feature is off.
    window_days
        Length of the look-back window ``[as_of - window, as_of)``; ``None`` when the feature
        reads the whole history before ``as_of`` or the state just before it.
    description
        What the number means, for a customer-success manager.
    direction
        +1 when a higher value means more churn risk, -1 when it means less, 0 when there is
        no fixed direction (categories, size).
    kind
        ``"number"`` (float, missing as NaN) or ``"category"`` (plain strings, missing as NaN).
    text
        Sentence template with ``{value}``.
    compare_to
        Name of the feature holding the same measure one period earlier, if any.
    change_text
        Sentence template with ``{value}``, ``{previous}`` and ``{change}``, used when the
        ``compare_to`` value is known and differs.
    missing_text
        What to say when the value is missing ("no data" differs from zero).
    requires
        Optional ``table.column`` inputs the feature needs besides its table; a missing one
        switches the feature off.
    role
        ``"driver"``: says *why* an account is at risk, can be shown as a driver and pick a
        playbook. ``"context"``: says *when* or *for whom* risk materialises (days to
        renewal, tenure, plan, size): it stays in the model and in the family totals but is
        never offered as a driver, since "your renewal is near" is not a cause a playbook
        can address.
    """

    name: str
    table: str
    window_days: int | None
    description: str
    direction: Literal[-1, 0, 1]
    text: str
    kind: Literal["number", "category"] = "number"
    compare_to: str | None = None
    change_text: str | None = None
    missing_text: str = "no data"
    requires: tuple[str, ...] = ()
    role: Literal["driver", "context"] = "driver"

    @property
    def family(self) -> str:
        """The driver family: the part of the name before ``__``."""
        return self.name.split("__", 1)[0]


def _spec(
    name: str,
    table: str,
    window: int | None,
    direction: Literal[-1, 0, 1],
    description: str,
    text: str,
    **options: object,
) -> FeatureSpec:
    """Declare one feature; the declarations below read as a table in this argument order."""
    spec = FeatureSpec(name, table, window, description, direction, text)
    return replace(spec, **options)  # type: ignore[arg-type]


# fmt: off
_USAGE = (
    _spec("usage__logins_7d", "logins", 7, -1,
          "Logins in the last 7 days (duplicate login records count once).",
          "{value:.0f} logins in the last 7 days"),
    _spec("usage__logins_30d", "logins", 30, -1,
          "Logins in the last 30 days.",
          "{value:.0f} logins in the last 30 days",
          compare_to="usage__logins_prior_30d",
          change_text="Logins {change} from {previous:.0f} to {value:.0f} over the last 30 days"),
    _spec("usage__logins_90d", "logins", 90, -1,
          "Logins in the last 90 days.",
          "{value:.0f} logins in the last 90 days"),
    _spec("usage__logins_prior_30d", "logins", 60, -1,
          "Logins in the 30 days before the last 30 (days 31 to 60 before the snapshot).",
          "{value:.0f} logins between 31 and 60 days ago"),
    _spec("usage__active_users_7d", "logins", 7, -1,
          "Distinct users who logged in during the last 7 days.",
          "{value:.0f} active users in the last 7 days"),
    _spec("usage__active_users_30d", "logins", 30, -1,
          "Distinct users who logged in during the last 30 days.",
          "{value:.0f} active users in the last 30 days",
          compare_to="usage__active_users_prior_30d",
          change_text=("Active users {change} from {previous:.0f} to {value:.0f} "
                       "over the last 30 days")),
    _spec("usage__active_users_90d", "logins", 90, -1,
          "Distinct users who logged in during the last 90 days.",
          "{value:.0f} active users in the last 90 days"),
    _spec("usage__active_users_prior_30d", "logins", 60, -1,
          "Distinct users who logged in during days 31 to 60 before the snapshot.",
          "{value:.0f} active users between 31 and 60 days ago"),
    _spec("usage__seat_utilisation_30d", "logins", 30, -1,
          "Active users in the last 30 days per licensed seat (licence utilisation); missing "
          "when the active contracts list no seats.",
          "{value:.0%} of licensed seats used in the last 30 days",
          requires=("contracts.seats",)),
    _spec("usage__login_days_30d", "logins", 30, -1,
          "Days with at least one login in the last 30 days.",
          "Someone logged in on {value:.0f} of the last 30 days"),
    _spec("usage__logins_trend_30d", "logins", 60, -1,
          "Logins in the last 30 days divided by logins in the 30 days before (1 = flat, 0.5 = "
          "halved); missing when there were none before.",
          "Logins ran at {value:.0%} of the previous 30 days",
          missing_text="no logins in the previous 30 days to compare with"),
    _spec("usage__active_users_trend_30d", "logins", 60, -1,
          "Active users in the last 30 days divided by those of the 30 days before; missing when "
          "there were none before.",
          "Active users ran at {value:.0%} of the previous 30 days",
          missing_text="no active users in the previous 30 days to compare with"),
    _spec("usage__logins_vs_avg_90d", "logins", 90, -1,
          "Logins in the last 30 days divided by the 30-day average of the last 90 days (below 1 "
          "= slowing down); missing when there were no logins in 90 days.",
          "Logins ran at {value:.0%} of the 90-day average",
          missing_text="no logins in the last 90 days"),
    _spec("usage__days_since_last_login", "logins", None, 1,
          "Days since the last login before the snapshot; missing when nobody ever logged in.",
          "Last login {value:.0f} days ago",
          missing_text="nobody has ever logged in"),
)

_ADOPTION = (
    _spec("adoption__distinct_features_30d", "feature_usage", 30, -1,
          "Distinct product features used in the last 30 days.",
          "{value:.0f} distinct features used in the last 30 days"),
    _spec("adoption__distinct_features_90d", "feature_usage", 90, -1,
          "Distinct product features used in the last 90 days.",
          "{value:.0f} distinct features used in the last 90 days"),
    _spec("adoption__feature_events_30d", "feature_usage", 30, -1,
          "Feature usage events in the last 30 days (a row's quantity, 1 when absent).",
          "{value:.0f} feature events in the last 30 days"),
    _spec("adoption__catalogue_share_90d", "feature_usage", 90, -1,
          "Share of the product's features used in the last 90 days; the catalogue is every "
          "feature any known account used before the snapshot.",
          "{value:.0%} of the product's features used in the last 90 days"),
    _spec("adoption__core_features_30d", "feature_usage", 30, -1,
          "Core features used in the last 30 days (core: the configured list, or the 4 features "
          "used by the most accounts before the snapshot).",
          "{value:.0f} core features used in the last 30 days"),
    _spec("adoption__new_features_30d", "feature_usage", 30, -1,
          "Features this account used for the first time in the last 30 days.",
          "{value:.0f} features adopted for the first time in the last 30 days"),
    _spec("adoption__events_per_user_30d", "feature_usage", 30, -1,
          "Feature events per distinct feature user in the last 30 days; missing when nobody "
          "used a feature.",
          "{value:.1f} feature events per user in the last 30 days",
          requires=("feature_usage.user_id",)),
    _spec("adoption__days_since_core_use", "feature_usage", None, 1,
          "Days since any core feature was last used; missing when never.",
          "A core feature was last used {value:.0f} days ago",
          missing_text="no core feature has ever been used"),
)

_SUPPORT = (
    _spec("support__tickets_30d", "support_tickets", 30, 1,
          "Tickets opened in the last 30 days.",
          "{value:.0f} tickets opened in the last 30 days",
          compare_to="support__tickets_prior_30d",
          change_text="Tickets {change} from {previous:.0f} to {value:.0f} over the last 30 days"),
    _spec("support__tickets_prior_30d", "support_tickets", 60, 1,
          "Tickets opened during days 31 to 60 before the snapshot.",
          "{value:.0f} tickets opened between 31 and 60 days ago"),
    _spec("support__tickets_90d", "support_tickets", 90, 1,
          "Tickets opened in the last 90 days.",
          "{value:.0f} tickets opened in the last 90 days"),
    _spec("support__tickets_trend_30d", "support_tickets", 60, 1,
          "Tickets of the last 30 days divided by those of the 30 days before; missing when "
          "there were none before.",
          "Ticket volume ran at {value:.0%} of the previous 30 days",
          missing_text="no tickets in the previous 30 days to compare with"),
    _spec("support__open_tickets", "support_tickets", None, 1,
          "Tickets open at the snapshot (opened before it, not closed before it).",
          "{value:.0f} tickets open",
          requires=("support_tickets.closed_at",)),
    _spec("support__open_urgent_tickets", "support_tickets", None, 1,
          "High or urgent tickets open at the snapshot.",
          "{value:.0f} high or urgent tickets open",
          requires=("support_tickets.closed_at", "support_tickets.priority")),
    _spec("support__urgent_tickets_90d", "support_tickets", 90, 1,
          "High or urgent tickets opened in the last 90 days (priority as recorded at opening).",
          "{value:.0f} high or urgent tickets in the last 90 days",
          requires=("support_tickets.priority",)),
    _spec("support__urgent_share_90d", "support_tickets", 90, 1,
          "Share of the last 90 days' tickets that were high or urgent; missing without tickets.",
          "{value:.0%} of recent tickets were high or urgent",
          missing_text="no tickets in the last 90 days", requires=("support_tickets.priority",)),
    _spec("support__escalations_90d", "support_tickets", 90, 1,
          "Escalated tickets closed in the last 90 days (escalation is known once closed).",
          "{value:.0f} escalated tickets in the last 90 days",
          requires=("support_tickets.closed_at", "support_tickets.escalated")),
    _spec("support__mean_resolution_days_90d", "support_tickets", 90, 1,
          "Mean days from opening to closing of tickets closed in the last 90 days.",
          "Tickets took {value:.1f} days to resolve on average",
          missing_text="no tickets closed in the last 90 days",
          requires=("support_tickets.closed_at",)),
    _spec("support__mean_csat_90d", "support_tickets", 90, -1,
          "Mean satisfaction rating (1-5) of tickets closed in the last 90 days.",
          "Support satisfaction averaged {value:.1f} out of 5",
          missing_text="no rated tickets in the last 90 days",
          requires=("support_tickets.closed_at", "support_tickets.csat")),
)

_SATISFACTION = (
    _spec("satisfaction__last_nps", "nps_responses", None, -1,
          "The latest NPS answer (0-10) before the snapshot (the mean when several arrived at "
          "once).",
          "Latest NPS answer: {value:.0f}",
          compare_to="satisfaction__previous_nps",
          change_text="NPS answer {change} from {previous:.0f} to {value:.0f}",
          missing_text="no NPS answer yet"),
    _spec("satisfaction__previous_nps", "nps_responses", None, -1,
          "The NPS answer before the latest one.",
          "Previous NPS answer: {value:.0f}",
          missing_text="no earlier NPS answer"),
    _spec("satisfaction__nps_change", "nps_responses", None, -1,
          "Latest NPS answer minus the one before (negative = worse).",
          "NPS answer changed by {value:+.0f} points",
          missing_text="fewer than two NPS answers"),
    _spec("satisfaction__days_since_last_nps", "nps_responses", None, 0,
          "Age in days of the latest NPS answer.",
          "Latest NPS answer is {value:.0f} days old",
          missing_text="no NPS answer yet"),
    _spec("satisfaction__mean_nps_180d", "nps_responses", 180, -1,
          "Mean NPS answer over the last 180 days.",
          "NPS answers averaged {value:.1f} over 180 days",
          missing_text="no NPS answer in the last 180 days"),
    _spec("satisfaction__nps_180d", "nps_responses", 180, -1,
          "Net promoter score over the last 180 days: % promoters (9-10) minus % detractors "
          "(0-6).",
          "Net promoter score {value:+.0f} over the last 180 days",
          missing_text="no NPS answer in the last 180 days"),
    _spec("satisfaction__detractor_share_180d", "nps_responses", 180, 1,
          "Share of the last 180 days' NPS answers that were detractors (0-6).",
          "{value:.0%} of NPS answers in the last 180 days were detractors",
          missing_text="no NPS answer in the last 180 days"),
    _spec("satisfaction__responses_180d", "nps_responses", 180, 0,
          "NPS answers received in the last 180 days.",
          "{value:.0f} NPS answers in 180 days"),
)

_CONTRACT = (
    _spec("contract__tenure_days", "contracts", None, -1,
          "Days since the account was created (or its first contract started, if earlier).",
          "Customer for {value:.0f} days", role="context"),
    _spec("contract__lifecycle_stage", "contracts", None, 0,
          "onboarding (under 90 days), adoption (90 days to a year) or mature (over a year).",
          "Lifecycle stage: {value}",
          kind="category", role="context"),
    _spec("contract__days_to_renewal", "contracts", None, -1,
          "Days until the next renewal date known at the snapshot: the next boundary of the "
          "current contract's term grid (start plus whole billing periods) or its scheduled "
          "end when given; end_date only when the term is unknown. Contracts starting on or "
          "after the snapshot are not seen.",
          "Renewal due in {value:.0f} days",
          missing_text="no active contract", role="context"),
    _spec("contract__length_days", "contracts", None, -1,
          "Length in days of the current contract's term (as signed), not of its recorded "
          "end date.",
          "Current term runs {value:.0f} days",
          missing_text="no active contract", role="context"),
    _spec("contract__renewal_count", "contracts", None, -1,
          "Renewals so far: contracts that started at, or within the grace period after, the end "
          "of the account's earlier coverage.",
          "Renewed {value:.0f} times", role="context"),
    _spec("contract__arr", "contracts", None, 0,
          "Annual recurring revenue: the sum over contracts active at the snapshot.",
          "ARR {value:,.0f}",
          missing_text="no active contract", role="context"),
    _spec("contract__arr_change_90d", "contracts", 90, -1,
          "Relative ARR change over the last 90 days (0.2 = expanded 20%, -0.2 = contracted).",
          "ARR changed by {value:+.0%} over the last 90 days",
          missing_text="no ARR 90 days ago to compare with"),
    _spec("contract__arr_change_180d", "contracts", 180, -1,
          "Relative ARR change over the last 180 days.",
          "ARR changed by {value:+.0%} over the last 180 days",
          missing_text="no ARR 180 days ago to compare with"),
    _spec("contract__seats", "contracts", None, 0,
          "Licensed seats over contracts active at the snapshot.",
          "{value:.0f} licensed seats",
          missing_text="no seat count", requires=("contracts.seats",), role="context"),
    _spec("contract__seat_change_90d", "contracts", 90, -1,
          "Relative change in licensed seats over the last 90 days.",
          "Seats changed by {value:+.0%} over the last 90 days",
          missing_text="no seats 90 days ago to compare with", requires=("contracts.seats",)),
    _spec("contract__billing_period", "contracts", None, 0,
          "Billing period (term length) of the current contract, as exported: month, "
          "halfyear, year, 24...",
          "Billed per {value}",
          kind="category", requires=("contracts.billing_period",), role="context"),
    _spec("contract__plan", "contracts", None, 0,
          "Plan of the current contract.",
          "On the {value} plan",
          kind="category", requires=("contracts.plan",), role="context"),
    _spec("contract__auto_renew", "contracts", None, -1,
          "1 when the current contract renews unless cancelled, else 0.",
          "Auto-renew: {value:.0f}",
          requires=("contracts.auto_renew",), role="context"),
    _spec("contract__cancellation_known", "contracts", None, 1,
          "1 when a cancellation of a contract still running at the snapshot was recorded "
          "before it (canceled_at), else 0.",
          "Cancellation on record: {value:.0f} (1 = yes)",
          missing_text="no active contract", requires=("contracts.canceled_at",)),
)

_ACCOUNT = (
    _spec("account__segment", "accounts", None, 0,
          "Market segment.",
          "Segment: {value}",
          kind="category", requires=("accounts.segment",), role="context"),
    _spec("account__industry", "accounts", None, 0,
          "Industry.",
          "Industry: {value}",
          kind="category", requires=("accounts.industry",), role="context"),
    _spec("account__region", "accounts", None, 0,
          "Sales region.",
          "Region: {value}",
          kind="category", requires=("accounts.region",), role="context"),
    _spec("account__employees", "accounts", None, 0,
          "Company head count.",
          "{value:,.0f} employees",
          requires=("accounts.employees",), role="context"),
)
# fmt: on

#: Every feature, in a fixed order: the order of the built columns.
CATALOGUE: tuple[FeatureSpec, ...] = (
    _USAGE + _ADOPTION + _SUPPORT + _SATISFACTION + _CONTRACT + _ACCOUNT
)

_BY_NAME: dict[str, FeatureSpec] = {spec.name: spec for spec in CATALOGUE}


def feature_spec(name: str) -> FeatureSpec:
    """The spec of feature ``name``; ``KeyError`` names the closest spelling if unknown."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown feature {name!r}; see catalogue_frame() for the list") from None


def feature_names(*, family: str | None = None) -> list[str]:
    """Catalogue feature names in catalogue order, optionally of one family."""
    return [s.name for s in CATALOGUE if family is None or s.family == family]


def _missing(value: object) -> bool:
    return value is None or bool(pd.api.types.is_scalar(value) and pd.isna(value))


def sentence(name: str, values: Mapping[str, object]) -> str:
    """A plain sentence for feature ``name`` from one row of feature values.

    Uses ``change_text`` when the spec names a ``compare_to`` feature whose value is present
    in ``values`` and differs from the current one, ``text`` otherwise, and ``missing_text``
    when the value itself is missing (capitalised as a sentence of its own). A count of one
    takes the singular ("1 escalated ticket").
    """
    spec = feature_spec(name)
    value = values.get(name)
    if _missing(value):
        if spec.missing_text == "no data":
            return f"No data for {name}"
        return spec.missing_text[0].upper() + spec.missing_text[1:]
    previous = values.get(spec.compare_to) if spec.compare_to else None
    if spec.change_text and not _missing(previous) and previous != value:
        change = "rose" if float(value) > float(previous) else "fell"  # type: ignore[arg-type]
        return pluralise(spec.change_text.format(value=value, previous=previous, change=change))
    return pluralise(spec.text.format(value=value))


def catalogue_frame() -> pd.DataFrame:
    """The catalogue as one row per feature (for ``healthscore features --list`` and bundles)."""
    rows = [
        {
            "name": s.name,
            "family": s.family,
            "table": s.table,
            "window_days": s.window_days,
            "kind": s.kind,
            "direction": s.direction,
            "description": s.description,
            "requires": ", ".join(s.requires),
            "compare_to": s.compare_to or "",
            "role": s.role,
            "text": s.text,
        }
        for s in CATALOGUE
    ]
    frame = pd.DataFrame(rows)
    frame["window_days"] = frame["window_days"].astype("Int64")
    return frame


_DIRECTION_WORDS = {1: "higher = riskier", -1: "higher = safer", 0: "no fixed direction"}


def catalogue_markdown() -> str:
    """The catalogue as Markdown tables, one per driver family (pasted into docs/features.md)."""
    lines: list[str] = []
    for family in FAMILIES:
        specs = [s for s in CATALOGUE if s.family == family]
        table = specs[0].table
        lines += [f"### {family} (from `{table}`)", ""]
        lines += [
            "| feature | window | kind | risk | role | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for s in specs:
            window = f"{s.window_days} d" if s.window_days else "-"
            needs = f" Needs {', '.join(f'`{r}`' for r in s.requires)}." if s.requires else ""
            lines.append(
                f"| `{s.name}` | {window} | {s.kind} | {_DIRECTION_WORDS[s.direction]} "
                f"| {s.role} | {s.description}{needs} |"
            )
        lines.append("")
    return "\n".join(lines)
