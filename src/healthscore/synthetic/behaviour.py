"""Expanding monthly counts into event rows: logins, feature usage, tickets, NPS responses.

The monthly loop keeps counts only; here they become the rows of the input contract, all at
once with numpy (no Python loop over events). Logins fall on uniformly drawn days of the
account's live part of the month, at working hours of its region, by users drawn among the
month's active users. Each login session touches the core features the account has
activated and the advanced features it has adopted (how many sessions touch each feature is
decided in the monthly loop, because the hazards read feature breadth); feature rows are
summed to one row per user, feature and day, with the number of events in ``quantity``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from healthscore.synthetic import catalogue as cat
from healthscore.synthetic.accounts import Accounts
from healthscore.synthetic.dates import timestamps
from healthscore.synthetic.support import seconds_in_working_day


def string_column(codes: np.ndarray, names: Sequence[str] | np.ndarray) -> pd.Series:
    """A string column holding ``names[codes]``, built without a Python loop over rows."""
    names_array = pa.array(list(names), type=pa.string())
    strings = pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), names_array
    ).cast(pa.string())
    return strings.to_pandas().astype("str")


class UserDirectory:
    """User ids of every account: ``<account_id>-U<number>``, one per seat ever licensed."""

    def __init__(self, accounts: Accounts, max_seats: np.ndarray) -> None:
        self.offset = np.concatenate([[0], np.cumsum(max_seats)[:-1]]).astype(np.int64)
        self.names = [
            f"{account}-U{k:04d}"
            for account, seats in zip(accounts.ids, max_seats.tolist(), strict=True)
            for k in range(1, seats + 1)
        ]

    def code(self, account: np.ndarray, user: np.ndarray) -> np.ndarray:
        """Global user code of user number ``user`` (0-based) of each account."""
        return self.offset[account] + user

    def column(self, codes: np.ndarray) -> pd.Series:
        return string_column(codes, self.names)


def login_sessions(
    activity: dict[str, np.ndarray], accounts: Accounts, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Every simulated session: record, position in it, account, user number, day, seconds.

    Sessions are spread over the whole month; ``kept`` marks those before the account's
    churn day, so a churn month shows the part of the month the account was a customer.
    """
    counts = activity["logins"]
    record = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(record)) - np.repeat(np.cumsum(counts) - counts, counts)
    account = activity["account"][record]
    user = np.floor(rng.random(len(record)) * activity["users"][record]).astype(np.int64)
    lo, hi = activity["lo"][record], activity["hi"][record]
    day = lo + np.floor(rng.random(len(record)) * (hi - lo)).astype(np.int64)
    seconds = seconds_in_working_day(accounts.region[account], rng)
    return {
        "record": record,
        "position": position,
        "account": account,
        "user": user,
        "day": day,
        "seconds": seconds,
        "kept": day < activity["until"][record],
    }


