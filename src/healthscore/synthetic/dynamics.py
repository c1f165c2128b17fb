"""The monthly loop: decide churn and renewals, advance latent states, realise behaviour.

Each calendar month, for every account at once:

1. accounts whose term ends this month decide: the hazard of each cause comes from what they
   experienced up to last month (:func:`~healthscore.synthetic.mechanisms.component_hazards`);
   a leaver's cause is drawn in proportion to the causes' probabilities; stayers renew,
   with more seats when their seats are well used and fewer when they are not;
2. latent states move one month on;
3. the month's behaviour is realised (active users, logins, feature breadth, tickets, survey
   responses) for the days the account is live, and folded into its experience.

Warm-up months before ``start`` run the same loop without churn and without recording
behaviour, so that accounts already customers at ``start`` enter it with settled states.
Only the per-account-month counts are kept here; :mod:`healthscore.synthetic.behaviour`
expands them into event rows afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from healthscore.synthetic.accounts import Accounts
from healthscore.synthetic.catalogue import CAUSES
from healthscore.synthetic.contracts import ContractBook
from healthscore.synthetic.dates import Calendar
from healthscore.synthetic.experience import Experience, update_experience
from healthscore.synthetic.mechanisms import (
    NEVER,
    LatentState,
    advance_latent,
    component_hazards,
    decision_probabilities,
    feature_sessions,
    utilisation,
)
from healthscore.synthetic.parameters import SimulatorParameters
from healthscore.synthetic.support import draw_nps, draw_tickets

NOT_CHURNED = NEVER
_DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class Simulation:
    """What the loop produced, as arrays keyed by name (one entry per row)."""

    activity: dict[str, np.ndarray]
    tickets: dict[str, np.ndarray]
    nps: dict[str, np.ndarray]
    hazard: dict[str, np.ndarray]
    contracts: ContractBook
    churn_day: np.ndarray
    cause: np.ndarray
    latent: LatentState


def _stack(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _new_seats(
    seats: np.ndarray,
    *,
    due: np.ndarray,
    monthly_billing: np.ndarray,
    used: np.ndarray,
    budget_pressure: np.ndarray,
    rng: np.random.Generator,
    params: SimulatorParameters,
) -> np.ndarray:
    """Seats of the renewed term: expand well-used accounts, contract idle or squeezed ones."""
    n = len(seats)
    scale = np.where(monthly_billing, 1 / 6, 1.0)
    expand = rng.random(n) < params.expansion_rate_at_renewal * scale * (used >= 0.8)
    shrink_p = params.contraction_rate_at_renewal * scale * (used < 0.45)
    shrink = ~expand & (rng.random(n) < np.where(budget_pressure, 0.7, shrink_p))
    grown = np.ceil(seats * rng.uniform(1.15, 1.6, n))
    cut = np.maximum(1, np.floor(seats * rng.uniform(0.6, 0.9, n)))
    new = np.where(expand, grown, np.where(shrink, cut, seats)).astype(np.int64)
    return np.where(due, new, seats)


def _draw_cause(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(probabilities, axis=1)
    draw = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((draw >= cumulative).sum(axis=1), len(CAUSES) - 1)


def simulate(
    accounts: Accounts,
    *,
    calendar: Calendar,
    rng: np.random.Generator,
    params: SimulatorParameters,
    treatment: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Simulation:
    """Run the monthly loop over ``calendar`` and collect everything it realised.

    ``treatment``, given each account's decision day, returns multipliers of its per-cause
    decision probabilities (see :mod:`healthscore.synthetic.treatment`); None: nobody acts.
    """
    n = accounts.n
    state = LatentState.initial(accounts)
    experience = Experience(n)
    book = ContractBook(accounts, first_month=int(calendar.months[0]), rng=rng)
    churn_day = np.full(n, NOT_CHURNED, dtype=np.int64)
    cause = np.full(n, -1, dtype=np.int64)
    activity, tickets, nps, hazard = [], [], [], []

    for month, observed in zip(calendar.months.tolist(), calendar.observed.tolist(), strict=True):
        month_start, month_end = calendar.bounds(month)
        exists = accounts.created_day <= month_start
        alive_at_start = exists & (churn_day > month_start)
        term_end = book.term_end_day
        due = exists & (term_end < month_end)
        # Only term ends after the first observed day can be churns: every account is a
        # customer on that day.
        counted = due & (term_end > calendar.first_day) if observed else np.zeros(n, bool)
        chances = _decision_chances(
            accounts,
            state,
            experience,
            book,
            counted=counted,
            month_start=month_start,
            params=params,
        )
        if treatment is not None:
            chances = chances * treatment(term_end)
        total = -np.expm1(np.log1p(-chances).sum(axis=1))
        leaving = counted & alive_at_start & (rng.random(n) < total)
        churn_day = np.where(leaving, term_end, churn_day)
        cause = np.where(leaving, _draw_cause(chances + 1e-12, rng), cause)
        if observed:
            rows = np.flatnonzero(exists)
            hazard.append(
                {
                    "account": rows,
                    "month_start": np.full(len(rows), month_start),
                    "alive": alive_at_start[rows],
                    "hazard": total[rows],
                    "decision_day": np.where(counted[rows], term_end[rows], NOT_CHURNED),
                    "components": chances[rows],
                }
            )
        book.end(leaving)
        book.renew(
            due,
            _new_seats(
                book.seats,
                due=due,
                monthly_billing=accounts.term_months == 1,
                used=experience.utilisation,
                budget_pressure=state.budget_months_left > 0,
                rng=rng,
                params=params,
            ),
            recorded=due & alive_at_start & ~leaving,
        )
        _midterm_upgrades(
            book,
            exists & ~due & (accounts.term_months > 1),
            experience,
            recorded=alive_at_start,
            month_start=month_start,
            month_end=month_end,
            rng=rng,
            params=params,
        )

        first_day = calendar.first_day if observed else month_start
        realised = _realise_month(
            accounts,
            state,
            experience,
            book,
            month_start=month_start,
            month_end=month_end,
            first_day=first_day,
            rng=rng,
            params=params,
        )
        if observed:
            tickets.append(_before_churn(realised.tickets, churn_day))
            nps.append(_before_churn(realised.nps, churn_day))
            rows = np.flatnonzero(realised.active & (churn_day > realised.lo))
            activity.append(
                {
                    "account": rows,
                    "lo": realised.lo[rows],
                    "hi": np.full(len(rows), month_end),
                    "until": np.minimum(churn_day[rows], month_end),
                    "users": realised.users[rows],
                    "logins": realised.logins[rows],
                    "feature_sessions": realised.sessions[rows],
                    "seats": book.seats[rows],
                }
            )

    book.end(churn_day == NOT_CHURNED)
    return Simulation(
        _stack(activity),
        _stack(tickets),
        _stack(nps),
        _stack(hazard),
        book,
        churn_day,
        cause,
        state,
    )


def _decision_chances(
    accounts: Accounts,
    state: LatentState,
    experience: Experience,
    book: ContractBook,
    *,
    counted: np.ndarray,
    month_start: int,
    params: SimulatorParameters,
) -> np.ndarray:
    """Per-cause probability of leaving at this month's term end (0 without one)."""
    monthly_billing = accounts.term_months == 1
    components = component_hazards(
        experience,
        state,
        tenure_months=(month_start - accounts.created_day) / _DAYS_PER_MONTH,
        terms_completed=book.terms_completed,
        monthly_billing=monthly_billing,
        params=params,
    )
    chances = decision_probabilities(components, monthly_billing=monthly_billing, params=params)
    return np.where(counted[:, None], chances, 0.0)


