"""``score``, ``alerts`` and ``explain``: what the CS team reads every week."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from healthscore.account_card import AccountCard, account_card
from healthscore.alerts import score_drops
from healthscore.config import Config
from healthscore.model_loading import load_model
from healthscore.playbooks import load_playbooks
from healthscore.scoring import score_accounts
from healthscore.storage import FRAME_SUFFIXES, check_writable, open_source, read_frame, write_frame
from healthscore.validation import check_for_scoring, validated_source


def score(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path | None = None,
    out: str | Path | None = None,
    previous: str | Path | None = None,
    force: bool = False,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Score every eligible account at ``as_of``; write the table atomically to ``out``.

    ``model`` defaults to the project's newest bundle; ``force`` scores with a model of other
    data (the ``model_check`` column records it). Scoring checks the data's schema as it
    opens it and the small tables in full (accounts and contracts: ids, dates, ARR that is
    finite and plausible), so the worklist never ranks a broken amount; the full contract
    check that scans the event logs is ``validate`` and runs in ``train``. ``timings``, when
    given, collects the seconds spent per stage.
    """
    if out is not None:
        check_writable(out, suffixes=FRAME_SUFFIXES)

    timings = {} if timings is None else timings
    clock = time.perf_counter()
    source = open_source(data, config)
    check_for_scoring(source, config)
    timings["open and check schema"] = time.perf_counter() - clock
    clock = time.perf_counter()
    fitted = load_model(model, data, source, config, force=force)
    catalogue = load_playbooks(config.playbooks.catalogue, locale=config.output.locale)
    timings["load model"] = time.perf_counter() - clock
    prior = read_frame(previous) if previous else None
    scores = score_accounts(
        source,
        fitted.model,
        pd.Timestamp(as_of),
        config,
        catalogue=catalogue,
        previous=prior,
        model_version=fitted.version,
        timings=timings,
    )
    scores["model_check"] = fitted.check
    if out is not None:
        clock = time.perf_counter()
        write_frame(scores, out, output=config.output)
        timings["write"] = time.perf_counter() - clock
    return scores


def alerts(
    data: str | Path,
    as_of: str,
    config: Config,
    *,
    model: str | Path | None = None,
    drop: float = 10.0,
    force: bool = False,
) -> pd.DataFrame:
    """Accounts whose health score fell more than ``drop`` points since the last step."""

    source = validated_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    drops = score_drops(source, fitted.model, as_of, config, drop=drop)
    drops["model_check"] = fitted.check
    return drops


def explain(
    data: str | Path,
    as_of: str,
    account_id: str,
    config: Config,
    *,
    model: str | Path | None = None,
    force: bool = False,
) -> tuple[AccountCard, str]:
    """The account card of one account at ``as_of``, and the model's fingerprint check."""

    source = validated_source(data, config)
    fitted = load_model(model, data, source, config, force=force)
    card = account_card(
        source,
        fitted.model,
        account_id,
        as_of,
        config,
        catalogue=load_playbooks(config.playbooks.catalogue, locale=config.output.locale),
    )
    return card, fitted.check