def login_rows(sessions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The kept sessions in time order."""
    kept = np.flatnonzero(sessions["kept"])
    order = kept[
        np.argsort(sessions["day"][kept] * 86_400 + sessions["seconds"][kept], kind="stable")
    ]
    return {key: sessions[key][order] for key in ("account", "user", "day", "seconds")}


def feature_rows(
    sessions: dict[str, np.ndarray],
    activity: dict[str, np.ndarray],
    users: UserDirectory,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Daily per-user-feature rows with ``quantity`` events, from the login sessions.

    The monthly loop decided how many of a record's sessions touch each feature; here a
    random run of that many sessions (a cyclic block in the record's random session order)
    gets the feature, and rows are then summed per user, feature and day.
    """
    record, position = sessions["record"], sessions["position"]
    n_sessions = activity["logins"][record]
    extra = np.asarray(cat.FEATURE_EXTRA_EVENTS)
    user_code = users.code(sessions["account"], sessions["user"])
    first_day = int(sessions["day"].min()) if len(record) else 0
    n_users = len(users.names) + 1
    keys, quantities = [], []
    for feature in range(len(cat.FEATURES)):
        offset = rng.integers(0, np.maximum(activity["logins"], 1))[record]
        touched = np.mod(position - offset, np.maximum(n_sessions, 1))
        used = np.flatnonzero(
            (touched < activity["feature_sessions"][record, feature]) & sessions["kept"]
        )
        day = sessions["day"][used] - first_day
        keys.append((day * n_users + user_code[used]) * 16 + feature)
        quantities.append(1 + rng.poisson(extra[feature], len(used)))
    key = np.concatenate(keys)
    quantity = np.concatenate(quantities)
    order = np.argsort(key, kind="stable")
    key, quantity = key[order], quantity[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.array([], int)
    key = key[starts]
    summed = np.add.reduceat(quantity, starts) if len(starts) else quantity[:0]
    code = (key // 16) % n_users
    return {
        "user_code": code,
        "feature": key % 16,
        "day": key // 16 // n_users + first_day,
        "quantity": summed,
        "account": np.searchsorted(users.offset, code, side="right") - 1,
    }


def logins_table(
    logins: dict[str, np.ndarray], accounts: Accounts, users: UserDirectory
) -> pd.DataFrame:
    """The ``logins`` table of the input contract."""
    return pd.DataFrame(
        {
            "account_id": string_column(logins["account"], accounts.ids),
            "user_id": users.column(users.code(logins["account"], logins["user"])),
            "ts": timestamps(logins["day"], logins["seconds"]),
        }
    )


def feature_usage_table(
    rows: dict[str, np.ndarray], accounts: Accounts, users: UserDirectory
) -> pd.DataFrame:
    """The ``feature_usage`` table: one row per account, user, feature and day."""
    return pd.DataFrame(
        {
            "account_id": string_column(rows["account"], accounts.ids),
            "feature": string_column(rows["feature"], cat.FEATURES),
            "ts": timestamps(rows["day"]),
            "user_id": users.column(rows["user_code"]),
            "quantity": rows["quantity"].astype(np.int64),
        }
    )


def tickets_table(
    tickets: dict[str, np.ndarray], accounts: Accounts, *, end_day: int
) -> pd.DataFrame:
    """The ``support_tickets`` table; tickets not resolved by the end are still open."""
    order = np.argsort(tickets["day"] * 86_400 + tickets["seconds"], kind="stable")
    t = {k: v[order] for k, v in tickets.items()}
    opened = t["day"] * 86_400 + t["seconds"]
    closed = opened + np.round(t["hours"] * 3600).astype(np.int64)
    still_open = closed >= end_day * 86_400
    closed_at = closed.astype("datetime64[s]").astype("datetime64[us]")
    closed_at[still_open] = np.datetime64("NaT")
    csat = np.where(still_open, np.nan, t["csat"])
    return pd.DataFrame(
        {
            "ticket_id": pd.array([f"T{i:07d}" for i in range(1, len(order) + 1)], dtype="str"),
            "account_id": string_column(t["account"], accounts.ids),
            "opened_at": timestamps(t["day"], t["seconds"]),
            "closed_at": closed_at,
            "priority": string_column(t["priority"], ("low", "normal", "high", "urgent")),
            "category": string_column(t["category"], cat.TICKET_CATEGORIES),
            "csat": csat.astype(float),
            "escalated": t["escalated"].astype(bool),
        }
    )


def nps_table(
    responses: dict[str, np.ndarray], accounts: Accounts, users: UserDirectory
) -> pd.DataFrame:
    """The ``nps_responses`` table."""
    order = np.argsort(responses["day"] * 86_400 + responses["seconds"], kind="stable")
    r = {k: v[order] for k, v in responses.items()}
    return pd.DataFrame(
        {
            "account_id": string_column(r["account"], accounts.ids),
            "responded_at": timestamps(r["day"], r["seconds"]),
            "score": r["score"].astype(np.int64),
            "user_id": users.column(users.code(r["account"], r["user"])),
        }
    )
