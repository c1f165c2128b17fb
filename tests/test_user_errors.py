"""Every mistake a user can make with their exports or outputs is one clear line, no traceback.

And what users really export is read: CSV in Latin-1, Windows-1252 or UTF-16 (named in the
config, or found from a byte-order mark), Unix times in seconds or milliseconds. Each case
runs the command as a user types it, through ``healthscore.cli.main``.
"""

import errno
import os
import random
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import load_config
from healthscore.storage import open_source

ACCOUNTS = "account_id,created_at,name\nA1,2024-01-01,Café Zoë\nA2,2024-02-01,Plain\n"
CONTRACTS = (
    "contract_id,account_id,start_date,end_date,arr\n"
    "C1,A1,2024-01-01,2025-01-01,12000\n"
    "C2,A2,2024-02-01,2025-02-01,60000\n"
)


def folder(path: Path, accounts: bytes | str = ACCOUNTS, name: str = "accounts.csv") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    data = accounts.encode() if isinstance(accounts, str) else accounts
    (path / name).write_bytes(data)
    (path / "contracts.csv").write_text(CONTRACTS)
    return path


def config(path: Path, text: str) -> Path:
    file = path / "healthscore.toml"
    file.write_text(text)
    return file


def one_error(capsys) -> str:
    """The single line the last command printed on stderr (asserting there was only one)."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def names(data: Path, cfg: Path | None = None) -> list[str]:
    source = open_source(data, load_config(cfg))
    return source.table("accounts").sort_values("account_id")["name"].tolist()


# ------------------------------------------------------------------------------ encodings


def test_a_latin1_csv_without_its_encoding_is_one_clear_error(tmp_path, capsys):
    data = folder(tmp_path / "d", ACCOUNTS.encode("latin-1"))
    assert main(["validate", "--data", str(data)]) == 1
    err = one_error(capsys)
    assert "accounts.csv (table 'accounts'), line 2: the text is not valid utf-8" in err
    assert '[data.tables.accounts] encoding = "latin-1"' in err


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_the_encoding_named_in_the_config_is_used(tmp_path, capsys, encoding):
    text = ACCOUNTS.replace("Plain", "Plain €") if encoding == "cp1252" else ACCOUNTS
    data = folder(tmp_path / "d", text.encode(encoding))
    cfg = config(tmp_path, f'[data.tables.accounts]\nencoding = "{encoding}"\n')
    assert main(["validate", "--data", str(data), "--config", str(cfg)]) == 0
    assert names(data, cfg)[0] == "Café Zoë"


@pytest.mark.parametrize(
    ("bom", "encoding", "suffix"),
    [
        (b"\xef\xbb\xbf", "utf-8", ".csv"),
        (b"", "utf-16", ".csv"),  # Python writes the little-endian mark itself
        (b"\xfe\xff", "utf-16-be", ".csv"),
        (b"", "utf-16", ".csv.gz"),
    ],
)
def test_a_byte_order_mark_says_the_encoding(tmp_path, bom, encoding, suffix):
    import gzip

    raw = bom + ACCOUNTS.encode(encoding)
    if suffix == ".csv.gz":
        raw = gzip.compress(raw)
    data = folder(tmp_path / "d", raw, name=f"accounts{suffix}")
    assert main(["validate", "--data", str(data)]) == 0
    assert names(data) == ["Café Zoë", "Plain"]  # and the first column is account_id


def test_bytes_that_are_not_the_named_encoding_name_the_line(tmp_path, capsys):
    data = folder(tmp_path / "d", ACCOUNTS.encode("cp1252") + b"A3,2024-03-01,bad \x81\n")
    cfg = config(tmp_path, '[data.tables.accounts]\nencoding = "cp1252"\n')
    assert main(["validate", "--data", str(data), "--config", str(cfg)]) == 1
    assert "byte 0x81 near line 4 is not cp1252 text" in one_error(capsys)


def test_an_unknown_encoding_is_a_config_error(tmp_path, capsys):
    data = folder(tmp_path / "d")
    cfg = config(tmp_path, '[data.tables.accounts]\nencoding = "klingon"\n')
    assert main(["validate", "--data", str(data), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "data.tables.accounts.encoding" in err and "unknown encoding 'klingon'" in err


# ------------------------------------------------------------------------------ broken files


def test_garbage_bytes_in_a_csv_are_one_clear_error(tmp_path, capsys):
    rows = "".join(f"A{i},2024-01-01,x\n" for i in range(3, 40_000))
    junk = random.Random(0).randbytes(64).replace(b"\n", b"").replace(b",", b"")
    data = folder(tmp_path / "d", (ACCOUNTS + rows).encode() + b"A0," + junk + b",x\n")
    assert main(["validate", "--data", str(data)]) == 1
    assert "accounts.csv (table 'accounts'), line 40001: the text is not valid" in one_error(capsys)


def test_a_binary_file_named_csv_is_one_clear_error(tmp_path, capsys):
    data = folder(tmp_path / "d", random.Random(1).randbytes(5000))
    assert main(["validate", "--data", str(data)]) == 1
    err = one_error(capsys)
    assert "accounts.csv (table 'accounts')" in err


def test_a_malformed_line_far_into_a_csv_is_named(tmp_path, capsys):
    rows = "".join(f"A{i},2024-01-01,x\n" for i in range(3, 40_000))
    data = folder(tmp_path / "d", ACCOUNTS + rows + "A0,2024-01-01,x,surplus\n")
    assert main(["validate", "--data", str(data)]) == 1
    err = one_error(capsys)
    assert "line 40001 cannot be read as CSV: 4 values where the header has 3 columns" in err


# ------------------------------------------------------------------------------ time formats


def test_a_format_duckdb_cannot_read_is_a_config_error(tmp_path, capsys):
    data = folder(tmp_path / "d")
    cfg = config(tmp_path, '[data.tables.accounts.formats]\ncreated_at = "%s"\n')
    assert main(["validate", "--data", str(data), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "data.tables.accounts.formats.created_at: '%s' is not a date format" in err
    assert "'epoch_s'" in err and "Traceback" not in err


def test_unix_times_in_seconds_and_milliseconds(tmp_path, capsys):
    accounts = "account_id,created_at\nA1,1704067200\nA2,1706745600.5\n"
    logins = "account_id,user_id,ts\nA1,u1,1709287200123\nA2,u2,2024-03-02T11:00:00\n"
    data = folder(tmp_path / "d", accounts)
    (data / "logins.csv").write_text(logins)
    cfg = config(
        tmp_path,
        '[data.tables.accounts.formats]\ncreated_at = "epoch_s"\n'
        '[data.tables.logins.formats]\nts = "epoch_ms"\n',
    )
    assert main(["validate", "--data", str(data), "--config", str(cfg)]) == 0
    source = open_source(data, load_config(cfg))
    created = source.table("accounts").sort_values("account_id")["created_at"].tolist()
    assert created == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01 00:00:00.5")]
    ts = source.table("logins").sort_values("account_id")["ts"].tolist()
    assert ts == [pd.Timestamp("2024-03-01 10:00:00.123"), pd.Timestamp("2024-03-02 11:00")]


def test_milliseconds_read_as_seconds_are_reported_not_dated_in_the_far_future(tmp_path):
    from healthscore.validation import validate_data

    data = folder(tmp_path / "d", "account_id,created_at\nA1,1704067200000\n")
    cfg = config(tmp_path, '[data.tables.accounts.formats]\ncreated_at = "epoch_s"\n')
    report = validate_data(data, load_config(cfg))
    [problem] = [p for p in report.errors if "do not parse as timestamp" in p.message]
    assert problem.examples[0]["created_at"] == "1704067200000"


def test_values_that_do_not_match_the_format_are_shown_as_written(tmp_path):
    from healthscore.validation import validate_data

    data = folder(tmp_path / "d", "account_id,created_at\nA1,31/12/2023\nA2,31-12-2023\n")
    cfg = config(tmp_path, '[data.tables.accounts.formats]\ncreated_at = "%d/%m/%Y"\n')
    report = validate_data(data, load_config(cfg))
    [problem] = [p for p in report.errors if "do not parse as timestamp" in p.message]
    assert problem.examples == ({"account_id": "A2", "created_at": "31-12-2023"},)


def test_dates_that_do_not_parse_point_to_formats(tmp_path, capsys):
    data = folder(tmp_path / "d", "account_id,created_at\nA1,31/12/2023\n")
    assert main(["validate", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert "do not parse as timestamp" in out and "[data.tables.accounts.formats]" in out
    assert '"epoch_s"' in out


# ------------------------------------------------------------------------------ --as-of


@pytest.mark.parametrize("as_of", ["yesterday", "2025-13-01", "2025-12-01T00:00+02:00"])
@pytest.mark.parametrize("command", ["score", "alerts", "explain", "report", "features"])
def test_an_as_of_that_is_not_an_iso_date_is_one_line(tmp_path, capsys, command, as_of):
    args = [command, "--data", str(tmp_path), "--as-of", as_of]
    extra = {
        "score": ["--out", str(tmp_path / "s.csv")],
        "explain": ["--account", "A1"],
        "features": ["--out", str(tmp_path / "f.csv")],
        "report": ["--out", str(tmp_path / "r.html")],
    }
    assert main(args + extra.get(command, [])) == 1
    err = one_error(capsys)
    assert f"--as-of {as_of!r}" in err and "2025-12-01" in err
    assert list(tmp_path.iterdir()) == []


def test_the_simulated_history_needs_iso_dates_too(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "w"), "--start", "yesterday"]) == 1
    assert "--start 'yesterday' is not a date" in one_error(capsys)
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------------------ outputs


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Path:
    """A folder nobody may write to (for root, which ignores permissions, simulated)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:
        real = tempfile.mkstemp

        def refuse(*args, **kwargs):
            if Path(kwargs.get("dir") or ".").resolve() == locked.resolve():
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    yield locked
    locked.chmod(0o755)


