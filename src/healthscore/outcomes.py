"""Did the plays work? Recommendations joined with what happened afterwards.

The record of what was recommended is healthscore's own score files: every scoring run
writes one row per account with its ``playbook_id`` and its ``holdout`` flag, a randomised
control group drawn per playbook among the accounts at risk or on watch (see
``docs/playbooks.md``). The optional ``playbook_actions`` table says which plays the team
actually started. Each recommendation is followed over its label window,
``(as_of, as_of + lead + horizon]``:

* ``churned``: the account churned in the window (the churn definition of the labels);
* ``renewed``: a term ended in the window and the account stayed;
* ``arr_start``, ``arr_end``: ARR under contract on the scoring date and at the window's end
  (0 when churned; a renewal signed within the grace period counts).

Comparisons are **intent to treat**: an account counts in the arm it was assigned, whether
or not the team ran the play, and the held-out accounts are the control. Because the
assignment is random, the difference between the arms estimates the effect of *assigning*
the play, with the team's real follow-through; the actions table only reports that
follow-through (how many treated accounts got the play, how many held-out ones got it
anyway). Comparing accounts that got a play with those that did not, without the random
assignment, would mix the play's effect with the reasons some accounts get worked first.

An account recommended the same playbook in several runs counts once, from its first
recommendation on or after ``since``: its arm does not change while it stays on the
playbook, and counting it again would count one outcome several times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from healthscore.comparison import (
    more_accounts_needed,
    rate_difference,
    retained_difference,
    retained_share,
)
from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.health import FLAGGED_TIERS
from healthscore.i18n import Message
from healthscore.labels import churn_dates, make_labels
from healthscore.storage import DataSource, read_frame

#: How a score file is named: ``scores_<as_of>.csv`` or ``.parquet``.
SCORE_FILE = re.compile(r"^scores_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
#: Columns a score file must have to serve as the record of recommendations.
RECORD_COLUMNS: tuple[str, ...] = ("account_id", "as_of", "playbook_id", "holdout")
#: Risk tiers among which the holdout is drawn; other recommendations are never compared.
COMPARED_TIERS = FLAGGED_TIERS
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


@dataclass
class OutcomesReport:
    """What :func:`measure_outcomes` found.

    Attributes
    ----------
    comparison
        One row per playbook and tier (``tier`` is ``"all"`` or a touch tier, and the row
        ``playbook_id == "all"`` pools every playbook): accounts, churn rates, ARR retained,
        the differences with their intervals, the accounts still needed.
    recommendations
        One row per compared recommendation with its outcome (``complete`` False while its
        window is still open).
    notices
        Sentences a person should read (files skipped, actions outside the record).
    """

    comparison: pd.DataFrame
    recommendations: pd.DataFrame
    score_files: list[Path]
    since: pd.Timestamp | None
    horizon_days: int
    notices: list[str] = field(default_factory=list)

    @property
    def pending(self) -> int:
        """Recommendations whose window has not ended yet."""
        return int((~self.recommendations["complete"]).sum())


# ----------------------------------------------------------------------- the record


def find_score_files(folder: str | Path) -> list[Path]:
    """The score files ``scores_<date>.csv|parquet`` in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder of score files; give the folder where `healthscore "
            "score` wrote scores_<date>.csv (--scores)"
        )
    found = [p for p in folder.iterdir() if p.is_file() and SCORE_FILE.match(p.name)]
    return sorted(found, key=lambda p: (SCORE_FILE.match(p.name).group(1), p.suffix))  # type: ignore[union-attr]


def _as_bool(values: pd.Series, *, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(bool)
    text = values.astype("str").str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE) | values.isna()
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
        raise DataError(
            f"{where}: column holdout holds {int(bad.sum())} value(s) that are not true/false "
            f"(lines {rows}); the holdout flag must be as `healthscore score` wrote it"
        )
    return text.isin(_TRUE)


