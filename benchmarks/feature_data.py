"""Generated input for ``bench_features.py``: every table of the contract, at any size.

numpy straight into Parquet (no simulator), so 50 million events take a minute. Accounts have
one contract each covering every snapshot date; logins and feature usage are skewed across
accounts (a few use the product far more than most) and come in sessions; about 1% of the
event rows are exact duplicates, as in real exports; feature usage has missing and zero
quantities. Tickets and NPS answers scale with the accounts. Ids are dictionary-encoded
strings, as a Parquet export of a warehouse table has them.

The event logs come in time order by default, as an export of an event table is written: each
chunk of rows covers its own stretch of days (as many days as its share of the rows) and is
sorted by time within. ``order="random"`` spreads every chunk over all the days instead, a
log with no order at all: an engine that reads one window then has to decode every row.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

USERS_PER_ACCOUNT = 12
FEATURES = 20
CHUNK = 5_000_000
LOGIN_SHARE = 0.45  # of the events; the rest is feature usage
HISTORY_DAYS = 400  # of events before the first snapshot


def _dictionary(indices: np.ndarray, names: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), names)


def _sessions(rng, n, accounts, weights, days):
    """Account, user and day of ``n`` events, grouped in sessions of 1-5 on a user-day.

    ``days`` is the ``(first, end)`` range of days the chunk's sessions fall on.
    """
    sessions = rng.integers(1, 6, n)
    n_days = int(np.searchsorted(np.cumsum(sessions), n)) + 1
    account = rng.choice(accounts, n_days, p=weights)
    user = account * USERS_PER_ACCOUNT + rng.integers(0, USERS_PER_ACCOUNT, n_days)
    day = rng.integers(days[0], days[1], n_days)
    return (np.repeat(x, sessions[:n_days])[:n] for x in (account, user, day))


def _chunk_days(lo: int, n: int, total: int, days: int, order: str) -> tuple[int, int]:
    """The days a chunk of rows ``lo`` to ``lo + n`` (of ``total``) falls on."""
    if order == "random":
        return 0, days
    first, end = lo * days // total, (lo + n) * days // total
    return first, max(end, first + 1)


def _in_time_order(order: str, ts: np.ndarray, *columns: np.ndarray) -> list[np.ndarray]:
    """``ts`` and ``columns`` sorted by time (unchanged for ``order="random"``)."""
    if order == "random":
        return [ts, *columns]
    by_time = np.argsort(ts, kind="stable")
    return [column[by_time] for column in (ts, *columns)]


def _duplicate(rng, n, *columns):
    dup = np.flatnonzero(rng.random(n) < 0.01)
    dup = dup[dup > 0]
    for column in columns:
        column[dup] = column[dup - 1]


def generate(
    directory: Path,
    *,
    accounts: int,
    events: int,
    snapshots: int,
    seed: int,
    order: str = "time",
) -> dict:
    """Write the tables into ``directory``; return the metadata (dates, sizes).

    ``order`` is the event logs' row order: ``"time"`` or ``"random"``.
    """
    if order not in ("time", "random"):
        raise ValueError(f"order must be 'time' or 'random', not {order!r}")
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    first = pd.Timestamp("2022-01-01")
    start = first - pd.Timedelta(days=HISTORY_DAYS)
    end = first + pd.DateOffset(months=snapshots - 1)
    days = (end - start).days
    ids = np.array([f"a{i:07d}" for i in range(accounts)], dtype=object)
    account_names = pa.array(ids)
    user_names = pa.array([f"u{i:08d}" for i in range(accounts * USERS_PER_ACCOUNT)])
    feature_names = pa.array([f"feature_{i:02d}" for i in range(FEATURES)])
    created = start - pd.to_timedelta(rng.integers(0, 400, accounts), unit="D")
    pd.DataFrame(
        {
            "account_id": ids,
            "created_at": created,
            "segment": rng.choice(["smb", "mid_market", "enterprise"], accounts),
            "industry": rng.choice(["saas", "retail", "finance", "health"], accounts),
            "region": rng.choice(["emea", "na", "apac"], accounts),
            "employees": rng.integers(5, 5000, accounts).astype(float),
        }
    ).to_parquet(directory / "accounts.parquet", index=False)
    contract_start = created + pd.to_timedelta(rng.integers(0, 30, accounts), unit="D")
    pd.DataFrame(
        {
            "contract_id": [f"c{i}" for i in range(accounts)],
            "account_id": ids,
            "start_date": contract_start.normalize(),
            "end_date": end + pd.to_timedelta(rng.integers(1, 365, accounts), unit="D"),
            "arr": rng.integers(1_000, 100_000, accounts).astype(float),
            "seats": rng.integers(5, 50, accounts).astype(float),
            "plan": rng.choice(["basic", "pro", "enterprise"], accounts),
            "billing_period": rng.choice(["month", "year"], accounts),
            "auto_renew": rng.random(accounts) < 0.7,
        }
    ).to_parquet(directory / "contracts.parquet", index=False)
    weights = rng.pareto(1.5, accounts) + 0.1
    weights /= weights.sum()
    day_us = 86_400 * 1_000_000
    start_us = int(start.value // 1000)
    n_logins = int(events * LOGIN_SHARE)
    login_schema = pa.schema(
        [
            ("account_id", pa.dictionary(pa.int32(), pa.string())),
            ("user_id", pa.dictionary(pa.int32(), pa.string())),
            ("ts", pa.timestamp("us")),
        ]
    )
    with pq.ParquetWriter(directory / "logins.parquet", login_schema) as writer:
        for lo in range(0, n_logins, CHUNK):
            n = min(CHUNK, n_logins - lo)
            span = _chunk_days(lo, n, n_logins, days, order)
            account, user, day = _sessions(rng, n, accounts, weights, span)
            ts = start_us + day * day_us + rng.integers(0, day_us, n)
            _duplicate(rng, n, ts, user, account)
            ts, user, account = _in_time_order(order, ts, user, account)
            writer.write_table(
                pa.table(
                    {
                        "account_id": _dictionary(account, account_names),
                        "user_id": _dictionary(user, user_names),
                        "ts": pa.array(ts, type=pa.timestamp("us")),
                    },
                    schema=login_schema,
                )
            )
    n_usage = events - n_logins
    usage_schema = pa.schema(
        [
            ("account_id", pa.dictionary(pa.int32(), pa.string())),
            ("user_id", pa.dictionary(pa.int32(), pa.string())),
            ("feature", pa.dictionary(pa.int32(), pa.string())),
            ("ts", pa.timestamp("us")),
            ("quantity", pa.int64()),
        ]
    )
    popularity = 1.0 / np.arange(1, FEATURES + 1)
    popularity /= popularity.sum()
    with pq.ParquetWriter(directory / "feature_usage.parquet", usage_schema) as writer:
        for lo in range(0, n_usage, CHUNK):
            n = min(CHUNK, n_usage - lo)
            span = _chunk_days(lo, n, n_usage, days, order)
            account, user, day = _sessions(rng, n, accounts, weights, span)
            feature = rng.choice(FEATURES, n, p=popularity)
            ts = start_us + day * day_us + rng.integers(0, day_us, n)
            quantity = rng.integers(0, 6, n)
            quantity[rng.random(n) < 0.8 * (quantity == 0)] = 1  # about 3% zeros
            _duplicate(rng, n, ts, user, account, feature, quantity)
            missing = rng.random(n) < 0.01
            ts, user, account, feature, quantity, missing = _in_time_order(
                order, ts, user, account, feature, quantity, missing
            )
            writer.write_table(
                pa.table(
                    {
                        "account_id": _dictionary(account, account_names),
                        "user_id": _dictionary(user, user_names),
                        "feature": _dictionary(feature, feature_names),
                        "ts": pa.array(ts, type=pa.timestamp("us")),
                        "quantity": pa.array(quantity, mask=missing),
                    },
                    schema=usage_schema,
                )
            )
    n_tickets = accounts * 8
    account = rng.choice(accounts, n_tickets, p=weights)
    opened = start_us + rng.integers(0, days * day_us, n_tickets)
    resolution = (rng.exponential(4.0, n_tickets) * day_us).astype(np.int64)
    closed = opened + resolution
    still_open = rng.random(n_tickets) < 0.05
    end_us = int(end.value // 1000)
    pd.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(n_tickets)],
            "account_id": ids[account],
            "opened_at": pd.to_datetime(opened, unit="us"),
            "closed_at": pd.to_datetime(
                np.where(still_open | (closed >= end_us), np.iinfo(np.int64).min, closed),
                unit="us",
            ),
            "priority": rng.choice(["low", "normal", "high", "urgent"], n_tickets),
            "csat": np.where(rng.random(n_tickets) < 0.4, rng.integers(1, 6, n_tickets), np.nan),
            "escalated": rng.random(n_tickets) < 0.08,
        }
    ).to_parquet(directory / "support_tickets.parquet", index=False)
    n_answers = accounts * 4
    account = rng.choice(accounts, n_answers)
    pd.DataFrame(
        {
            "account_id": ids[account],
            # Answers arrive on survey days, so some accounts answer twice at one instant.
            "responded_at": start
            + pd.to_timedelta(rng.integers(0, days // 7, n_answers) * 7, unit="D"),
            "score": rng.integers(0, 11, n_answers).astype(float),
            "user_id": np.array([f"u{i:08d}" for i in range(USERS_PER_ACCOUNT)])[
                rng.integers(0, USERS_PER_ACCOUNT, n_answers)
            ],
        }
    ).to_parquet(directory / "nps_responses.parquet", index=False)
    meta = {
        "first": str(first.date()),
        "end": str(end.date()),
        "events": events,
        "logins": n_logins,
        "feature_usage": n_usage,
        "tickets": n_tickets,
        "nps_responses": n_answers,
        "accounts": accounts,
        "snapshots": snapshots,
        "order": order,
    }
    (directory / "meta.json").write_text(json.dumps(meta))
    return meta


def snapshot_dates(meta: dict) -> pd.DatetimeIndex:
    """The monthly observation dates: every account is eligible at each of them."""
    return pd.date_range(meta["first"], meta["end"], freq="MS")


#: Term length in months of the generated contracts' billing periods.
TERM_MONTHS = {"month": 1, "year": 12}


def add_months(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``day + months`` months, the day clamped to the end of a shorter month (as SQL does)."""
    day = day.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    day_of_month = (day - month.astype("datetime64[D]")).astype(np.int64)
    target = month + months.astype(np.int64)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return target.astype("datetime64[D]") + np.minimum(day_of_month, length - 1)


def term_grid(
    start: np.ndarray, periods: np.ndarray, as_of: object
) -> tuple[np.ndarray, np.ndarray]:
    """Days to the next boundary of each contract's term grid at ``as_of``, and the days of
    the term that boundary ends: the renewal a billing system schedules, anchored at the
    contract's start and renewing every term (one contract per account, as generated)."""
    months = np.array([TERM_MONTHS[p] for p in periods], dtype=np.int64)
    anchor = start.astype("datetime64[D]")
    at = np.datetime64(pd.Timestamp(as_of).date(), "D")
    elapsed = (at.astype("datetime64[M]") - anchor.astype("datetime64[M]")).astype(np.int64)
    reached = add_months(anchor, elapsed) >= at
    needed = elapsed + (~reached).astype(np.int64)
    k = np.maximum(1, np.ceil(needed / months)).astype(np.int64)
    boundary = add_months(anchor, k * months)
    term = boundary - add_months(boundary, -months)
    return (boundary - at).astype(np.int64).astype(float), term.astype(np.int64).astype(float)
