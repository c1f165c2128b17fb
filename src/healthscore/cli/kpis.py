"""``kpis``: retention KPIs per month or quarter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    app,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.errors import DataError

_SHOWN = (
    ("period", "period", "{}"),
    ("customers_end", "customers", "{:,.0f}"),
    ("new_customers", "new", "{:,.0f}"),
    ("churned_customers", "churned", "{:,.0f}"),
    ("logo_churn_rate_pct", "churn %", "{:.1f}"),
    ("grr_pct", "GRR %", "{:.1f}"),
    ("nrr_pct", "NRR %", "{:.1f}"),
    ("nps", "NPS", "{:.0f}"),
    ("ltv", "LTV", "{:,.0f}"),
)


def _cell(fmt: str, value: object) -> str:
    try:
        return "n/a" if value is None or value != value else fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


@app.command()
def kpis(
    data: DataOption,
    freq: Annotated[str, typer.Option(help="month or quarter.")] = "month",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write .csv/.parquet.")] = None,
    last: Annotated[int, typer.Option(help="Periods shown on screen.")] = 12,
    config: ConfigOption = None,
) -> None:
    """Retention KPIs per period: churn, retention, GRR/NRR, ARPA, LTV, NPS, onboarding."""
    from healthscore.pipeline import kpis as compute

    if freq not in ("month", "quarter"):
        raise DataError(f"--freq must be month or quarter, not {freq!r}")
    with progress("Computing retention KPIs"):
        table = compute(data, config_from(config), freq=freq, out=out)
    view = Table(title=f"Retention KPIs by {freq} (last {last})")
    for _, label, _ in _SHOWN:
        view.add_column(label)
    for _, row in table.tail(last).iterrows():
        view.add_row(*[plain(_cell(fmt, row[col])) for col, _, fmt in _SHOWN])
    console.print(view)
    shown = table.tail(last)
    provisional = shown.loc[shown["provisional"].fillna(False).astype(bool), "period"]
    if len(provisional):
        periods = ", ".join(str(p) for p in provisional)
        verb = "is" if len(provisional) == 1 else "are"
        console.print(
            plain(
                f"{periods} {verb} not final yet: a renewal may still arrive within the grace "
                "period and undo some of the churn."
            )
        )
    if out is not None:
        console.print(plain(f"Wrote {out}"))
