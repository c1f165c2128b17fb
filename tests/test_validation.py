"""Validation: one tiny CSV fixture per kind of error, each reported with table, column, rows."""

from pathlib import Path

import pytest

from healthscore.config import Config, load_config
from healthscore.errors import SchemaError
from healthscore.validation import validate_data

ACCOUNTS = """account_id,created_at,segment
A1,2024-01-01,SMB
A2,2024-02-01,enterprise
"""
CONTRACTS = """contract_id,account_id,start_date,end_date,arr,seats
C1,A1,2024-01-01,2025-01-01,12000,10
C2,A2,2024-02-01,2025-02-01,60000,50
"""
LOGINS = """account_id,user_id,ts
A1,u1,2024-03-01T10:00:00
A2,u9,2024-03-02T11:00:00
"""


def write(folder: Path, **tables: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    base = {"accounts": ACCOUNTS, "contracts": CONTRACTS, "logins": LOGINS}
    base.update(tables)
    for name, text in base.items():
        if text is not None:
            (folder / f"{name}.csv").write_text(text)
    return folder


def only(report, severity="error"):
    return [p for p in report.problems if p.severity == severity]


def test_clean_data_has_no_errors_and_warns_for_missing_optional_tables(tmp_path):
    report = validate_data(write(tmp_path))
    assert report.ok, report.describe()
    warned = {p.table for p in only(report, "warning")}
    assert {"feature_usage", "support_tickets", "nps_responses"} <= warned
    assert "features are off" in report.describe()
    assert report.row_counts["logins"] == 2


@pytest.mark.parametrize(
    ("tables", "table", "column", "needle"),
    [
        ({"contracts": None}, "contracts", None, "required table not found"),
        (
            {"accounts": "account_id,segment\nA1,SMB\n"},
            "accounts",
            "created_at",
            "required column(s) missing",
        ),
        (
            {"accounts": "account_id,created_at\nA1,2024-01-01\nA2,yesterday\n"},
            "accounts",
            "created_at",
            "do not parse as timestamp",
        ),
        (
            {"contracts": CONTRACTS.replace("12000", "lots")},
            "contracts",
            "arr",
            "do not parse as number",
        ),
        (
            {"accounts": ACCOUNTS + "A1,2024-05-01,SMB\n"},
            "accounts",
            "account_id",
            "duplicate account_id",
        ),
        (
            {"contracts": CONTRACTS.replace("2025-01-01", "2023-06-01")},
            "contracts",
            "end_date",
            "end on or before they start",
        ),
        ({"contracts": CONTRACTS.replace("12000", "-5")}, "contracts", "arr", "below 0"),
        (
            {"nps_responses": "account_id,responded_at,score\nA1,2024-03-01,11\n"},
            "nps_responses",
            "score",
            "above 10",
        ),
        (
            {"support_tickets": "ticket_id,account_id,opened_at,csat\nT1,A1,2024-03-01,0\n"},
            "support_tickets",
            "csat",
            "below 1",
        ),
        (
            {"logins": LOGINS + "ZZ,u1,2024-03-03T10:00:00\n"},
            "logins",
            "account_id",
            "not in the accounts table",
        ),
        ({"logins": "account_id,user_id,ts\n"}, "logins", None, "the table is empty"),
        ({"accounts": "account_id,created_at\n"}, "accounts", None, "the table is empty"),
        (
            {
                "support_tickets": "ticket_id,account_id,opened_at,closed_at\n"
                "T1,A1,2024-03-05,2024-03-01\n"
            },
            "support_tickets",
            "closed_at",
            "closed before they were opened",
        ),
    ],
    ids=[
        "missing-table",
        "missing-column",
        "bad-date",
        "bad-number",
        "duplicate-key",
        "end-before-start",
        "negative-arr",
        "nps-range",
        "csat-range",
        "unknown-account",
        "empty-optional",
        "empty-required",
        "closed-before-opened",
    ],
)
def test_each_error_kind_is_reported(tmp_path, tables, table, column, needle):
    report = validate_data(write(tmp_path, **tables))
    matches = [p for p in report.problems if p.table == table and needle in p.message]
    assert matches, report.describe()
    problem = matches[0]
    assert problem.column == column
    optional_and_empty = table == "logins" and needle == "the table is empty"
    assert problem.severity == ("warning" if optional_and_empty else "error")
    assert report.ok is optional_and_empty
    assert table in report.describe()


def test_examples_name_the_rows_at_fault(tmp_path):
    bad = ACCOUNTS + "A3,not-a-date,SMB\nA4,also bad,SMB\n"
    report = validate_data(write(tmp_path, accounts=bad))
    [problem] = [p for p in report.errors if "parse" in p.message]
    assert problem.count == 2
    assert {e["account_id"] for e in problem.examples} == {"A3", "A4"}
    assert "also bad" in problem.describe()


def test_all_problems_are_reported_at_once(tmp_path):
    report = validate_data(
        write(
            tmp_path,
            contracts=CONTRACTS.replace("12000", "-5").replace("2025-02-01", "2023-01-01"),
            nps_responses="account_id,responded_at,score\nA1,2024-03-01,42\n",
        )
    )
    assert len(report.errors) >= 3
    with pytest.raises(SchemaError, match="below 0") as info:
        report.raise_for_errors()
    assert "above 10" in str(info.value) and "end on or before" in str(info.value)


def test_events_after_the_configured_data_end_are_errors(tmp_path):
    config = Config().with_overrides(data={"end": "2024-03-02"})
    report = validate_data(write(tmp_path), config)
    [problem] = [p for p in report.errors if "after the data's end" in p.message]
    assert (problem.table, problem.column, problem.count) == ("logins", "ts", 1)


def test_renamed_columns_and_tables_from_config(tmp_path):
    folder = tmp_path / "exports"
    write(folder, accounts=None)
    (folder / "customers.csv").write_text("id,signup\nA1,2024-01-01\nA2,2024-02-01\n")
    cfg_file = tmp_path / "map.toml"
    cfg_file.write_text(
        '[data.tables.accounts]\nsource = "customers"\n'
        '[data.tables.accounts.columns]\naccount_id = "id"\ncreated_at = "signup"\n'
    )
    report = validate_data(folder, load_config(cfg_file))
    assert report.ok, report.describe()


def test_parquet_input_is_read_like_csv(tmp_path):
    import pandas as pd

    folder = write(tmp_path / "csv")
    pq = tmp_path / "pq"
    pq.mkdir()
    for name in ("accounts", "contracts", "logins"):
        frame = pd.read_csv(folder / f"{name}.csv")
        frame.to_parquet(pq / f"{name}.parquet")
    report = validate_data(pq)
    assert report.ok and report.row_counts == validate_data(folder).row_counts


def test_the_contract_document_matches_the_code():
    from healthscore.schema import contract_markdown

    doc = (Path(__file__).parents[1] / "docs" / "data-contract.md").read_text()
    assert contract_markdown() in doc


# ---------------------------------------------------------------- numbers that poison results


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("NaN", "NaN or infinite"),
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("Infinity", "NaN or infinite"),
        ("1e300", "beyond 1e+12"),
        ("2000000000000", "beyond 1e+12"),
    ],
)
def test_arr_that_parses_but_is_not_a_real_amount_is_an_error(tmp_path, value, needle):
    report = validate_data(write(tmp_path, contracts=CONTRACTS.replace("12000", value)))
    [problem] = [p for p in report.errors if needle in p.message]
    assert (problem.table, problem.column, problem.count) == ("contracts", "arr", 1)
    assert problem.examples == ({"contract_id": "C1", "arr": value},)
    assert "contract_id=C1" in report.describe()


