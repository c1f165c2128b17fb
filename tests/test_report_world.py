"""The report of a simulated world, as the CS leader gets it, checked in headless Chromium.

Scores the small simulated world of ``conftest`` with its trained model and renders the
report through the same function as ``healthscore report``. The rendered page must show
account names and their CSMs, the per-CSM portfolio view, the what-changed section and no
tile reading n/a. The screenshot is kept as ``reports/test-artifacts/report-world.png``.
"""

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from browser import BrowserUnavailable, dump_dom, find_chromium, screenshot

ARTIFACT = Path(__file__).resolve().parents[1] / "reports" / "test-artifacts" / "report-world.png"
AS_OF = "2025-12-01"


@pytest.fixture(scope="module")
def world_report(trained, tmp_path_factory):
    from healthscore.pipeline import report, score

    scores = score(trained.data, AS_OF, trained.config, model=trained.outcome.latest)
    out = tmp_path_factory.mktemp("report") / "report.html"
    report(
        trained.data,
        AS_OF,
        trained.config,
        out=out,
        model=trained.outcome.latest,
        scores=scores,
    )
    return out, scores


def test_the_world_report_shows_names_owners_and_portfolios_in_chromium(world_report):
    try:
        find_chromium()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    path, scores = world_report
    dom = dump_dom(path)
    flagged = scores[scores["risk_tier"] != "healthy"].sort_values("priority_rank").head(20)
    accounts = dom.split('class="accounts"')[1].split("</table>")[0]
    for _, row in flagged.iterrows():
        assert f"<b>{row['account_name']}</b>" in accounts
    worked_by_csm = flagged[flagged["owner"] == flagged["csm"]]
    assert all(name in accounts for name in worked_by_csm["owner"])
    portfolio = dom.split('class="portfolio"')[1].split("</table>")[0]
    for csm in scores["csm"].dropna().unique():
        assert f"<b>{csm}</b>" in portfolio
    assert "What changed since the last scoring run" in dom
    values = re.findall(r'<div class="value">([^<]*)</div>', dom)
    assert len(values) >= 13 and "n/a" not in values, values
    assert "signed up in" in dom  # the onboarding tile says which month it reports

    png = screenshot(path, path.with_suffix(".png"), width=1400, height=3200)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, ARTIFACT)
    print(f"screenshot: {ARTIFACT}")


def test_the_world_report_is_written_readable_by_colleagues(world_report):
    path, _ = world_report
    import os

    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_world_kpis_start_with_the_observed_history(trained):
    from healthscore.kpis import compute_kpis
    from healthscore.storage import open_source

    kpis = compute_kpis(open_source(trained.data, trained.config), trained.config)
    first_login = pd.read_parquet(trained.data / "logins.parquet")["ts"].min()
    assert kpis["period_start"].iloc[0] == first_login.to_period("M").start_time
    assert (kpis["customers_start"].iloc[1:] > 0).all()
