"""The report in Japanese, as a Japanese CS team gets it, checked in headless Chromium.

Scores the small simulated world of ``conftest`` with its trained model in Japanese and yen
(``[output] locale = "ja"``, ``currency = "JPY"``) and renders the report through the same
function as ``healthscore report --lang ja``. The test set-up installs a Japanese font when
none is found (:mod:`fonts`), as it installs Chromium (:mod:`browser`). The screenshot is kept
as ``reports/test-artifacts/report-ja.png`` for a person to look at.
"""

from __future__ import annotations

import html
import re
import shutil
import warnings
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from babel.messages.pofile import read_po

from browser import BrowserUnavailable, dump_dom, find_chromium, screenshot
from fonts import FontsUnavailable, ensure_japanese_fonts
from healthscore import plots, report_charts
from healthscore.cli import main
from healthscore.i18n import Language, catalogue_path
from test_report import fake_kpis, fake_scores

ARTIFACT = Path(__file__).resolve().parents[1] / "reports" / "test-artifacts" / "report-ja.png"
AS_OF = "2025-12-01"
WINDOW = (1400, 3200)
KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _japanese(config):
    return config.with_overrides(output={"locale": "ja", "currency": "JPY"})


@pytest.fixture(scope="module")
def font() -> str:
    try:
        return ensure_japanese_fonts()
    except FontsUnavailable as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="module")
def ja_report(trained, font, tmp_path_factory):
    from healthscore.pipeline import report, score

    config = _japanese(trained.config)
    scores = score(trained.data, AS_OF, config, model=trained.outcome.latest)
    out = tmp_path_factory.mktemp("report-ja") / "report.html"
    report(trained.data, AS_OF, config, out=out, model=trained.outcome.latest, scores=scores)
    return out, scores


def page_text(dom: str) -> str:
    """The text a reader sees: the body without tags, scripts, styles and image data."""
    body = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", dom)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def english_sentences() -> list[str]:
    """English message ids of three words or more whose Japanese translation differs."""
    with catalogue_path("ja").open("rb") as po:
        catalogue = read_po(po, locale="ja")
    sentences = []
    for message in catalogue:
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        if not msgid or "%(" in msgid or "{" in msgid:
            continue  # a template: its filled-in text is not its id
        if len(re.findall(r"[A-Za-z]{2,}", msgid)) >= 3 and message.string != msgid:
            sentences.append(msgid)
    return sentences


def test_the_japanese_report_reads_japanese_in_chromium(ja_report, tmp_path):
    try:
        find_chromium()
    except BrowserUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    path, scores = ja_report
    dom = dump_dom(path)
    assert '<html lang="ja"' in dom
    headings = re.findall(r"<h[12][^>]*>(.*?)</h[12]>", dom, flags=re.S)
    assert len(headings) >= 5, headings
    assert all(KANA_OR_KANJI.search(h) for h in headings), headings
    text = page_text(dom)
    for kpi in ("解約率", "継続率", "NRR", "LTV", "NPS", "オンボーディング完了率"):
        assert kpi in text, kpi
    assert "2025年12月1日" in text  # dates in prose
    assert re.search(r"\d(\.\d+)?(万|億)円", text), "amounts in 万円 or 億円"
    assert any(title in text for title in scores["playbook_title"].dropna()), "plays in Japanese"
    drivers = scores["driver_1_text"].dropna()
    assert len(drivers) and drivers.map(KANA_OR_KANJI.search).all()
    assert not drivers.str.contains("|", regex=False).any(), "peer groups in words"
    leaks = [sentence for sentence in english_sentences() if sentence in text]
    assert not leaks, f"English text on the Japanese page: {leaks}"

    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total and loaded.group(1) == total.group(1), "some chart did not decode"

    png = screenshot(path, tmp_path / "report-ja.png", width=WINDOW[0], height=WINDOW[1])
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, ARTIFACT)
    print(f"screenshot: {ARTIFACT}")
    pixels = matplotlib.image.imread(png)[..., :3]
    not_white = (pixels < 0.95).any(axis=-1)
    assert not_white.mean() > 0.05, "the screenshot is (nearly) blank"
    assert not_white[WINDOW[1] // 2 :].mean() > 0.02, "the charts further down did not render"


def test_charts_find_a_japanese_font_and_draw_every_glyph(font, tmp_path):
    found = report_charts.japanese_font()
    assert found is not None, f"matplotlib found no Japanese font although {font} is installed"
    charts = report_charts.Charts(Language("ja", "JPY"))
    assert charts.font == found and charts.lang.locale == "ja"  # labels stay Japanese
    # Matplotlib warns "Glyph ... missing from font(s)" for each character it draws as a box.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = [
            charts.health_histogram(fake_scores()),
            charts.arr_at_risk_bars(fake_scores()),
            charts.kpi_trends(fake_kpis()),
        ]
        # The model's evaluation plots, drawn at training in the config's language.
        rng = np.random.default_rng(5)
        y = rng.integers(0, 2, size=300)
        prob = np.clip(0.3 * y + rng.uniform(0, 0.7, size=300), 0, 1)
        with report_charts.labels_in(Language("ja")) as lang:
            plots.plot_calibration(y, prob, prob, tmp_path / "calibration.png", lang=lang)
            plots.plot_roc_pr(y, {"model": prob}, tmp_path / "roc_pr.png", lang=lang)
            families = pd.DataFrame({"family__usage": prob, "family__support": -prob})
            plots.plot_family_importance(families, tmp_path / "families.png", lang=lang)
    assert lang.locale == "ja"
    assert all(uri and uri.startswith("data:image/png") for uri in drawn)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing


