"""Public data sets that nobody here generated, read by configuration only.

``examples/ravenstack.toml`` and ``examples/fightchurn.toml`` map two foreign schemas onto the
contract; these tests run them as a user would. The data sets ship with the repository in
``datasets/`` (see their SOURCE.md files for origin and licence).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Config, load_config
from healthscore.validation import validate_data

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "datasets"
EXAMPLES = {
    "ravenstack": (DATASETS / "ravenstack", ROOT / "examples" / "ravenstack.toml"),
    "fightchurn": (DATASETS / "fightchurn_crm6", ROOT / "examples" / "fightchurn.toml"),
}
LIGHT = {
    "model": {"n_estimators": 150},
    "split": {"backtest_cutoffs": 0},
    "tracking": {"enabled": False},
}


def example(name: str) -> tuple[Path, Config]:
    data, config_path = EXAMPLES[name]
    if not data.is_dir():
        pytest.fail(f"data set {data} is missing from the checkout; restore datasets/ from git")
    return data, load_config(config_path)


@pytest.fixture(scope="module")
def ravenstack_set():
    from healthscore.dataset import build_training_set
    from healthscore.validation import validated_source

    data, config = example("ravenstack")
    config = config.with_overrides(**LIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # logins and NPS are absent: those families are off
        return build_training_set(validated_source(data, config), config), config


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        ("ravenstack", {"logins", "nps_responses"}),
        ("fightchurn", {"support_tickets", "nps_responses"}),
    ],
)
def test_the_examples_validate_without_errors(name, absent):
    data, config = example(name)
    report = validate_data(data, config)
    assert report.ok, report.describe()
    tables_missing = {p.table for p in report.warnings if p.column is None}
    assert tables_missing == absent, report.describe()
    # the other warnings name optional columns the export does not have, and their features
    assert all(
        "optional column not supplied" in p.message for p in report.warnings if p.column is not None
    ), report.describe()


def test_ravenstack_reads_its_five_exports_without_the_leaking_columns(ravenstack_set):
    training_set, _ = ravenstack_set
    frame = training_set.frame
    families = {c.split("__")[0] for c in training_set.features}
    assert families == {"adoption", "support", "contract", "account"}
    assert not [c for c in frame.columns if "churn_flag" in c or "end_date" in c]
    labelled = training_set.labelled
    assert labelled["as_of"].min() == pd.Timestamp("2023-02-01")
    assert labelled["as_of"].max() == pd.Timestamp("2024-10-01")  # 90 days before the end
    assert 0.15 < labelled["label"].mean() < 0.3


@pytest.mark.slow
def test_permuted_labels_keep_each_dates_churn_count_and_find_nothing(ravenstack_set):
    from healthscore.permutation import permutation_check, shuffle_labels

    training_set, config = ravenstack_set
    frame = training_set.frame
    shuffled = shuffle_labels(frame, seed=1)
    per_date = frame.groupby("as_of")["label"].sum()
    pd.testing.assert_series_equal(shuffled.groupby("as_of")["label"].sum(), per_date)
    assert shuffled["censored"].equals(frame["censored"])
    assert (shuffled["label"] != frame["label"]).sum() > 100
    aucs = permutation_check(frame, config, n=2, seed=3)
    assert len(aucs) == 2 and all(0.4 < auc < 0.6 for auc in aucs)


@pytest.mark.slow
def test_ravenstack_trains_and_scores_with_the_example_config(tmp_path, monkeypatch, capsys):
    from healthscore.cli import main

    data, config_path = EXAMPLES["ravenstack"]
    monkeypatch.chdir(tmp_path)  # the model bundles and the MLflow store go here
    assert main(["train", "--data", str(data), "--config", str(config_path)]) == 0
    printed = capsys.readouterr().out
    assert "Test period 2024-08-01..2024-10-01" in printed
    assert "possible leak" not in printed  # a model of noise is no leak
    assert (
        main(
            [
                "score",
                "--data",
                str(data),
                "--config",
                str(config_path),
                "--as-of",
                "2025-01-01",
                "--out",
                "scores.csv",
            ]
        )
        == 0
    )
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) > 300 and scores["account_id"].str.startswith("A-").all()
    assert scores["health_score"].between(0, 100).all()


@pytest.mark.slow
def test_fightchurn_trains_and_scores_by_configuration_only(tmp_path):
    from healthscore.pipeline import score, train

    data, config = example("fightchurn")
    config = config.with_overrides(**LIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no tickets or NPS: those families are off
        outcome = train(data, config, model_dir=tmp_path / "models", root=tmp_path)
        scores = score(data, "2024-01-01", config, model=outcome.latest)
    metrics = outcome.metrics
    assert metrics["test_period"] == "2023-08-01..2023-10-01"
    assert metrics["n_features"] >= 30
    assert 0.5 < metrics["roc_auc"] < 0.8  # a little behavioural signal, as the source says
    assert len(scores) > 600
    assert scores["account_id"].astype(str).str.fullmatch(r"\d+").all()
