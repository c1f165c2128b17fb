"""``demo``: the main job end to end on the embedded simulated data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from healthscore import simulation_defaults as default
from healthscore.cli.app import ConfigOption, LangOption, app, config_from, console, plain, progress
from healthscore.cli.output import top_accounts_table
from healthscore.i18n import NC_, Language

#: The demo's steps, as its timings name them.
_STEPS = {
    "generate": NC_("step", "generate"),
    "validate": NC_("step", "validate"),
    "train": NC_("step", "train"),
    "score": NC_("step", "score"),
    "report": NC_("step", "report"),
}


def _step(step: str, lang: Language) -> str:
    return lang.tc("step", _STEPS[step]) if step in _STEPS else step


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option(help="Where data/, models/, mlruns/, reports/ go.")
    ] = Path("."),
    accounts: Annotated[int, typer.Option(help="Simulated accounts.")] = default.ACCOUNTS,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation.")] = default.SEED,
    regenerate: Annotated[bool, typer.Option(help="Simulate again even if data exists.")] = False,
    config: ConfigOption = None,
    lang: LangOption = None,
) -> None:
    """Generate -> validate -> train -> score -> report on simulated data.

    With --lang ja the world is in yen with Japanese names (data/demo-ja, reports/ja/).
    """
    from healthscore.pipeline import demo as run_demo
    from healthscore.playbooks.control import control_group_summary
    from healthscore.tracking import ui_command

    cfg = config_from(config, lang=lang)
    if cfg.output.locale == "ja" and cfg.output.currency is None:
        cfg = cfg.with_overrides(output={"currency": "JPY"})
    words = Language.of(cfg)
    t = words.t
    with progress(t("Running the demo: generate, validate, train, score, report")):
        outcome = run_demo(
            workdir=workdir, n_accounts=accounts, seed=seed, config=cfg, regenerate=regenerate
        )
    m = outcome.train.metrics
    console.print(plain(t("Data: %(path)s", path=outcome.data)))
    oracle = m.get("oracle_roc_auc")
    console.print(
        plain(
            t(
                "Model: test ROC AUC %(model)s (rule scorecard %(rules)s, logistic regression "
                "%(logreg)s%(oracle)s)",
                model=words.number(m["roc_auc"], 3),
                rules=words.number(m["baseline_rules_roc_auc"], 3),
                logreg=words.number(m["baseline_logreg_roc_auc"], 3),
                oracle=t(", oracle %(auc)s", auc=words.number(oracle, 3)) if oracle else "",
            )
        )
    )
    console.print(plain(t("Bundle: %(path)s", path=outcome.train.bundle)))
    for notice in outcome.train.notices:
        console.print(plain(f"warning: {notice}"))
    console.print(
        plain(
            t(
                "Scores at %(date)s: %(path)s",
                date=words.date(outcome.as_of),
                path=outcome.scores_path,
            )
        )
    )
    if outcome.report_path is not None:
        console.print(plain(t("Report: %(path)s", path=outcome.report_path)))
    console.print(plain(control_group_summary(outcome.scores, words)))
    title = t("Top five accounts by ARR at risk")
    console.print(top_accounts_table(outcome.scores, words, title=title))
    steps = words.list(
        [
            t("%(step)s %(seconds)ss", step=_step(step, words), seconds=format(seconds, ".0f"))
            for step, seconds in outcome.timings.items()
        ]
    )
    console.print(plain(t("Timings: %(steps)s", steps=steps)))
    if outcome.train.tracking_uri:
        command = ui_command(outcome.train.tracking_uri)
        console.print(plain(t("Open MLflow on the run: %(command)s", command=command)))
