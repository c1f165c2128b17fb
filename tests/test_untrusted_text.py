"""Data that looks like markup or a formula, through the commands a user runs.

Account ids are data, and data is not trusted: an id such as ``[/x]`` must not crash the
printer, ``[link=...]`` must not become a terminal hyperlink, a terminal escape must not reach
the terminal, and a CSV export must not hand a spreadsheet a formula. The world here is the
session's small world with every account id rewritten to start with a formula character
and hold Rich markup; the session's model scores it unchanged (ids are not features).
"""

import contextlib
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.storage import read_frame

AS_OF = "2025-12-01"
FORMULA_STARTS = ("=", "+", "-", "@")
MARKUP = "[/x][link=x]"


def marked(account_id: str, i: int) -> str:
    """``A000123`` -> ``=[/x][link=x]A000123`` (the first character cycles through = + - @)."""
    return f"{FORMULA_STARTS[i % len(FORMULA_STARTS)]}{MARKUP}{account_id}"


@pytest.fixture(scope="module")
def marked_world(world_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("marked") / "data"
    out.mkdir()
    accounts = pd.read_parquet(world_dir / "accounts.parquet")
    new_ids = {old: marked(old, i) for i, old in enumerate(accounts["account_id"])}
    for path in world_dir.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "account_id" in frame.columns:
            frame["account_id"] = frame["account_id"].map(new_ids)
        frame.to_parquet(out / path.name, index=False)
    return out


@pytest.fixture(scope="module")
def scored(trained, marked_world, tmp_path_factory):
    """``healthscore score`` on the marked world: exit code, the CSV, stdout and stderr."""
    out = tmp_path_factory.mktemp("marked_scores") / "scores.csv"
    args = ["score", "--data", str(marked_world), "--as-of", AS_OF, "--out", str(out)]
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main([*args, "--model", str(trained.outcome.latest)])
    return code, out, printed.getvalue(), errors.getvalue()


def run(*args: str, model=None) -> int:
    extra = ["--model", str(model)] if model is not None else []
    return main([*args, *extra])


def broken_folder(folder: Path, *ids: str) -> Path:
    """Accounts whose ids repeat (a validation error that quotes them), and their contracts."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f'"{i}",2024-01-01\n' for i in ids for _ in range(2))
    (folder / "accounts.csv").write_text("account_id,created_at\n" + rows)
    (folder / "contracts.csv").write_text(
        "contract_id,account_id,start_date,end_date,arr\n"
        + "".join(f'C{n},"{i}",2024-01-01,2025-01-01,100\n' for n, i in enumerate(ids))
    )
    return folder


def test_score_prints_markup_like_ids_as_they_are(scored):
    code, _, printed, errors = scored
    assert code == 0, errors
    assert "Traceback" not in errors
    assert MARKUP in printed and "\x1b" not in printed


def test_the_scores_csv_neutralises_formulas_and_keeps_numbers(scored):
    out = scored[1]
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["account_id"].startswith("'") for r in rows)
    assert {r["account_id"][1] for r in rows} == set(FORMULA_STARTS)
    assert all(r["account_id"][2:].startswith(MARKUP) for r in rows)
    plain = pd.read_csv(out)
    for column in ("churn_probability", "health_score", "arr", "arr_at_risk", "score_change"):
        assert pd.api.types.is_float_dtype(plain[column]), column
    assert (plain["score_change"] < 0).any()  # negative numbers stay numbers, unquoted
    again = read_frame(out)  # healthscore reads its own export back as it was
    assert again["account_id"].str.startswith(FORMULA_STARTS).all()


def test_previous_scores_from_a_neutralised_csv_still_match(
    trained, marked_world, scored, tmp_path
):
    first = scored[1]
    out = tmp_path / "again.csv"
    args = ["score", "--data", str(marked_world), "--as-of", AS_OF, "--out", str(out)]
    assert run(*args, "--previous", str(first), model=trained.outcome.latest) == 0
    assert (pd.read_csv(out)["score_change"] == 0).all()


def test_features_csv_is_neutralised_too(marked_world, tmp_path):
    out = tmp_path / "features.csv"
    args = ["features", "--data", str(marked_world), "--as-of", AS_OF, "--out", str(out)]
    assert main(args) == 0
    with out.open(newline="") as handle:
        ids = [row["account_id"] for row in csv.DictReader(handle)]
    assert ids and all(i.startswith("'") and i[1] in FORMULA_STARTS for i in ids)


def test_alerts_print_markup_like_ids(trained, marked_world, capsys):
    args = ["alerts", "--data", str(marked_world), "--as-of", AS_OF, "--drop", "2"]
    assert run(*args, model=trained.outcome.latest) == 0
    out = capsys.readouterr().out
    assert "accounts lost more than 2 points" in out and MARKUP in out


def test_explain_prints_the_card_of_a_markup_like_id(trained, marked_world, scored, capsys):
    out = scored[1]
    account = read_frame(out)["account_id"].iloc[0]
    args = ["explain", "--data", str(marked_world), "--as-of", AS_OF, "--account", account]
    assert run(*args, model=trained.outcome.latest) == 0
    assert f"Account {account}" in capsys.readouterr().out
    unknown = "[/x][link=https://evil.example]nope"
    args = ["explain", "--data", str(marked_world), "--as-of", AS_OF, "--account", unknown]
    assert run(*args, model=trained.outcome.latest) == 1
    err = capsys.readouterr().err
    assert unknown in err and "no such account_id" in err and "Traceback" not in err


def test_validation_errors_quote_markup_like_ids(tmp_path, capsys):
    ids = ("[/x]", "[link=https://evil.example]A1[/link]", ":warning:")
    data = broken_folder(tmp_path / "data", *ids)
    assert main(["validate", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert all(i in out for i in ids[:2]) and "duplicate account_id" in out
    # the same errors stop kpis: the error printer shows them as they are
    assert main(["kpis", "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert all(i in err for i in ids)


def test_terminal_controls_in_data_are_shown_not_obeyed(tmp_path, capsys):
    data = broken_folder(tmp_path / "data", "\x1b[2J\x1b]8;;https://evil.example\x07A1")
    assert main(["kpis", "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b[2J\\x1b]8;;https://evil.example\\x07A1" in err


def test_hints_in_brackets_survive_the_error_printer(tmp_path, capsys):
    (tmp_path / "accounts.csv").write_text("account_id,segment\nA1,SMB\n")
    (tmp_path / "contracts.csv").write_text(
        "contract_id,account_id,start_date,end_date,arr\nC1,A1,2024-01-01,2025-01-01,100\n"
    )
    assert main(["kpis", "--data", str(tmp_path)]) == 1
    assert "[data.tables.accounts.columns]" in capsys.readouterr().err


def test_markup_in_a_real_terminal_is_not_a_hyperlink(tmp_path):
    """The console script, with colours forced on as in a terminal."""
    link = "[link=https://evil.example]A1[/link]"
    data = broken_folder(tmp_path / "data", "[/x]", link)
    exe = Path(sys.executable).with_name("healthscore")
    done = subprocess.run(
        [str(exe), "kpis", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "FORCE_COLOR": "1"},
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "[/x]" in done.stderr and link in done.stderr
    assert "\x1b]8;" not in done.stderr + done.stdout  # no OSC 8 hyperlink escape
