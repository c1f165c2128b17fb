"""MLflow, exercised for real: runs and models are read back through MLflow itself."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from healthscore import tracking
from healthscore.bundle import read_metrics
from healthscore.model import HealthModel


def _client(trained):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking.configure(trained.tracking, root=trained.workdir))


def _features(trained, n=200):
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source

    frame = training_set_for(
        open_source(trained.data, trained.config),
        trained.config,
        trained.workdir / "models" / "cache",
    ).frame
    return frame.sample(n, random_state=0)


def test_run_metrics_read_back_equal_metrics_json(trained):
    run = _client(trained).get_run(trained.outcome.run_id)
    saved = read_metrics(trained.outcome.bundle)
    numeric = {
        k: v for k, v in saved.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    assert numeric, "metrics.json holds no numbers"
    for key, value in numeric.items():
        assert run.data.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert run.data.params["labels.horizon_days"] == "90"
    assert run.data.tags["data_fingerprint"]
    assert run.data.tags["package_version"]


def test_run_artifacts_include_the_bundle_files(trained):
    names = {a.path for a in _client(trained).list_artifacts(trained.outcome.run_id)}
    assert {"metrics.json", "model_card.md", "feature_catalogue.csv", "plots"} <= names


def test_logged_model_loads_through_mlflow_with_identical_predictions(trained):
    features = _features(trained)
    bundle_model = HealthModel.load(trained.outcome.bundle)
    tracking.configure(trained.tracking, root=trained.workdir)
    pyfunc = tracking.load_pyfunc(trained.champion_uri)
    from_mlflow = np.asarray(pyfunc.predict(features[bundle_model.features]))
    np.testing.assert_array_equal(from_mlflow, bundle_model.predict_proba(features))
    signature = pyfunc.metadata.get_input_schema()
    assert "usage__logins_30d" in signature.input_names()


def test_registry_aliases_and_promotion_gate(trained):
    client = _client(trained)
    name = trained.tracking.registered_model
    champion = client.get_model_version_by_alias(name, "champion")
    challenger = client.get_model_version_by_alias(name, "challenger")
    assert champion.version == challenger.version
    assert trained.outcome.promotion.promoted

    pr_auc = float(trained.outcome.metrics["pr_auc"])

    def champion_at(score):
        return lambda bundle: (score, "re-scored on the same test snapshots")

    worse = tracking.register_and_gate(
        challenger.source,
        run_id=trained.outcome.run_id,
        new_score=pr_auc - 0.1,
        config=trained.tracking,
        champion_score=champion_at(pr_auc),
    )
    assert not worse.promoted and "<" in worse.reason
    assert client.get_model_version_by_alias(name, "champion").version == champion.version
    assert str(client.get_model_version_by_alias(name, "challenger").version) == worse.version
    better = tracking.register_and_gate(
        challenger.source,
        run_id=trained.outcome.run_id,
        new_score=pr_auc,
        config=trained.tracking,
        champion_score=champion_at(pr_auc),
    )
    assert better.promoted and ">=" in better.reason
    assert str(client.get_model_version_by_alias(name, "champion").version) == better.version


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mlflow_server_serves_the_run_over_rest(trained, tmp_path):
    port = _free_port()
    uri = tracking.configure(trained.tracking, root=trained.workdir)
    exe = Path(sys.executable).with_name("mlflow")
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [
            str(exe),
            "server",
            "--backend-store-uri",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body = json.dumps({"experiment_ids": [], "max_results": 10}).encode()
        experiment = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                url = (
                    f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
                    f"?experiment_name={trained.tracking.experiment}"
                )
                with urllib.request.urlopen(url, timeout=5) as response:
                    experiment = json.load(response)["experiment"]["experiment_id"]
                break
            except OSError:
                time.sleep(1)
        assert experiment is not None, (tmp_path / "server.log").read_text()[-2000:]
        body = json.dumps({"experiment_ids": [experiment], "max_results": 50}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            runs = json.load(response)["runs"]
        found = [r for r in runs if r["info"]["run_id"] == trained.outcome.run_id]
        assert found
        metrics = {m["key"]: m["value"] for m in found[0]["data"]["metrics"]}
        assert metrics["roc_auc"] == pytest.approx(trained.outcome.metrics["roc_auc"])
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
