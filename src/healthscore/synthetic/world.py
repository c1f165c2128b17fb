"""Generating a whole world: the observable tables plus the truths behind them.

The world is deterministic in its seed: one :class:`numpy.random.SeedSequence` is split into
independent streams for accounts, the monthly loop, event expansion and naming, so the same
seed always gives identical tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthscore import simulation_defaults as default
from healthscore.synthetic.accounts import accounts_table, draw_accounts
from healthscore.synthetic.behaviour import (
    UserDirectory,
    feature_rows,
    feature_usage_table,
    login_rows,
    login_sessions,
    logins_table,
    nps_table,
    tickets_table,
)
from healthscore.synthetic.billing_export import BillingExport, cancel_mid_term
from healthscore.synthetic.dates import Calendar
from healthscore.synthetic.dynamics import simulate
from healthscore.synthetic.japan import CURRENCIES, NAME_SETS, in_yen, japanese_names
from healthscore.synthetic.parameters import SimulatorParameters
from healthscore.synthetic.treatment import Treatment
from healthscore.synthetic.truth import churn_log, truth_accounts, truth_hazard


@dataclass(frozen=True)
class World:
    """A simulated customer base.

    Attributes
    ----------
    tables : dict of DataFrame
        The input tables (``accounts``, ``contracts``, ``logins``, ``feature_usage``,
        ``support_tickets``, ``nps_responses``, ``churn_events``), following the input
        contract.
    truth : dict of DataFrame
        ``accounts`` (churn date, true cause, latent traits) and ``hazard`` (true monthly
        churn hazard, with its split by cause); never shown to a model.
    data_start, data_end : Timestamp
        The observed history is ``[data_start, data_end)``. Contracts of accounts that were
        already customers at ``data_start`` may start before it; no event does.
    seed : int
        The seed the world was generated from.
    """

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    seed: int

    @property
    def n_events(self) -> int:
        """Rows of logins, feature usage, support tickets and NPS responses."""
        names = ("logins", "feature_usage", "support_tickets", "nps_responses")
        return sum(len(self.tables[name]) for name in names)


def generate_world(
    n_accounts: int = default.ACCOUNTS,
    *,
    start: str | pd.Timestamp = default.START,
    end: str | pd.Timestamp = default.END,
    seed: int = default.SEED,
    parameters: SimulatorParameters | None = None,
    billing: BillingExport | None = None,
    treatment: Treatment | None = None,
    currency: str = "USD",
    names: str = "en",
) -> World:
    """Simulate ``n_accounts`` B2B SaaS accounts from ``start`` to ``end``.

    Parameters
    ----------
    n_accounts
        Accounts in the world: about 30% already customers at ``start``, the rest signing
        up during the period at a growing rate.
    start, end
        The observed history is ``[start, end)``; ``end`` is exclusive.
    seed
        Seed of every random draw; the same seed gives identical tables.
    parameters
        The simulator's knobs; the defaults give the documented world.
    billing
        Export the contracts as a billing system would, with mid-term cancellations (see
        :mod:`healthscore.synthetic.billing_export`); ``None`` (the default world): every
        account leaves at a term end and ``end_date`` is always the scheduled one.
    treatment
        Plays a CS team runs, with their true effect on the churn hazards (see
        :mod:`healthscore.synthetic.treatment`); ``None`` (the default world): nobody acts.
    currency
        ``"USD"`` (the default) or ``"JPY"``: ARR in whole yen (see
        :mod:`healthscore.synthetic.japan`). The world is otherwise the same.
    names
        ``"en"`` (the default) or ``"ja"``: Japanese company names and CSM names.

    Returns
    -------
    World

    Examples
    --------
    >>> world = generate_world(200, start="2024-01-01", end="2025-01-01", seed=7)
    >>> sorted(world.tables)[:3]
    ['accounts', 'churn_events', 'contracts']
    >>> bool((world.tables["logins"]["ts"] < world.data_end).all())
    True
    """
    if n_accounts < 1:
        raise ValueError(f"n_accounts must be at least 1, got {n_accounts}")
    if currency not in CURRENCIES or names not in NAME_SETS:
        raise ValueError(
            f"the simulator writes currencies {', '.join(CURRENCIES)} and names "
            f"{', '.join(NAME_SETS)}, not {currency!r} and {names!r}"
        )
    params = parameters or SimulatorParameters()
    calendar = Calendar.build(start, end, warmup_months=params.warmup_months)
    account_rng, loop_rng, event_rng, label_rng, export_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    accounts = draw_accounts(n_accounts, calendar=calendar, rng=account_rng, params=params)
    multipliers = None if treatment is None else treatment.multipliers(accounts.ids)
    simulation = simulate(
        accounts, calendar=calendar, rng=loop_rng, params=params, treatment=multipliers
    )

    users = UserDirectory(accounts, simulation.contracts.max_seats)
    sessions = login_sessions(simulation.activity, accounts, event_rng)
    logins = login_rows(sessions)
    features = feature_rows(sessions, simulation.activity, users, event_rng)
    tables = {
        "accounts": accounts_table(accounts, label_rng),
        "contracts": simulation.contracts.table(first_day=calendar.first_day),
        "logins": logins_table(logins, accounts, users),
        "feature_usage": feature_usage_table(features, accounts, users),
        "support_tickets": tickets_table(simulation.tickets, accounts, end_day=calendar.end_day),
        "nps_responses": nps_table(simulation.nps, accounts, users),
        "churn_events": churn_log(accounts, simulation, label_rng),
    }
    truth = {
        "accounts": truth_accounts(accounts, simulation),
        "hazard": truth_hazard(accounts, simulation),
    }
    if billing is not None:
        tables, truth["cancellations"] = cancel_mid_term(tables, export=billing, rng=export_rng)
    if currency == "JPY":
        tables["contracts"] = in_yen(tables["contracts"])
    if names == "ja":
        tables["accounts"] = japanese_names(tables["accounts"], seed=seed)
    return World(
        tables, truth, pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), seed
    )
