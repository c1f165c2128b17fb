"""Mapping foreign exports onto the contract: renames, joins, derivations, sources.

The fixture is a tiny export in someone else's shape, written as CSV text: customers with
day-first sign-up dates, subscriptions with a monthly amount and a billing frequency but no
end, usage per subscription, daily active users, tickets with a "Medium" priority.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Config, config_from_dict
from healthscore.derivations import parse_arithmetic, parse_derivation, parse_period_add
from healthscore.errors import ConfigError, SchemaError
from healthscore.storage import open_source
from healthscore.validation import validate_data

CUSTOMERS = """id,signup_date,vertical,churn_flag
C1,15/01/2024,fintech,False
C2,03/02/2024,edtech,True
"""
SUBSCRIPTIONS = """subscription_id,customer_id,start,mrr,billing,end,kind
S1,C1,2024-01-15,100,monthly,,base
S2,C1,2024-02-15,150.5,Monthly,,base
S3,C2,2024-02-03,200,annual,2024-06-01,base
S4,C2,2024-02-03,30,annual,,addon
"""
USAGE = """usage_id,subscription_id,day,feature_name,count
U1,S1,2024-01-20,reports,3
U2,S3,2024-02-10,export,1
U3,S9,2024-02-11,export,2
"""
DAU = """customer_id,day,active_users
C1,2024-01-20,3
C2,2024-02-10,0
C2,2024-02-11,2
"""
TICKETS = """ticket_id,customer_id,opened,priority
T1,C1,2024-01-25,Medium
T2,C2,2024-02-20,urgent
"""

MAPPING = {
    "end": "2024-03-01",
    "tables": {
        "accounts": {
            "source": "customers",
            "drop": ["churn_flag"],
            "columns": {"account_id": "id", "created_at": "signup_date", "industry": "vertical"},
            "formats": {"created_at": "%d/%m/%Y"},
        },
        "contracts": {
            "source": "subscriptions",
            "columns": {
                "contract_id": "subscription_id",
                "account_id": "customer_id",
                "start_date": "start",
                "end_date": "end",
                "billing_period": "billing",
            },
            "values": {"billing_period": {"monthly": "month", "annual": "year"}},
            "derive": {"arr": "mrr * 12", "end_date": "start_date + billing_period"},
            "keep": {"kind": "base"},
        },
        "feature_usage": {
            "source": "usage",
            "join": {"table": "contracts", "on": "subscription_id", "take": "customer_id"},
            "columns": {
                "account_id": "customer_id",
                "ts": "day",
                "feature": "feature_name",
                "quantity": "count",
            },
        },
        "logins": {
            "source": "dau",
            "expand": "active_users",
            "columns": {"account_id": "customer_id", "ts": "day"},
        },
        "support_tickets": {
            "source": "tickets",
            "columns": {"account_id": "customer_id", "opened_at": "opened"},
            "values": {"priority": {"medium": "normal"}},
        },
    },
}


def write_export(folder: Path) -> Path:
    files = {
        "customers": CUSTOMERS,
        "subscriptions": SUBSCRIPTIONS,
        "usage": USAGE,
        "dau": DAU,
        "tickets": TICKETS,
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def mapped(data: dict | None = None) -> Config:
    return config_from_dict({"data": data if data is not None else MAPPING})


def with_table(name: str, **changes: object) -> dict:
    data = {**MAPPING, "tables": dict(MAPPING["tables"])}
    data["tables"][name] = {**MAPPING["tables"][name], **changes}
    return data


@pytest.fixture
def export(tmp_path) -> Path:
    return write_export(tmp_path / "export")


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    "text", ["mrr * 12", "(mrr - discount) * 12", "-mrr + 1.5", "mrr / seats", "  mrr*12 "]
)
def test_arithmetic_accepts_names_numbers_and_the_four_operators(text):
    assert parse_arithmetic(text).columns


@pytest.mark.parametrize(
    "text",
    [
        "mrr; DROP TABLE x",
        "exp(mrr)",
        "mrr * ",
        "'12'",
        "mrr ** 2",
        "mrr * (12",
        "mrr 12",
        "mrr || 'x'",
        "",
    ],
)
def test_arithmetic_rejects_anything_else(text):
    with pytest.raises(ValueError):
        parse_arithmetic(text)


def test_period_additions():
    assert parse_period_add("start_date + billing_period").column == "billing_period"
    assert parse_period_add("start_date + 1 year").interval == "1 YEAR"
    assert parse_period_add("start_date + 2 quarters").interval == "6 MONTH"
    with pytest.raises(ValueError, match="date column plus a period"):
        parse_period_add("start_date - 1 month")


@pytest.mark.parametrize(
    ("table", "column", "value", "needle"),
    [
        ("contracts", "arr", ["mrr"], "arithmetic expression"),
        ("contracts", "end_date", "start_date * 2", "date column plus a period"),
        ("contracts", "contract_id", ["account id"], "list of column names"),
        ("contracts", "colour", "1", "has no column 'colour'"),
        ("contracts", "auto_renew", "1", "cannot be derived"),
    ],
)
def test_bad_derivations_are_refused(table, column, value, needle):
    with pytest.raises(ValueError, match=needle):
        parse_derivation(table, column, value)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"tables": {"customers": {"source": "x"}}}, "unknown table"),
        ({"optional_tables": ["accounts"]}, "not an optional table"),
        ({"tables": {"accounts": {"enabled": False}}}, "required and cannot be off"),
        ({"tables": {"contracts": {"derive": {"arr": "mrr * pi()"}}}}, "only column names"),
        ({"tables": {"accounts": {"expand": "n"}}}, "no user_id"),
        ({"tables": {"accounts": {"formats": {"created_at": "dd/mm/yyyy"}}}}, "strptime"),
    ],
)
def test_config_errors_name_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle):
        mapped(data)


# --------------------------------------------------------------------------- the mapping


def test_a_foreign_export_reads_as_the_contract(export):
    source = open_source(export, mapped())
    accounts = source.table("accounts").set_index("account_id")
    assert accounts.loc["C1", "created_at"] == pd.Timestamp("2024-01-15")
    assert accounts.loc["C2", "created_at"] == pd.Timestamp("2024-02-03")  # day first
    assert "churn_flag" not in accounts.columns
    contracts = source.table("contracts").set_index("contract_id")
    assert sorted(contracts.index) == ["S1", "S2", "S3"]  # the add-on row is not kept
    assert contracts["arr"].to_dict() == {"S1": 1200.0, "S2": 1806.0, "S3": 2400.0}
    assert contracts["end_date"].to_dict() == {
        "S1": pd.Timestamp("2024-02-15"),  # monthly: one month after the start
        "S2": pd.Timestamp("2024-03-15"),  # "Monthly": recoded ignoring case
        "S3": pd.Timestamp("2024-06-01"),  # an end given is kept
    }
    assert set(contracts["billing_period"]) == {"month", "year"}


def test_a_join_brings_the_account_and_never_duplicates_rows(export):
    usage = open_source(export, mapped()).table("feature_usage").set_index("usage_id")
    assert usage["account_id"].fillna("none").to_dict() == {"U1": "C1", "U2": "C2", "U3": "none"}
    assert usage.loc["U1", "ts"] == pd.Timestamp("2024-01-20")  # a date-only column
    assert usage.loc["U1", "quantity"] == 3.0


def test_a_join_takes_the_smallest_value_when_a_key_repeats(export):
    (export / "owners.csv").write_text("subscription_id,customer_id\nS1,C2\nS1,C1\n")
    data = with_table(
        "feature_usage", join={"table": "owners", "on": "subscription_id", "take": "customer_id"}
    )
    usage = open_source(export, mapped(data)).table("feature_usage")
    assert len(usage) == 3 and usage.set_index("usage_id").loc["U1", "account_id"] == "C1"


def test_daily_active_users_expand_to_numbered_users(export):
    logins = open_source(export, mapped()).table("logins")
    assert len(logins) == 5  # 3 + 0 + 2
    first = logins[logins["account_id"] == "C1"]
    assert sorted(first["user_id"]) == ["1", "2", "3"]
    assert (first["ts"] == pd.Timestamp("2024-01-20")).all()


def test_the_mapped_export_validates_and_recodes_values(export):
    report = validate_data(export, mapped())
    errors = [p.describe() for p in report.errors]
    assert errors == [
        "[error] feature_usage.account_id: missing values in a required column (1 row)\n"
        "      e.g. account_id=None"
    ]  # U3 names a subscription that does not exist
    assert not any(p.column == "priority" for p in report.warnings)  # Medium -> normal


def test_renamed_columns_may_be_named_either_way(export):
    data = with_table("contracts", derive={"arr": "mrr * 12", "end_date": "start + billing"})
    contracts = open_source(export, mapped(data)).table("contracts")
    assert contracts["end_date"].notna().all()


@pytest.mark.parametrize(
    ("table", "changes", "needle"),
    [
        ("contracts", {"derive": {"arr": "monthly_amount * 12"}}, "derive.arr: no column"),
        (
            "feature_usage",
            {"join": {"table": "owners", "on": "subscription_id", "take": "x"}},
            "'owners' not found",
        ),
        (
            "feature_usage",
            {"join": {"table": "contracts", "on": "sub", "take": "customer_id"}},
            "join.on: no column 'sub'",
        ),
        ("accounts", {"drop": ["colour"]}, "drop: no column 'colour'"),
        (
            "accounts",
            {"columns": {"account_id": "id", "created_at": "signup_date", "industry": "sector"}},
            "columns.industry: no column 'sector' to read industry from; the table has id, ",
        ),
        ("contracts", {"keep": {"type": "base"}}, "keep.type: no column"),
    ],
)
def test_mapping_errors_name_table_key_and_columns(export, table, changes, needle):
    with pytest.raises(ConfigError, match=needle) as caught:
        open_source(export, mapped(with_table(table, **changes)))
    assert f"data.tables.{table}." in str(caught.value)


def test_a_missing_required_column_suggests_join_and_derive(export):
    data = with_table("contracts", derive={"end_date": "start_date + billing_period"})
    with pytest.raises(SchemaError, match=r"lacks required column\(s\) arr.*derive"):
        open_source(export, mapped(data))


# --------------------------------------------------------------------------- which tables


def test_optional_tables_declare_what_exists(export):
    only_usage = {**MAPPING, "optional_tables": ["feature_usage"]}
    source = open_source(export, mapped(only_usage))
    assert source.present == {"accounts", "contracts", "feature_usage"}
    missing = {**MAPPING, "optional_tables": ["feature_usage", "nps_responses"]}
    with pytest.raises(SchemaError, match="nps_responses.*listed in data.optional_tables"):
        open_source(export, mapped(missing))


def test_a_table_can_be_switched_off(export):
    data = with_table("logins", enabled=False)
    assert not open_source(export, mapped(data)).has("logins")


# --------------------------------------------------------------------------- sources


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from healthscore.storage import write_tables
    from healthscore.synthetic import generate_world

    seed = 5
    print(f"world seed={seed}")
    tables = generate_world(60, start="2024-01-01", end="2025-01-01", seed=seed).tables
    folder = tmp_path_factory.mktemp("world")
    write_tables(tables, folder)
    return folder, tables


def test_a_duckdb_file_gives_the_same_features_as_files(small_world, tmp_path):
    import duckdb

    from healthscore.features import build_features
    from healthscore.snapshots import make_snapshots

    folder, tables = small_world
    database = tmp_path / "crm.duckdb"
    with duckdb.connect(str(database)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    config = Config()
    from_files, from_db = open_source(folder, config), open_source(database, config)
    snapshots = make_snapshots(from_files, config)
    pd.testing.assert_frame_equal(
        build_features(from_db, snapshots, config), build_features(from_files, snapshots, config)
    )
    assert validate_data(str(database)).ok


def test_a_duckdb_file_with_foreign_names_and_a_schema(small_world, tmp_path):
    import duckdb

    _, tables = small_world
    database = tmp_path / "crm.duckdb"
    accounts = tables["accounts"].rename(columns={"account_id": "id"})
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA sales")
        con.register("frame", accounts)
        con.execute("CREATE TABLE sales.Customers AS SELECT * FROM frame")
        con.register("frame", tables["contracts"])
        con.execute("CREATE TABLE contracts AS SELECT * FROM frame")
    config = mapped(
        {"tables": {"accounts": {"source": "sales.customers", "columns": {"account_id": "id"}}}}
    )
    source = open_source(database, config)
    assert len(source.table("accounts")) == len(accounts)


def test_unknown_data_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SchemaError, match="neither a folder of exports nor a DuckDB"):
        open_source(tmp_path / "notes.txt")
    with pytest.raises(SchemaError, match="does not exist"):
        open_source(tmp_path / "nowhere")


def test_database_urls_survive_a_path():
    from healthscore.sources import database_url

    url = "postgresql://me:secret@db.example:5432/crm"
    assert database_url(Path(url)) == "postgresql+psycopg://me:secret@db.example:5432/crm"
    assert database_url("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert database_url("exports/2024") is None


def test_the_documented_mapping_is_a_valid_config():
    import re
    import tomllib

    text = (Path(__file__).resolve().parents[1] / "docs" / "own-data.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        config_from_dict(tomllib.loads(block))
