"""Treatment with a known effect: the plays a CS team ran in the simulated world.

The plain world has no customer-success team: nobody acts on a score. A world *with actions*
takes the recommendations of a past scoring run (one row per account: ``playbook_id`` and the
``holdout`` flag, as ``healthscore score`` writes them) and lets the simulated team run every
recommended play on the accounts that are not held out. The play changes what happens next
by a documented true effect (:class:`TreatmentEffects`):

* a play multiplies the churn hazard of the cause it addresses (:data:`PLAYBOOK_CAUSE`) by
  ``matching`` (0.5: a matching play halves it),
* and the hazards of the other causes by ``other`` (0.9: the attention alone cuts them by
  10%), except ``random`` churn (acquisitions, closures), which no play touches;
* from the day the play starts, for ``duration_days`` (180) after it.

"Hazard" is the per-cause probability of leaving at a decision, the ``hazard_<cause>`` of the
truth table. Not every play is run: the team starts a share ``started_share`` of them within
``start_within_days`` of the scoring date, and completes a share ``completed_share`` of those
(what ``playbook_actions`` records). Whether the team *would* start a play is drawn for every
recommendation, held out or not, so that the true intent-to-treat effect is defined for both
arms: :func:`true_effects` compares, for every recommended account, the true probability of
churn in the label window with the play assigned and without it, read off the untreated
world's hazards.

Plays of ``monitor`` and ``expansion`` (healthy accounts) address no cause and are not run.
The simulated path (latent states, hazards) never depends on churn draws, so the treated
world's hazards equal the untreated one's before the first play starts. Its event rows do
not quite: they are expanded from monthly counts in one pass of random draws over the whole
history, which a changed churn shifts. :func:`splice_past` therefore takes every row dated
before the plays start from the untreated world, so that a scoring run at that date sees
exactly the data the recommendations were made from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.synthetic.catalogue import CAUSES
from healthscore.synthetic.dates import day_code
from healthscore.synthetic.oracle import oracle_churn_probability

#: The cause each play addresses; plays not listed (monitor, expansion) address none.
PLAYBOOK_CAUSE: dict[str, str] = {
    "onboarding_rescue": "onboarding_failure",
    "usage_reengagement": "usage_decay",
    "adoption_campaign": "poor_adoption",
    "support_escalation": "support_friction",
    "exec_sponsor": "detractor",
    "renewal_review": "budget",
}
#: Causes no play can change.
UNTREATABLE: tuple[str, ...] = ("random",)
_NEVER = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class TreatmentEffects:
    """The true effect of a play, and how the simulated team runs plays.

    Attributes
    ----------
    matching
        Multiplier of the hazard of the cause the play addresses (0.5 halves it).
    other
        Multiplier of the hazards of the other causes but ``random``.
    duration_days
        Days after its start during which a play acts.
    started_share
        Share of recommended plays the team starts (the others are never run).
    start_within_days
        A play starts on a day drawn uniformly in ``[as_of, as_of + start_within_days)``.
    completed_share
        Share of started plays recorded as completed.
    """

    matching: float = 0.5
    other: float = 0.9
    duration_days: int = 180
    started_share: float = 0.9
    start_within_days: int = 7
    completed_share: float = 0.8

    def __post_init__(self) -> None:
        for name in ("matching", "other", "started_share", "completed_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"TreatmentEffects.{name} must lie in [0, 1], got {value}")
        if self.duration_days < 1 or self.start_within_days < 1:
            raise ValueError("TreatmentEffects durations must be at least one day")

    def factors(self, playbook_id: str) -> np.ndarray:
        """Hazard multiplier of each cause (in :data:`CAUSES` order) under ``playbook_id``."""
        target = PLAYBOOK_CAUSE.get(playbook_id)
        if target is None:
            return np.ones(len(CAUSES))
        return np.array(
            [
                self.matching if cause == target else 1.0 if cause in UNTREATABLE else self.other
                for cause in CAUSES
            ]
        )


def default_action_date(start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.Timestamp:
    """The first of the month six months before ``end``: late enough for a long history,
    early enough for a 90-day window (plus grace) to end before the data does."""
    first = pd.Timestamp(end).to_period("M").to_timestamp() - pd.DateOffset(months=6)
    return max(first, pd.Timestamp(start).to_period("M").to_timestamp() + pd.DateOffset(months=12))


def plan_actions(
    recommendations: pd.DataFrame, *, effects: TreatmentEffects, seed: int
) -> pd.DataFrame:
    """What the simulated team does with a scoring run's recommendations.

    Parameters
    ----------
    recommendations
        One row per account of one scoring run: ``account_id``, ``as_of``, ``playbook_id``,
        ``holdout`` and optionally ``owner``.
    effects
        The true effect and the team's habits.
    seed
        Seed of the draws (who would start, when, whether it completes).

    Returns
    -------
    DataFrame
        One row per recommendation of a play that addresses a cause: the input columns plus
        ``would_start`` (drawn for both arms), ``treated`` (``would_start`` and not held
        out), ``started_at``, ``completed_at`` (NaT unless completed) and ``outcome``.
    """
    plays = recommendations[recommendations["playbook_id"].isin(list(PLAYBOOK_CAUSE))]
    plays = plays.sort_values("account_id", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    n = len(plays)
    would_start = rng.random(n) < effects.started_share
    start_offset = rng.integers(0, effects.start_within_days, n)
    completes = rng.random(n) < effects.completed_share
    took = rng.integers(7, 31, n)
    as_of = pd.to_datetime(plays["as_of"]).dt.normalize()
    started = as_of + pd.to_timedelta(start_offset, unit="D")
    holdout = plays["holdout"].astype(bool).to_numpy()
    out = plays[["account_id", "as_of", "playbook_id"]].copy()
    out["holdout"] = holdout
    out["owner"] = plays.get("owner", pd.NA)
    out["would_start"] = would_start
    out["treated"] = would_start & ~holdout
    out["started_at"] = started.astype("datetime64[us]")
    out["completed_at"] = (started + pd.to_timedelta(took, unit="D")).where(completes)
    out["completed_at"] = out["completed_at"].astype("datetime64[us]")
    out["outcome"] = np.where(completes, "completed", "no response")
    return out


def actions_table(plan: pd.DataFrame, *, data_end: pd.Timestamp) -> pd.DataFrame:
    """The ``playbook_actions`` table: the plays the team started, as a CRM records them.

    Only what is known by ``data_end`` is written: plays started before it, completion dates
    before it (a play completed later is still ``in progress``).
    """
    started = plan[plan["treated"] & (plan["started_at"] < data_end)]
    completed = started["completed_at"].where(started["completed_at"] < data_end)
    return pd.DataFrame(
        {
            "account_id": pd.array(started["account_id"], dtype="str"),
            "playbook_id": pd.array(started["playbook_id"], dtype="str"),
            "started_at": started["started_at"].to_numpy(),
            "completed_at": completed.astype("datetime64[us]").to_numpy(),
            "owner": pd.array(started["owner"].astype("str"), dtype="str"),
            "outcome": pd.array(
                np.where(
                    completed.notna() | (started["outcome"] != "completed"),
                    started["outcome"],
                    "in progress",
                ),
                dtype="str",
            ),
        }
    ).reset_index(drop=True)


#: The date column of each simulated table whose rows are events.
EVENT_COLUMNS: dict[str, str] = {
    "logins": "ts",
    "feature_usage": "ts",
    "support_tickets": "opened_at",
    "nps_responses": "responded_at",
    "churn_events": "churned_at",
}


def splice_past(
    untreated: dict[str, pd.DataFrame], treated: dict[str, pd.DataFrame], *, at: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """The treated world's tables with every event row dated before ``at`` taken from the
    untreated world (the past, which no play has touched yet); other tables as treated."""
    out = dict(treated)
    at = pd.Timestamp(at)
    for name, column in EVENT_COLUMNS.items():
        if name not in treated or name not in untreated:
            continue
        before = untreated[name][untreated[name][column] < at]
        after = treated[name][treated[name][column] >= at]
        out[name] = pd.concat([before, after], ignore_index=True)
    return out


def hazard_multipliers(
    plan: pd.DataFrame, ids: np.ndarray, *, effects: TreatmentEffects
) -> Callable[[np.ndarray], np.ndarray]:
    """The simulator's hook: hazard multipliers of each account at its decision day.

    ``ids`` are the simulated accounts in the simulator's order; the returned function
    takes each account's decision day (day codes) and returns an ``(n, len(CAUSES))`` array
    of multipliers: the play's factors while it acts, 1 otherwise.
    """
    treated = plan[plan["treated"]]
    index = pd.Series(np.arange(len(ids)), index=pd.Index(ids, dtype=object))
    rows = index.reindex(treated["account_id"].astype(object).to_numpy()).to_numpy()
    if np.isnan(rows.astype(float)).any():
        raise ValueError("the action plan names accounts that the simulated world lacks")
    start = np.full(len(ids), _NEVER, dtype=np.int64)
    factors = np.ones((len(ids), len(CAUSES)))
    days = np.array([day_code(t) for t in treated["started_at"]], dtype=np.int64)
    rows = rows.astype(np.int64)
    start[rows] = days
    factors[rows] = np.array([effects.factors(p) for p in treated["playbook_id"]]).reshape(
        -1, len(CAUSES)
    )
    stop = np.where(start == _NEVER, _NEVER, start + effects.duration_days)

    def multipliers(decision_day: np.ndarray) -> np.ndarray:
        acting = (decision_day >= start) & (decision_day < stop)
        return np.where(acting[:, None], factors, 1.0)

    return multipliers


@dataclass(frozen=True)
class Treatment:
    """An action plan (from :func:`plan_actions`) and the true effect of its plays."""

    plan: pd.DataFrame
    effects: TreatmentEffects = TreatmentEffects()

    def multipliers(self, ids: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The simulator's hook for the accounts ``ids`` (see :func:`hazard_multipliers`)."""
        return hazard_multipliers(self.plan, ids, effects=self.effects)


