"""Who the customers are: firmographics, the first contract's shape, and latent traits.

Each account is drawn once, up front. Firmographics (segment, industry, region, head count)
set the contract's shape (plan, seats, term, price); latent traits (product fit, activation,
adoption ceiling, support and sentiment propensities) then drive both behaviour and churn in
:mod:`healthscore.synthetic.dynamics`. Latent traits are kept in the truth tables so tests
and readers can check that behaviour follows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore.synthetic import catalogue as cat
from healthscore.synthetic.dates import Calendar, day_of_month, timestamps
from healthscore.synthetic.parameters import SimulatorParameters

_NAME_PARTS = (
    (
        "North",
        "Blue",
        "Iron",
        "Bright",
        "Silver",
        "Cedar",
        "Summit",
        "Harbor",
        "Atlas",
        "Nova",
        "Pioneer",
        "Granite",
        "Maple",
        "Lumen",
        "Vertex",
        "Orbit",
        "Willow",
        "Falcon",
    ),
    ("wind", "stone", "field", "path", "bridge", "gate", "works", "point", "line", "peak"),
    (
        "Labs",
        "Systems",
        "Group",
        "Health",
        "Retail",
        "Partners",
        "Logistics",
        "Media",
        "Inc",
        "Analytics",
        "Foods",
        "Capital",
    ),
)


#: The simulated CS team: each CSM owns a book of enterprise and mid-market accounts.
CSM_NAMES: tuple[str, ...] = (
    "Dana Reyes",
    "Sam Okafor",
    "Priya Natarajan",
    "Lena Fischer",
    "Marco Rossi",
)
#: Segments whose accounts have a named CSM of record; SMB accounts are served by teams.
NAMED_CSM_SEGMENTS: tuple[str, ...] = ("mid_market", "enterprise")


@dataclass(frozen=True)
class Accounts:
    """Arrays describing every account, one position per account (ordered by sign-up)."""

    ids: np.ndarray
    created_day: np.ndarray
    pre_existing: np.ndarray
    segment: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    employees: np.ndarray
    plan: np.ndarray
    term_months: np.ndarray
    anniversary_day: np.ndarray
    seats: np.ndarray
    price_per_seat_month: np.ndarray
    fit: np.ndarray
    activation: np.ndarray
    utilisation_target: np.ndarray
    login_rate: np.ndarray
    adoption_ceiling: np.ndarray
    adoption_pace: np.ndarray
    ticket_propensity: np.ndarray
    friction_propensity: np.ndarray
    sentiment_base: np.ndarray
    decay_speed: np.ndarray
    advanced_rank: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bounded_lognormal(rng: np.random.Generator, spec: np.ndarray, *, sigma: float) -> np.ndarray:
    """Lognormal draws around each row's median, clipped to its bounds (rows: median, low,
    high)."""
    median, low, high = spec
    return np.clip(median * np.exp(sigma * rng.standard_normal(len(median))), low, high)


def _choice_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category per row of a (rows, categories) probability matrix."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return (draws >= cumulative).sum(axis=1)


def _created_days(
    n: int, calendar: Calendar, rng: np.random.Generator, params: SimulatorParameters
) -> tuple[np.ndarray, np.ndarray]:
    """Sign-up days: pre-existing customers before the warm-up, new ones with growing rate."""
    n_old = int(round(n * params.pre_existing_share))
    warmup_start = calendar.first_day - 31 * params.warmup_months
    tenure = 120 + np.minimum(rng.exponential(600.0, n_old), 6 * 365)
    old = warmup_start - tenure.astype(np.int64)
    span = calendar.end_day - calendar.first_day
    growth = params.acquisition_growth_per_year / 365.0
    u = rng.random(n - n_old)
    offset = np.log1p(u * np.expm1(growth * span)) / growth if growth > 0 else u * span
    new = calendar.first_day + np.minimum(offset.astype(np.int64), span - 1)
    created = np.concatenate([old, new])
    pre_existing = np.arange(n) < n_old
    order = np.argsort(created, kind="stable")
    return created[order], pre_existing[order]


def draw_accounts(
    n_accounts: int, *, calendar: Calendar, rng: np.random.Generator, params: SimulatorParameters
) -> Accounts:
    """Draw ``n_accounts`` accounts with their first contract's shape and latent traits."""
    n = n_accounts
    created, pre_existing = _created_days(n, calendar, rng, params)
    segment = rng.choice(len(cat.SEGMENTS), n, p=cat.SEGMENT_SHARES)
    industry = rng.choice(len(cat.INDUSTRIES), n, p=cat.INDUSTRY_SHARES)
    region = rng.choice(len(cat.REGIONS), n, p=cat.REGION_SHARES)
    employees_spec = np.array(cat.SEGMENT_EMPLOYEES)[segment]
    employees = _bounded_lognormal(rng, employees_spec.T, sigma=0.8).round().astype(np.int64)
    seats_spec = np.array(cat.SEGMENT_SEATS)[segment]
    seats = _bounded_lognormal(rng, seats_spec.T, sigma=0.5).round().astype(np.int64)
    plan = _choice_rows(rng, np.array(cat.SEGMENT_PLAN_MIX)[segment])
    term_mix = np.array(cat.SEGMENT_TERM_MIX)
    if params.halfyear_share > 0:  # the default world draws exactly as before
        halfyear = term_mix[:, 1] * params.halfyear_share
        term_mix[:, 1] -= halfyear
        term_mix[:, 4] += halfyear
    term_choice = _choice_rows(rng, term_mix[segment])
    term_months = np.array(cat.TERM_MONTHS)[term_choice]
    negotiated = np.where(
        segment == 2,
        rng.uniform(0.0, 0.25, n),
        np.where(segment == 1, rng.uniform(0.0, 0.10, n), 0.0),
    )
    price = (
        np.array(cat.PLAN_PRICE_PER_SEAT_MONTH)[plan]
        * (1 - np.array(cat.TERM_DISCOUNT)[term_choice])
        * (1 - negotiated)
    )

    # Anniversaries avoid days 29-31 and the day of the month the history ends on, so that
    # no term ends exactly at the end of the history.
    anniversary_day = np.clip(day_of_month(created), 1, 28)
    end_dom = int(day_of_month(np.array([calendar.end_day]))[0])
    clash = anniversary_day == end_dom
    anniversary_day = np.where(
        clash & (anniversary_day < 28),
        anniversary_day + 1,
        np.where(clash, anniversary_day - 1, anniversary_day),
    )

    fit = rng.standard_normal(n)
    activation = 0.5 * fit + np.sqrt(0.75) * rng.standard_normal(n) + 0.8 * pre_existing
    adoption_drive = rng.standard_normal(n)
    ceiling_p = _sigmoid(-0.4 + 0.9 * adoption_drive + 0.3 * fit + 0.2 * segment)
    keys = np.log(np.array(cat.ADVANCED_POPULARITY)) + rng.gumbel(size=(n, 11))
    advanced_rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return Accounts(
        ids=np.array([f"A{i:06d}" for i in range(1, n + 1)], dtype=object),
        created_day=created,
        pre_existing=pre_existing,
        segment=segment,
        industry=industry,
        region=region,
        employees=employees,
        plan=plan,
        term_months=term_months,
        anniversary_day=anniversary_day,
        seats=seats,
        price_per_seat_month=price,
        fit=fit,
        activation=activation,
        utilisation_target=_sigmoid(0.9 + 0.5 * fit),
        login_rate=params.logins_per_user_month * np.exp(0.25 * fit + 0.2 * rng.standard_normal(n)),
        adoption_ceiling=rng.binomial(len(cat.ADVANCED_FEATURES), ceiling_p),
        adoption_pace=rng.uniform(3.0, 9.0, n),
        ticket_propensity=np.exp(0.4 * rng.standard_normal(n)),
        friction_propensity=np.exp(0.6 * rng.standard_normal(n)),
        sentiment_base=0.35 * fit + 0.75 * rng.standard_normal(n),
        decay_speed=rng.uniform(*params.decay_speed, n),
        advanced_rank=advanced_rank,
    )