@dataclass(frozen=True)
class _Month:
    """One month of realised behaviour, one entry per account."""

    active: np.ndarray
    lo: np.ndarray
    users: np.ndarray
    logins: np.ndarray
    sessions: np.ndarray
    tickets: dict[str, np.ndarray]
    nps: dict[str, np.ndarray]


def _realise_month(
    accounts: Accounts,
    state: LatentState,
    experience: Experience,
    book: ContractBook,
    *,
    month_start: int,
    month_end: int,
    first_day: int,
    rng: np.random.Generator,
    params: SimulatorParameters,
) -> _Month:
    """Advance latent states, realise the month's behaviour and fold it into experience.

    Behaviour is realised for every account that exists, churned or not, so that the
    simulated path never depends on churn draws; churn only cuts what is recorded.
    """
    n = accounts.n
    created = accounts.created_day
    lo = np.maximum(np.maximum(created, month_start), first_day)
    active = (created < month_end) & (month_end > lo)
    share = np.where(active, (month_end - lo) / _DAYS_PER_MONTH, 0.0)
    tenure = np.maximum((0.5 * (lo + month_end) - created) / _DAYS_PER_MONTH, 0.0)
    advance_latent(
        state,
        accounts,
        live=active,
        tenure_months=tenure,
        month_start=month_start,
        rng=rng,
        params=params,
    )
    users = rng.binomial(np.where(active, book.seats, 0), utilisation(state, accounts, tenure))
    level = state.engagement + state.engagement_noise
    logins = rng.poisson(users * accounts.login_rate * np.exp(0.9 * level) * share)
    # Users with at least one login, expected under logins spread evenly over the users.
    distinct = users * -np.expm1(-logins / np.maximum(users, 1))
    sessions = feature_sessions(state, accounts, logins, rng)
    hi = np.full(n, month_end)
    tickets, pain = draw_tickets(
        accounts,
        live=active,
        lo=lo,
        hi=hi,
        seats=book.seats,
        friction=state.friction,
        tenure_months=tenure,
        base_rate=params.tickets_per_seat_power,
        rng=rng,
    )
    nps = draw_nps(
        accounts,
        live=active,
        lo=lo,
        hi=hi,
        active_users=users,
        sentiment=state.sentiment,
        response_rate=params.survey_response_rate / 3,
        rng=rng,
    )
    update_experience(
        experience,
        live=active,
        seats=book.seats,
        active_users=np.round(distinct),
        logins=logins,
        live_share=share,
        pain=pain,
        nps_sum=np.bincount(nps["account"], weights=nps["score"], minlength=n),
        nps_count=np.bincount(nps["account"], minlength=n),
        feature_sessions=sessions,
    )
    return _Month(active, lo, users, logins, sessions, tickets, nps)


