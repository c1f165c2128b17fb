"""The command line as a user runs it: the console script, exit codes, messages."""

import subprocess
import sys
from pathlib import Path

import pytest

from healthscore.cli import main

SEED = 3


def test_console_script_help_runs_in_a_subprocess():
    exe = Path(sys.executable).with_name("healthscore")
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for command in ("generate", "validate", "train", "score", "alerts", "explain", "demo"):
        assert command in done.stdout


@pytest.mark.parametrize("command", ["generate", "validate", "train", "score", "explain"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--" in capsys.readouterr().out


def test_generate_then_validate(tmp_path, capsys):
    print(f"seed={SEED}")
    out = tmp_path / "world"
    assert (
        main(
            [
                "generate",
                "--out",
                str(out),
                "--accounts",
                "150",
                "--seed",
                str(SEED),
                "--start",
                "2024-01-01",
                "--end",
                "2025-01-01",
            ]
        )
        == 0
    )
    assert (out / "accounts.parquet").is_file() and (out / "_truth" / "hazard.parquet").is_file()
    assert "logins" in capsys.readouterr().out
    assert main(["validate", "--data", str(out)]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_generate_csv_format(tmp_path):
    out = tmp_path / "csv"
    assert (
        main(
            [
                "generate",
                "--out",
                str(out),
                "--accounts",
                "60",
                "--format",
                "csv",
                "--start",
                "2024-06-01",
                "--end",
                "2025-01-01",
            ]
        )
        == 0
    )
    assert (out / "contracts.csv").is_file()
    assert main(["validate", "--data", str(out)]) == 0


def test_validate_failure_is_one_message_and_exit_1(tmp_path, capsys):
    (tmp_path / "accounts.csv").write_text("account_id,created_at\nA1,2024-01-01\n")
    (tmp_path / "contracts.csv").write_text(
        "contract_id,account_id,start_date,end_date,arr\nC1,A1,2024-01-01,2025-01-01,-3\n"
    )
    assert main(["validate", "--data", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "contracts.arr: values below 0 (1 row)" in out.out
    assert "Traceback" not in out.out + out.err


def test_user_error_has_no_traceback_unless_verbose(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["validate", "--data", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert main(["-v", "validate", "--data", str(missing)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_bad_config_is_reported(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[labels]\nhorizon = 3\n")
    assert main(["validate", "--data", str(tmp_path), "--config", str(cfg)]) == 1
    assert "labels.horizon: unknown key" in capsys.readouterr().err


def test_generate_rejects_an_unknown_format(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "x"), "--format", "xlsx"]) == 1
    assert "parquet or csv" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_build_writes_the_training_set_with_metadata(world_dir, tmp_path, capsys):
    import json

    import pandas as pd

    out = tmp_path / "training.parquet"
    assert main(["build", "--data", str(world_dir), "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    meta = json.loads((tmp_path / "training.parquet.meta.json").read_text())
    assert {"account_id", "as_of", "label", "censored"} <= set(frame.columns)
    assert not frame.duplicated(["account_id", "as_of"]).any()
    assert meta["horizon_days"] == 90 and meta["data_fingerprint"]
    assert set(meta["features"]) <= set(frame.columns)
    assert "labelled" in capsys.readouterr().out


def test_features_at_one_date_and_the_catalogue(world_dir, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "features.csv"
    assert (
        main(["features", "--data", str(world_dir), "--as-of", "2025-06-01", "--out", str(out)])
        == 0
    )
    table = pd.read_csv(out)
    assert (table["as_of"].str.startswith("2025-06-01")).all()
    assert "usage__logins_30d" in table.columns
    assert main(["features", "--list"]) == 0
    assert "usage__logins_30d" in capsys.readouterr().out
    assert main(["features", "--data", str(world_dir)]) == 1


def test_database_passwords_are_never_recorded():
    from healthscore.redaction import redact_url as describe_source

    assert describe_source("postgresql://cs:s3cr@t@127.0.0.1:5432/crm") == (
        "postgresql://cs:***@127.0.0.1:5432/crm"
    )
    assert describe_source("postgresql://cs@db/crm") == "postgresql://cs@db/crm"
    assert describe_source("data/demo") == "data/demo"
