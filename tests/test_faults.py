"""No corrupt state after any fault: damaged bundles, killed runs, half-written files.

Each test makes one fault happen for real (a truncated model file, a SIGTERM, a SIGKILL, a
cache entry cut short, a leftover temporary file) and checks what the next user sees: one
clear message, or a run that repairs what the dead one left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from healthscore.bundle import (
    load_bundle_model,
    project_lock,
    publish_latest,
    verify_bundle,
    write_manifest,
)
from healthscore.cli import main
from healthscore.errors import DataError, ModelError

AS_OF = "2025-12-01"


@pytest.fixture
def bundle(trained, tmp_path) -> Path:
    """A private copy of the session's bundle, free to damage."""
    copy = tmp_path / "models" / "data" / "copy"
    shutil.copytree(trained.outcome.bundle, copy)
    return copy


def _score(trained, model: Path, tmp_path: Path, capsys) -> str:
    out = tmp_path / "scores.csv"
    args = ["score", "--data", str(trained.data), "--as-of", AS_OF, "--out", str(out)]
    assert main([*args, "--model", str(model)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def test_every_bundle_has_a_manifest_that_verifies(trained):
    verify_bundle(trained.outcome.bundle)
    manifest = json.loads((trained.outcome.bundle / "manifest.json").read_text())
    assert {"model.txt", "model.json", "metrics.json", "fingerprint.json"} <= set(manifest["files"])


def test_a_truncated_model_file_is_a_clear_error_not_a_crash(trained, bundle, tmp_path, capsys):
    booster = bundle / "model.txt"
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 3])
    err = _score(trained, bundle, tmp_path, capsys)
    assert "is damaged or was edited: model.txt" in err


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("model.json", lambda text: text.replace('"best_iteration"', '"best_iteration" ', 1)),
        ("metrics.json", lambda text: text[: len(text) // 2]),
        ("fingerprint.json", lambda text: "garbage"),
        ("model_card.md", lambda text: text + "\nedited by hand\n"),
    ],
)
def test_an_edited_or_truncated_file_names_itself(trained, bundle, tmp_path, capsys, name, damage):
    path = bundle / name
    path.write_text(damage(path.read_text()))
    err = _score(trained, bundle, tmp_path, capsys)
    assert f"is damaged or was edited: {name}" in err


def test_a_missing_file_or_manifest_is_named(bundle):
    (bundle / "plots" / "gains.png").unlink()
    with pytest.raises(ModelError, match="damaged or was edited: plots/gains.png is missing"):
        load_bundle_model(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(ModelError, match="manifest.json is missing"):
        load_bundle_model(bundle)


def test_json_that_breaks_its_schema_is_refused_even_with_a_matching_manifest(bundle):
    meta = json.loads((bundle / "model.json").read_text())
    del meta["features"]
    (bundle / "model.json").write_text(json.dumps(meta))
    write_manifest(bundle)  # as if a careless tool had rewritten the manifest too
    with pytest.raises(ModelError, match=r"damaged or was edited: model.json \(.*features"):
        load_bundle_model(bundle)


def test_latest_is_swapped_in_one_step(tmp_path):
    models = tmp_path / "models" / "p"
    first, second = models / "run1", models / "run2"
    for run in (first, second):
        run.mkdir(parents=True)
        (run / "model.txt").write_text(run.name)
    (models / "latest").mkdir()  # a copy-style latest folder from an older release
    (models / "latest" / "model.txt").write_text("old")
    latest = publish_latest(first, models)
    assert latest.is_symlink() and (latest / "model.txt").read_text() == "run1"
    publish_latest(second, models)
    assert os.readlink(latest) == "run2" and (latest / "model.txt").read_text() == "run2"
    assert sorted(p.name for p in models.iterdir()) == ["latest", "run1", "run2"]


def test_a_half_written_cache_entry_is_a_miss(trained, tmp_path, caplog):
    from healthscore.dataset import training_set_for
    from healthscore.storage import open_source

    cache = tmp_path / "cache"
    shutil.copytree(trained.workdir / "models" / "cache", cache)
    [entry] = [p for p in cache.glob("training_set_*.parquet") if p.stat().st_size > 0][:1]
    entry.write_bytes(entry.read_bytes()[:1000])  # cut short by a crash or a full disk
    source = open_source(trained.data, trained.config)
    rebuilt = training_set_for(source, trained.config, cache)
    assert len(rebuilt.frame) > 0 and "unreadable" in caplog.text
    assert training_set_for(source, trained.config, cache).frame.equals(rebuilt.frame)


def test_the_table_is_written_after_its_metadata(tmp_path, monkeypatch):
    """A run killed between the two writes leaves metadata only: no entry that looks whole."""
    from healthscore import storage

    target = tmp_path / "training_set_x.parquet"

    def killed(frame, path):
        raise KeyboardInterrupt

    monkeypatch.setattr(storage, "write_frame", killed)
    with pytest.raises(KeyboardInterrupt):
        storage.write_frame_with_metadata(pd.DataFrame({"a": [1]}), target, {"k": 1})
    assert storage.metadata_path(target).is_file() and not target.exists()


def test_a_test_period_with_one_class_fails_and_replaces_nothing(trained, tmp_path, monkeypatch):
    import healthscore.training as training
    from healthscore.pipeline import train

    real_split = training.time_split

    def no_churn_in_test(frame, config):
        split = real_split(frame, config)
        return type(split)(split.train, split.valid, split.test.assign(label=0.0), split.purge_days)

    monkeypatch.setattr(training, "time_split", no_churn_in_test)
    models = tmp_path / "models"
    shutil.copytree(trained.workdir / "models", models, symlinks=True)
    before = sorted(p.name for p in (models / "data").iterdir())
    latest_before = os.readlink(models / "data" / "latest")
    with pytest.raises(DataError, match="all of them stayed: ROC and PR AUC cannot be measured"):
        train(
            trained.data,
            trained.config.with_overrides(tracking={"enabled": False}),
            model_dir=models,
        )
    assert sorted(p.name for p in (models / "data").iterdir()) == before
    assert os.readlink(models / "data" / "latest") == latest_before


def _run_child(code: str, workdir: Path) -> subprocess.Popen:
    script = workdir / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script)], cwd=workdir, stdout=subprocess.PIPE, text=True
    )


