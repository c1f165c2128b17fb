"""Monitoring: PSI and the verdict from small tables, then the session's model on its own
training period (ok) and on a copy of its world whose usage was shifted on purpose."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.config import Config, MonitorConfig
from healthscore.errors import ConfigError
from healthscore.monitor import binned_shares, decide, feature_drift, psi_from_shares

SHIFT_SEED = 5


def test_psi_of_identical_populations_is_zero_and_grows_with_the_shift():
    same = psi_from_shares(np.array([0.2, 0.3, 0.5]), np.array([0.2, 0.3, 0.5]))
    assert same == 0.0
    small = psi_from_shares(np.array([0.5, 0.5]), np.array([0.45, 0.55]))
    large = psi_from_shares(np.array([0.5, 0.5]), np.array([0.1, 0.9]))
    assert 0 < small < 0.1 < 0.25 < large
    # an empty bin is floored, not infinite
    assert np.isfinite(psi_from_shares(np.array([0.5, 0.5]), np.array([0.0, 1.0])))


def test_numbers_are_binned_on_the_reference_quantiles_and_text_on_its_categories():
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.normal(size=5000))
    labels, ref, cur = binned_shares(reference, pd.Series(rng.normal(size=5000)), bins=10)
    assert len(labels) == 10 and ref == pytest.approx(np.full(10, 0.1), abs=1e-3)
    assert psi_from_shares(ref, cur) < 0.02
    labels, ref, cur = binned_shares(
        pd.Series(["SMB", "SMB", "enterprise", None]), pd.Series(["SMB", "public", None]), bins=10
    )
    assert labels == ["SMB", "enterprise", "other"]
    assert ref.tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert cur.tolist() == pytest.approx([0.5, 0.0, 0.5])


def test_only_features_that_matter_decide_and_only_a_rise_in_missing_counts():
    rng = np.random.default_rng(1)
    base = rng.normal(size=2000).tolist()
    shifted = (rng.normal(size=2000) + 1.5).tolist()
    with_gaps = [np.nan] * 600 + base[600:]
    reference = pd.DataFrame(
        {
            "usage__logins_30d": base,
            "usage__rare_signal": base,
            "contract__tenure_days": base,
            "support__tickets_90d": base,
            "satisfaction__last_nps": with_gaps,
        }
    )
    current = pd.DataFrame(
        {
            "usage__logins_30d": shifted,
            "usage__rare_signal": shifted,
            "contract__tenure_days": shifted,
            "support__tickets_90d": [np.nan] * 500 + base[500:],
            "satisfaction__last_nps": base,
        }
    )
    importance = pd.Series(
        {
            "usage__logins_30d": 0.5,
            "usage__rare_signal": 0.001,
            "contract__tenure_days": 0.3,
            "support__tickets_90d": 0.1,
            "satisfaction__last_nps": 0.099,
        }
    )
    drift = feature_drift(
        reference,
        current,
        features=list(importance.index),
        importance=importance,
        config=MonitorConfig(),
    ).set_index("feature")
    assert drift.loc["usage__logins_30d", "status"] == "retrain"
    assert drift.loc["usage__logins_30d", "decides"]
    assert not drift.loc["usage__rare_signal", "decides"]  # too little weight
    assert not drift.loc["contract__tenure_days", "decides"]  # context: drifts as the book ages
    assert drift.loc["support__tickets_90d", "status"] == "retrain"  # 25% more missing
    assert drift.loc["satisfaction__last_nps", "status"] == "ok"  # fewer missing is fine
    verdict, reasons = decide(
        drift.reset_index(),
        score_psi=0.01,
        recent=pd.DataFrame(),
        test_roc_auc=0.8,
        config=MonitorConfig(),
    )
    assert verdict == "retrain"
    assert reasons[0].startswith("retrain: usage__logins_30d drifted: PSI")
    assert not any("tenure" in r or "rare_signal" in r for r in reasons)


RECENT = pd.DataFrame(
    {
        "as_of": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
        "accounts": [1000, 1000, 1000],
        "churned": [50, 52, 48],
        "predicted_churn": [0.05, 0.05, 0.05],
        "roc_auc": [0.80, 0.81, 0.79],
    }
)


@pytest.mark.parametrize(
    ("churned", "auc", "expected"),
    [
        ((50, 52, 48), (0.80, 0.81, 0.79), "ok"),
        ((70, 65, 68), (0.80, 0.81, 0.79), "watch"),  # x1.35, far beyond chance
        ((90, 95, 100), (0.80, 0.81, 0.79), "retrain"),  # x1.9
        ((50, 52, 48), (0.73, 0.74, 0.74), "watch"),  # AUC fell 0.06
        ((50, 52, 48), (0.65, 0.66, 0.66), "retrain"),
    ],
)
def test_verdict_from_realised_churn(churned, auc, expected):
    recent = RECENT.assign(churned=list(churned), roc_auc=list(auc))
    drift = pd.DataFrame(columns=["feature", "status", "decides"])
    verdict, reasons = decide(
        drift, score_psi=0.01, recent=recent, test_roc_auc=0.8, config=MonitorConfig()
    )
    assert verdict == expected, reasons


def test_a_small_gap_that_chance_explains_does_not_count():
    recent = RECENT.assign(accounts=[40, 40, 40], churned=[4, 3, 3])  # 8.3% against 5%
    verdict, _ = decide(
        pd.DataFrame(columns=["feature", "status", "decides"]),
        score_psi=0.0,
        recent=recent,
        test_roc_auc=float("nan"),
        config=MonitorConfig(),
    )
    assert verdict == "ok"


def test_thresholds_are_config_and_checked():
    assert Config().monitor.psi_retrain == 0.25
    with pytest.raises(ConfigError, match="psi_watch must not exceed"):
        Config().with_overrides(monitor={"psi_watch": 0.5})


# ----------------------------------------------------------------------- the session's model


def _training_period(trained) -> tuple[pd.Timestamp, pd.Timestamp]:
    first, last = str(trained.outcome.metrics["train_period"]).split("..")
    return pd.Timestamp(first), pd.Timestamp(last)


@pytest.mark.slow
def test_monitor_says_ok_on_the_training_period(trained, tmp_path):
    from healthscore.pipeline import monitor

    first, last = _training_period(trained)
    as_of = (last - pd.DateOffset(months=2)).strftime("%Y-%m-%d")
    report = monitor(
        trained.data, as_of, trained.config, model=trained.outcome.latest, out=tmp_path / "m"
    )
    print(report.verdict, report.reasons)
    assert report.verdict == "ok", report.reasons
    assert report.performance.empty  # no date after the training period is complete yet
    for name in ("drift.csv", "score_bins.csv", "performance.csv", "calibration.csv"):
        assert (tmp_path / "m" / name).is_file()
    assert json.loads((tmp_path / "m" / "verdict.json").read_text())["verdict"] == "ok"


@pytest.fixture(scope="module")
def shifted_world(world_dir, tmp_path_factory):
    """The session's world with 70% of logins and feature usage gone from 2025-03-01 on."""
    from healthscore.storage import read_frame, write_tables
    from healthscore.synthetic.shift import shift_behaviour

    folder = tmp_path_factory.mktemp("shifted") / "data"  # same project name as the world
    print(f"shift seed={SHIFT_SEED}")
    tables = {p.stem: read_frame(p) for p in world_dir.glob("*.parquet")}
    write_tables(
        shift_behaviour(tables, since="2025-03-01", kept_share=0.3, seed=SHIFT_SEED), folder
    )
    return folder


