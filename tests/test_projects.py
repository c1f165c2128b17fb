"""One model namespace per data set: folders, MLflow experiments, registered models, the gate.

Two small simulated worlds, ``alpha`` and ``beta``, are trained in one checkout. Each gets its
own ``models/<project>/`` folder, experiment and registered model; scoring one with the
other's model is refused with one clear message unless forced, and the output says so. The
registry gate judges the champion on the challenger's own test snapshots, and never compares
with a champion trained on data of another fingerprint.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import Config
from healthscore.fingerprint import project_name, read_fingerprint

pytestmark = pytest.mark.slow

LIGHT = {
    "model": {"n_estimators": 120, "learning_rate": 0.08},
    "split": {"backtest_cutoffs": 0},
}
AS_OF = "2025-12-01"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A working directory with two data sets, both trained through the CLI."""
    from healthscore.pipeline import generate_data

    root = tmp_path_factory.mktemp("checkout")
    for name, seed in (("alpha", 3), ("beta", 4)):
        generate_data(
            root / "data" / name, n_accounts=400, start="2024-01-01", end="2026-01-01", seed=seed
        )
    config = root / "light.toml"
    config.write_text(
        "[model]\nn_estimators = 120\nlearning_rate = 0.08\n[split]\nbacktest_cutoffs = 0\n"
    )
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for name in ("alpha", "beta"):
            assert main(["train", "--data", f"data/{name}", "--config", str(config)]) == 0
        yield root
    finally:
        os.chdir(cwd)


