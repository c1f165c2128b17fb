"""The HTML report: rendered in a real headless Chromium, self-contained, escaped, robust.

The inputs are fakes with the shapes of the real tables: scores for 200 accounts, 18 months
of KPIs, 18 monthly cohorts, the training metrics and four evaluation PNGs. The browser test
keeps its screenshot in ``reports/test-artifacts/report.png`` for a person to look at.
"""

import re
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from browser import BrowserUnavailable, dump_dom, find_chromium, screenshot
from healthscore.config import ScoreConfig, TouchConfig
from healthscore.errors import DataError
from healthscore.health import health_score, risk_tier
from healthscore.kpis import KPI_COLUMNS
from healthscore.report import SCORE_COLUMNS, render_report, write_report
from healthscore.touch import OWNERS, assign_touch_tiers

SEED = 20240701
AS_OF = pd.Timestamp("2024-07-01")
MALICIOUS = "<script>alert(1)</script>"
ARTIFACT = Path(__file__).resolve().parents[1] / "reports" / "test-artifacts" / "report.png"
WINDOW = (1400, 3000)

_DRIVERS = (
    ("usage__logins_30d", "usage", "Logins down {:.0f}% over the last 30 days"),
    ("usage__active_users_30d", "usage", "Only {:.0f} users active in 30 days"),
    ("adoption__features_used_90d", "adoption", "Uses {:.0f} of 12 core features"),
    ("support__open_urgent_tickets", "support", "{:.0f} urgent tickets open > 7 days & rising"),
    ("satisfaction__last_nps", "satisfaction", "Last NPS answer was {:.0f} (detractor)"),
    ("contract__days_to_renewal", "contract", "Renewal in {:.0f} days"),
    ("account__seats_utilisation", "account", "Seat utilisation at {:.0f}%"),
)
_PLAYBOOKS = {
    "usage": ("usage_reengagement", "Usage re-engagement"),
    "adoption": ("adoption_campaign", "Feature adoption campaign"),
    "support": ("support_escalation", "Support escalation"),
    "satisfaction": ("exec_sponsor", "Executive sponsor outreach"),
    "contract": ("renewal_review", "Renewal value review"),
    "account": ("onboarding_rescue", "Onboarding rescue"),
}
_ACTIONS = "Call the champion | Review usage dashboard together | Agree a success plan"
_NAMES = ("Northwind Labs", "Bluestone Health", "Cedar Logistics", "Atlas Media")
_CSMS = ("Dana Reyes", "Sam Okafor", "Priya Natarajan")


def fake_scores(n: int = 200, *, seed: int = SEED) -> pd.DataFrame:
    """Scores as ``scoring`` writes them, for ``n`` accounts at ``AS_OF``."""
    rng = np.random.default_rng(seed)
    arr = np.round(rng.lognormal(mean=9.7, sigma=1.1, size=n), -1)
    prob = rng.beta(0.9, 12.0, size=n)
    health = health_score(prob, ScoreConfig())
    tier = risk_tier(health, ScoreConfig())
    arr_at_risk = arr * prob
    rank = np.empty(n, dtype=int)
    rank[np.argsort(-arr_at_risk, kind="stable")] = np.arange(1, n + 1)
    touch = assign_touch_tiers(pd.Series(arr), touch=TouchConfig()).to_numpy()
    scores = pd.DataFrame(
        {
            "account_id": [f"acct-{i:04d}" for i in range(n)],
            "as_of": AS_OF,
            "churn_probability": prob,
            "health_score": health,
            "risk_tier": tier,
            "score_change": np.round(rng.normal(-2, 8, size=n), 1),
            "arr": arr,
            "arr_at_risk": arr_at_risk,
            "touch_tier": touch,
            "priority_rank": rank,
        }
    )
    picks = np.array([rng.permutation(len(_DRIVERS))[:3] for _ in range(n)])
    shares = -np.sort(-rng.gamma(2.0, 0.3, size=(n, 3)), axis=1)
    for slot in range(3):
        chosen = [_DRIVERS[i] for i in picks[:, slot]]
        values = rng.uniform(2, 80, size=n)
        scores[f"driver_{slot + 1}"] = [name for name, _, _ in chosen]
        scores[f"driver_{slot + 1}_family"] = [family for _, family, _ in chosen]
        scores[f"driver_{slot + 1}_contribution"] = np.round(shares[:, slot], 3)
        scores[f"driver_{slot + 1}_text"] = [
            text.format(v) for (_, _, text), v in zip(chosen, values, strict=True)
        ]
    plays = [
        ("monitor", "Monitor") if t == "healthy" else _PLAYBOOKS[f]
        for t, f in zip(tier, scores["driver_1_family"], strict=True)
    ]
    scores["playbook_id"] = [p for p, _ in plays]
    scores["playbook_title"] = [title for _, title in plays]
    scores["playbook_actions"] = _ACTIONS
    for slot in range(3):
        scores[f"driver_{slot + 1}_points"] = np.round(rng.uniform(0.2, 6.0, size=n), 2)
    scores["account_name"] = [f"{_NAMES[i % len(_NAMES)]} {i}" for i in range(n)]
    scores["csm"] = np.where(touch != "tech_touch", np.resize(_CSMS, n), None)
    scores["holdout"] = (rng.uniform(size=n) < 0.1) & (tier != "healthy")
    due = (scores["playbook_id"] != "monitor") & ~scores["holdout"]
    named = (touch == "high_touch") & pd.notna(scores["csm"])
    scores["owner"] = np.where(named, scores["csm"], [OWNERS[t] for t in touch])
    scores["owner_reason"] = np.where(named, "high touch: the account's CSM", "pooled or automated")
    scores["action_due"] = due
    scores["holdout_exclusion"] = np.where(
        (tier != "healthy") & ~scores["holdout"] & (touch == "high_touch"), "high touch", None
    )
    scores["due_by"] = AS_OF + pd.Timedelta(days=14)
    scores["model_version"] = "churn-lgbm v7"
    scores["segment"] = rng.choice(["SMB", "Mid-market", "Enterprise"], size=n, p=[0.5, 0.3, 0.2])
    return scores


