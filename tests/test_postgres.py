"""A PostgreSQL database as the data source: the same features as from files.

The fixture starts a private PostgreSQL server on 127.0.0.1 (installing the server from the
OS packages if it is missing), loads a small simulated world into it, and stops it at the
end. A server that cannot be started fails the tests with the reason; it never skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Config, config_from_dict
from healthscore.errors import SchemaError
from healthscore.features import build_features
from healthscore.labels import churn_dates
from healthscore.snapshots import make_snapshots
from healthscore.storage import open_source, write_tables
from healthscore.validation import validate_data

SEED = 11
WORLD = {"n_accounts": 120, "start": "2024-01-01", "end": "2025-07-01", "seed": SEED}
PG_USER = "healthscore"
PG_DB = "healthscore"


def _run(args: list[str], *, as_postgres: bool, timeout: int = 120) -> subprocess.CompletedProcess:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def _server_bin() -> Path | None:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install_server() -> None:
    if os.geteuid() != 0:
        pytest.fail(
            "PostgreSQL is not installed and the tests are not root: install it "
            "with `apt-get install -y postgresql` and run the tests again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=900, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"could not install PostgreSQL ({' '.join(args)}):\n{done.stderr[-2000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """A private PostgreSQL server on 127.0.0.1 with an empty database, for this module."""
    bin_dir = _server_bin()
    if bin_dir is None:
        _install_server()
        bin_dir = _server_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL was installed but no initdb was found under /usr/lib/postgresql")
    as_postgres = os.geteuid() == 0  # the server refuses to run as root
    base = Path(tempfile.mkdtemp(prefix="healthscore-pg-"))
    if as_postgres:
        shutil.chown(base, user="postgres")
    data, log, port = base / "data", base / "server.log", _free_port()
    started = False
    try:
        done = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            as_postgres=as_postgres,
        )
        if done.returncode != 0:
            pytest.fail(f"initdb failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        done = _run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ],
            as_postgres=as_postgres,
        )
        started = done.returncode == 0
        if not started:
            text = log.read_text() if log.is_file() else ""
            pytest.fail(f"PostgreSQL did not start on port {port}:\n{done.stderr}\n{text[-2000:]}")
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user=PG_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {PG_DB}")
        yield Server(f"postgresql://{PG_USER}@127.0.0.1:{port}/{PG_DB}", port)
    finally:
        if started:
            _run(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                as_postgres=as_postgres,
            )
        shutil.rmtree(base, ignore_errors=True)


def _copy_rows(table, conn, keys, data_iter) -> None:
    """``DataFrame.to_sql`` method writing through COPY: much faster than INSERTs."""
    columns = ", ".join(f'"{k}"' for k in keys)
    name = f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'
    with (
        conn.connection.dbapi_connection.cursor() as cursor,
        cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy,
    ):
        for row in data_iter:
            copy.write_row(row)


def load(url: str, tables: dict[str, pd.DataFrame], *, schema: str | None = None) -> None:
    """Write DataFrames as tables of the database at ``url``."""
    import sqlalchemy as sa

    from healthscore.sources import database_url

    engine = sa.create_engine(database_url(url) or url)
    try:
        with engine.begin() as conn:
            if schema:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            for name, frame in tables.items():
                frame.to_sql(
                    name, conn, schema=schema, index=False, if_exists="replace", method=_copy_rows
                )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def world(postgres, tmp_path_factory) -> tuple[Path, str]:
    """The same small world as Parquet files and as PostgreSQL tables."""
    from healthscore.synthetic import generate_world

    print(f"world seed={SEED}")
    tables = generate_world(
        WORLD["n_accounts"], start=WORLD["start"], end=WORLD["end"], seed=SEED
    ).tables
    folder = tmp_path_factory.mktemp("pg_world")
    write_tables(tables, folder)
    load(postgres.url, tables)
    return folder, postgres.url


def test_features_from_postgres_equal_those_from_files(world):
    folder, url = world
    config = Config()
    from_files, from_db = open_source(folder, config), open_source(url, config)
    assert from_db.present == from_files.present
    assert from_db.data_end == from_files.data_end
    snapshots = make_snapshots(from_files, config)
    pd.testing.assert_frame_equal(make_snapshots(from_db, config), snapshots)
    pd.testing.assert_frame_equal(churn_dates(from_db, config), churn_dates(from_files, config))
    features = build_features(from_files, snapshots, config)
    assert len(features) > 500 and features.shape[1] > 30
    pd.testing.assert_frame_equal(build_features(from_db, snapshots, config), features)


def test_validate_command_reads_a_database_url(world, capsys):
    from healthscore.cli import main

    _, url = world
    assert validate_data(url).ok
    assert main(["validate", "--data", url]) == 0
    out = capsys.readouterr().out
    assert "0 error(s)" in out and "127.0.0.1" in out


def test_tables_are_mapped_by_the_config_in_another_schema(world):
    folder, url = world
    accounts = pd.read_parquet(folder / "accounts.parquet").rename(
        columns={"account_id": "id", "created_at": "signup_date"}
    )
    load(url, {"customers": accounts}, schema="crm")
    config = config_from_dict(
        {
            "data": {
                "tables": {
                    "accounts": {
                        "source": "crm.customers",
                        "columns": {"account_id": "id", "created_at": "signup_date"},
                    },
                }
            }
        }
    )
    source = open_source(url, config)
    assert source.table("accounts")["account_id"].nunique() == WORLD["n_accounts"]
    assert validate_data(url, config).ok


def test_an_unreachable_server_is_one_clear_error(postgres):
    closed = _free_port()
    with pytest.raises(SchemaError, match="cannot connect to postgresql"):
        open_source(f"postgresql://nobody@127.0.0.1:{closed}/nothing")


# --- secrets -------------------------------------------------------------------------------

DATA_SECRET = "s3cr/et-D4ta"  # a "/" escaped the old redaction
TRACKING_SECRET = "Tr4ck1ng-pw"
QUERY_SECRET = "Qu3ry=Secret"


def _all_text(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".venv" not in path.parts
    }


def _leaks(text: str | bytes) -> list[str]:
    from urllib.parse import quote

    found = []
    for secret in (DATA_SECRET, TRACKING_SECRET, QUERY_SECRET):
        for form in {secret, quote(secret, safe="")}:
            needle = form.encode() if isinstance(text, bytes) else form
            if needle in text:
                found.append(form)
    return found


@pytest.mark.slow
def test_no_password_reaches_any_output_artifact_param_tag_or_log(
    world, postgres, tmp_path, capsys, caplog
):
    """A password in every place a URL may come from, then every output is searched for it."""
    import logging

    from mlflow.tracking import MlflowClient

    from healthscore.cli import main

    caplog.set_level(logging.DEBUG)
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=postgres.port, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute("CREATE DATABASE mlflow_secrets")
    data = f"postgresql://{PG_USER}:{DATA_SECRET}@127.0.0.1:{postgres.port}/{PG_DB}"
    store = f"postgresql+psycopg://{PG_USER}:{TRACKING_SECRET}@127.0.0.1:{postgres.port}/"
    store += "mlflow_secrets"
    config = tmp_path / "secrets.toml"
    config.write_text(
        f'[tracking]\nuri = "{store}"\nartifact_root = "mlruns/artifacts"\n'
        "[split]\ntest_dates = 1\nvalid_dates = 1\nbacktest_cutoffs = 0\n"
        "[model]\nn_estimators = 60\n"
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert main(["train", "--data", data, "--config", str(config)]) == 0
        args = ["--data", data, "--config", str(config), "--as-of", "2025-06-01"]
        assert main(["score", *args, "--out", "reports/scores.csv"]) == 0
        assert main(["report", *args, "--out", "reports/report.html"]) == 0
        assert main(["validate", "--data", data, "--config", str(config)]) == 0
        closed = f"postgresql://{PG_USER}@127.0.0.1:{_free_port()}/x?password={QUERY_SECRET}"
        assert main(["validate", "--data", closed]) == 1
    finally:
        os.chdir(cwd)
    captured = capsys.readouterr()
    assert "Open MLflow: " in captured.out and "***" in captured.out
    assert not _leaks(captured.out + captured.err), "printed"
    assert not _leaks(caplog.text), "logged"
    files = _all_text(tmp_path)
    files.pop(config.name)  # the user's own config, the one input that holds the password
    assert any(name.endswith("model_card.md") for name in files)
    assert any(name.endswith(".meta.json") for name in files)
    assert not {name: hit for name, data_ in files.items() if (hit := _leaks(data_))}, "written"

    client = MlflowClient(store)
    [experiment] = [e for e in client.search_experiments() if e.name.startswith("healthscore-")]
    [run] = client.search_runs([experiment.experiment_id])
    recorded = [*run.data.params.values(), *run.data.tags.values()]
    for version in client.search_model_versions():
        recorded += [version.source, *version.tags.values()]
    assert not _leaks("\n".join(recorded)), "recorded in MLflow"
    assert run.data.params["tracking.uri"].startswith("postgresql+psycopg://healthscore:***@")