def accounts_table(accounts: Accounts, rng: np.random.Generator) -> pd.DataFrame:
    """The ``accounts`` table of the input contract."""
    n = accounts.n
    parts = [np.array(p, dtype=object)[rng.integers(0, len(p), n)] for p in _NAME_PARTS]
    names = parts[0] + parts[1] + " " + parts[2]
    segments = np.array(cat.SEGMENTS)[accounts.segment]
    named = np.isin(segments, NAMED_CSM_SEGMENTS)
    # Round robin in sign-up order: balanced books, no random draw (the world stays the same).
    book = np.cumsum(named) - 1
    owners = np.where(named, np.array(CSM_NAMES, dtype=object)[book % len(CSM_NAMES)], None)
    return pd.DataFrame(
        {
            "account_id": pd.array(accounts.ids, dtype="str"),
            "created_at": timestamps(accounts.created_day),
            "name": pd.array(names, dtype="str"),
            "owner": pd.array(owners, dtype="str"),
            "industry": pd.array(np.array(cat.INDUSTRIES)[accounts.industry], dtype="str"),
            "segment": pd.array(np.array(cat.SEGMENTS)[accounts.segment], dtype="str"),
            "region": pd.array(np.array(cat.REGIONS)[accounts.region], dtype="str"),
            "employees": accounts.employees,
        }
    )
