"""The whole feature catalogue in pandas, for ``bench_features.py`` to check and time against.

Written as a competent pandas user would: ids as integer category codes, exact duplicates
dropped once, each event table sorted by time so that a window is a contiguous slice found
with ``searchsorted``, one ``groupby`` on integer codes per window and measure. It computes
every account at every snapshot date (the benchmark's contracts cover them all) and returns
the engine's layout: ``account_id``, ``as_of`` and the features, sorted by date and account.
"""

from __future__ import annotations

from pathlib import Path

import feature_data
import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
CORE_COUNT = 4


def _read(directory: Path, name: str, accounts: pd.Index) -> pd.DataFrame:
    frame = pd.read_parquet(directory / f"{name}.parquet").drop_duplicates()
    frame["aid"] = accounts.get_indexer(frame["account_id"].astype(str))
    return frame[frame["aid"] >= 0].drop(columns="account_id")


def _slice(frame: pd.DataFrame, column: str, lo: pd.Timestamp, hi: pd.Timestamp):
    times = frame[column].to_numpy()
    a, b = np.searchsorted(times, [np.datetime64(lo), np.datetime64(hi)])
    return frame.iloc[a:b]


def _per_account(values: pd.Series, n: int, fill=0.0) -> np.ndarray:
    out = np.full(n, fill, dtype=float)
    out[values.index.to_numpy()] = values.to_numpy(dtype=float)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((den == 0) | np.isnan(den), np.nan, num / den)


def usage(logins: pd.DataFrame, as_of: pd.Timestamp, n: int, seats: np.ndarray) -> dict:
    out = {}
    before = _slice(logins, "ts", as_of - 90 * DAY, as_of)
    for days in (7, 30, 90):
        window = _slice(before, "ts", as_of - days * DAY, as_of)
        grouped = window.groupby("aid")
        out[f"logins_{days}d"] = _per_account(grouped.size(), n)
        out[f"active_users_{days}d"] = _per_account(grouped["user"].nunique(), n)
        if days == 30:
            out["login_days_30d"] = _per_account(grouped["day"].nunique(), n)
    prior = _slice(before, "ts", as_of - 60 * DAY, as_of - 30 * DAY).groupby("aid")
    out["logins_prior_30d"] = _per_account(prior.size(), n)
    out["active_users_prior_30d"] = _per_account(prior["user"].nunique(), n)
    last = _slice(logins, "ts", pd.Timestamp.min, as_of).groupby("aid")["day"].max()
    days_since = (as_of - last).dt.days
    return {
        "usage__logins_7d": out["logins_7d"],
        "usage__logins_30d": out["logins_30d"],
        "usage__logins_90d": out["logins_90d"],
        "usage__logins_prior_30d": out["logins_prior_30d"],
        "usage__active_users_7d": out["active_users_7d"],
        "usage__active_users_30d": out["active_users_30d"],
        "usage__active_users_90d": out["active_users_90d"],
        "usage__active_users_prior_30d": out["active_users_prior_30d"],
        "usage__seat_utilisation_30d": _ratio(out["active_users_30d"], seats),
        "usage__login_days_30d": out["login_days_30d"],
        "usage__logins_trend_30d": _ratio(out["logins_30d"], out["logins_prior_30d"]),
        "usage__active_users_trend_30d": _ratio(
            out["active_users_30d"], out["active_users_prior_30d"]
        ),
        "usage__logins_vs_avg_90d": _ratio(out["logins_30d"], out["logins_90d"] / 3.0),
        "usage__days_since_last_login": _per_account(days_since, n, np.nan),
    }


def adoption(usage_rows: pd.DataFrame, first_use: pd.DataFrame, as_of, n: int) -> dict:
    seen = first_use[first_use["first_day"] < as_of]
    popularity = seen.groupby("feature", observed=True).size().reset_index(name="accounts")
    popularity["name"] = popularity["feature"].astype(str)
    core = set(
        popularity.sort_values(["accounts", "name"], ascending=[False, True])
        .head(CORE_COUNT)["feature"]
        .tolist()
    )
    catalogue = seen["feature"].nunique()
    window = _slice(usage_rows, "ts", as_of - 90 * DAY, as_of)
    recent = _slice(window, "ts", as_of - 30 * DAY, as_of)
    distinct_90 = _per_account(window.groupby("aid")["feature"].nunique(), n)
    by_account = recent.groupby("aid")
    users = recent[recent["user"] >= 0].groupby("aid")
    new = first_use[(first_use["first_day"] >= as_of - 30 * DAY) & (first_use["first_day"] < as_of)]
    core_rows = _slice(usage_rows, "ts", pd.Timestamp.min, as_of)
    core_rows = core_rows[core_rows["feature"].isin(core)]
    last_core = core_rows.groupby("aid")["day"].max()
    return {
        "adoption__distinct_features_30d": _per_account(by_account["feature"].nunique(), n),
        "adoption__distinct_features_90d": distinct_90,
        "adoption__feature_events_30d": _per_account(by_account["events"].sum(), n),
        "adoption__catalogue_share_90d": _ratio(distinct_90, np.full(n, float(catalogue))),
        "adoption__core_features_30d": _per_account(
            recent[recent["feature"].isin(core)].groupby("aid")["feature"].nunique(), n
        ),
        "adoption__new_features_30d": _per_account(new.groupby("aid").size(), n),
        "adoption__events_per_user_30d": _ratio(
            _per_account(users["events"].sum(), n, np.nan),
            _per_account(users["user"].nunique(), n, np.nan),
        ),
        "adoption__days_since_core_use": _per_account((as_of - last_core).dt.days, n, np.nan),
    }