@pytest.mark.slow
def test_monitor_flags_a_world_whose_behaviour_shifted(trained, shifted_world, tmp_path, capsys):
    out = tmp_path / "monitor"
    code = main(
        [
            "monitor",
            "--data",
            str(shifted_world),
            "--as-of",
            "2025-12-01",
            "--model",
            str(trained.outcome.latest),
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed  # a verdict is not an error
    verdict = json.loads((out / "verdict.json").read_text())
    print(verdict)
    assert verdict["verdict"] == "retrain"
    assert "Verdict at 2025-12-01: RETRAIN" in printed
    drifted = " ".join(r for r in verdict["reasons"] if r.startswith("retrain"))
    assert "usage__" in drifted or "adoption__" in drifted
    performance = pd.read_csv(out / "performance.csv")
    after = performance[performance["as_of"] >= "2025-04-01"]
    assert (after["ratio"] < 1).all()  # the model now predicts more churn than comes


def test_monitor_on_bad_data_exits_one(world_dir, tmp_path, capsys):
    broken = tmp_path / "data"
    broken.mkdir()
    for path in world_dir.glob("*.parquet"):
        (broken / path.name).write_bytes(path.read_bytes())
    (broken / "accounts.parquet").unlink()
    code = main(["monitor", "--data", str(broken), "--as-of", "2025-06-01"])
    assert code == 1
    assert "accounts" in capsys.readouterr().err
