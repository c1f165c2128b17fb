"""The report's "Did the plays work?" and "Can we still trust the model?" sections.

The inputs are the fake report inputs of ``test_report`` plus outcomes and a monitoring
check computed by the real functions from random recommendations and features. The page is
opened in a headless Chromium; the screenshot of the two sections is kept as
``reports/test-artifacts/report-loop.png`` for a person to look at.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from browser import BrowserUnavailable, dump_dom, find_chromium, screenshot
from healthscore.config import Config, MonitorConfig
from healthscore.monitor import (
    MonitorReport,
    calibration_by_decile,
    decide,
    feature_drift,
    realised_vs_predicted,
    score_shift,
)
from healthscore.outcomes import OutcomesReport, compare_arms
from healthscore.report import render_report, write_report
from healthscore.report_outcomes import LoopReport, loop_sections
from test_report import fake_cohorts, fake_kpis, fake_metrics, fake_plots, fake_scores

SEED = 20250701
MALICIOUS = "<script>alert(2)</script>"
ARTIFACT = Path(__file__).resolve().parents[1] / "reports" / "test-artifacts" / "report-loop.png"
WIDTH, HEIGHT = 1400, 16000
PLAYS = ("usage_reengagement", "support_escalation", "exec_sponsor", MALICIOUS)


def fake_outcomes(seed: int = SEED) -> OutcomesReport:
    rng = np.random.default_rng(seed)
    n = 1600
    play = rng.choice(PLAYS, n)
    holdout = rng.random(n) < 0.3
    base = np.where(play == "support_escalation", 0.3, 0.2)
    churned = (rng.random(n) < np.where(holdout, base, base * 0.6)).astype(float)
    arr = np.round(rng.lognormal(9.5, 1.0, n), -1)
    recs = pd.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "as_of": pd.Timestamp("2025-01-01"),
            "playbook_id": play,
            "holdout": holdout,
            "touch_tier": rng.choice(["high_touch", "low_touch", "tech_touch"], n),
            "complete": True,
            "churned": churned,
            "arr_start": arr,
            "arr_end": np.where(churned == 1, 0.0, arr * rng.uniform(0.9, 1.2, n)),
            "actioned": ~holdout & (rng.random(n) < 0.85),
        }
    )
    config = Config().with_overrides(outcomes={"bootstrap_resamples": 200})
    return OutcomesReport(
        comparison=compare_arms(recs, config),
        recommendations=recs,
        score_files=[Path("scores_2025-01-01.csv")],
        since=None,
        horizon_days=90,
        notices=["12 recommendation(s) are still inside their 90-day window."],
    )


def fake_monitor(seed: int = SEED) -> MonitorReport:
    rng = np.random.default_rng(seed)
    features = ["usage__logins_30d", "contract__tenure_days", "satisfaction__last_nps", MALICIOUS]
    reference = pd.DataFrame({f: rng.normal(size=3000) for f in features})
    current = pd.DataFrame({f: rng.normal(size=800) for f in features})
    current["usage__logins_30d"] -= 1.0
    current["contract__tenure_days"] += 0.8
    importance = pd.Series([0.4, 0.3, 0.2, 0.1], index=features)
    config = MonitorConfig()
    drift = feature_drift(
        reference, current, features=features, importance=importance, config=config
    )
    dates = pd.date_range("2024-07-01", periods=8, freq="MS")
    scored = pd.DataFrame(
        {
            "as_of": np.repeat(dates, 400),
            "churn_probability": rng.beta(1, 12, 3200),
        }
    )
    scored["label"] = (rng.random(3200) < scored["churn_probability"] * 0.7).astype(int)
    performance = realised_vs_predicted(scored).assign(period="after")
    psi, bins = score_shift(rng.beta(1, 12, 3000), rng.beta(1, 9, 800), bins=10)
    verdict, reasons = decide(
        drift, score_psi=psi, recent=performance.tail(3), test_roc_auc=0.85, config=config
    )
    return MonitorReport(
        as_of=pd.Timestamp("2025-06-01"),
        verdict=verdict,
        reasons=reasons,
        drift=drift,
        score_psi=psi,
        score_bins=bins,
        performance=performance,
        calibration=calibration_by_decile(scored[scored["as_of"] >= dates[-3]]),
        reference_period="2023-01-01..2024-01-01",
        test_roc_auc=0.85,
        facts={"accounts_scored": 800},
    )


@pytest.fixture(scope="module")
def loop() -> LoopReport:
    print(f"seed={SEED}")
    return LoopReport(outcomes=fake_outcomes(), monitor=fake_monitor())


@pytest.fixture(scope="module")
def page(loop, tmp_path_factory) -> str:
    return render_report(
        as_of=pd.Timestamp("2025-06-01"),
        kpis=fake_kpis(),
        cohorts=fake_cohorts(),
        scores=fake_scores(),
        metrics=fake_metrics(),
        model_plots=fake_plots(tmp_path_factory.mktemp("plots")),
        loop=loop,
    )


def test_both_sections_are_on_the_page(page, loop):
    assert '<section id="outcomes"><h2>Did the plays work?</h2>' in page
    assert '<section id="monitoring"><h2>Can we still trust the model?</h2>' in page
    assert "intent to treat" in page
    badge = {"ok": "healthy", "watch": "watch", "retrain": "at_risk"}[loop.monitor.verdict]
    assert f'class="badge {badge}"' in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page and MALICIOUS not in page
    for row in loop.outcomes.comparison[loop.outcomes.comparison["tier"] == "all"].itertuples():
        assert f"{row.churn_difference * 100:+.1f} pts" in page


def test_without_a_loop_the_page_has_neither_section():
    assert loop_sections(None) == ""


def test_missing_inputs_are_said_in_words():
    html = loop_sections(
        LoopReport(outcomes_note="no score files to measure", monitor_note="no model <yet>")
    )
    assert "no score files to measure" in html and "no model &lt;yet&gt;" in html


def test_loop_sections_render_in_headless_chromium(tmp_path, page):
    try:
        find_chromium()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    report = write_report(page, tmp_path / "report.html")
    dom = dump_dom(report)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total and loaded.group(1) == total.group(1), "some chart did not decode"
    assert 'id="outcomes"' in dom and 'id="monitoring"' in dom
    assert dom.count("<script") == 1

    png = screenshot(report, tmp_path / "report.png", width=WIDTH, height=HEIGHT)
    pixels = matplotlib.image.imread(png)[..., :3]
    rows = np.flatnonzero((pixels < 0.95).any(axis=(1, 2)))
    assert rows.max() < HEIGHT - 1, "the page is longer than the window: raise HEIGHT"
    # the two sections close the page: keep its last 3,200 pixels for a person to look at
    bottom = pixels[max(rows.max() - 3200, 0) : rows.max() + 20]
    assert (bottom < 0.95).any(axis=-1).mean() > 0.05, "the closing sections are blank"
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(tmp_path / "loop.png", bottom)
    shutil.copyfile(tmp_path / "loop.png", ARTIFACT)
    print(f"screenshot: {ARTIFACT}")