def support(tickets: pd.DataFrame, as_of: pd.Timestamp, n: int) -> dict:
    t = tickets[tickets["opened_at"] < as_of]
    opened = t["opened_at"]
    closed = t["closed_at"]
    in_30 = opened >= as_of - 30 * DAY
    in_prior = (opened >= as_of - 60 * DAY) & ~in_30
    in_90 = opened >= as_of - 90 * DAY
    open_now = closed.isna() | (closed >= as_of)
    closed_90 = (closed < as_of) & (closed >= as_of - 90 * DAY)

    def count(mask):
        return _per_account(t[mask].groupby("aid").size(), n)

    tickets_30, prior, tickets_90 = count(in_30), count(in_prior), count(in_90)
    urgent_90 = count(in_90 & t["urgent"])
    resolved = t[closed_90]
    resolution = (resolved["closed_at"] - resolved["opened_at"]) / DAY
    return {
        "support__tickets_30d": tickets_30,
        "support__tickets_prior_30d": prior,
        "support__tickets_90d": tickets_90,
        "support__tickets_trend_30d": _ratio(tickets_30, prior),
        "support__open_tickets": count(open_now),
        "support__open_urgent_tickets": count(open_now & t["urgent"]),
        "support__urgent_tickets_90d": urgent_90,
        "support__urgent_share_90d": _ratio(urgent_90, tickets_90),
        "support__escalations_90d": count(closed_90 & t["escalated"]),
        "support__mean_resolution_days_90d": _per_account(
            resolution.groupby(resolved["aid"]).mean(), n, np.nan
        ),
        "support__mean_csat_90d": _per_account(resolved.groupby("aid")["csat"].mean(), n, np.nan),
    }


def satisfaction(answers: pd.DataFrame, responses: pd.DataFrame, as_of, n: int) -> dict:
    latest = _slice(answers, "responded_at", pd.Timestamp.min, as_of).groupby("aid").tail(1)
    latest = latest.set_index("aid")
    recent = _slice(responses, "responded_at", as_of - 180 * DAY, as_of)
    grouped = recent.groupby("aid")["score"]
    count = _per_account(grouped.size(), n)
    detractors = _per_account(grouped.agg(lambda s: (s <= 6).mean()), n, np.nan)
    promoters = _per_account(grouped.agg(lambda s: (s >= 9).mean()), n, np.nan)
    last = _per_account(latest["score"], n, np.nan)
    previous = _per_account(latest["previous"], n, np.nan)
    return {
        "satisfaction__last_nps": last,
        "satisfaction__previous_nps": previous,
        "satisfaction__nps_change": last - previous,
        "satisfaction__days_since_last_nps": _per_account(
            (as_of - latest["responded_at"].dt.normalize()).dt.days, n, np.nan
        ),
        "satisfaction__mean_nps_180d": _per_account(grouped.mean(), n, np.nan),
        "satisfaction__nps_180d": 100.0 * (promoters - detractors),
        "satisfaction__detractor_share_180d": detractors,
        "satisfaction__responses_180d": count,
    }


