"""Languages and currencies: the Japanese catalogue is complete, and fixed values read as written.

The catalogue check extracts every message id from the code and templates exactly as
``make locale`` does (``babel.cfg`` and the keywords of :mod:`healthscore.i18n_extract`) and
requires a Japanese translation of each, so no English sentence can reach a Japanese page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from healthscore.config import Config, OutputConfig, TouchConfig, load_config
from healthscore.explain import _peer_label_of
from healthscore.i18n import Language, catalogue_path, translations
from healthscore.i18n_extract import KEYWORDS
from healthscore.money import TOUCH_DEFAULTS
from healthscore.people_csv import column_labels
from healthscore.playbooks import load_playbooks
from healthscore.storage import read_frame, write_frame
from healthscore.synthetic import generate_world
from healthscore.touch import assign_touch_tiers
from healthscore.wording import peer_label

ROOT = Path(__file__).resolve().parents[1]
BOM = b"\xef\xbb\xbf"
#: ``%(name)s`` and ``{name:format}`` placeholders, which a translation must keep.
KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+(?::[^}]*)?\}")


def extracted_messages() -> dict[tuple[str | None, str], str]:
    """``(context, message id) -> "file:line"`` of every message in the code and templates."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], str] = {}
    for filename, line, message, _, context in extract_from_dir(
        ROOT / "src",
        method_map,
        options_map,
        keywords={**DEFAULT_KEYWORDS, **KEYWORDS},
    ):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault((context, msgid), f"{filename}:{line}")
    return found


def test_every_message_in_the_code_has_a_japanese_translation():
    found = extracted_messages()
    assert len(found) > 300, "the extraction found too few messages: check babel.cfg"
    with catalogue_path("ja").open("rb") as po:
        catalogue = read_po(po, locale="ja")
    untranslated = []
    for (context, msgid), where in sorted(found.items(), key=lambda item: item[1]):
        entry = catalogue.get(msgid, context=context)
        strings = () if entry is None else entry.string
        strings = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not strings or not all(strings):
            untranslated.append(f"{where}: {msgid!r}" + (f" ({context})" if context else ""))
    assert not untranslated, (
        "messages without a Japanese translation (run `make locale`, then translate them in "
        "src/healthscore/locale/ja/LC_MESSAGES/healthscore.po):\n" + "\n".join(untranslated)
    )


def test_translations_keep_their_placeholders():
    with catalogue_path("ja").open("rb") as po:
        catalogue = read_po(po, locale="ja")
    broken = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strings):
            broken.append(ids[0])
    assert not broken, broken
    # A translation is used, not its English id.
    assert translations("ja").pgettext("risk tier", "at risk") != "at risk"


def test_numbers_money_and_dates_on_fixed_values():
    ja = Language("ja", "JPY")
    assert ja.money(1_234_567.4) == "￥1,234,567"  # yen has no decimals
    assert ja.money(1_234_567.5) == "￥1,234,568"  # halves round up
    assert ja.compact_money(356_400) == "35.6万円"
    assert ja.compact_money(12_345_678) == "1,235万円"
    assert ja.compact_money(123_456_789) == "1.23億円"
    assert ja.compact_money(5_000) == "5,000円"
    assert ja.count(1_234_567) == "1,234,567"
    assert ja.percent(12.55) == "12.6%"
    assert ja.points(1.5) == "+1.5ポイント"
    assert ja.date("2026-01-01") == "2026年1月1日"
    assert ja.period("2026-03") == "2026年3月"
    assert ja.money(None) == ja.na != "n/a"

    en = Language("en", "USD")
    assert en.money(1_234_567.5) == "$1,234,568"
    assert en.compact_money(1_240_000) == "$1.24M"
    assert en.date("2026-01-01") == "2026-01-01"  # ISO in English prose and in every file
    assert Language().compact_money(356_400) == "356K"


def test_tier_names_and_kpi_names_are_japanese():
    ja = Language("ja")
    assert [ja.word("risk tier", t) for t in ("healthy", "watch", "at_risk")] == [
        "健全",
        "要注意",
        "高リスク",
    ]
    labels = column_labels(["logo_churn_rate_pct", "retention_rate_pct", "nrr_pct"], ja)
    assert any("解約率" in label for label in labels), labels
    assert any("継続率" in label for label in labels), labels


def test_peer_groups_are_named_in_japanese():
    ja = Language("ja")
    assert _peer_label_of("2025-01-01|mid_market|adoption", ja) == peer_label(
        "mid_market", "adoption", lang=ja
    )
    assert "|" not in _peer_label_of("2025-01-01|SMB|mature", ja)
    assert _peer_label_of("2025-01-01|(none)|(none)", ja) == ja.t("all accounts")
    assert KANA_OR_KANJI.search(peer_label("mid_market", "adoption", lang=ja))


