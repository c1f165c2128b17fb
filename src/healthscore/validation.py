"""Check a data set against the input contract and report every problem at once.

Each check is one SQL query over the source's DuckDB views, so validating a large event log
never loads it into pandas. A problem names the table, the column, how many rows are at
fault and up to five example rows; errors (later steps would be wrong) are kept apart from
warnings (later steps work, with less: an optional table is missing, say).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from healthscore.config import Config
from healthscore.contract_terms import (
    ACCEPTED_PERIODS,
    measure_rewrites,
    term_months_sql,
    unknown_term_notice,
)
from healthscore.errors import SchemaError
from healthscore.features.build import switched_off
from healthscore.schema import EVENT_TABLES, PRIORITIES, TABLES, Column
from healthscore.sql import quote, typed_expression
from healthscore.storage import DataSource, open_source

Severity = Literal["error", "warning"]
EXAMPLES = 5
#: Share of last contracts ending off their term grid above which validation warns.
REWRITE_SHARE = 0.05
_FAMILY_OF = {name: spec.feature_family for name, spec in TABLES.items()}


@dataclass(frozen=True)
class Problem:
    """One finding of validation."""

    severity: Severity
    table: str
    column: str | None
    count: int
    message: str
    examples: tuple[dict[str, object], ...] = ()

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = f" ({self.count} row{'s' if self.count != 1 else ''})" if self.count else ""
        text = f"[{self.severity}] {where}: {self.message}{rows}"
        for example in self.examples:
            shown = ", ".join(f"{k}={v}" for k, v in example.items())
            text += f"\n      e.g. {shown}"
        return text


@dataclass
class ValidationReport:
    """All problems found in one data set."""

    origin: str
    problems: list[Problem] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    data_end: pd.Timestamp | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def describe(self) -> str:
        lines = [f"{self.origin}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"]
        lines += [p.describe() for p in self.errors + self.warnings]
        return "\n".join(lines)

    def raise_for_errors(self) -> None:
        """Raise :class:`SchemaError` listing every error, if there is any."""
        if self.errors:
            raise SchemaError(
                "the data breaks the input contract; fix these and run "
                "`healthscore validate` again:\n" + "\n".join(p.describe() for p in self.errors)
            )


def _examples(source: DataSource, table: str, columns: list[str], where: str) -> tuple:
    cols = ", ".join(quote(c) for c in dict.fromkeys(columns))
    rows = source.con.sql(f"SELECT {cols} FROM {quote(table)} WHERE {where} LIMIT {EXAMPLES}")
    frame = rows.df()
    return tuple(
        {k: (None if pd.isna(v) else str(v)) for k, v in rec.items()}
        for rec in frame.to_dict("records")
    )


def _unparseable(table: str, column: Column) -> str:
    """The message for values that do not parse, with the fix for dates in another layout."""
    message = f"values that do not parse as {column.kind}"
    if column.kind == "timestamp":
        message += (
            f"; if they are dates in another layout, give it in [data.tables.{table}.formats] "
            f'(e.g. {column.name} = "%d/%m/%Y", or "epoch_s" / "epoch_ms" for Unix times)'
        )
    return message


def _count(source: DataSource, relation: str, where: str) -> int:
    return int(source.scalar(f"SELECT count(*) FROM {relation} WHERE {where}"))


class _Checker:
    """Runs the checks of one source and collects the problems."""

    def __init__(self, source: DataSource, report: ValidationReport, grace_days: int) -> None:
        self.source = source
        self.report = report
        self.grace_days = grace_days

    def flag(
        self,
        severity: Severity,
        table: str,
        column: str | None,
        where: str,
        message: str,
        *,
        show: list[str] | None = None,
        raw: bool = False,
    ) -> None:
        relation = ("raw_" if raw else "") + table
        spec = TABLES[table]
        extra: list[str | None] = list(show) if show else [column]
        shown = list(spec.key or ("account_id",)) + [c for c in extra if c]
        shown = [c for c in shown if self.source.has_column(table, c)]
        # Examples first: on clean data (the common case) the LIMIT query stops early and
        # the full count is never needed.
        examples = _examples(self.source, relation, shown, where)
        if not examples:
            return
        count = _count(self.source, quote(relation), where)
        self.report.problems.append(Problem(severity, table, column, count, message, examples))

    def table(self, name: str) -> None:
        spec = TABLES[name]
        n = int(self.source.scalar(f"SELECT count(*) FROM {quote(name)}"))
        self.report.row_counts[name] = n
        if n == 0:
            severity: Severity = "error" if spec.required else "warning"
            self.report.problems.append(Problem(severity, name, None, 0, "the table is empty"))
            return
        for col in spec.columns:
            if not self.source.has_column(name, col.name):
                continue
            q = quote(col.name)
            if col.required:
                self.flag(
                    "error",
                    name,
                    col.name,
                    f"NULLIF(TRIM(CAST({q} AS VARCHAR)), '') IS NULL",
                    "missing values in a required column",
                    raw=True,
                )
            if col.kind in ("timestamp", "number", "integer", "bool"):
                self.flag(
                    "error",
                    name,
                    col.name,
                    f"NULLIF(TRIM(CAST({q} AS VARCHAR)), '') IS NOT NULL "
                    f"AND {typed_expression(q, col)} IS NULL",
                    _unparseable(name, col),
                    show=[col.name],
                    raw=True,
                )
            if col.minimum is not None:
                self.flag(
                    "error", name, col.name, f"{q} < {col.minimum}", f"values below {col.minimum:g}"
                )
            if col.maximum is not None:
                self.flag(
                    "error", name, col.name, f"{q} > {col.maximum}", f"values above {col.maximum:g}"
                )
        if spec.key:
            self._duplicates(name, list(spec.key))
        if name != "accounts" and "accounts" in self.source.present:
            self.flag(
                "error",
                name,
                "account_id",
                "account_id IS NOT NULL AND account_id NOT IN "
                "(SELECT account_id FROM accounts WHERE account_id IS NOT NULL)",
                "rows of accounts that are not in the accounts table",
            )
        if spec.event_time and name in EVENT_TABLES and not pd.isna(self.report.data_end):
            end = pd.Timestamp(self.report.data_end).isoformat()
            self.flag(
                "error",
                name,
                spec.event_time,
                f"{quote(spec.event_time)} >= TIMESTAMP '{end}'",
                f"events dated on or after the data's end ({end[:10]})",
            )

    def numbers(self, name: str, max_number: float) -> None:
        """Numbers that parse but would poison every sum and ranking: NaN, infinities, and
        values beyond ``max_number`` in absolute value (``data.max_number``)."""
        for col in TABLES[name].columns:
            if col.kind != "number" or not self.source.has_column(name, col.name):
                continue
            # On the raw view, so that the examples show the values as written ("NaN").
            value = typed_expression(quote(col.name), col)
            self.flag(
                "error",
                name,
                col.name,
                f"NOT isfinite({value})",
                "values that are NaN or infinite; leave the cell empty where the value is unknown",
                raw=True,
            )
            self.flag(
                "error",
                name,
                col.name,
                f"isfinite({value}) AND abs({value}) > {float(max_number)!r}",
                f"values beyond {max_number:g} in absolute value; fix them in the export, or "
                "raise data.max_number in the config if they are real",
                raw=True,
            )

    def _duplicates(self, name: str, key: list[str]) -> None:
        keys = ", ".join(quote(k) for k in key)
        where = (
            (
                f"({keys}) IN (SELECT ({keys}) FROM {quote(name)} GROUP BY {keys} "
                "HAVING count(*) > 1)"
            )
            if len(key) > 1
            else (
                f"{keys} IN (SELECT {keys} FROM {quote(name)} GROUP BY {keys} HAVING count(*) > 1)"
            )
        )
        self.flag("error", name, key[0], where, f"duplicate {'/'.join(key)} values")

    def _contract_terms(self) -> None:
        """Billing periods that are no term, rewritten end dates, terms left unknown."""
        if self.source.has_column("contracts", "billing_period"):
            bad = "NULLIF(TRIM(billing_period), '') IS NOT NULL AND " + (
                f"{term_months_sql('billing_period')} IS NULL"
            )
            values = self.source.con.execute(
                f"SELECT DISTINCT billing_period FROM contracts WHERE {bad} ORDER BY 1 LIMIT 10"
            ).fetchall()
            if values:
                found = ", ".join(repr(v[0]) for v in values)
                self.flag(
                    "error",
                    "contracts",
                    "billing_period",
                    bad,
                    f"billing periods must be {ACCEPTED_PERIODS}; found {found}. Recode "
                    "yours in [data.tables.contracts.values.billing_period] of the config "
                    '(e.g. monthly = "month")',
                )
                return
        if self.report.errors:
            return
        notice = unknown_term_notice(self.source, grace_days=self.grace_days)
        if notice:
            self.report.problems.append(
                Problem("warning", "contracts", "billing_period", 0, notice)
            )
        measure = measure_rewrites(self.source, grace_days=self.grace_days)
        if measure.last_off_grid and measure.last_share >= REWRITE_SHARE:
            self.report.problems.append(
                Problem(
                    "warning",
                    "contracts",
                    "end_date",
                    measure.last_off_grid,
                    f"{measure.last_off_grid:,} of the {measure.last_ended:,} accounts' last "
                    f"contracts that ended ({measure.last_share:.0%}; {measure.off_grid:,} of "
                    f"{measure.ended:,} ended contracts in all) end more than "
                    f"{self.grace_days} days off their term grid (start_date plus whole "
                    "billing periods): the mark of an export that rewrites end_date when a "
                    "customer cancels mid-term. Features read renewal dates from the term "
                    "grid, so they stay point-in-time; labels take such an end_date as the "
                    "churn date. If your system records the cancellation, map canceled_at "
                    "(and the signed term end as scheduled_end); see "
                    "docs/own-data.md#point-in-time-traps",
                )
            )

    def rules(self) -> None:
        has = self.source.has
        if has("contracts"):
            self.flag(
                "error",
                "contracts",
                "end_date",
                "end_date <= start_date",
                "contracts that end on or before they start",
                show=["start_date", "end_date"],
            )
            self._contract_terms()
        if has("support_tickets"):
            if self.source.has_column("support_tickets", "closed_at"):
                self.flag(
                    "error",
                    "support_tickets",
                    "closed_at",
                    "closed_at < opened_at",
                    "tickets closed before they were opened",
                    show=["opened_at", "closed_at"],
                )
            if self.source.has_column("support_tickets", "priority"):
                allowed = ", ".join(f"'{p}'" for p in PRIORITIES)
                self.flag(
                    "warning",
                    "support_tickets",
                    "priority",
                    f"priority IS NOT NULL AND lower(priority) NOT IN ({allowed})",
                    f"priorities other than {', '.join(PRIORITIES)} count as normal",
                )
        if has("logins"):
            self.flag(
                "warning",
                "logins",
                "ts",
                "(account_id, user_id, ts) IN (SELECT (account_id, user_id, ts) FROM logins "
                "GROUP BY account_id, user_id, ts HAVING count(*) > 1)",
                "duplicate login rows (same account, user and time) count once",
                show=["user_id", "ts"],
            )
        by_column: dict[str, list[str]] = {}
        for feature, reason in switched_off(self.source).items():
            if reason.startswith("column "):
                by_column.setdefault(reason.split(" ")[1], []).append(feature)
        for column, features in by_column.items():
            table, name = column.split(".", 1)
            self.report.problems.append(
                Problem(
                    "warning",
                    table,
                    name,
                    0,
                    f"optional column not supplied: {', '.join(features)} "
                    f"{'is' if len(features) == 1 else 'are'} off",
                )
            )
        for name, spec in TABLES.items():
            if not spec.required and name not in self.source.present and spec.feature_family:
                self.report.problems.append(
                    Problem(
                        "warning",
                        name,
                        None,
                        0,
                        f"optional table not supplied: the '{spec.feature_family}' "
                        "features are off",
                    )
                )


def validate_source(
    source: DataSource,
    missing: dict[str, list[str]] | None = None,
    *,
    config: Config | None = None,
) -> ValidationReport:
    """Validate an opened source; ``missing`` are the gaps recorded while opening it.

    ``config`` gives the grace period (rewritten end dates) and ``data.max_number``, the bound
    on the absolute value of numeric columns.
    """
    config = config or Config()
    report = ValidationReport(source.origin, data_end=source.data_end)
    for table, columns in (missing or {}).items():
        report.problems.append(
            Problem(
                "error",
                table,
                ", ".join(columns),
                0,
                "required column(s) missing; rename yours in [data.tables."
                f"{table}.columns] of the config if they exist under other names",
            )
        )
    for name, spec in TABLES.items():
        if spec.required and name not in source.present and name not in (missing or {}):
            report.problems.append(
                Problem(
                    "error",
                    name,
                    None,
                    0,
                    f"required table not found (expected {name}.parquet or {name}.csv)",
                )
            )
    checker = _Checker(source, report, config.labels.grace_days)
    for name in TABLES:
        if name in source.present:
            checker.table(name)
            checker.numbers(name, config.data.max_number)
    checker.rules()
    return report


#: The tables scoring checks in full: small, and read for every account scored.
SCORING_TABLES: tuple[str, ...] = ("accounts", "contracts")


def check_for_scoring(source: DataSource, config: Config | None = None) -> None:
    """The checks scoring cannot do without, on the small tables only; raise if any fails.

    The accounts and contracts are checked in full (required values, dates, keys, numbers
    that are NaN, infinite or absurd): a broken ARR would put the wrong accounts at the top
    of the worklist. The event logs are checked as they are opened (tables and required
    columns); scanning every event row is ``validate`` and ``train``.
    """
    config = config or Config()
    report = ValidationReport(source.origin, data_end=source.data_end)
    checker = _Checker(source, report, config.labels.grace_days)
    for name in SCORING_TABLES:
        checker.table(name)
        checker.numbers(name, config.data.max_number)
    report.raise_for_errors()


def validated_source(path: str | Path, config: Config | None = None) -> DataSource:
    """The data opened once and checked against the contract in full.

    Raises :class:`SchemaError` listing every error; warnings are left to ``validate``.
    """
    missing: dict[str, list[str]] = {}
    source = open_source(path, config, missing_columns=missing)
    validate_source(source, missing, config=config).raise_for_errors()
    return source


def validate_data(path: str | Path, config: Config | None = None) -> ValidationReport:
    """Validate a folder of exports against the contract (after the config's renames).

    Example (illustration, not run)::

        report = validate_data("data/demo")
        report.ok, len(report.warnings)
        # -> (True, 0)
    """
    missing: dict[str, list[str]] = {}
    source = open_source(path, config, missing_columns=missing)
    return validate_source(source, missing, config=config)