def _before_churn(events: dict[str, np.ndarray], churn_day: np.ndarray) -> dict[str, np.ndarray]:
    """Only the events dated before their account's churn day."""
    keep = events["day"] < churn_day[events["account"]]
    return {key: values[keep] for key, values in events.items()}


def _midterm_upgrades(
    book: ContractBook,
    candidates: np.ndarray,
    experience: Experience,
    *,
    recorded: np.ndarray,
    month_start: int,
    month_end: int,
    rng: np.random.Generator,
    params: SimulatorParameters,
) -> None:
    """Well-used accounts on a term contract sometimes add seats before renewal."""
    n = len(candidates)
    earliest = np.maximum(book.row_start + 1, month_start)
    latest = np.minimum(book.term_end_day, month_end)
    upgrading = (
        candidates
        & (experience.utilisation >= 0.85)
        & (latest > earliest)
        & (rng.random(n) < params.midterm_upgrade_rate)
    )
    day = earliest + np.floor(rng.random(n) * np.maximum(latest - earliest, 1)).astype(np.int64)
    seats = np.ceil(book.seats * rng.uniform(1.1, 1.4, n)).astype(np.int64)
    book.upgrade(
        upgrading, day, np.where(upgrading, seats, book.seats), recorded=upgrading & recorded
    )