def read_recommendations(paths: Iterable[str | Path]) -> pd.DataFrame:
    """The recommendations of past scoring runs, one row per account and run.

    Each file needs :data:`RECORD_COLUMNS`; ``risk_tier``, ``touch_tier``, ``arr`` and
    ``owner`` are kept when present. A file lacking a column, or with a holdout flag that is
    not true/false, is a :class:`DataError` naming the file, the column and the lines.
    """
    frames = []
    for path in paths:
        path = Path(path)
        scores = read_frame(path)
        missing = [c for c in RECORD_COLUMNS if c not in scores.columns]
        if missing:
            raise DataError(
                f"{path}: lacks column(s) {', '.join(missing)}; the record of recommendations "
                "is the output of `healthscore score` (one row per account)"
            )
        keep = [*RECORD_COLUMNS, "risk_tier", "touch_tier", "arr", "owner"]
        scores = scores[[c for c in keep if c in scores.columns]].copy()
        scores["holdout"] = _as_bool(scores["holdout"], where=str(path))
        as_of = pd.to_datetime(scores["as_of"], errors="coerce")
        if as_of.isna().any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(as_of.isna().to_numpy())[:5])
            raise DataError(f"{path}: column as_of holds values that are not dates (lines {rows})")
        scores["as_of"] = as_of.dt.tz_localize(None).astype("datetime64[us]").dt.normalize()
        empty = scores["playbook_id"].isna() | scores["account_id"].isna()
        if empty.any():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(empty.to_numpy())[:5])
            raise DataError(
                f"{path}: account_id or playbook_id is empty on {int(empty.sum())} line(s) ({rows})"
            )
        scores["account_id"] = scores["account_id"].astype("str")
        scores["playbook_id"] = scores["playbook_id"].astype("str")
        scores["score_file"] = path.name
        frames.append(scores)
    if not frames:
        return pd.DataFrame(columns=[*RECORD_COLUMNS, "score_file"])
    return pd.concat(frames, ignore_index=True)


