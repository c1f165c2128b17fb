"""Who is a customer on which day, and with how much ARR: the contract-based definition.

Every KPI of this package counts customers and their ARR on a few days, so the definition
lives in one place:

* Dates are taken at day precision; a contract covers the days
  ``start_date <= day < end_date`` (the end is exclusive). Contracts starting on or after the
  data's end have not happened yet and are ignored; so are contracts that cover no day.
* Coverage runs are merged into **customer spells**. A gap between the end of coverage and the
  next contract start of at most ``grace_days`` days is bridged: the account stays a customer
  through it (a late renewal is not churn). A longer gap ends the spell.
* An account is a **customer on day d** when a spell contains it (``spell_start <= d <
  spell_end``). A spell start is an acquisition (a *reactivation* when it is not the
  account's first spell); a spell end is a **churn**, dated on the first day without coverage.
* A customer's **ARR on day d** is the summed ``arr`` of the contracts covering ``d``; inside a
  bridged gap it is the ARR of the last covered day, so a renewal's price change is booked
  when the renewal starts, not as a churn and a re-acquisition.

Because a renewal may still arrive up to ``grace_days`` after the data's end, spells ending
within ``grace_days`` of it are churns that may yet be undone; callers flag such periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from healthscore.errors import DataError

Freq = Literal["month", "quarter"]

#: pandas offset and periods per year of each supported period length.
_FREQS: dict[str, tuple[str, str, int]] = {
    "month": ("MS", "M", 12),
    "quarter": ("QS", "Q", 4),
}


@dataclass(frozen=True)
class CustomerHistory:
    """Contracts at day precision, with the customer spells and bridged gaps they imply.

    ``contracts`` has ``account_id, start_date, end_date, arr``; ``spells`` has
    ``account_id, spell_start, spell_end, spell_number`` (1 for the first acquisition);
    ``gaps`` has ``account_id, gap_start, gap_end, arr`` (the ARR carried through the gap).
    """

    contracts: pd.DataFrame
    spells: pd.DataFrame
    gaps: pd.DataFrame


def check_freq(freq: str) -> tuple[str, str, int]:
    """The offset alias, period alias and periods per year of ``freq``; a clear error if unknown."""
    if freq not in _FREQS:
        raise DataError(f"unknown KPI period {freq!r}: use one of {', '.join(_FREQS)}")
    return _FREQS[freq]


def customer_history(
    contracts: pd.DataFrame, *, grace_days: int, data_end: pd.Timestamp
) -> CustomerHistory:
    """Merge an account's contracts into customer spells, bridging gaps up to ``grace_days``.

    Parameters
    ----------
    contracts
        The typed ``contracts`` table (``account_id, start_date, end_date, arr``).
    grace_days
        Longest gap, in days, between the end of coverage and a renewal that is not churn.
    data_end
        Exclusive end of the history; contracts starting on or after it are ignored.
    """
    data_end = pd.Timestamp(data_end).normalize()
    frame = pd.DataFrame(
        {
            "account_id": contracts["account_id"],
            "start_date": pd.to_datetime(contracts["start_date"]).dt.floor("D"),
            "end_date": pd.to_datetime(contracts["end_date"]).dt.floor("D"),
            "arr": pd.to_numeric(contracts["arr"]).fillna(0.0).astype("float64"),
        }
    ).dropna(subset=["account_id", "start_date", "end_date"])
    frame = frame[(frame["start_date"] < frame["end_date"]) & (frame["start_date"] < data_end)]
    frame = frame.sort_values(["account_id", "start_date", "end_date"], ignore_index=True)

    # How far coverage reached before each contract: the running max of earlier end dates.
    reach = frame.groupby("account_id")["end_date"].cummax()
    prev_reach = reach.groupby(frame["account_id"]).shift(1)
    new_spell = prev_reach.isna() | (
        frame["start_date"] - prev_reach > pd.Timedelta(days=grace_days)
    )
    spell_id = new_spell.cumsum()

    spells = (
        frame.assign(spell_id=spell_id)
        .groupby("spell_id")
        .agg(
            account_id=("account_id", "first"),
            spell_start=("start_date", "min"),
            spell_end=("end_date", "max"),
        )
        .reset_index(drop=True)
    )
    spells["spell_number"] = spells.groupby("account_id").cumcount() + 1

    bridged = ~new_spell & (frame["start_date"] > prev_reach)
    gaps = pd.DataFrame(
        {
            "account_id": frame.loc[bridged, "account_id"],
            "gap_start": prev_reach[bridged],
            "gap_end": frame.loc[bridged, "start_date"],
        }
    ).reset_index(drop=True)
    last_covered = gaps.rename(columns={"gap_start": "day"})
    last_covered["day"] = last_covered["day"] - pd.Timedelta(days=1)
    carried = _covered_arr(frame, last_covered[["account_id", "day"]])
    gaps["arr"] = last_covered.merge(carried, on=["account_id", "day"], how="left")["arr"].fillna(
        0.0
    )
    return CustomerHistory(frame, spells, gaps)


def _covered_arr(contracts: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Summed ARR of the contracts covering each ``(account_id, day)`` pair that has any."""
    joined = contracts.merge(pairs, on="account_id")
    joined = joined[(joined["start_date"] <= joined["day"]) & (joined["day"] < joined["end_date"])]
    return joined.groupby(["account_id", "day"], as_index=False)["arr"].sum()


def customers_on(history: CustomerHistory, days: pd.Series | list[pd.Timestamp]) -> pd.DataFrame:
    """The customers on each of ``days``: one row ``(account_id, day, arr)`` per customer-day."""
    day_frame = pd.DataFrame({"day": pd.to_datetime(pd.Series(days)).dt.floor("D")})
    day_frame = day_frame.drop_duplicates(ignore_index=True)

    spells = history.spells.merge(day_frame, how="cross")
    inside = (spells["spell_start"] <= spells["day"]) & (spells["day"] < spells["spell_end"])
    customers = spells.loc[inside, ["account_id", "day"]]

    covered = _covered_arr(history.contracts, customers)
    gaps = history.gaps.merge(day_frame, how="cross")
    in_gap = (gaps["gap_start"] <= gaps["day"]) & (gaps["day"] < gaps["gap_end"])
    carried = gaps.loc[in_gap, ["account_id", "day", "arr"]]

    arr = pd.concat([covered, carried], ignore_index=True)
    out = customers.merge(arr, on=["account_id", "day"], how="left")
    out["arr"] = out["arr"].fillna(0.0)
    return out.sort_values(["day", "account_id"], ignore_index=True)


def complete_periods(first_day: pd.Timestamp, data_end: pd.Timestamp, freq: str) -> pd.DataFrame:
    """Periods from the one holding ``first_day`` to the last that ends by ``data_end``.

    A period ``[period_start, period_end)`` is complete when ``period_end <= data_end``; the
    partial period running at the data's end is left out, since its counts would be
    incomplete rather than low. Returns ``period, period_start, period_end`` (``period`` is a
    label such as ``2024-03`` or ``2024Q1``).
    """
    offset, alias, _ = check_freq(freq)
    first = pd.Period(pd.Timestamp(first_day), freq=alias).start_time.as_unit("us")
    starts = pd.date_range(first, pd.Timestamp(data_end), freq=offset, unit="us")
    periods = pd.DataFrame({"period_start": starts[:-1], "period_end": starts[1:]})
    periods.insert(0, "period", [str(pd.Period(s, freq=alias)) for s in periods["period_start"]])
    return periods