def treated_hazard(
    hazard: pd.DataFrame, plan: pd.DataFrame, *, effects: TreatmentEffects, assign: str
) -> pd.DataFrame:
    """The truth's hazard table with the plays of ``plan`` applied where ``assign`` is True.

    ``hazard`` is an untreated world's ``truth["hazard"]``; ``assign`` names a boolean column
    of ``plan`` (``"treated"``: as the team did; ``"would_start"``: every play the team
    would start, held out or not). The same factors the simulator applies, on the table.
    """
    chosen = plan[plan[assign].astype(bool)]
    starts = chosen.set_index("account_id")["started_at"]
    plays = chosen.set_index("account_id")["playbook_id"]
    started = pd.to_datetime(hazard["account_id"].map(starts))
    decision = pd.to_datetime(hazard["decision_date"])
    acting = (
        started.notna()
        & decision.notna()
        & (decision >= started)
        & (decision < started + pd.Timedelta(days=effects.duration_days))
    ).to_numpy()
    out = hazard.copy()
    columns = [f"hazard_{cause}" for cause in CAUSES]
    components = np.array(out[columns].to_numpy(float), copy=True)
    play = hazard["account_id"].map(plays).to_numpy(object)
    for playbook_id in pd.unique(play[acting]):
        rows = acting & (play == playbook_id)
        components[rows] = components[rows] * effects.factors(str(playbook_id))
    out[columns] = components
    out["hazard"] = -np.expm1(np.log1p(-np.clip(components, 0.0, 1.0 - 1e-12)).sum(axis=1))
    return out


