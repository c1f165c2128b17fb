"""CSV written for people opens in a spreadsheet without running anything.

OWASP's advice against CSV injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return gets a leading single quote. Numbers stay numbers, Parquet and the
simulator's input tables are written as they are, and healthscore reads its own CSV back
unchanged.
"""

import csv

import numpy as np
import pandas as pd
import pytest

from healthscore.storage import (
    neutralise_formulas,
    read_frame,
    restore_formulas,
    write_frame,
    write_tables,
)

CELLS = {
    '=HYPERLINK("http://evil.example")': '\'=HYPERLINK("http://evil.example")',
    "+1+2": "'+1+2",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    "\tcmd": "'\tcmd",
    "\rcmd": "'\rcmd",
    "'=already quoted": "''=already quoted",
    "A000123": "A000123",
    "it's fine": "it's fine",
    "x=1": "x=1",
    "": "",
}


def frame() -> pd.DataFrame:
    texts = list(CELLS)
    n = len(texts)
    return pd.DataFrame(
        {
            "account_id": texts,
            "note": pd.Series(texts, dtype="object"),
            "tier": pd.Categorical(["=bad", "good"] * (n // 2) + ["good"] * (n % 2)),
            "arr": np.linspace(-5.0, 5.0, n),
            "seats": np.arange(-3, n - 3),
            "holdout": [True, False] * (n // 2) + [True] * (n % 2),
            "as_of": pd.Timestamp("2025-12-01"),
            "missing": [None] * n,
        }
    )


def raw_rows(path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_text_cells_get_a_quote_numbers_do_not():
    out = neutralise_formulas(frame())
    assert out["account_id"].tolist() == list(CELLS.values())
    assert out["note"].tolist() == list(CELLS.values())
    assert set(out["tier"].cat.categories) == {"'=bad", "good"}
    for column in ("arr", "seats", "holdout", "as_of"):
        pd.testing.assert_series_equal(out[column], frame()[column])


def test_neutralising_is_undone_exactly():
    original = frame()
    back = restore_formulas(neutralise_formulas(original))
    pd.testing.assert_frame_equal(back, original)


def test_column_names_are_neutralised_too():
    out = neutralise_formulas(pd.DataFrame({"=cmd": [1], "ok": [2]}))
    assert list(out.columns) == ["'=cmd", "ok"]


def test_a_csv_export_opens_without_formulas_and_reads_back(tmp_path):
    path = write_frame(frame(), tmp_path / "scores.csv")
    rows = raw_rows(path)
    assert [r["account_id"] for r in rows] == list(CELLS.values())
    assert rows[0]["arr"] == "-5.0" and rows[0]["seats"] == "-3"  # numbers as numbers
    again = read_frame(path)
    assert again["account_id"].fillna("").tolist() == list(CELLS)
    assert pd.api.types.is_float_dtype(again["arr"])


def test_parquet_is_written_as_it_is(tmp_path):
    path = write_frame(frame(), tmp_path / "scores.parquet")
    assert pd.read_parquet(path)["account_id"].tolist() == list(CELLS)


def test_the_simulators_csv_tables_are_input_and_stay_raw(tmp_path):
    (path,) = write_tables({"accounts": frame()[["account_id"]]}, tmp_path, fmt="csv")
    assert [r["account_id"] for r in raw_rows(path)] == list(CELLS)


@pytest.mark.parametrize("out_name", ["kpis.csv", "kpis.parquet"])
def test_kpis_export_keeps_its_numbers(world_dir, tmp_path, out_name):
    from healthscore.cli import main

    out = tmp_path / out_name
    assert main(["kpis", "--data", str(world_dir), "--out", str(out)]) == 0
    table = read_frame(out)
    assert pd.api.types.is_float_dtype(table["grr_pct"])
    assert len(table) > 10
