"""A Japanese version of the simulated world: amounts in yen, Japanese company and CSM names.

The simulator prices seats in dollars. :func:`in_yen` converts every amount at
:data:`JPY_PER_USD` and rounds it to whole yen (the yen has no minor unit), and
:func:`japanese_names` gives the accounts Japanese company names and the CSMs Japanese names.
Both change only how the world is written down: the accounts, their behaviour, churn and
truths are those of the same seed in dollars, so a model trained on either scores the same
(LightGBM splits do not move when every amount is multiplied by the same number).

Examples
--------
>>> from healthscore.synthetic import generate_world
>>> world = generate_world(50, start="2024-01-01", end="2024-07-01", seed=3, currency="JPY",
...                        names="ja")
>>> bool((world.tables["contracts"]["arr"] % 1 == 0).all())
True
>>> bool(world.tables["accounts"]["name"].str.contains("株式会社|合同会社|ホールディングス").all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.synthetic.accounts import CSM_NAMES

#: Yen per dollar used to convert the simulator's prices.
JPY_PER_USD = 150
#: The currencies and name sets the simulator writes.
CURRENCIES: tuple[str, ...] = ("USD", "JPY")
NAME_SETS: tuple[str, ...] = ("en", "ja")

#: The simulated CS team in Japanese, one name per CSM of :data:`CSM_NAMES`, in that order.
CSM_NAMES_JA: tuple[str, ...] = ("佐藤 美咲", "鈴木 大輔", "高橋 由美", "田中 健太", "伊藤 彩")

_PLACES = (
    "さくら", "みらい", "ひかり", "あおば", "北斗", "富士", "大和", "東京", "横浜", "名古屋",
    "京都", "博多", "札幌", "瀬戸内", "湘南", "丸の内", "東洋", "中央", "三河", "信州",
)  # fmt: skip
_TRADES = (
    "ソフト", "物流", "商事", "ヘルスケア", "フーズ", "メディア", "システムズ", "テクノロジー",
    "リテール", "キャピタル", "工業", "ネットワークス", "製作所", "食品", "建設", "不動産",
    "薬品", "電機", "精機", "アナリティクス",
)  # fmt: skip
#: Legal forms and how often they occur: 株式会社 before or after the name, and a few others.
_FORMS = (
    ("株式会社{}", 0.45),
    ("{}株式会社", 0.35),
    ("合同会社{}", 0.1),
    ("{}ホールディングス", 0.1),
)


def japanese_names(accounts: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """``accounts`` with Japanese company names and the CSMs' names in Japanese.

    The names are drawn from their own random stream of ``seed``, so the rest of the world
    does not change.
    """
    rng = np.random.default_rng([seed, 81])
    n = len(accounts)
    place = np.array(_PLACES, dtype=object)[rng.integers(0, len(_PLACES), n)]
    trade = np.array(_TRADES, dtype=object)[rng.integers(0, len(_TRADES), n)]
    forms = np.array([form for form, _ in _FORMS], dtype=object)
    form = forms[rng.choice(len(_FORMS), n, p=[share for _, share in _FORMS])]
    names = [f.format(p + t) for f, p, t in zip(form, place, trade, strict=True)]
    csm = dict(zip(CSM_NAMES, CSM_NAMES_JA, strict=True))
    out = accounts.copy()
    out["name"] = pd.array(names, dtype="str")
    out["owner"] = (
        out["owner"].map(lambda name: csm.get(name, name)).astype(accounts["owner"].dtype)
    )
    return out


def in_yen(contracts: pd.DataFrame) -> pd.DataFrame:
    """``contracts`` with ARR converted from dollars to whole yen."""
    return contracts.assign(arr=(contracts["arr"] * JPY_PER_USD).round(0))
