"""A starter config for someone else's exports: best guesses, written for a person to confirm.

:func:`guess_config` is a pure function of the table and column names found (and, through an
optional callback, a few distinct values of some columns). It matches export names to the
contract's tables and column names to the contract's columns with plain synonym lists, and
proposes the usual mapping pieces where a required column is missing:

* ``arr`` from a monthly amount (``derive.arr = "mrr * 12"``);
* ``contract_id`` from the account, the start and the plan (a composite key);
* ``end_date``, where missing, from the start and a billing period
  (``start_date + billing_period``);
* ``created_at`` of the accounts from their first contract start (a join);
* ``account_id`` of an event table through another export sharing a key (usage exported per
  subscription);
* the name of a feature from a lookup table (``event_type_id`` -> ``event_type.csv``);
* logins from a count of daily active users (``expand``);
* billing periods and ticket priorities recoded to the contract's words;
* columns that look like the outcome (``churn_flag``) dropped.

:func:`write_starter_config` reads the names from a folder, a DuckDB file or a database URL
and writes the TOML, with a comment on every guess, atomically, refusing to overwrite.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from healthscore.config import config_from_dict
from healthscore.errors import ConfigError
from healthscore.schema import TABLES
from healthscore.sources import open_tables
from healthscore.storage import write_text

#: Reads a few distinct values of ``(export, column)``.
ValuesOf = Callable[[str, str], list[str]]

TABLE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "accounts": (
        "account",
        "customer",
        "company",
        "client",
        "organization",
        "organisation",
        "org",
        "tenant",
    ),
    "contracts": (
        "contract",
        "subscription",
        "license",
        "licence",
        "agreement",
        "billing",
        "sub",
        "plan",
    ),
    "logins": ("login", "session", "signin", "sign in", "active user", "dau", "visit"),
    "feature_usage": (
        "feature usage",
        "usage",
        "event",
        "feature",
        "product event",
        "activity",
        "action",
    ),
    "support_tickets": ("support ticket", "ticket", "support", "case", "helpdesk"),
    "nps_responses": ("nps", "survey", "nps response"),
    "churn_events": ("churn", "cancellation", "cancel"),
    "playbook_actions": ("playbook action", "playbook", "cs play", "success play"),
}
#: Export names that are rarely the table to read.
DISCOURAGED = ("sample", "test", "tmp", "temp", "backup", "old", "copy")

_ACCOUNT_ID = (
    "account_id",
    "accountid",
    "customer_id",
    "company_id",
    "client_id",
    "org_id",
    "organization_id",
    "tenant_id",
    "account",
    "customer",
)
_USER_ID = ("user_id", "userid", "user", "member_id", "contact_id", "person_id", "visitor_id")
COLUMN_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "account_id": _ACCOUNT_ID + ("id",),
        "created_at": (
            "created_at",
            "created",
            "signup_date",
            "signup_at",
            "sign_up_date",
            "signed_up_at",
            "registration_date",
            "registered_at",
            "join_date",
            "joined_at",
            "created_date",
            "customer_since",
            "account_created_at",
        ),
        "name": ("name", "account_name", "company_name", "customer_name", "display_name"),
        "industry": ("industry", "vertical", "sector"),
        "segment": (
            "segment",
            "market_segment",
            "customer_segment",
            "size_segment",
            "tier",
            "plan_tier",
        ),
        "region": ("region", "country", "geo", "territory", "country_code", "location", "state"),
        "employees": ("employees", "employee_count", "headcount", "num_employees", "company_size"),
    },
    "contracts": {
        "contract_id": (
            "contract_id",
            "subscription_id",
            "sub_id",
            "agreement_id",
            "license_id",
            "id",
        ),
        "account_id": _ACCOUNT_ID,
        "start_date": (
            "start_date",
            "started_at",
            "start",
            "start_at",
            "period_start",
            "current_period_start",
            "begin_date",
            "effective_date",
            "contract_start",
        ),
        "end_date": (
            "end_date",
            "ended_at",
            "end",
            "end_at",
            "period_end",
            "current_period_end",
            "expiry_date",
            "expires_at",
            "expiration_date",
            "contract_end",
        ),
        "arr": (
            "arr",
            "arr_amount",
            "annual_recurring_revenue",
            "acv",
            "annual_value",
            "annual_amount",
            "arr_usd",
        ),
        "plan": ("plan", "plan_tier", "plan_name", "tier", "product", "product_name", "edition"),
        "seats": ("seats", "seat_count", "licenses", "licensed_seats", "quantity", "user_limit"),
        "billing_period": (
            "billing_period",
            "billing_frequency",
            "billing_cycle",
            "billing_interval",
            "bill_period",
            "bill_period_months",
            "interval",
            "plan_interval",
        ),
        "auto_renew": (
            "auto_renew",
            "auto_renew_flag",
            "autorenew",
            "auto_renewal",
            "is_auto_renew",
        ),
    },
    "logins": {
        "account_id": _ACCOUNT_ID,
        "user_id": _USER_ID,
        "ts": (
            "ts",
            "timestamp",
            "login_at",
            "logged_in_at",
            "login_time",
            "login_date",
            "event_time",
            "event_date",
            "time",
            "date",
            "day",
            "session_start",
            "started_at",
            "created_at",
        ),
    },
    "feature_usage": {
        "account_id": _ACCOUNT_ID,
        "feature": (
            "feature",
            "feature_name",
            "event_name",
            "event_type_name",
            "event_type",
            "event",
            "action",
            "feature_id",
            "event_type_id",
        ),
        "ts": (
            "ts",
            "timestamp",
            "usage_date",
            "used_at",
            "event_time",
            "event_date",
            "occurred_at",
            "time",
            "date",
            "day",
            "created_at",
        ),
        "user_id": _USER_ID,
        "quantity": (
            "quantity",
            "usage_count",
            "count",
            "n_events",
            "events",
            "event_count",
            "uses",
        ),
    },
    "support_tickets": {
        "ticket_id": ("ticket_id", "case_id", "issue_id", "id"),
        "account_id": _ACCOUNT_ID,
        "opened_at": (
            "opened_at",
            "created_at",
            "submitted_at",
            "opened",
            "created",
            "created_date",
            "open_date",
            "reported_at",
        ),
        "closed_at": (
            "closed_at",
            "resolved_at",
            "solved_at",
            "closed",
            "resolution_date",
            "closed_date",
        ),
        "priority": ("priority", "severity", "urgency"),
        "category": ("category", "type", "topic", "issue_type", "ticket_type"),
        "csat": (
            "csat",
            "satisfaction_score",
            "satisfaction",
            "csat_score",
            "satisfaction_rating",
            "rating",
        ),
        "escalated": ("escalated", "escalation_flag", "is_escalated", "escalation"),
    },
    "nps_responses": {
        "account_id": _ACCOUNT_ID,
        "responded_at": (
            "responded_at",
            "submitted_at",
            "response_date",
            "answered_at",
            "survey_date",
            "created_at",
            "date",
        ),
        "score": ("score", "nps", "nps_score", "likelihood_to_recommend", "rating"),
        "user_id": _USER_ID,
        "comment": ("comment", "feedback", "feedback_text", "verbatim", "text"),
    },
    "churn_events": {
        "account_id": _ACCOUNT_ID,
        "churned_at": (
            "churned_at",
            "churn_date",
            "cancelled_at",
            "canceled_at",
            "cancellation_date",
            "cancel_date",
            "churned_on",
            "date",
        ),
        "reason": ("reason", "reason_code", "churn_reason", "cancellation_reason", "cancel_reason"),
    },
    "playbook_actions": {
        "account_id": _ACCOUNT_ID,
        "playbook_id": ("playbook_id", "playbook", "play_id", "play"),
        "started_at": ("started_at", "start_date", "started", "started_on", "created_at"),
        "completed_at": ("completed_at", "completed", "completed_on", "closed_at", "done_at"),
        "owner": ("owner", "csm", "assignee", "assigned_to"),
        "outcome": ("outcome", "result", "status"),
    },
}
MONTHLY_AMOUNT = (
    "mrr",
    "mrr_amount",
    "monthly_recurring_revenue",
    "mrr_usd",
    "monthly_amount",
    "monthly_price",
)
USER_COUNTS = ("active_users", "daily_active_users", "dau", "n_users", "users", "user_count")
OUTCOME_COLUMNS = ("churn_flag", "churned", "is_churned", "has_churned", "churn")
PERIOD_WORDS = {
    "month": ("month", "monthly", "mthly", "mo", "1"),
    "year": ("year", "yearly", "annual", "annually", "12"),
}
PRIORITY_WORDS = {
    "normal": ("medium", "med", "moderate", "standard", "p3"),
    "low": ("lowest", "p4", "minor"),
    "high": ("p2", "major"),
    "urgent": ("critical", "highest", "blocker", "p1", "emergency"),
}


def normalise(name: str) -> str:
    """Lower case, runs of other characters as one ``_``: ``"Signup Date"`` -> ``signup_date``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _tokens(name: str) -> list[str]:
    return [
        t[:-1] if len(t) > 3 and t.endswith("s") and not t.endswith("ss") else t
        for t in normalise(name).split("_")
        if t
    ]


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