def true_effects(
    untreated_hazard: pd.DataFrame,
    plan: pd.DataFrame,
    *,
    effects: TreatmentEffects,
    horizon_days: int,
    lead_days: int = 0,
) -> pd.DataFrame:
    """The true probability of churn in each recommendation's label window, with and without
    the play assigned.

    Returns ``plan`` with ``p_without`` (nobody acts), ``p_assigned`` (the play assigned: run
    if the team would start it) and ``effect = p_assigned - p_without``: the true
    intent-to-treat effect of assigning the play, for every recommendation of either arm.
    The mean ``effect`` over a playbook's recommendations is what a randomised comparison of
    its treated and held-out accounts estimates.
    """
    assigned = treated_hazard(untreated_hazard, plan, effects=effects, assign="would_start")
    snapshots = plan[["account_id", "as_of"]]
    out = plan.copy()
    out["p_without"] = oracle_churn_probability(
        untreated_hazard, snapshots, horizon_days=horizon_days, lead_days=lead_days
    ).to_numpy()
    out["p_assigned"] = oracle_churn_probability(
        assigned, snapshots, horizon_days=horizon_days, lead_days=lead_days
    ).to_numpy()
    out["effect"] = out["p_assigned"] - out["p_without"]
    return out


def effects_by_playbook(truth: pd.DataFrame) -> pd.DataFrame:
    """Mean true effect per playbook (churn-rate points), from :func:`true_effects`."""
    return (
        truth.groupby("playbook_id", sort=True)
        .agg(
            recommendations=("account_id", "size"),
            p_without=("p_without", "mean"),
            p_assigned=("p_assigned", "mean"),
            true_effect=("effect", "mean"),
        )
        .reset_index()
    )


__all__ = [
    "PLAYBOOK_CAUSE",
    "Treatment",
    "TreatmentEffects",
    "actions_table",
    "default_action_date",
    "effects_by_playbook",
    "hazard_multipliers",
    "plan_actions",
    "splice_past",
    "treated_hazard",
    "true_effects",
]