def fake_kpis(periods: int = 18, *, seed: int = SEED) -> pd.DataFrame:
    """Monthly KPIs shaped like :func:`healthscore.kpis.compute_kpis`; the last is provisional."""
    rng = np.random.default_rng(seed)
    start = pd.date_range("2023-01-01", periods=periods, freq="MS")
    customers = np.round(180 + np.cumsum(rng.normal(2, 3, size=periods))).astype(int)
    churned = rng.poisson(4, size=periods)
    new = rng.poisson(6, size=periods)
    arr_end = customers * rng.normal(24_000, 600, size=periods)
    kpis = pd.DataFrame(
        {
            "period": start.strftime("%Y-%m"),
            "period_start": start,
            "period_end": start + pd.offsets.MonthBegin(1),
            "provisional": np.arange(periods) == periods - 1,
            "customers_start": customers - new + churned,
            "new_customers": new,
            "reactivated_customers": rng.poisson(0.5, size=periods),
            "churned_customers": churned,
            "customers_end": customers,
            "arr_start": arr_end * 0.99,
            "arr_end": arr_end,
            "expansion_arr": arr_end * 0.02,
            "contraction_arr": arr_end * 0.005,
            "churned_arr": arr_end * rng.uniform(0.005, 0.02, size=periods),
            "upsell_rate_pct": rng.uniform(2, 5, size=periods),
            "arpa": arr_end / customers / 12,
            "nps_responses": rng.poisson(25, size=periods),
            "nps": rng.normal(32, 6, size=periods).round(1),
            "onboarding_eligible": rng.poisson(6, size=periods),
            "onboarding_completion_pct": rng.uniform(55, 85, size=periods),
        }
    )
    kpis["logo_churn_rate_pct"] = kpis["churned_customers"] / kpis["customers_start"] * 100
    kpis["retention_rate_pct"] = 100 - kpis["logo_churn_rate_pct"]
    lost = kpis["contraction_arr"] + kpis["churned_arr"]
    kpis["grr_pct"] = (kpis["arr_start"] - lost) / kpis["arr_start"] * 100
    kpis["nrr_pct"] = kpis["grr_pct"] + kpis["expansion_arr"] / kpis["arr_start"] * 100
    kpis["ltv"] = kpis["arpa"] * 0.8 / (kpis["logo_churn_rate_pct"] / 100)
    return kpis[list(KPI_COLUMNS)]