def _client(root: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")


def test_two_projects_leave_two_folders_experiments_and_registered_models(checkout):
    for name in ("alpha", "beta"):
        folder = checkout / "models" / name
        runs = [p for p in folder.iterdir() if p.is_dir() and p.name != "latest"]
        assert len(runs) == 1 and (folder / "latest" / "model.txt").is_file()
        assert read_fingerprint(folder / "latest").project == name
    assert not (checkout / "models" / "latest").exists()
    client = _client(checkout)
    experiments = {e.name for e in client.search_experiments()}
    assert {"healthscore-alpha", "healthscore-beta"} <= experiments
    registered = {m.name for m in client.search_registered_models()}
    assert registered == {"healthscore-alpha", "healthscore-beta"}
    run = client.search_runs([client.get_experiment_by_name("healthscore-alpha").experiment_id])[0]
    assert run.info.run_name.startswith("alpha rolling ")
    assert run.data.tags["project"] == "alpha"


def test_scoring_with_another_projects_model_is_refused(checkout, capsys):
    out = checkout / "reports" / "alpha_with_beta.csv"
    args = ["score", "--data", "data/alpha", "--as-of", AS_OF, "--out", str(out)]
    args += ["--model", "models/beta/latest"]
    cwd = Path.cwd()
    os.chdir(checkout)
    try:
        assert main(args) == 1
        err = capsys.readouterr().err
        assert "does not match this data" in err
        assert "trained on project 'beta', the data is 'alpha'" in err
        assert "--force" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert not out.exists()

        assert main([*args, "--force"]) == 0
        captured = capsys.readouterr().out
        assert "warning: model of other data, scored with --force" in captured
        checks = pd.read_csv(out)["model_check"].unique().tolist()
        assert checks == ["forced: it was trained on project 'beta', the data is 'alpha'"]

        page = checkout / "reports" / "forced.html"
        report = ["report", "--data", "data/alpha", "--as-of", AS_OF, "--out", str(page)]
        assert main([*report, "--model", "models/beta/latest"]) == 1
        assert main([*report, "--model", "models/beta/latest", "--force"]) == 0
        assert "Model of other data, scored with --force" in page.read_text()

        own = checkout / "reports" / "alpha.csv"
        assert main(["score", "--data", "data/alpha", "--as-of", AS_OF, "--out", str(own)]) == 0
        assert pd.read_csv(own)["model_check"].unique().tolist() == ["ok"]
    finally:
        os.chdir(cwd)


def test_the_gate_rescores_the_champion_on_the_challengers_test_snapshots(checkout):
    """The champion's logged PR AUC no longer decides: it is measured again on the same rows."""
    from healthscore.pipeline import train

    client = _client(checkout)
    champion = client.get_model_version_by_alias("healthscore-alpha", "champion")
    client.log_metric(champion.run_id, "pr_auc", 0.999)  # a figure from some other test period
    config = Config().with_overrides(**LIGHT)
    cwd = Path.cwd()
    os.chdir(checkout)
    try:
        outcome = train("data/alpha", config)
    finally:
        os.chdir(cwd)
    promotion = outcome.promotion
    assert promotion.promoted, promotion.reason
    assert "re-scored on the same test snapshots" in promotion.reason
    assert promotion.champion_score == pytest.approx(outcome.metrics["pr_auc"], abs=1e-9)


def test_a_champion_of_another_fingerprint_is_never_compared(checkout):
    from healthscore.pipeline import train

    config = Config().with_overrides(
        **LIGHT,
        data={"optional_tables": ["logins", "feature_usage", "support_tickets"]},
    )  # without nps_responses: another set of tables
    cwd = Path.cwd()
    os.chdir(checkout)
    try:
        outcome = train("data/beta", config)
    finally:
        os.chdir(cwd)
    promotion = outcome.promotion
    assert promotion.promoted and promotion.champion_score is None
    assert "not compared" in promotion.reason and "nps_responses" in promotion.reason


def test_the_printed_mlflow_command_runs_as_printed(checkout, capsys):
    cwd = Path.cwd()
    os.chdir(checkout)
    try:
        config = checkout / "light.toml"
        assert main(["train", "--data", "data/beta", "--config", str(config)]) == 0
    finally:
        os.chdir(cwd)
    printed = [
        line.split("Open MLflow: ", 1)[1]
        for line in capsys.readouterr().out.splitlines()
        if "Open MLflow: " in line
    ]
    assert printed, "train printed no MLflow command"
    argv = shlex.split(printed[-1])
    assert Path(argv[0]).name == "mlflow" and argv[1] == "ui"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    argv[argv.index("--port") + 1] = port  # the printed 5000 may be taken on this machine
    log = (checkout / "ui.log").open("w")
    server = subprocess.Popen(
        [*argv, "--host", "127.0.0.1"],
        cwd=checkout,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the UI starts workers: stop the whole group at the end
    )
    try:
        url = (
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
            "?experiment_name=healthscore-beta"
        )
        deadline, found = time.time() + 90, None
        while time.time() < deadline and found is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    found = response.read().decode()
            except OSError:
                time.sleep(1)
        assert found and "healthscore-beta" in found, (checkout / "ui.log").read_text()[-2000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("exports/acme_2026-01", "acme_2026-01"),
        ("warehouse/crm.duckdb", "crm"),
        ("postgresql://cs@127.0.0.1:5432/crm_prod", "crm_prod"),
        ("data/My Data (copy)", "My-Data-copy"),
    ],
)
def test_project_names_come_from_where_the_data_is(data, name):
    assert project_name(data, Config()) == name


def test_a_configured_project_name_wins():
    config = Config().with_overrides(project={"name": "acme"})
    assert project_name("exports/acme_2026-01", config) == "acme"
    assert config.tracking.for_project("acme").registered_model == "healthscore-acme"


def test_copy_of_a_project_under_the_same_name_is_accepted(checkout, tmp_path):
    """Next week's export in another folder matches when [project] name says it is the same."""
    from healthscore.model_loading import load_model
    from healthscore.storage import open_source

    copy = tmp_path / "alpha_next_week"
    shutil.copytree(checkout / "data" / "alpha", copy)
    config = Config().with_overrides(project={"name": "alpha"})
    loaded = load_model(
        checkout / "models" / "alpha" / "latest", copy, open_source(copy, config), config
    )
    assert loaded.check == "ok"


@pytest.mark.parametrize("threads", [1, None])
def test_scoring_predicts_on_this_machines_threads(checkout, threads):
    """`[model] predict_threads` of the scoring run (default: this machine's cores) sets
    LightGBM's threads, whatever machine trained the model."""
    import os

    from healthscore.model_loading import load_model
    from healthscore.storage import open_source

    data = checkout / "data" / "alpha"
    config = Config().with_overrides(model={"predict_threads": threads})
    loaded = load_model(
        checkout / "models" / "alpha" / "latest", data, open_source(data, config), config
    )
    assert loaded.model.num_threads == (threads or os.cpu_count())
