"""How a billing system exports the contracts: mid-term cancellations and rewritten end dates.

In the simulated world an account on a term contract leaves when a term ends. Real customers
on half-year or multi-year terms often cancel mid-term instead, and many billing systems then
overwrite the contract's ``end_date`` with the cancellation day. An export of that kind shows
an ``end_date`` that nobody knew before the cancellation: the trap that
:mod:`healthscore.contract_terms` guards against. This module turns a world's tables into
such an export, so tests can show that features do not move when end dates are rewritten.

:func:`cancel_mid_term` picks, among the accounts that churn at the end of a term of six
months or more, a share that cancel on a day inside their last term instead: they stop using
the product that day (their later events are removed) and their logged churn moves to it.
What the export then says of the cancelled contract depends on :class:`BillingExport`:

* ``rewrite_end_dates`` true (the trap): ``end_date`` is the cancellation day;
  false: ``end_date`` stays the scheduled term end;
* ``cancellation_columns`` true: ``canceled_at`` (the cancellation day) and ``scheduled_end``
  (the term end as signed) are exported too.

The events are the same either way, so two exports that differ only in ``rewrite_end_dates``
describe the same customers; only what the contracts table says about the future differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Event tables and their time column: rows on or after a cancellation are removed.
_EVENT_TIMES = {
    "logins": "ts",
    "feature_usage": "ts",
    "support_tickets": "opened_at",
    "nps_responses": "responded_at",
}
#: A cancellation falls at least this many days inside the term (after start, before end).
_MARGIN_DAYS = 15


@dataclass(frozen=True)
class BillingExport:
    """What the billing export says of mid-term cancellations (see the module docstring)."""

    cancel_share: float = 0.5
    rewrite_end_dates: bool = True
    cancellation_columns: bool = False
    min_term_months: int = 6


def cancel_mid_term(
    tables: dict[str, pd.DataFrame],
    *,
    export: BillingExport,
    rng: np.random.Generator,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The tables as the billing export would show them, and the cancellations made.

    Returns new tables (the inputs are not changed) and one row per cancellation:
    ``account_id, contract_id, canceled_at, scheduled_end``.
    """
    contracts = tables["contracts"].copy()
    last = contracts.sort_values(["account_id", "end_date"]).groupby("account_id").tail(1)
    churned_at = tables["churn_events"].groupby("account_id")["churned_at"].min()
    last = last[last["account_id"].map(churned_at).eq(last["end_date"])]
    last = last[last["term_months"] >= export.min_term_months]
    length = (last["end_date"] - last["start_date"]).dt.days
    last = last[length > 2 * _MARGIN_DAYS]
    chosen = last[rng.random(len(last)) < export.cancel_share]
    span = (chosen["end_date"] - chosen["start_date"]).dt.days - 2 * _MARGIN_DAYS
    offset = np.floor(rng.random(len(chosen)) * span.to_numpy()).astype(np.int64)
    canceled = chosen["start_date"] + pd.to_timedelta(_MARGIN_DAYS + offset, unit="D")
    cancellations = pd.DataFrame(
        {
            "account_id": chosen["account_id"].to_numpy(),
            "contract_id": chosen["contract_id"].to_numpy(),
            "canceled_at": canceled.to_numpy(),
            "scheduled_end": chosen["end_date"].to_numpy(),
        }
    )

    out = dict(tables)
    by_contract = cancellations.set_index("contract_id")
    hit = contracts["contract_id"].isin(by_contract.index)
    if export.cancellation_columns:
        contracts["scheduled_end"] = contracts["end_date"]
        contracts["canceled_at"] = contracts["contract_id"].map(by_contract["canceled_at"])
    if export.rewrite_end_dates:
        contracts.loc[hit, "end_date"] = contracts.loc[hit, "contract_id"].map(
            by_contract["canceled_at"]
        )
    out["contracts"] = contracts

    gone = cancellations.set_index("account_id")["canceled_at"]
    for name, column in _EVENT_TIMES.items():
        frame = tables[name]
        until = frame["account_id"].map(gone)
        out[name] = frame[until.isna() | (frame[column] < until)].reset_index(drop=True)
    churn_events = tables["churn_events"].copy()
    moved = churn_events["account_id"].map(gone)
    churn_events["churned_at"] = moved.fillna(churn_events["churned_at"]).astype(
        churn_events["churned_at"].dtype
    )
    out["churn_events"] = churn_events
    return out, cancellations