def name_score(export: str, table: str) -> int:
    """How strongly an export's name points at a contract table (0: not at all)."""
    tokens = _tokens(export)
    best = 0
    for phrase in TABLE_SYNONYMS[table]:
        words = _tokens(phrase)
        if _contains(tokens, words):
            best = max(best, 10 * len(words))
    if best and any(t in DISCOURAGED for t in tokens):
        best -= 5
    return best


def match_columns(
    table: str, columns: Sequence[str], *, taken: set[str] | None = None
) -> dict[str, str]:
    """Contract column -> the export's column, by synonym (first synonym found wins)."""
    by_norm: dict[str, str] = {}
    for column in columns:
        by_norm.setdefault(normalise(column), column)
    used = set(taken or ())
    found: dict[str, str] = {}
    for contract, synonyms in COLUMN_SYNONYMS[table].items():
        for synonym in synonyms:
            match = by_norm.get(synonym)
            if match is not None and match not in used:
                found[contract] = match
                used.add(match)
                break
    return found


@dataclass
class TableGuess:
    """The guessed mapping of one contract table."""

    table: str
    source: str
    columns: dict[str, str] = field(default_factory=dict)
    join: dict[str, str] | None = None
    derive: dict[str, str | list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    expand: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        """Required contract columns that no guess provides."""
        provided = set(self.columns) | set(self.derive)
        if self.expand:
            provided.add("user_id")
        return [c for c in TABLES[self.table].required_columns if c not in provided]


@dataclass
class ConfigGuess:
    """Every table's guess, and what was left over."""

    origin: str
    exports: dict[str, list[str]]
    tables: dict[str, TableGuess] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    @property
    def optional_tables(self) -> list[str]:
        return [t for t in self.tables if not TABLES[t].required]

    def to_toml(self, *, config_name: str = "healthscore.toml") -> str:
        """The starter config as commented TOML."""
        return render_toml(self, config_name=config_name)


def _assign(exports: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Contract table -> export, greedily by name and column evidence."""
    candidates = []
    for export, columns in exports.items():
        for table, spec in TABLES.items():
            by_name = name_score(export, table)
            if not by_name:
                continue
            matched = match_columns(table, columns)
            required = sum(c in matched for c in spec.required_columns)
            score = by_name + 3 * required + sum(c not in spec.required_columns for c in matched)
            candidates.append((score, by_name, export, table))
    chosen: dict[str, str] = {}
    for _, _, export, table in sorted(candidates, key=lambda c: (-c[0], -c[1], c[2], c[3])):
        if table not in chosen and export not in chosen.values():
            chosen[table] = export
    return {t: chosen[t] for t in TABLES if t in chosen}


def _first(columns: Sequence[str], names: Sequence[str]) -> str | None:
    by_norm = {normalise(c): c for c in columns}
    return next((by_norm[n] for n in names if n in by_norm), None)


def _recode(values: list[str], words: Mapping[str, Sequence[str]]) -> dict[str, str]:
    recode: dict[str, str] = {}
    for value in values:
        key = value.strip().lower()
        for target, synonyms in words.items():
            if key in synonyms and key != target:
                recode[value.strip()] = target
    return recode


def guess_config(
    exports: Mapping[str, Sequence[str]],
    *,
    values_of: ValuesOf | None = None,
    origin: str = "data",
) -> ConfigGuess:
    """Guess how the exports map onto the contract.

    Parameters
    ----------
    exports
        Export (file stem or database table) -> its column names.
    values_of
        Optional: a few distinct values of an export's column, used to recode billing
        periods and priorities.
    origin
        Where the exports came from, for the comments.

    Examples
    --------
    >>> guess = guess_config({"customers": ["id", "signup_date"],
    ...                       "subscriptions": ["id", "customer_id", "start", "end", "mrr"]})
    >>> guess.tables["accounts"].columns
    {'account_id': 'id', 'created_at': 'signup_date'}
    >>> guess.tables["contracts"].derive
    {'arr': 'mrr * 12'}
    """
    listed = {name: list(columns) for name, columns in exports.items()}
    assigned = _assign(listed)
    guess = ConfigGuess(origin, listed)
    for table, export in assigned.items():
        columns = exports[export]
        tg = TableGuess(table, export, match_columns(table, columns))
        tg.drop = [
            c for c in columns if normalise(c) in OUTCOME_COLUMNS and c not in tg.columns.values()
        ]
        guess.tables[table] = tg
    guess.unused = [e for e in exports if e not in assigned.values()]
    _contracts(guess, values_of)
    _accounts(guess)
    for table in (
        "logins",
        "feature_usage",
        "support_tickets",
        "nps_responses",
        "churn_events",
        "playbook_actions",
    ):
        if table in guess.tables:
            _account_through_join(guess, guess.tables[table])
    if "feature_usage" in guess.tables:
        _feature_names(guess, guess.tables["feature_usage"])
    if "logins" in guess.tables:
        _logins_from_counts(guess, guess.tables["logins"])
    if "support_tickets" in guess.tables and values_of is not None:
        tg = guess.tables["support_tickets"]
        if "priority" in tg.columns:
            recode = _recode(values_of(tg.source, tg.columns["priority"]), PRIORITY_WORDS)
            if recode:
                tg.values["priority"] = recode
    return guess


def _contracts(guess: ConfigGuess, values_of: ValuesOf | None) -> None:
    tg = guess.tables.get("contracts")
    if tg is None:
        return
    columns = guess.exports[tg.source]
    if "arr" not in tg.columns:
        mrr = _first(columns, MONTHLY_AMOUNT)
        if mrr is not None:
            tg.derive["arr"] = f"{mrr} * 12"
            tg.notes.append(f"arr: derived from the monthly amount {mrr!r} x 12")
    if "contract_id" not in tg.columns:
        parts = ["account_id", "start_date"] + (["plan"] if "plan" in tg.columns else [])
        if all(p in tg.columns for p in parts):
            tg.derive["contract_id"] = parts
            tg.notes.append("contract_id: no id column; made from " + ", ".join(parts))
    if "billing_period" in tg.columns:
        if "start_date" in tg.columns:
            tg.derive["end_date"] = "start_date + billing_period"
            tg.notes.append("end_date: where it is missing, one billing period after the start")
        if values_of is not None:
            recode = _recode(values_of(tg.source, tg.columns["billing_period"]), PERIOD_WORDS)
            if recode:
                tg.values["billing_period"] = recode


def _accounts(guess: ConfigGuess) -> None:
    tg = guess.tables.get("accounts")
    contracts = guess.tables.get("contracts")
    if tg is None or "created_at" in tg.columns or contracts is None:
        return
    key, start = tg.columns.get("account_id"), contracts.columns.get("start_date")
    their_key = contracts.columns.get("account_id")
    if not (key and start and their_key) or start in guess.exports[tg.source]:
        return
    tg.join = {
        "table": contracts.source,
        "on": key,
        "right_on": their_key,
        "take": start,
        "aggregate": "min",
    }
    if their_key == key:
        del tg.join["right_on"]
    tg.columns["created_at"] = start
    tg.notes.append("created_at: no sign-up date; the start of the first contract")


def _account_through_join(guess: ConfigGuess, tg: TableGuess) -> None:
    """An event table without an account column: find it through a shared key."""
    if "account_id" in tg.columns:
        return
    columns = guess.exports[tg.source]
    for key in columns:
        if not normalise(key).endswith("_id") or normalise(key) in _USER_ID:
            continue
        for export, other in guess.exports.items():
            if export == tg.source or key not in other:
                continue
            account = _first(other, _ACCOUNT_ID)
            if account is None or account in columns:
                continue
            tg.join = {"table": export, "on": key, "take": account}
            tg.columns["account_id"] = account
            tg.notes.append(f"account_id: through {key!r} of {export!r}")
            return


def _feature_names(guess: ConfigGuess, tg: TableGuess) -> None:
    """A feature given as an id: take its name from a lookup table when there is one."""
    feature = tg.columns.get("feature")
    if feature is None or not normalise(feature).endswith("_id") or tg.join is not None:
        return
    stem = normalise(feature)[: -len("_id")]
    for export in guess.unused:
        other = guess.exports[export]
        if feature not in other or normalise(export).rstrip("s") != stem.rstrip("s"):
            continue
        name = _first(other, (f"{stem}_name", "name", "title", "label", "description"))
        if name is None or name in guess.exports[tg.source]:
            continue
        tg.join = {"table": export, "on": feature, "take": name}
        tg.columns["feature"] = name
        tg.notes.append(f"feature: the name from {export!r}")
        guess.unused.remove(export)
        return


def _logins_from_counts(guess: ConfigGuess, tg: TableGuess) -> None:
    if "user_id" in tg.columns:
        return
    count = _first(guess.exports[tg.source], USER_COUNTS)
    if count is not None:
        tg.expand = count
        tg.notes.append(f"user_id: none; each row counts {count!r} users, numbered 1..n")


# --------------------------------------------------------------------------- TOML


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table_lines(tg: TableGuess) -> list[str]:
    spec = TABLES[tg.table]
    lines = [f"[data.tables.{tg.table}]", f"source = {_value(tg.source)}"]
    lines += [f"# {note}" for note in tg.notes]
    if tg.drop:
        lines.append(f"drop = {_value(tg.drop)}  # looks like the outcome: it would leak")
    if tg.join:
        lines.append(f"join = {_value(tg.join)}")
    if tg.expand:
        lines.append(f"expand = {_value(tg.expand)}")
    lines.append(f"[data.tables.{tg.table}.columns]")
    same = []
    for column in spec.columns:
        user = tg.columns.get(column.name)
        need = "required" if column.required else "optional"
        if user == column.name:
            same.append(column.name)
        elif user is not None:
            lines.append(f"{_key(column.name)} = {_value(user)}")
        elif column.name not in tg.derive and not (column.name == "user_id" and tg.expand):
            lines.append(f'# {column.name} = "?"  # {need}, not found: {column.description}')
    if same:
        lines.append(f"# read as they are: {', '.join(same)}")
    if tg.derive:
        lines.append(f"[data.tables.{tg.table}.derive]")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in tg.derive.items()]
    for name, recode in tg.values.items():
        lines.append(f"[data.tables.{tg.table}.values.{_key(name)}]")
        lines += [f"{_key(k)} = {_value(v)}" for k, v in recode.items()]
    return lines


def render_toml(guess: ConfigGuess, *, config_name: str = "healthscore.toml") -> str:
    """The guess as a commented TOML config."""
    lines = [
        f"# Starter config for {guess.origin}, guessed from its table and column names.",
        "# Check every line, fill in what is marked '?', then run:",
        f"#   healthscore validate --data {guess.origin} --config {config_name}",
        "# Mapping reference: docs/own-data.md.",
        "#",
        f"# Tables found: {', '.join(guess.exports) or 'none'}",
    ]
    if guess.unused:
        lines.append(f"# Not used: {', '.join(guess.unused)}")
    missing_tables = [t for t, s in TABLES.items() if s.required and t not in guess.tables]
    for table in missing_tables:
        lines.append(
            f"# REQUIRED table {table} not recognised: set [data.tables.{table}] "
            'source = "<your table>"'
        )
    absent = [t for t, s in TABLES.items() if not s.required and t not in guess.tables]
    if absent:
        lines.append(f"# Not found (their features are off): {', '.join(absent)}")
    lines += [
        "",
        "[data]",
        '# end = "YYYY-MM-DD"  # exclusive end of the history; default: the day after the '
        "latest activity",
        f"optional_tables = {_value(guess.optional_tables)}",
    ]
    for tg in guess.tables.values():
        lines += ["", *_table_lines(tg)]
    if "churn_events" in guess.tables:
        lines += [
            "",
            "[labels]",
            "# The export logs churn: use it, not gaps in the contracts.",
            'churn_source = "churn_events"',
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- I/O


def inspect_data(data: str | Path) -> tuple[dict[str, list[str]], ValuesOf, str]:
    """The exports of ``data`` with their columns, a values reader, and the origin."""

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    tables = open_tables(data, con)
    exports = {name: tables.columns(name) for name in tables.names()}

    def values_of(export: str, column: str) -> list[str]:
        return tables.distinct_values(export, column)

    return exports, values_of, tables.origin


def write_starter_config(data: str | Path, out: str | Path, *, force: bool = False) -> ConfigGuess:
    """Inspect ``data`` and write a starter config to ``out`` (atomically).

    Raises :class:`~healthscore.errors.ConfigError` if ``out`` exists and ``force`` is false.
    """

    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} already exists; pass --force to overwrite it")
    exports, values_of, origin = inspect_data(data)
    if not exports:
        raise ConfigError(
            f"{origin}: no tables found (expected .csv/.parquet files or database tables)"
        )
    guess = guess_config(exports, values_of=values_of, origin=str(data))
    text = guess.to_toml(config_name=str(out))
    config_from_dict(tomllib.loads(text), origin="the starter config")  # a bug if it fails
    write_text(text, out)
    return guess