_OPEN_RUN = """
    import sys, time
    from healthscore import tracking
    from healthscore.config import TrackingConfig
    config = TrackingConfig(experiment="faults")
    with tracking.training_run(config, root=".", name="{name}") as run_id:
        print(run_id, flush=True)
        time.sleep(120)
"""


def _client(workdir: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")


@pytest.mark.slow
def test_a_terminated_run_is_failed_and_a_killed_one_is_marked_by_the_next(tmp_path):
    from healthscore import tracking
    from healthscore.config import TrackingConfig

    stopped = _run_child(_OPEN_RUN.format(name="terminated"), tmp_path)
    run_id = stopped.stdout.readline().strip()
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=60) == 128 + signal.SIGTERM
    assert _client(tmp_path).get_run(run_id).info.status == "FAILED"

    killed = _run_child(_OPEN_RUN.format(name="killed"), tmp_path)
    killed_id = killed.stdout.readline().strip()
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert _client(tmp_path).get_run(killed_id).info.status == "RUNNING"
    config = TrackingConfig(experiment="faults")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        tracking.configure(config, root=tmp_path)
        assert tracking.mark_killed_runs(config) == [killed_id]
    finally:
        os.chdir(cwd)
    assert _client(tmp_path).get_run(killed_id).info.status == "KILLED"


def test_the_project_lock_lets_one_training_decide_at_a_time(tmp_path):
    holder = _run_child(
        f"""
        import time
        from healthscore.bundle import project_lock
        with project_lock({str(tmp_path / "models" / "p")!r}):
            print("held", flush=True)
            time.sleep(30)
        """,
        tmp_path,
    )
    assert holder.stdout.readline().strip() == "held"
    try:
        started = time.perf_counter()
        with (
            pytest.raises(ModelError, match="another training of p has held"),
            project_lock(tmp_path / "models" / "p", timeout=1),
        ):
            pass
        assert time.perf_counter() - started >= 1
    finally:
        holder.kill()
        holder.wait()
    with project_lock(tmp_path / "models" / "p", timeout=5):
        pass  # free again once the holder is gone


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    from healthscore.storage import write_frame

    target = tmp_path / "scores.csv"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    leftover = tmp_path / f".scores.csv.{dead.stdout.strip()}.abc123.tmp"
    leftover.write_text("half")
    alive = tmp_path / f".scores.csv.{os.getppid()}.def456.tmp"  # a writer still running
    alive.write_text("in progress")
    write_frame(pd.DataFrame({"a": [1]}), target)
    assert not leftover.exists() and alive.exists() and target.is_file()
