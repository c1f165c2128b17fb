"""The customer's voice for one month: support tickets and NPS survey responses.

Both are drawn inside the monthly loop (they are few) because the hazards read them back:
support pain (escalations, poor CSAT, slow or urgent tickets) feeds the ``support_friction``
cause and survey scores feed the ``detractor`` cause.
"""

from __future__ import annotations

import numpy as np

from healthscore.synthetic import catalogue as cat
from healthscore.synthetic.accounts import Accounts


def seconds_in_working_day(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds after UTC midnight, clustered around each region's working midday."""
    hours = np.asarray(cat.REGION_MIDDAY_UTC)[region] + 2.5 * rng.standard_normal(len(region))
    return (np.mod(hours, 24.0) * 3600).astype(np.int64)


def _days_in(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return lo + np.floor(rng.random(len(lo)) * (hi - lo)).astype(np.int64)


def draw_tickets(
    accounts: Accounts,
    *,
    live: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    seats: np.ndarray,
    friction: np.ndarray,
    tenure_months: np.ndarray,
    base_rate: float,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """This month's tickets for live accounts, and each account's support pain points.

    During a friction episode of severity ``s`` an account opens ``1 + 3 s`` times as many
    tickets, more of them bugs and urgent, they take ``1 + 1.5 s`` times longer to resolve,
    are escalated more and rated worse. Pain points add an escalation (1), a CSAT of 1-2
    (0.6), a resolution slower than three days (0.3) and a high or urgent priority (0.3).
    """
    days = np.where(live, hi - lo, 0)
    share = days / 30.4
    rate = (
        base_rate
        * seats**0.6
        * accounts.ticket_propensity
        * (1 + 3 * friction)
        * (1 + 0.8 * (tenure_months < 3))
        * share
    )
    counts = rng.poisson(np.where(days > 0, rate, 0.0))
    account = np.repeat(np.arange(accounts.n), counts)
    severity = friction[account]
    weights = np.array([0.35, 0.45, 0.15, 0.05])[None, :] * np.column_stack(
        [np.ones_like(severity), np.ones_like(severity), 1 + 2 * severity, 1 + 3 * severity]
    )
    priority = (
        rng.random(len(account))[:, None] * weights.sum(axis=1, keepdims=True)
        >= np.cumsum(weights, axis=1)
    ).sum(axis=1)
    mix = np.minimum(severity, 1.0)[:, None]
    category_p = (1 - mix) * np.asarray(cat.TICKET_CATEGORY_MIX_CALM)[None, :] + mix * np.asarray(
        cat.TICKET_CATEGORY_MIX_FRICTION
    )[None, :]
    category = (rng.random(len(account))[:, None] >= np.cumsum(category_p, axis=1)).sum(axis=1)
    category = np.minimum(category, len(cat.TICKET_CATEGORIES) - 1)
    hours = (
        np.asarray(cat.PRIORITY_MEDIAN_RESOLUTION_HOURS)[priority]
        * np.exp(0.8 * rng.standard_normal(len(account)))
        * (1 + 1.5 * severity)
    )
    escalated = rng.random(len(account)) < 0.02 + 0.08 * (priority == 3) + 0.2 * severity
    answered = rng.random(len(account)) < 0.45
    rating = (
        4.9
        - 0.45 * np.log1p(hours / 24)
        - 0.9 * severity
        - 0.8 * escalated
        + 0.7 * rng.standard_normal(len(account))
    )
    csat = np.where(answered, np.clip(np.round(rating), 1, 5), np.nan)
    day = _days_in(lo[account], hi[account], rng)
    seconds = seconds_in_working_day(accounts.region[account], rng)
    points = escalated + 0.6 * (csat <= 2) + 0.3 * (hours > 72) + 0.3 * (priority >= 2)
    pain = np.bincount(account, weights=points, minlength=accounts.n)
    tickets = {
        "account": account,
        "day": day,
        "seconds": seconds,
        "priority": priority,
        "category": category,
        "hours": hours,
        "csat": csat,
        "escalated": escalated,
    }
    return tickets, pain


def draw_nps(
    accounts: Accounts,
    *,
    live: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    active_users: np.ndarray,
    sentiment: np.ndarray,
    response_rate: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """This month's survey responses from a sample of the month's active users.

    The relationship survey runs continuously: every user is asked once a quarter, a third
    of them each month, and ``response_rate`` is the monthly chance that an active user
    answers.

    A respondent's score is ``round(8.2 + 1.5 * sentiment + 1.2 * noise)`` clipped to 0-10,
    so a healthy account averages promoters-to-passives and a soured one detractors.
    """
    eligible = live & (hi > lo) & (active_users > 0)
    counts = rng.binomial(np.where(eligible, active_users, 0), response_rate)
    account = np.repeat(np.arange(accounts.n), counts)
    within = np.arange(len(account)) - np.repeat(np.cumsum(counts) - counts, counts)
    offset = rng.integers(0, np.maximum(active_users, 1))[account]
    user = (offset + within) % np.maximum(active_users[account], 1)
    raw = 8.2 + 1.5 * sentiment[account] + 1.2 * rng.standard_normal(len(account))
    score = np.clip(np.round(raw), 0, 10).astype(np.int64)
    day = _days_in(lo[account], hi[account], rng)
    seconds = seconds_in_working_day(accounts.region[account], rng)
    return {"account": account, "day": day, "seconds": seconds, "user": user, "score": score}