def contract(contracts: pd.DataFrame, created: np.ndarray, as_of, n: int) -> dict:
    c = contracts  # one contract per account, in account order
    start, end = c["start_date"].to_numpy(), c["end_date"].to_numpy()
    at = np.datetime64(as_of)

    def active(point):
        return (start < point) & (end >= point)

    now, then_90, then_180 = active(at), active(at - 90 * DAY), active(at - 180 * DAY)
    seen = start < at
    tenure_from = np.where(created <= at, created, np.datetime64("NaT"))
    first = np.where(seen, start, np.datetime64("NaT"))
    earliest = np.fmin(tenure_from.astype("datetime64[ns]"), first.astype("datetime64[ns]"))
    tenure = (at - earliest) / np.timedelta64(1, "D")
    stage = np.where(tenure < 90, "onboarding", np.where(tenure < 365, "adoption", "mature"))
    arr, seats = c["arr"].to_numpy(float), c["seats"].to_numpy(float)
    arr_now = np.where(now, arr, np.nan)
    seats_now = np.where(now, seats, np.nan)

    def change(values, then):
        before = np.where(then, values, np.nan)
        return _ratio(np.where(now, values, np.nan) - before, before)

    text = {k: c[k].astype(str).to_numpy(dtype=object) for k in ("billing_period", "plan")}
    to_renewal, term_days = feature_data.term_grid(start, text["billing_period"], as_of)
    return {
        "contract__tenure_days": tenure,
        "contract__lifecycle_stage": np.where(np.isnan(tenure), None, stage),
        "contract__days_to_renewal": np.where(now, to_renewal, np.nan),
        "contract__length_days": np.where(now, term_days, np.nan),
        "contract__renewal_count": np.zeros(n),
        "contract__arr": arr_now,
        "contract__arr_change_90d": change(arr, then_90),
        "contract__arr_change_180d": change(arr, then_180),
        "contract__seats": seats_now,
        "contract__seat_change_90d": change(seats, then_90),
        "contract__billing_period": np.where(now, text["billing_period"], None),
        "contract__plan": np.where(now, text["plan"], None),
        "contract__auto_renew": np.where(now, c["auto_renew"].to_numpy(float), np.nan),
    }


def compute(directory: Path, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Every feature of every account at every date in ``dates``."""
    accounts = pd.read_parquet(directory / "accounts.parquet").sort_values("account_id")
    index = pd.Index(accounts["account_id"].astype(str))
    n = len(index)
    end = dates.max()
    contracts = pd.read_parquet(directory / "contracts.parquet")
    contracts = contracts.set_index("account_id").loc[index].reset_index()
    contracts["start_date"] = contracts["start_date"].dt.normalize()
    contracts["end_date"] = contracts["end_date"].dt.normalize()
    created = accounts["created_at"].dt.normalize().to_numpy()

    logins = _read(directory, "logins", index)
    logins = logins[logins["ts"] < end].sort_values("ts", kind="stable")
    logins["user"] = logins["user_id"].astype("category").cat.codes
    logins["day"] = logins["ts"].dt.normalize()

    rows = _read(directory, "feature_usage", index)
    rows["events"] = rows["quantity"].fillna(1).astype(float)
    rows = rows[(rows["events"] > 0) & (rows["ts"] < end)].sort_values("ts", kind="stable")
    rows["feature"] = rows["feature"].astype("category")
    rows["user"] = rows["user_id"].astype("category").cat.codes
    rows["day"] = rows["ts"].dt.normalize()
    first_use = rows.groupby(["aid", "feature"], observed=True)["day"].min()
    first_use = first_use.reset_index(name="first_day")

    tickets = _read(directory, "support_tickets", index)
    tickets = tickets[tickets["opened_at"] < end]
    tickets["closed_at"] = tickets["closed_at"].where(tickets["closed_at"] < end)
    tickets["urgent"] = tickets["priority"].str.strip().str.lower().isin(["high", "urgent"])

    responses = _read(directory, "nps_responses", index)
    responses = responses[responses["responded_at"] < end].sort_values("responded_at")
    answers = responses.groupby(["aid", "responded_at"], as_index=False)["score"].mean()
    answers = answers.sort_values(["responded_at", "aid"], kind="stable")
    answers["previous"] = answers.sort_values("responded_at").groupby("aid")["score"].shift()

    seats_all = contracts["seats"].to_numpy(float)
    start = contracts["start_date"].to_numpy()
    finish = contracts["end_date"].to_numpy()
    account_columns = {
        "account__segment": accounts["segment"].to_numpy(dtype=object),
        "account__industry": accounts["industry"].to_numpy(dtype=object),
        "account__region": accounts["region"].to_numpy(dtype=object),
        "account__employees": accounts["employees"].to_numpy(float),
    }
    parts = []
    for as_of in dates:
        at = np.datetime64(as_of)
        seats = np.where((start < at) & (finish >= at), seats_all, np.nan)
        columns = {"account_id": index.to_numpy(dtype=object), "as_of": as_of}
        columns |= usage(logins, as_of, n, seats)
        columns |= adoption(rows, first_use, as_of, n)
        columns |= support(tickets, as_of, n)
        columns |= satisfaction(answers, responses, as_of, n)
        columns |= contract(contracts, created, as_of, n)
        columns |= account_columns
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)