def fake_cohorts(n: int = 18, *, seed: int = SEED) -> pd.DataFrame:
    """Logo retention per monthly cohort, NaN where the period is still to come."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    monthly = rng.uniform(0.015, 0.04, size=(n, 1))
    table = np.clip((1 - monthly) ** steps + rng.normal(0, 0.01, size=(n, n)), 0, 1)
    table[:, 0] = 1.0
    table[steps[:, None] + steps[None, :] >= n] = np.nan
    labels = pd.Index(pd.date_range("2023-01-01", periods=n, freq="MS").strftime("%Y-%m"))
    return pd.DataFrame(
        table,
        index=labels.rename("cohort"),
        columns=pd.Index(steps.tolist(), name="periods_since_acquisition"),
    )


def fake_metrics() -> dict[str, object]:
    """Test metrics as ``training.fit_and_evaluate`` reports them."""
    metrics: dict[str, object] = {
        "roc_auc": 0.812, "pr_auc": 0.421, "brier": 0.071, "ece": 0.012,
        "precision_at_k": 0.44, "arr_recall_at_k": 0.38, "top_k": 25,
        "test_period": "2024-01-01..2024-06-30", "oracle_roc_auc": 0.861,
    }  # fmt: skip
    for name, scale in (("rules", 0.85), ("logreg", 0.93)):
        for key in ("roc_auc", "pr_auc", "precision_at_k", "arr_recall_at_k"):
            metrics[f"baseline_{name}_{key}"] = round(float(metrics[key]) * scale, 3)
        metrics[f"baseline_{name}_brier"] = round(0.071 / scale, 3)
    metrics["baseline_rules_arr_recall_at_k"] = float("nan")  # undefined: must show n/a
    return metrics


def fake_plots(directory: Path) -> dict[str, Path]:
    """Four small evaluation PNGs, like those ``healthscore.plots`` writes."""
    x = np.linspace(0, 1, 11)
    curves = {"roc_pr": x**0.4, "calibration": x, "gains": x**0.5, "family_importance": x**2}
    paths = {}
    for name, y in curves.items():
        figure = Figure(figsize=(5, 3.5), layout="constrained")
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        ax.plot(x, y, marker="o")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
        ax.set_title(name)
        paths[name] = directory / f"{name}.png"
        figure.savefig(paths[name], dpi=80)
    return paths


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    print(f"seed={SEED}")
    scores = fake_scores()
    scores.loc[scores["priority_rank"] == 2, "account_id"] = MALICIOUS
    return {
        "as_of": AS_OF,
        "kpis": fake_kpis(),
        "cohorts": fake_cohorts(),
        "scores": scores,
        "metrics": fake_metrics(),
        "model_plots": fake_plots(tmp_path_factory.mktemp("plots")),
    }


@pytest.fixture(scope="module")
def page(inputs):
    return render_report(**inputs)


def test_report_renders_in_headless_chromium(tmp_path, inputs, page):
    try:
        find_chromium()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    report = write_report(page, tmp_path / "report.html")
    expected_images = 4 + len(inputs["model_plots"])  # trends, cohorts, histogram, ARR bars

    dom = dump_dom(report)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's load script did not run"
    assert int(total.group(1)) == expected_images
    assert int(loaded.group(1)) == expected_images, "some chart did not decode"
    assert dom.count("<script") == 1  # the account named like a script stayed text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom

    png = screenshot(report, tmp_path / "report.png", width=WINDOW[0], height=WINDOW[1])
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, ARTIFACT)
    print(f"screenshot: {ARTIFACT}")
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    not_white = (pixels < 0.95).any(axis=-1)
    assert not_white.mean() > 0.05, "the screenshot is (nearly) blank"
    assert pixels.std() > 0.05
    lower_half = not_white[WINDOW[1] // 2 :]
    assert lower_half.mean() > 0.02, "the charts further down the page did not render"


def test_report_is_self_contained(page):
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "url(" not in page and "@import" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 8
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert page.count("<script") == 1 and "<script src" not in page


def test_user_text_is_escaped(page):
    assert MALICIOUS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "open &gt; 7 days &amp; rising" in page  # driver texts are user data too


def test_sections_show_what_the_leader_needs(inputs, page):
    scores = inputs["scores"]
    flagged = scores[scores["risk_tier"].isin(["at_risk", "watch"])]
    top = flagged.nsmallest(20, "priority_rank")
    healthy = scores[scores["risk_tier"] == "healthy"].nsmallest(5, "priority_rank")
    listed = [a for a in top["account_id"] if a != MALICIOUS]
    accounts = page.split('class="accounts"')[1].split("</table>")[0]
    assert sum(f"<small>{a}</small>" in accounts for a in listed) == len(listed) >= 19
    assert not any(f"<small>{a}</small>" in accounts for a in healthy["account_id"])
    for name in top["account_name"]:
        assert f"<b>{name}</b>" in accounts
    for text in ("Logo churn", "GRR", "NRR", "NPS", "LTV", "Onboarding", "Rule scorecard",
                 "Logistic regression", "Oracle ROC AUC", "2024-01-01..2024-06-30", "holdout",
                 "pooled CS team", "automated sequence", "Calibration", "Dana Reyes",
                 "Each CSM's portfolio", "What changed since the last scoring run",
                 "churn risk above 12.6%", "Control group"):  # fmt: skip
        assert text in page, text
    assert "n/a" in page  # the rule scorecard's undefined ARR recall
    tiles = re.findall(r'<div class="value">([^<]*)</div>', page)
    assert tiles and "n/a" not in tiles, "a tile shows n/a"


def test_tiles_show_the_last_final_month_and_onboarding_of_a_finished_window(inputs, page):
    kpis = inputs["kpis"]
    final = kpis[~kpis["provisional"]].iloc[-1]
    assert f"Last final month: {final['period']}" in page
    assert f"{kpis['period'].iloc[-1]} is not final yet" in page
    assert "provisional</span>" not in page  # no "latest complete ... provisional" label
    onboarding = page.split('<div class="label">Onboarding</div>')[1].split("</div></div>")[0]
    assert "signed up in" in onboarding


def test_trend_arrows_compare_with_the_previous_run(inputs, page):
    scores = inputs["scores"]
    before = scores["health_score"] - scores["score_change"]
    was_at_risk = int((before < 45).sum())
    now_at_risk = int((scores["risk_tier"] == "at_risk").sum())
    at_risk = page.split('<div class="label">At risk</div>')[1].split("</div></div>")[0]
    assert f"{now_at_risk - was_at_risk:+d} vs the previous run" in at_risk


def test_portfolio_view_per_csm(inputs, page):
    scores = inputs["scores"]
    view = page.split('class="portfolio"')[1].split("</table>")[0]
    for csm in _CSMS:
        book = scores[scores["csm"] == csm]
        row = view.split(f"<b>{csm}</b>")[1].split("</tr>")[0]
        cells = re.findall(r"<td>([^<]*)</td>", row)
        assert cells[0] == str(len(book))  # accounts in the book
        mine = book[(book["owner"] == csm) & book["action_due"]]
        assert str(len(mine)) in cells  # actions for the CSM
    assert "No CSM on record" in view


def test_workload_excludes_holdout_and_counts_the_exclusions(inputs, page):
    scores = inputs["scores"]
    worked = scores[scores["action_due"]]  # neither held out nor on monitor
    n_holdout = int(scores["holdout"].sum())
    assert f"the {n_holdout} holdout accounts of the control group and the accounts on" in page
    excluded = int(scores["holdout_exclusion"].notna().sum())
    assert f"Never held out: {excluded} accounts: high touch." in page
    table = page.split('class="workload"')[1].split("</table>")[0]
    total_row = table.split("<tr>")[-1]
    assert f"<td>{len(worked)}<br>" in total_row


def test_missing_inputs_render_as_na(tmp_path):
    kpis = fake_kpis(3)
    kpis.loc[kpis.index[-1], ["nps", "ltv", "onboarding_completion_pct"]] = np.nan
    scores = fake_scores(30).drop(columns="segment")
    scores.loc[0, ["driver_2_text", "driver_3_text", "score_change", "playbook_actions"]] = None
    page = render_report(
        as_of=AS_OF,
        kpis=kpis,
        cohorts=pd.DataFrame(),
        scores=scores,
        metrics={},
        model_plots={"calibration": tmp_path / "missing.png"},
        top_n=5,
    )
    assert ">n/a<" in page
    assert "No cohort yet." in page and "Plot file not found" in page
    assert page.count("<img") == 3  # trends, histogram, ARR bars (no cohorts, no model plot)

    empty = render_report(
        as_of=AS_OF,
        kpis=fake_kpis().iloc[:0],
        cohorts=pd.DataFrame(),
        scores=scores.iloc[:0],
        metrics={"roc_auc": None},
    )
    assert "<img" not in empty and "No account scored." in empty


def test_missing_score_column_is_a_clear_error():
    with pytest.raises(DataError, match="playbook_id"):
        render_report(
            as_of=AS_OF,
            kpis=fake_kpis(3),
            cohorts=fake_cohorts(3),
            scores=fake_scores(10).drop(columns="playbook_id"),
            metrics={},
        )


def test_rendering_is_deterministic_and_written_atomically(tmp_path, inputs, page):
    assert set(SCORE_COLUMNS) <= set(inputs["scores"].columns)
    assert render_report(**inputs) == page
    path = write_report(page, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
