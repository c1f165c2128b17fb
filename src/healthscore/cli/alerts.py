"""``alerts``: accounts whose health score fell sharply since the last step."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    ForceOption,
    LangOption,
    ModelOption,
    app,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.cli.output import AsOfOption, account_label, say_forced
from healthscore.i18n import Language


def _families(moved: str, lang: Language) -> str:
    """``usage (+0.42), support (+0.10)`` with the families in words."""
    if lang.english:
        return moved
    if moved == "none":
        return lang.t("none")
    return re.sub(r"[a-z_]+(?= \()", lambda m: lang.word("family", m.group()), moved).replace(
        ", ", lang.t(", ")
    )


def _tier(tier: str, lang: Language) -> str:
    """The risk tier as the scores write it, in words in another language."""
    return tier if lang.english else lang.word("risk tier", tier)


@app.command()
def alerts(
    data: DataOption,
    as_of: AsOfOption,
    model: ModelOption = None,
    drop: Annotated[float, typer.Option(help="Minimum fall in health score points.")] = 10.0,
    config: ConfigOption = None,
    force: ForceOption = False,
    lang: LangOption = None,
) -> None:
    """List accounts whose health score fell more than DROP points since the last step."""
    from healthscore.pipeline import alerts as score_alerts

    cfg = config_from(config, lang=lang)
    words = Language.of(cfg)
    t = words.t
    with progress(t("Comparing with the previous step")):
        drops = score_alerts(data, as_of, cfg, model=model, drop=drop, force=force)
    say_forced(drops["model_check"].iloc[0] if len(drops) else "ok", words)
    points = f"{drop:g}"
    if drops.empty:
        message = t(
            "No account lost more than %(points)s points at %(date)s.",
            points=points,
            date=words.date(as_of),
        )
        console.print(plain(message))
        return
    title = words.nt(
        "%(num)s account lost more than %(points)s points",
        "%(num)s accounts lost more than %(points)s points",
        len(drops),
        points=points,
    )
    table = Table(title=title)
    for col in (
        t("account"),
        t("CSM"),
        t("before"),
        t("now"),
        t("change"),
        t("tier"),
        t("families that moved"),
    ):
        table.add_column(col)
    for _, row in drops.iterrows():
        csm = row.get("csm")
        table.add_row(
            *map(
                plain,
                (
                    account_label(row),
                    csm if isinstance(csm, str) else "",
                    words.number(row["previous_score"], 0),
                    words.number(row["health_score"], 0),
                    words.signed(row["change"], 1),
                    row["risk_tier"]
                    if words.english
                    else words.word("risk tier", row["risk_tier"]),
                    _families(row["moved_families"], words),
                ),
            )
        )
    console.print(table)
