"""Metrics against values worked out by hand on tiny tables."""

import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import DataError
from healthscore.evaluate import (
    METRIC_KEYS,
    calibration_table,
    classification_metrics,
    cumulative_gains,
    days_flagged_before_churn,
    expected_calibration_error,
    lift_at,
    metrics_by_slice,
    oracle_ratio,
    top_k_by_date,
    top_k_metrics,
)

SEED = 20240601


def _csv(text: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), **kwargs)


# ------------------------------------------------------------- calibration


def test_ece_by_hand_with_uniform_bins():
    # bin [0, .5): mean p .2, rate 0 -> gap .2; bin [.5, 1]: mean p .7, rate 1 -> gap .3
    ece = expected_calibration_error(
        [0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8], n_bins=2, strategy="uniform"
    )
    assert ece == pytest.approx(0.5 * 0.2 + 0.5 * 0.3)


def test_ece_is_small_when_calibrated_and_large_when_not():
    print(f"seed={SEED}")
    rng = np.random.default_rng(SEED)
    prob = rng.uniform(0, 1, 20_000)
    honest = rng.uniform(0, 1, prob.size) < prob
    overconfident = rng.uniform(0, 1, prob.size) < prob**3
    for strategy in ("quantile", "uniform"):
        assert expected_calibration_error(honest, prob, strategy=strategy) < 0.02
        assert expected_calibration_error(overconfident, prob, strategy=strategy) > 0.15


def test_quantile_bins_keep_equal_probabilities_together():
    table = calibration_table([0, 1, 0, 1, 1], [0.2, 0.2, 0.2, 0.2, 0.9], n_bins=4)
    assert table["n"].tolist() == [4, 1]
    assert table["observed_rate"].tolist() == [0.5, 1.0]


def test_uniform_bins_put_probability_one_in_the_last_bin():
    table = calibration_table([1, 0], [1.0, 0.0], n_bins=10, strategy="uniform")
    assert table["bin"].tolist() == [0, 9]


# ----------------------------------------------------------------- ranking