@pytest.fixture
def no_work(monkeypatch):
    """Make any real work fail loudly: an output check must come before it."""

    def started(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    import importlib

    for module in ("data", "train", "score", "report", "loop", "demo"):
        namespace = importlib.import_module(f"healthscore.pipeline.{module}")
        for name in ("validated_source", "open_source", "load_model"):
            if hasattr(namespace, name):
                monkeypatch.setattr(namespace, name, started)


def output_command(command: str, data: Path, target: Path) -> list[str]:
    as_of = ["--as-of", "2025-12-01"]
    return {
        "score": ["score", "--data", str(data), *as_of, "--out", str(target / "s.csv")],
        "report": ["report", "--data", str(data), *as_of, "--out", str(target / "r.html")],
        "kpis": ["kpis", "--data", str(data), "--out", str(target / "k.csv")],
        "build": ["build", "--data", str(data), "--out", str(target / "t.parquet")],
        "train": ["train", "--data", str(data), "--model-dir", str(target / "models")],
        "features": ["features", "--data", str(data), *as_of, "--out", str(target / "f.csv")],
    }[command]


@pytest.mark.parametrize("command", ["score", "report", "kpis", "build", "train", "features"])
def test_a_read_only_output_folder_fails_before_the_work(
    tmp_path, capsys, read_only, no_work, command
):
    assert main(output_command(command, tmp_path, read_only)) == 1
    err = one_error(capsys)
    assert f"cannot write {read_only}" in err and "permission denied" in err
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize(
    ("out", "needle"),
    [("scores.xlsx", "use a .parquet or .csv file name"), ("folder", "it is a folder")],
)
def test_a_wrong_output_name_fails_before_the_work(tmp_path, capsys, no_work, out, needle):
    (tmp_path / "folder").mkdir()
    args = ["score", "--data", str(tmp_path), "--as-of", "2025-12-01", "--out"]
    assert main([*args, str(tmp_path / out)]) == 1
    assert needle in one_error(capsys)


def test_an_output_under_a_file_fails_before_the_work(tmp_path, capsys, no_work):
    (tmp_path / "file").write_text("x")
    args = ["kpis", "--data", str(tmp_path), "--out", str(tmp_path / "file" / "k.csv")]
    assert main(args) == 1
    assert "is a file, not a folder" in one_error(capsys)


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_writing_kpis(world_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "kpis.csv"
    out.write_text("keep me\n")
    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    assert main(["kpis", "--data", str(world_dir), "--out", str(out)]) == 1
    assert f"cannot write {out}: the disk is full; free some space" in one_error(capsys)
    assert out.read_text() == "keep me\n"
    assert [p.name for p in tmp_path.iterdir()] == ["kpis.csv"]


def test_a_full_disk_while_writing_scores(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "scores.parquet"
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    args = ["score", "--data", str(trained.data), "--as-of", "2025-12-01", "--out", str(out)]
    assert main([*args, "--model", str(trained.outcome.latest)]) == 1
    assert "the disk is full" in one_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("data", "end", "yesterday"), ("snapshots", "start", "2024-13-01"), ("snapshots", "end", "x")],
)
def test_a_date_in_the_config_that_is_no_date_is_one_line(tmp_path, capsys, section, key, value):
    config = tmp_path / "c.toml"
    config.write_text(f'[{section}]\n{key} = "{value}"\n')
    assert main(["validate", "--data", str(tmp_path), "--config", str(config)]) == 1
    message = capsys.readouterr().err
    assert f"{section}.{key}: {value!r} is not an ISO date such as 2025-01-01" in message
    assert "Traceback" not in message