def test_locale_and_currency_come_from_the_output_section(tmp_path):
    path = tmp_path / "healthscore.toml"
    path.write_text('[output]\nlocale = "ja"\ncurrency = "jpy"\nencoding = "utf-8-sig"\n')
    config = load_config(path)
    assert (config.output.locale, config.output.currency) == ("ja", "JPY")
    assert Config().output.locale == "en"  # English by default
    path.write_text('[output]\nlocale = "fr"\n')
    with pytest.raises(Exception, match="unknown locale 'fr'"):
        load_config(path)


def test_a_yen_portfolio_gets_yen_touch_tiers():
    yen = Config().with_overrides(output={"currency": "JPY"})
    touch = yen.touch.for_currency(yen.output.currency)
    assert (touch.high_touch_min_arr, touch.low_touch_min_arr) == TOUCH_DEFAULTS["JPY"]
    arr = pd.Series([30_000_000, 7_500_000, 4_000_000, 1_500_000, 600_000, 90_000])
    tiers = assign_touch_tiers(arr, touch=touch).tolist()
    assert tiers == [
        "high_touch",
        "high_touch",
        "low_touch",
        "low_touch",
        "tech_touch",
        "tech_touch",
    ]
    # The same amounts against the dollar thresholds would make every account high touch.
    assert (assign_touch_tiers(arr, touch=TouchConfig()) == "high_touch").all()
    # Thresholds set in the config win over the currency's defaults.
    own = TouchConfig(high_touch_min_arr=5_000_000).for_currency("JPY")
    assert (own.high_touch_min_arr, own.low_touch_min_arr) == (5_000_000, 1_500_000)


def test_a_currency_without_defaults_needs_its_thresholds():
    with pytest.raises(Exception, match="no default thresholds in GBP"):
        Config().with_overrides(output={"currency": "GBP"})
    set_them = {"high_touch_min_arr": 40_000, "low_touch_min_arr": 8_000}
    assert Config().with_overrides(output={"currency": "GBP"}, touch=set_them)


def test_csv_for_excel_starts_with_the_byte_order_mark_and_reads_back(tmp_path):
    frame = pd.DataFrame(
        {"account_id": ["a-1"], "account_name": ["株式会社サクラ"], "arr": [1.5e6]}
    )
    plain = write_frame(frame, tmp_path / "plain.csv", output=OutputConfig())
    assert not plain.read_bytes().startswith(BOM)
    excel = OutputConfig(locale="ja", encoding="utf-8-sig", header_labels=True)
    path = write_frame(frame, tmp_path / "excel.csv", output=excel)
    raw = path.read_bytes()
    assert raw.startswith(BOM)
    lines = raw[len(BOM) :].decode("utf-8").splitlines()
    assert lines[0] == "account_id,account_name,arr"  # column names stay English
    assert lines[1] != lines[0] and "ARR" in lines[1]  # the label row, in Japanese
    assert "株式会社サクラ" in lines[2]
    back = read_frame(path)
    assert list(back.columns) == list(frame.columns)
    assert back.to_dict("records") == frame.to_dict("records")


def test_the_japanese_playbooks_are_chosen_by_locale_and_can_be_overridden(tmp_path):
    english = load_playbooks(None)
    japanese = load_playbooks(None, locale="ja")
    assert [p.id for p in japanese.playbooks] == [p.id for p in english.playbooks]
    titles = [p.title for p in japanese.playbooks]
    assert all(any("\u3040" <= ch <= "\u9fff" for ch in title) for title in titles), titles
    # A catalogue file in the config wins over the bundled one of the locale.
    own = tmp_path / "plays.toml"
    bundled = ROOT / "src/healthscore/defaults/playbooks.toml"
    own.write_text(bundled.read_text(encoding="utf-8"), encoding="utf-8")
    assert [p.title for p in load_playbooks(own, locale="ja").playbooks] == [
        p.title for p in english.playbooks
    ]


def test_the_yen_world_splits_into_the_same_touch_tiers_as_the_dollar_world():
    seed = 3
    print(f"seed={seed}")
    tiers = {}
    for currency, names in (("USD", "en"), ("JPY", "ja")):
        world = generate_world(
            150, start="2025-01-01", end="2026-01-01", seed=seed, currency=currency, names=names
        )
        latest = world.tables["contracts"].sort_values("start_date").groupby("account_id").last()
        touch = Config().with_overrides(output={"currency": currency}).touch
        tiers[currency] = assign_touch_tiers(latest["arr"], touch=touch.for_currency(currency))
        if names == "ja":
            assert world.tables["accounts"]["name"].str.contains("株式会社|[\u3040-\u9fff]").all()
    assert tiers["JPY"].value_counts().to_dict() == tiers["USD"].value_counts().to_dict()
    assert tiers["JPY"].nunique() == 3