def test_lift_by_hand():
    y = [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]  # churn rate 0.2
    p = [0.9, 0.8, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert lift_at(y, p, fraction=0.1) == pytest.approx(1.0 / 0.2)  # top 1 row: a churner
    assert lift_at(y, p, fraction=0.2) == pytest.approx(0.5 / 0.2)  # top 2: one of two
    assert lift_at(y, p, fraction=0.3) == pytest.approx((2 / 3) / 0.2)
    assert lift_at(y, p, fraction=1.0) == pytest.approx(1.0)


def test_lift_top_count_is_the_ceiling_without_float_noise():
    y = np.zeros(30)
    y[:3] = 1
    p = np.linspace(1, 0, 30)
    assert lift_at(y, p, fraction=0.1) == pytest.approx(1.0 / 0.1)  # exactly 3 rows


def test_lift_without_churners_is_nan():
    assert math.isnan(lift_at([0, 0], [0.1, 0.2]))


def test_cumulative_gains_by_hand():
    contacted, captured = cumulative_gains([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.5])
    assert contacted.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert captured.tolist() == [0, 0.5, 0.5, 1.0, 1.0]


def test_top_k_metrics_by_hand():
    result = top_k_metrics([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], k=2, arr=[10, 5, 30, 1])
    assert result == {"precision_at_k": 0.5, "recall_at_k": 0.5, "arr_recall_at_k": 0.25}
    assert math.isnan(top_k_metrics([1, 0], [0.9, 0.1], k=1)["arr_recall_at_k"])
    assert top_k_metrics([1, 0], [0.9, 0.1], k=5)["precision_at_k"] == 0.5  # k > n: all rows


SCORED = """\
account_id,as_of,churn_probability,label,arr
a,2024-01-01,0.9,1,100
b,2024-01-01,0.8,0,50
c,2024-01-01,0.2,1,300
d,2024-01-01,0.1,0,10
a,2024-02-01,0.7,1,100
b,2024-02-01,0.6,1,50
c,2024-02-01,0.5,0,300
a,2024-03-01,0.4,0,100
b,2024-03-01,0.3,0,50
"""


def test_top_k_by_date_by_hand():
    scored = _csv(SCORED, parse_dates=["as_of"])
    result = top_k_by_date(scored, k=2)
    # Jan: top a, b -> precision 1/2, recall 1/2, ARR 100/400
    # Feb: top a, b -> precision 1, recall 1, ARR 150/150
    # Mar: top a, b -> precision 0; no churner, so recall and ARR recall are left out
    assert result["precision_at_k"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert result["recall_at_k"] == pytest.approx((0.5 + 1.0) / 2)
    assert result["arr_recall_at_k"] == pytest.approx((0.25 + 1.0) / 2)
    assert result["n_dates"] == 3


def test_classification_metrics_reports_per_date_top_k_and_plain_numbers():
    scored = _csv(SCORED, parse_dates=["as_of"])
    metrics = classification_metrics(scored, k=2)
    assert tuple(metrics) == METRIC_KEYS
    assert metrics["precision_at_k"] == pytest.approx(0.5)
    assert metrics["n"] == 9 and metrics["churn_rate"] == pytest.approx(4 / 9)
    assert all(type(v) in (float, int) for v in metrics.values())
    json.dumps(metrics)
    pooled = classification_metrics(scored, k=2, date_col=None)
    assert pooled["precision_at_k"] == pytest.approx(0.5)  # a(.9) and b(.8) of January
    assert pooled["recall_at_k"] == pytest.approx(1 / 4)


def test_classification_metrics_with_one_class_gives_nan_not_an_error():
    frame = pd.DataFrame({"churn_probability": [0.1, 0.2], "label": [0, 0], "arr": [1, 2]})
    metrics = classification_metrics(frame, k=1, date_col=None)
    assert math.isnan(metrics["roc_auc"]) and math.isnan(metrics["pr_auc"])
    assert metrics["brier"] == pytest.approx((0.01 + 0.04) / 2)


def test_classification_metrics_names_a_missing_column():
    frame = pd.DataFrame({"churn_probability": [0.1], "label": [0]})
    with pytest.raises(DataError, match="arr"):
        classification_metrics(frame, k=1, date_col=None)


def test_metrics_by_slice():
    scored = _csv(SCORED, parse_dates=["as_of"]).assign(
        segment=["smb", "smb", "ent", "ent", "smb", "smb", "ent", "smb", "smb"]
    )
    table = metrics_by_slice(scored, by="segment", k=1).set_index("segment")
    assert table.loc["ent", "n"] == 3 and table.loc["smb", "n"] == 6
    assert table.loc["ent", "churn_rate"] == pytest.approx(1 / 3)
    assert table.loc["ent", "mean_probability"] == pytest.approx((0.2 + 0.1 + 0.5) / 3)
    # ent: churner c(.2) ranks below the retained c(.5), above d(.1) -> AUC 1/2
    assert table.loc["ent", "roc_auc"] == pytest.approx(0.5)
    one_class = metrics_by_slice(scored[scored["label"] == 0], by="segment")
    assert one_class["roc_auc"].isna().all()
    assert "precision_at_k" not in one_class.columns


# ------------------------------------------------------------ early warning

FLAGS = """\
account_id,as_of,risk_tier,churned_at
a,2024-01-01,healthy,2024-04-15
a,2024-02-01,at_risk,2024-04-15
a,2024-03-01,watch,2024-04-15
a,2024-04-01,at_risk,2024-04-15
b,2024-01-01,healthy,2024-03-10
b,2024-02-01,watch,2024-03-10
c,2023-01-01,at_risk,2024-03-01
c,2024-02-01,healthy,2024-03-01
d,2024-03-01,at_risk,2024-03-31
d,2024-04-01,at_risk,2024-03-31
e,2024-01-01,at_risk,
f,2022-01-01,healthy,2024-03-01
g,2024-03-22,at_risk,2024-04-01
"""


def test_days_flagged_before_churn_by_hand():
    scored = _csv(FLAGS, parse_dates=["as_of", "churned_at"])
    result = days_flagged_before_churn(scored)
    # a: first at_risk 2024-02-01 -> 74 days (2024 is a leap year); d: 30; g: 10.
    # b never at_risk; c's flag is over 365 days old; e did not churn; f has no snapshot
    # within the year before its churn, so it is not counted.
    assert result == {
        "median": 30.0,
        "mean": pytest.approx((74 + 30 + 10) / 3),
        "share_flagged": pytest.approx(3 / 5),
        "n_flagged": 3,
        "n_churned": 5,
    }


def test_days_flagged_counts_watch_when_asked():
    scored = _csv(FLAGS, parse_dates=["as_of", "churned_at"])
    result = days_flagged_before_churn(scored, flagged_values=("at_risk", "watch"))
    # b is now flagged on 2024-02-01, 38 days before 2024-03-10
    assert result["median"] == pytest.approx((38 + 30) / 2)
    assert result["share_flagged"] == pytest.approx(4 / 5)


def test_oracle_ratio():
    assert oracle_ratio(0.75, 0.8) == pytest.approx(0.9375)
    assert oracle_ratio(0.65, 0.8, above_chance=True) == pytest.approx(0.5)