def first_recommendations(
    recommendations: pd.DataFrame, *, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """One row per account and playbook: its first recommendation on or after ``since``,
    among the tiers where holdouts are drawn (:data:`COMPARED_TIERS`)."""
    recs = recommendations
    if since is not None:
        recs = recs[recs["as_of"] >= pd.Timestamp(since)]
    if "risk_tier" in recs.columns:
        recs = recs[recs["risk_tier"].astype("str").isin(COMPARED_TIERS)]
    recs = recs.sort_values(["account_id", "playbook_id", "as_of"], kind="stable")
    return recs.drop_duplicates(["account_id", "playbook_id"], keep="first").reset_index(drop=True)


# ----------------------------------------------------------------------- what happened


def attach_outcomes(
    recommendations: pd.DataFrame, source: DataSource, config: Config
) -> pd.DataFrame:
    """Each recommendation with what happened in its window (see the module docstring).

    Adds ``window_end``, ``complete``, ``churned`` (1.0/0.0, NaN while incomplete),
    ``churned_at``, ``renewed``, ``arr_start``, ``arr_end`` and ``arr_change``.
    """
    rolling = config.with_overrides(labels={"mode": "rolling"})
    keys = recommendations[["account_id", "as_of"]]
    labels = make_labels(keys, churn_dates(source, rolling), rolling, data_end=source.data_end)
    out = recommendations.reset_index(drop=True).copy()
    out["window_end"] = out["as_of"] + pd.Timedelta(
        days=config.labels.lead_days + config.labels.horizon_days
    )
    out["complete"] = ~labels["censored"].to_numpy()
    out["churned"] = labels["label"].to_numpy()
    out["churned_at"] = labels["churned_at"].to_numpy()
    arr = _contract_arr(out, source, grace_days=config.labels.grace_days)
    out["renewed"] = arr["term_ended"].to_numpy() & (out["churned"] == 0)
    start = arr["arr_at_start"].to_numpy(float)
    out["arr_start"] = np.where(start > 0, start, pd.to_numeric(out.get("arr"), errors="coerce"))
    end = np.where(arr["arr_at_end"] > 0, arr["arr_at_end"], arr["arr_after_grace"])
    out["arr_end"] = np.where(out["churned"] == 1, 0.0, end)
    out.loc[~out["complete"], ["arr_end"]] = np.nan
    out["arr_change"] = out["arr_end"] - out["arr_start"]
    return out


def _contract_arr(recs: pd.DataFrame, source: DataSource, *, grace_days: int) -> pd.DataFrame:
    """ARR under contract at the scoring date, at the window's end and ``grace_days`` after
    it, and whether a term ended inside the window; in the order of ``recs``."""
    probe = pd.DataFrame(
        {
            "_pos": np.arange(len(recs)),
            "account_id": recs["account_id"].astype("str").to_numpy(),
            "as_of": recs["as_of"].astype("datetime64[us]").to_numpy(),
            "window_end": recs["window_end"].astype("datetime64[us]").to_numpy(),
        }
    )
    source.con.register("_outcome_probe", probe)
    try:
        found = source.query(
            """
            SELECT p._pos,
              coalesce(sum(c.arr) FILTER (WHERE c.start_date <= p.as_of
                                          AND c.end_date > p.as_of), 0) AS arr_at_start,
              coalesce(sum(c.arr) FILTER (WHERE c.start_date <= p.window_end
                                          AND c.end_date > p.window_end), 0) AS arr_at_end,
              coalesce(sum(c.arr) FILTER (WHERE c.start_date <= p.window_end + $grace
                                          AND c.end_date > p.window_end + $grace), 0)
                AS arr_after_grace,
              coalesce(bool_or(c.end_date > p.as_of AND c.end_date <= p.window_end), false)
                AS term_ended
            FROM _outcome_probe p LEFT JOIN contracts c ON c.account_id = p.account_id
            GROUP BY p._pos ORDER BY p._pos
            """,
            {"grace": pd.Timedelta(days=grace_days).to_pytimedelta()},
        )
    finally:
        source.con.unregister("_outcome_probe")
    return found


def attach_actions(recommendations: pd.DataFrame, actions: pd.DataFrame | None) -> pd.DataFrame:
    """Mark the recommendations whose play the team started in their window (``actioned``).

    ``actions`` is the ``playbook_actions`` table, or None when the data has none (then
    ``actioned`` is missing: the record is the score files alone).
    """
    out = recommendations.copy()
    if actions is None:
        out["actioned"] = pd.NA
        return out
    joined = (
        out[["account_id", "playbook_id", "as_of", "window_end"]]
        .reset_index()
        .merge(
            actions[["account_id", "playbook_id", "started_at"]], on=["account_id", "playbook_id"]
        )
    )
    inside = joined[
        (joined["started_at"] >= joined["as_of"]) & (joined["started_at"] <= joined["window_end"])
    ]
    out["actioned"] = out.index.isin(inside["index"])
    return out


def check_actions(actions: pd.DataFrame, *, playbook_ids: Iterable[str]) -> None:
    """Raise a :class:`DataError` naming the rows of ``playbook_actions`` that cannot be
    right: a play completed before it started, or a playbook the catalogue does not have."""
    known = set(playbook_ids)
    problems = []
    completed = actions["completed_at"] if "completed_at" in actions else pd.Series(pd.NaT)
    backwards = completed.notna() & (completed < actions["started_at"])
    if backwards.any():
        shown = actions.loc[backwards, ["account_id", "playbook_id"]].head(5)
        problems.append(
            f"column completed_at is before started_at on {int(backwards.sum())} row(s), e.g. "
            + "; ".join(f"{a} {p}" for a, p in shown.itertuples(index=False))
        )
    unknown = ~actions["playbook_id"].astype("str").isin(known)
    if unknown.any():
        names = sorted(set(actions.loc[unknown, "playbook_id"].astype("str")))[:5]
        problems.append(
            f"column playbook_id names {int(unknown.sum())} row(s) of playbooks the catalogue "
            f"does not have ({', '.join(names)}); use the catalogue's ids: "
            + ", ".join(sorted(known))
        )
    if problems:
        raise DataError("playbook_actions: " + "; ".join(problems))


# ----------------------------------------------------------------------- comparison


def compare_arms(outcomes: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Treated against held out, per playbook, per playbook and touch tier, and pooled.

    Only recommendations whose window is complete are compared; playbooks without a single
    held-out account are left out (nothing to compare with).
    """
    done = outcomes[outcomes["complete"]]
    with_holdout = done.groupby("playbook_id")["holdout"].any()
    done = done[done["playbook_id"].isin(with_holdout[with_holdout].index)]
    groups: list[tuple[str, str, pd.DataFrame]] = [("all", "all", done)]
    for play, rows in done.groupby("playbook_id", sort=True):
        groups.append((str(play), "all", rows))
        if "touch_tier" in rows.columns:
            for tier, tier_rows in rows.groupby(rows["touch_tier"].astype("str"), sort=True):
                groups.append((str(play), str(tier), tier_rows))
    table = [_compare(play, tier, rows, config) for play, tier, rows in groups]
    return pd.DataFrame(table, columns=list(_COMPARISON_COLUMNS))


_COMPARISON_COLUMNS: dict[str, str] = {
    "playbook_id": "the playbook, or all",
    "tier": "touch tier, or all",
    "treated": "accounts assigned the play",
    "held_out": "accounts held out",
    "treated_actioned_share": "share of the treated the team started the play on",
    "held_out_actioned_share": "share of the held out who got the play anyway",
    "churn_treated": "churn rate of the treated",
    "churn_held_out": "churn rate of the held out",
    "churn_difference": "treated minus held out (negative: fewer churned)",
    "churn_difference_low": "lower end of its interval",
    "churn_difference_high": "upper end of its interval",
    "arr_retained_treated": "ARR at the window's end over ARR at scoring, treated",
    "arr_retained_held_out": "the same, held out",
    "arr_retained_difference": "treated minus held out (positive: more kept)",
    "arr_retained_difference_low": "lower end of its interval",
    "arr_retained_difference_high": "upper end of its interval",
    "readable": "the churn interval excludes zero",
    "more_accounts_needed": "accounts to add before the churn difference can be read",
}


def _compare(play: str, tier: str, rows: pd.DataFrame, config: Config) -> dict[str, object]:
    settings = config.outcomes
    treated, held = rows[~rows["holdout"]], rows[rows["holdout"]]
    events_t, events_h = int(treated["churned"].sum()), int(held["churned"].sum())
    churn = rate_difference(
        events_t, len(treated), events_h, len(held), confidence=settings.confidence
    )
    arr = retained_difference(
        treated["arr_start"].to_numpy(float),
        treated["arr_end"].to_numpy(float),
        held["arr_start"].to_numpy(float),
        held["arr_end"].to_numpy(float),
        confidence=settings.confidence,
        resamples=settings.bootstrap_resamples,
        seed=config.seed,
    )
    actioned = rows["actioned"] if "actioned" in rows else pd.Series(pd.NA, index=rows.index)
    known = actioned.notna().all() and len(rows) > 0
    return {
        "playbook_id": play,
        "tier": tier,
        "treated": len(treated),
        "held_out": len(held),
        "treated_actioned_share": _share(actioned[~rows["holdout"]]) if known else np.nan,
        "held_out_actioned_share": _share(actioned[rows["holdout"]]) if known else np.nan,
        "churn_treated": events_t / len(treated) if len(treated) else np.nan,
        "churn_held_out": events_h / len(held) if len(held) else np.nan,
        "churn_difference": churn.estimate,
        "churn_difference_low": churn.low,
        "churn_difference_high": churn.high,
        "arr_retained_treated": retained_share(
            treated["arr_start"].to_numpy(float), treated["arr_end"].to_numpy(float)
        ),
        "arr_retained_held_out": retained_share(
            held["arr_start"].to_numpy(float), held["arr_end"].to_numpy(float)
        ),
        "arr_retained_difference": arr.estimate,
        "arr_retained_difference_low": arr.low,
        "arr_retained_difference_high": arr.high,
        "readable": churn.excludes_zero,
        "more_accounts_needed": more_accounts_needed(
            events_t,
            len(treated),
            events_h,
            len(held),
            confidence=settings.confidence,
            power=settings.power,
        ),
    }


def _share(flags: pd.Series) -> float:
    return float(flags.astype(bool).mean()) if len(flags) else np.nan


def measure_outcomes(
    source: DataSource,
    score_files: list[Path],
    config: Config,
    *,
    since: pd.Timestamp | None = None,
    playbook_ids: Iterable[str] | None = None,
) -> OutcomesReport:
    """Join the recommendations of ``score_files`` with what happened, and compare the arms.

    ``playbook_ids`` (the catalogue's) are used to check the ``playbook_actions`` table when
    the data has one.
    """
    notices: list[str] = []
    actions = source.table("playbook_actions") if source.has("playbook_actions") else None
    if not score_files:
        why = (
            " The playbook_actions table says what the team did but not who was held out, so "
            "it cannot stand alone."
            if actions is not None
            else ""
        )
        raise DataError(
            "no score files (scores_<date>.csv) to measure: outcomes compares the accounts "
            "assigned a play with those held out, and the score files of past runs are the "
            f"record of both. Keep the files `healthscore score` writes and pass their folder "
            f"with --scores.{why}"
        )
    recommendations = read_recommendations(score_files)
    unknown = ~recommendations["account_id"].isin(set(source.table("accounts")["account_id"]))
    if unknown.all():
        raise DataError(
            f"none of the {len(recommendations):,} accounts in the score files is in this "
            "data's accounts table; are the score files of another project?"
        )
    if unknown.any():
        notices.append(
            Message(
                "%(n)s recommendation(s) name accounts this data does not have; they are left out.",
                n=format(int(unknown.sum()), ","),
            )
        )
    firsts = first_recommendations(recommendations[~unknown], since=since)
    if firsts.empty:
        raise DataError(
            "no recommendation of an at-risk or watch account"
            + (f" on or after {pd.Timestamp(since).date()}" if since is not None else "")
            + " in the score files; nothing to compare"
        )
    outcomes = attach_outcomes(firsts, source, config)
    if actions is not None:
        actions = actions.assign(playbook_id=actions["playbook_id"].astype("str"))
        if playbook_ids is not None:
            check_actions(actions, playbook_ids=playbook_ids)
        outcomes = attach_actions(outcomes, actions)
        recorded = actions.merge(
            outcomes[["account_id", "playbook_id"]].drop_duplicates(), how="left", indicator=True
        )
        outside = int((recorded["_merge"] == "left_only").sum())
        if outside:
            notices.append(
                Message(
                    "%(n)s action(s) in playbook_actions match no compared recommendation "
                    "(another playbook, a healthy account, or a run without a score file).",
                    n=format(outside, ","),
                )
            )
    else:
        outcomes = attach_actions(outcomes, None)
    no_holdout = sorted(
        set(outcomes["playbook_id"]) - set(outcomes.loc[outcomes["holdout"], "playbook_id"])
    )
    if no_holdout:
        notices.append(
            Message(
                "no account was held out of %(playbooks)s: it cannot be measured.",
                playbooks=", ".join(no_holdout),
            )
        )
    pending = int((~outcomes["complete"]).sum())
    if pending:
        notices.append(
            Message(
                "%(n)s recommendation(s) are still inside their %(days)s-day window and are not "
                "compared yet.",
                n=format(pending, ","),
                days=config.labels.horizon_days,
            )
        )
    return OutcomesReport(
        comparison=compare_arms(outcomes, config),
        recommendations=outcomes,
        score_files=list(score_files),
        since=pd.Timestamp(since) if since is not None else None,
        horizon_days=config.labels.horizon_days,
        notices=notices,
    )
