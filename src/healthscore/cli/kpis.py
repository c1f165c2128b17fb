"""``kpis``: retention KPIs per month or quarter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    LangOption,
    app,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.errors import DataError
from healthscore.i18n import N_, Language

#: The columns on screen: KPI column, heading (a message), how to write a value.
_SHOWN: tuple[tuple[str, str, Callable[[Language, object], str]], ...] = (
    ("period", N_("period"), lambda lang, v: lang.period(v)),
    ("customers_end", N_("customers"), lambda lang, v: lang.count(v)),
    ("new_customers", N_("new"), lambda lang, v: lang.count(v)),
    ("churned_customers", N_("churned"), lambda lang, v: lang.count(v)),
    ("logo_churn_rate_pct", N_("churn %%"), lambda lang, v: lang.number(v, 1)),
    ("grr_pct", N_("GRR %%"), lambda lang, v: lang.number(v, 1)),
    ("nrr_pct", N_("NRR %%"), lambda lang, v: lang.number(v, 1)),
    ("nps", N_("NPS"), lambda lang, v: lang.number(v, 0)),
    ("ltv", N_("LTV"), lambda lang, v: lang.money(v)),
)


@app.command()
def kpis(
    data: DataOption,
    freq: Annotated[str, typer.Option(help="month or quarter.")] = "month",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .csv/.parquet.")] = None,
    last: Annotated[int, typer.Option(help="Periods shown on screen.")] = 12,
    config: ConfigOption = None,
    lang: LangOption = None,
) -> None:
    """Retention KPIs per period: churn, retention, GRR/NRR, ARPA, LTV, NPS, onboarding."""
    from healthscore.pipeline import kpis as compute

    if freq not in ("month", "quarter"):
        raise DataError(f"--freq must be month or quarter, not {freq!r}")
    cfg = config_from(config, lang=lang)
    words = Language.of(cfg)
    with progress(words.t("Computing retention KPIs")):
        table = compute(data, cfg, freq=freq, out=out)
    title = (
        words.t("Retention KPIs by month (last %(n)s)", n=last)
        if freq == "month"
        else words.t("Retention KPIs by quarter (last %(n)s)", n=last)
    )
    view = Table(title=title)
    for _, label, _ in _SHOWN:
        view.add_column(words.t(label))
    for _, row in table.tail(last).iterrows():
        view.add_row(*[plain(show(words, row[col])) for col, _, show in _SHOWN])
    console.print(view)
    shown = table.tail(last)
    provisional = shown.loc[shown["provisional"].fillna(False).astype(bool), "period"]
    if len(provisional):
        periods = words.list([words.period(p) for p in provisional])
        console.print(
            plain(
                words.nt(
                    "%(periods)s is not final yet: a renewal may still arrive within the grace "
                    "period and undo some of the churn.",
                    "%(periods)s are not final yet: a renewal may still arrive within the grace "
                    "period and undo some of the churn.",
                    len(provisional),
                    periods=periods,
                )
            )
        )
    if out is not None:
        console.print(plain(words.t("Wrote %(path)s", path=out)))