@pytest.mark.parametrize(
    ("tables", "table", "column"),
    [
        ({"contracts": CONTRACTS.replace(",10\n", ",NaN\n")}, "contracts", "seats"),
        (
            {"accounts": "account_id,created_at,employees\nA1,2024-01-01,inf\n"},
            "accounts",
            "employees",
        ),
        (
            {"feature_usage": "account_id,feature,ts,quantity\nA1,f,2024-03-01,1e20\n"},
            "feature_usage",
            "quantity",
        ),
    ],
)
def test_every_numeric_column_is_checked(tmp_path, tables, table, column):
    report = validate_data(write(tmp_path, **tables))
    assert any(p.table == table and p.column == column for p in report.errors), report.describe()


def test_the_bound_on_numbers_is_configurable(tmp_path):
    folder = write(tmp_path)  # ARR 12,000 and 60,000
    assert validate_data(folder).ok
    report = validate_data(folder, Config().with_overrides(data={"max_number": 50_000}))
    [problem] = report.errors
    assert (problem.column, problem.count) == ("arr", 1) and "data.max_number" in problem.message


def test_nan_and_infinity_in_parquet_are_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write(tmp_path, contracts=None)
    contracts = pa.table(
        {
            "contract_id": ["C1", "C2"],
            "account_id": ["A1", "A2"],
            "start_date": ["2024-01-01", "2024-02-01"],
            "end_date": ["2025-01-01", "2025-02-01"],
            "arr": pa.array([float("nan"), float("inf")], pa.float64()),
        }
    )
    pq.write_table(contracts, folder / "contracts.parquet")
    [problem] = [p for p in validate_data(folder).errors if "NaN or infinite" in p.message]
    assert problem.count == 2


# ---------------------------------------------------------------- repeated column names


@pytest.mark.parametrize(
    "header", ["account_id,created_at,account_id", "account_id,created_at,Account_ID"]
)
def test_a_column_name_twice_in_a_csv_header_is_an_error(tmp_path, header):
    folder = write(tmp_path, accounts=f"{header}\nA1,2024-01-01,A2\nA2,2024-02-01,A1\n")
    with pytest.raises(SchemaError, match=r"accounts\.csv .*columns 1, 3") as info:
        validate_data(folder)
    assert "appears more than once" in str(info.value)


def test_a_column_name_twice_in_a_parquet_file_is_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = write(tmp_path, accounts=None)
    table = pa.table(
        [pa.array(["A1", "A2"]), pa.array(["2024-01-01", "2024-02-01"]), pa.array(["x", "y"])],
        names=["account_id", "created_at", "account_id"],
    )
    pq.write_table(table, folder / "accounts.parquet")
    with pytest.raises(SchemaError, match="appears more than once"):
        validate_data(folder)


def test_a_repeated_column_name_through_the_cli_is_one_line(tmp_path, capsys):
    from healthscore.cli import main

    write(tmp_path, accounts="account_id,created_at,created_at\nA1,2024-01-01,2023-01-01\n")
    assert main(["validate", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'created_at' in columns 2, 3" in err


def test_validate_lists_the_features_a_missing_optional_column_switches_off(tmp_path):
    from healthscore.pipeline import generate_data

    folder = tmp_path / "data"
    generate_data(folder, n_accounts=60, start="2025-01-01", end="2025-07-01", seed=3)
    report = validate_data(folder)
    [problem] = [p for p in report.warnings if (p.table, p.column) == ("contracts", "canceled_at")]
    assert "contract__cancellation_known is off" in problem.message
