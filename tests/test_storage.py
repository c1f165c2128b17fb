"""Typed views: ids are trimmed exactly as ``NULLIF(TRIM(id), '')`` whatever path they take.

:func:`healthscore.sql.trimmed_id` lets plain-ASCII ids with nothing to trim skip
``TRIM``; these tests hold it to the reference expression on generated strings rich in the
characters ``TRIM`` removes (Unicode spaces), the ones it keeps (tabs, other controls) and
multi-byte text, then check the views built from files and frames.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from healthscore.config import Config
from healthscore.sql import id_present, trimmed_id
from healthscore.storage import open_source, source_from_frames

#: Every Unicode space separator (what TRIM strips), a few characters it keeps, and letters.
AWKWARD = [" ", "\u00a0", "\u1680", "\u2000", "\u2007", "\u200a", "\u202f", "\u205f", "\u3000"]
KEPT = ["\t", "\n", "\r", "\x00", "\x7f", "!", "~", "é", "日", "a", "Z", "0", "-", "_"]


#: Lists of ids as exported: missing, made of the characters above, or any text.
ID_LISTS = st.lists(
    st.one_of(
        st.none(),
        st.text(alphabet=st.sampled_from(AWKWARD + KEPT), max_size=8),
        st.text(max_size=6),
    ),
    min_size=1,
    max_size=40,
)


def _compare(con: duckdb.DuckDBPyConnection, values: list[str | None]) -> list[tuple]:
    frame = pa.table({"v": pa.array(values, type=pa.string())})
    con.register("_values", frame)
    return con.sql(
        f"SELECT v, {trimmed_id('v')} AS fast, NULLIF(TRIM(v), '') AS reference FROM _values"
    ).fetchall()


@settings(max_examples=300, deadline=None)
@given(ID_LISTS)
def test_trimmed_id_matches_trim_on_any_string(values):
    con = duckdb.connect()
    for value, fast, reference in _compare(con, values):
        assert fast == reference, repr(value)


@settings(max_examples=300, deadline=None)
@given(ID_LISTS)
def test_id_present_says_where_the_trimmed_id_is_not_missing(values):
    con = duckdb.connect()
    frame = pa.table({"v": pa.array(values, type=pa.string())})
    con.register("_values", frame)
    rows = con.sql(
        f"SELECT v, coalesce({id_present('v')}, false), NULLIF(TRIM(v), '') IS NOT NULL "
        "FROM _values"
    ).fetchall()
    for value, present, reference in rows:
        assert present == reference, repr(value)


def test_trimmed_id_edge_cases():
    con = duckdb.connect()
    values = ["a1", " a1", "a1 ", "\u00a0a1", "a1\u3000", "", "   ", "\ta1", "é", "!", None]
    got = {v: fast for v, fast, _ in _compare(con, values)}
    assert got["a1"] == got[" a1"] == got["a1 "] == got["\u00a0a1"] == got["a1\u3000"] == "a1"
    assert got[""] is None and got["   "] is None and got[None] is None
    assert got["\ta1"] == "\ta1"  # TRIM keeps control characters
    assert got["é"] == "é" and got["!"] == "!"


def _tables(account_ids: list, login_ids: list) -> dict[str, pd.DataFrame]:
    return {
        "accounts": pd.DataFrame({"account_id": account_ids, "created_at": "2024-01-01"}),
        "contracts": pd.DataFrame(
            {
                "contract_id": ["c1", "c2"],
                "account_id": account_ids,
                "start_date": "2024-01-01",
                "end_date": "2025-01-01",
                "arr": [100.0, 200.0],
            }
        ),
        "logins": pd.DataFrame(
            {"account_id": login_ids, "user_id": ["u1", " u1 "], "ts": "2024-02-01 10:00"}
        ),
    }


def test_views_trim_ids_from_csv_and_frames(tmp_path):
    tables = _tables(["a1", "a2"], [" a1", "a1\u00a0"])
    for name, frame in tables.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    for source in (
        open_source(tmp_path, Config()),
        source_from_frames(tables, data_end="2024-06-01"),
    ):
        logins = source.query("SELECT account_id, user_id FROM logins ORDER BY ALL")
        assert logins.values.tolist() == [["a1", "u1"], ["a1", "u1"]]


def test_integer_ids_in_parquet_become_text(tmp_path):
    tables = _tables([101, 102], [101, 101])
    for name, frame in tables.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, tmp_path / f"{name}.parquet")
    source = open_source(tmp_path, Config())
    accounts = source.query("SELECT account_id FROM accounts ORDER BY ALL")
    assert accounts["account_id"].tolist() == ["101", "102"]
    logins = source.query("SELECT DISTINCT account_id FROM logins JOIN accounts USING (account_id)")
    assert logins["account_id"].tolist() == ["101"]


def test_outputs_get_the_permissions_of_the_users_umask(tmp_path):
    """Not the owner-only mode of a temporary file: colleagues on a shared drive can read."""
    import os

    from healthscore.storage import write_frame, write_text

    old = os.umask(0o022)
    try:
        csv = write_frame(pd.DataFrame({"a": [1]}), tmp_path / "scores.csv")
        page = write_text("<html></html>", tmp_path / "report.html")
        os.umask(0o077)
        private = write_text("x", tmp_path / "private.txt")
    finally:
        os.umask(old)
    assert csv.stat().st_mode & 0o777 == 0o644
    assert page.stat().st_mode & 0o777 == 0o644
    assert private.stat().st_mode & 0o777 == 0o600
