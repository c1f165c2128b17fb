"""``score``: health scores, drivers, playbooks and owners, ranked by ARR at risk.

With ``--engine spark`` the scores stay in Spark, written where ``--out`` says; the report
reads the totals and the top of the worklist from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from healthscore.cli.app import (
    ConfigOption,
    DataOption,
    EngineOption,
    ForceOption,
    LangOption,
    ModelOption,
    app,
    config_from,
    console,
    plain,
    progress,
)
from healthscore.cli.output import AsOfOption, say_forced, top_accounts_table
from healthscore.i18n import Language

if TYPE_CHECKING:
    from healthscore.config import Config


@app.command()
def score(
    data: DataOption,
    as_of: AsOfOption,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Output .csv or .parquet file (spark: also any URI or spark://table).",
        ),
    ],
    model: ModelOption = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            help="An earlier score file, for score_change (default: re-score one step back)."
        ),
    ] = None,
    config: ConfigOption = None,
    force: ForceOption = False,
    lang: LangOption = None,
    engine: EngineOption = None,
) -> None:
    """Score every eligible account at AS_OF: health score, drivers, playbook, ARR at risk."""
    cfg = config_from(config, lang=lang, engine=engine)
    words = Language.of(cfg)
    if cfg.engine.name == "spark":
        _score_on_spark(data, as_of, out, cfg, words, model=model, previous=previous, force=force)
        return
    from healthscore.pipeline import score as score_accounts
    from healthscore.playbooks.control import control_group_summary

    with progress(words.t("Scoring accounts at %(date)s", date=words.date(as_of))):
        scores = score_accounts(
            data, as_of, cfg, model=model, out=out, previous=previous, force=force
        )
    say_forced(scores["model_check"].iloc[0] if len(scores) else "ok", words)
    at_risk = int((scores["risk_tier"] == "at_risk").sum())
    console.print(
        plain(
            words.t(
                "Scored %(accounts)s at %(date)s: %(at_risk)s at risk, ARR at risk %(arr)s. "
                "Wrote %(out)s.",
                accounts=words.nt("%(num)s account", "%(num)s accounts", len(scores)),
                date=words.date(as_of),
                at_risk=words.count(at_risk),
                arr=words.money(scores["arr_at_risk"].sum()),
                out=out,
            )
        )
    )
    console.print(plain(control_group_summary(scores, words)))
    console.print(top_accounts_table(scores, words, title=words.t("Top 5 by ARR at risk")))


def _score_on_spark(
    data: str,
    as_of: str,
    out: str,
    cfg: Config,
    words: Language,
    *,
    model: str | None,
    previous: Path | None,
    force: bool,
) -> None:
    """``score --engine spark``: the scores written by Spark; totals and the top read back."""
    from healthscore.playbooks.control import control_group_summary
    from healthscore.spark.pipeline import score as score_on_spark

    with progress(words.t("Scoring accounts at %(date)s", date=words.date(as_of))):
        summary = score_on_spark(
            data, as_of, cfg, out=out, model=model, previous=previous, force=force
        )
    say_forced(summary.model_check, words)
    console.print(
        plain(
            words.t(
                "Scored %(accounts)s at %(date)s: %(at_risk)s at risk, ARR at risk %(arr)s. "
                "Wrote %(out)s.",
                accounts=words.nt("%(num)s account", "%(num)s accounts", summary.accounts),
                date=words.date(as_of),
                at_risk=words.count(summary.at_risk),
                arr=words.money(summary.arr_at_risk),
                out=summary.out,
            )
        )
    )
    console.print(plain(control_group_summary(summary.control, words)))
    console.print(top_accounts_table(summary.top, words, title=words.t("Top 5 by ARR at risk")))