def test_without_a_japanese_font_the_charts_fall_back_to_english(monkeypatch, caplog):
    monkeypatch.setattr(report_charts, "japanese_font", lambda: None)
    charts = report_charts.Charts(Language("ja", "JPY"))
    assert charts.font is None and charts.lang.locale == "en"
    assert charts.lang.currency == "JPY"
    assert "no font with Japanese glyphs" in caplog.text


def test_score_and_report_in_japanese_from_the_command_line(trained, font, tmp_path, capsys):
    model = str(trained.outcome.latest)
    data = str(trained.data)
    out = tmp_path / "scores.csv"
    args = ["--data", data, "--as-of", AS_OF, "--model", model, "--lang", "ja"]
    assert main(["score", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2025年12月1日時点で" in printed and "リスクARRの大きい上位5社" in printed, printed
    assert "Scored" not in printed and "Top 5" not in printed
    assert out.read_text(encoding="utf-8").startswith("account_id,")  # files keep English names

    page = tmp_path / "report.html"
    assert main(["report", *args, "--out", str(page)]) == 0
    assert "Wrote" not in capsys.readouterr().out
    written = page.read_text(encoding="utf-8")
    assert '<html lang="ja"' in written and "解約率" in written


@pytest.mark.slow
def test_the_japanese_demo_runs_on_a_yen_world_with_japanese_names(tmp_path, capsys):
    config = tmp_path / "light.toml"
    config.write_text(
        "[model]\nn_estimators = 200\nlearning_rate = 0.08\n\n[split]\nbacktest_cutoffs = 1\n"
    )
    args = ["demo", "--lang", "ja", "--accounts", "400", "--seed", "11"]
    assert main([*args, "--workdir", str(tmp_path), "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "リスクARRの大きい上位5社" in printed and "￥" in printed, printed

    accounts = pd.read_parquet(tmp_path / "data" / "demo-ja" / "accounts.parquet")
    assert accounts["name"].map(KANA_OR_KANJI.search).all()
    contracts = pd.read_parquet(tmp_path / "data" / "demo-ja" / "contracts.parquet")
    assert contracts["arr"].median() > 100_000  # yen: about 150 times the dollar amounts
    page = (tmp_path / "reports" / "ja" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ja"' in page and ("万円" in page or "億円" in page)
    scores = next((tmp_path / "reports" / "ja").glob("scores_*.csv"))
    assert scores.read_bytes().startswith(b"account_id,")  # English names, default encoding
