"""The input data contract: which tables and columns healthscore reads, and what they mean.

The contract is data, not prose: validation, documentation (``docs/data-contract.md`` is
checked against it in the tests) and the typed views that every later step reads are all
derived from :data:`TABLES`. Times are UTC; naive timestamps are taken to be UTC already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["id", "timestamp", "number", "integer", "bool", "text"]


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    kind: ColumnKind
    required: bool
    description: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract."""

    name: str
    required: bool
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    event_time: str | None = None
    feature_family: str | None = None
    model_input: bool = True
    """False for a record of what the team did, which the model never reads: such a table
    is left out of a model's schema fingerprint, so its presence never blocks scoring."""

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, kind: ColumnKind, required: bool, description: str, **bounds: float) -> Column:
    return Column(name, kind, required, description, **bounds)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "accounts",
            required=True,
            description="One row per customer account.",
            key=("account_id",),
            columns=(
                _c("account_id", "id", True, "Unique account identifier."),
                _c("created_at", "timestamp", True, "When the account signed up."),
                _c("name", "text", False, "Display name."),
                _c(
                    "owner",
                    "text",
                    False,
                    "The account's CSM (customer success manager): works its plays when it is "
                    "high touch.",
                ),
                _c("industry", "text", False, "Industry, used as a categorical feature."),
                _c("segment", "text", False, "Market segment (e.g. SMB, mid_market, enterprise)."),
                _c("region", "text", False, "Sales region."),
                _c("employees", "number", False, "Company head count.", minimum=0),
            ),
        ),
        TableSpec(
            "contracts",
            required=True,
            description=(
                "One row per contract term. A renewal is a new row starting at, or within "
                "the grace period after, the previous end; an upgrade mid-term is a new row "
                "that starts before the previous one ends."
            ),
            key=("contract_id",),
            event_time="start_date",
            feature_family="contract",
            columns=(
                _c("contract_id", "id", True, "Unique contract identifier."),
                _c("account_id", "id", True, "The account holding the contract."),
                _c("start_date", "timestamp", True, "First day covered."),
                _c(
                    "end_date",
                    "timestamp",
                    True,
                    "First day no longer covered (exclusive end). Billing systems often "
                    "rewrite it at cancellation: it is read only for what is past at a "
                    "snapshot and for churn labels.",
                ),
                _c(
                    "arr",
                    "number",
                    True,
                    "Annual recurring revenue, account currency per year.",
                    minimum=0,
                ),
                _c("plan", "text", False, "Plan or product tier."),
                _c("seats", "number", False, "Licensed seats.", minimum=0),
                _c(
                    "billing_period",
                    "text",
                    False,
                    "Term length: month, quarter, halfyear (semiannual), year, or a whole "
                    "number of months (24, 36). Renewal dates follow this term grid, not "
                    "end_date.",
                ),
                _c("auto_renew", "bool", False, "Whether the term renews unless cancelled."),
                _c(
                    "scheduled_end",
                    "timestamp",
                    False,
                    "The term end as signed, when the export keeps it beside an end_date "
                    "that a cancellation may rewrite.",
                ),
                _c(
                    "canceled_at",
                    "timestamp",
                    False,
                    "When a cancellation was recorded (empty if none); known from that day on.",
                ),
            ),
        ),
        TableSpec(
            "logins",
            required=False,
            description="One row per user login or session.",
            event_time="ts",
            feature_family="usage",
            columns=(
                _c("account_id", "id", True, "The account."),
                _c("user_id", "id", True, "The user who logged in."),
                _c("ts", "timestamp", True, "When."),
            ),
        ),
        TableSpec(
            "feature_usage",
            required=False,
            description=(
                "Product feature usage events. Exports that are already daily counts put the "
                "count in `quantity`."
            ),
            event_time="ts",
            feature_family="adoption",
            columns=(
                _c("account_id", "id", True, "The account."),
                _c("feature", "text", True, "Feature name."),
                _c("ts", "timestamp", True, "When (or the day of a daily count)."),
                _c("user_id", "id", False, "The user."),
                _c("quantity", "number", False, "Events in this row (default 1).", minimum=0),
            ),
        ),
        TableSpec(
            "support_tickets",
            required=False,
            description="One row per support ticket.",
            key=("ticket_id",),
            event_time="opened_at",
            feature_family="support",
            columns=(
                _c("ticket_id", "id", True, "Unique ticket identifier."),
                _c("account_id", "id", True, "The account."),
                _c("opened_at", "timestamp", True, "When the ticket was opened."),
                _c("closed_at", "timestamp", False, "When it was resolved; empty while open."),
                _c("priority", "text", False, "low, normal, high or urgent."),
                _c("category", "text", False, "Ticket category."),
                _c("csat", "number", False, "Satisfaction rating 1-5.", minimum=1, maximum=5),
                _c("escalated", "bool", False, "Whether the ticket was escalated."),
            ),
        ),
        TableSpec(
            "nps_responses",
            required=False,
            description="One row per NPS survey response.",
            event_time="responded_at",
            feature_family="satisfaction",
            columns=(
                _c("account_id", "id", True, "The account."),
                _c("responded_at", "timestamp", True, "When the response was given."),
                _c(
                    "score",
                    "integer",
                    True,
                    "Likelihood to recommend, 0-10.",
                    minimum=0,
                    maximum=10,
                ),
                _c("user_id", "id", False, "The respondent."),
                _c("comment", "text", False, "Free-text comment."),
            ),
        ),
        TableSpec(
            "churn_events",
            required=False,
            description="Churns as logged by the CS team (optional churn definition).",
            event_time="churned_at",
            columns=(
                _c("account_id", "id", True, "The account."),
                _c("churned_at", "timestamp", True, "When the account churned."),
                _c("reason", "text", False, "Logged reason."),
            ),
        ),
        TableSpec(
            "playbook_actions",
            required=False,
            description=(
                "Plays the CS team ran: one row per playbook started on an account. Read by "
                "`healthscore outcomes` only, never by the model; without it the past score "
                "files are the record of what was recommended."
            ),
            event_time="started_at",
            model_input=False,
            columns=(
                _c("account_id", "id", True, "The account."),
                _c("playbook_id", "id", True, "The playbook run (an id of the catalogue)."),
                _c("started_at", "timestamp", True, "When the team started the play."),
                _c("completed_at", "timestamp", False, "When the play was completed."),
                _c("owner", "text", False, "Who ran it (CSM, team or programme)."),
                _c("outcome", "text", False, "What the owner recorded, e.g. completed."),
            ),
        ),
    )
}

#: Tables in a fixed, documented order.
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
#: Event tables whose rows must fall before the data's end.
EVENT_TABLES: tuple[str, ...] = ("logins", "feature_usage", "support_tickets", "nps_responses")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")


def contract_markdown() -> str:
    """The contract as a Markdown table per table, for the docs and ``validate --help``."""
    lines: list[str] = []
    for spec in TABLES.values():
        need = "required" if spec.required else "optional"
        lines += [f"### `{spec.name}` ({need})", "", spec.description, ""]
        lines += ["| column | kind | required | meaning |", "|---|---|---|---|"]
        for col in spec.columns:
            lines.append(
                f"| `{col.name}` | {col.kind} | {'yes' if col.required else 'no'} "
                f"| {col.description} |"
            )
        lines.append("")
    return "\n".join(lines)
