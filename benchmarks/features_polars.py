"""The whole feature catalogue in polars, for ``bench_features.py`` to check and time against.

Written as a competent polars user would: categorical ids turned into integer codes once,
exact duplicates dropped once, each event table sorted by time so that a window is a
contiguous slice found with ``search_sorted``, then one ``group_by`` per window. Results are
returned as pandas, in the engine's layout (``account_id``, ``as_of``, the features, sorted
by date and account).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import feature_data
import numpy as np
import pandas as pd
import polars as pl

CORE_COUNT = 4


def _read(directory: Path, name: str, accounts: pl.DataFrame) -> pl.DataFrame:
    frame = pl.read_parquet(directory / f"{name}.parquet")
    frame = frame.with_columns(pl.col("account_id").cast(pl.String)).unique()
    return frame.join(accounts, on="account_id", how="inner").drop("account_id")


def _slice(frame: pl.DataFrame, column: str, lo: datetime | None, hi: datetime) -> pl.DataFrame:
    times = frame[column]
    a = 0 if lo is None else times.search_sorted(lo, side="left")
    b = times.search_sorted(hi, side="left")
    return frame.slice(a, b - a)


def _per_account(grouped: pl.DataFrame, column: str, n: int, fill=0.0) -> np.ndarray:
    out = np.full(n, fill, dtype=float)
    values = grouped[column].cast(pl.Float64).to_numpy()
    out[grouped["aid"].to_numpy()] = values
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((den == 0) | np.isnan(den), np.nan, num / den)


def usage(logins: pl.DataFrame, as_of: datetime, n: int, seats: np.ndarray) -> dict:
    day = timedelta(days=1)
    out = {}
    before = _slice(logins, "ts", as_of - 90 * day, as_of)
    for days in (7, 30, 90):
        window = _slice(before, "ts", as_of - days * day, as_of)
        measures = [pl.len().alias("logins"), pl.col("user").n_unique().alias("users")]
        if days == 30:
            measures.append(pl.col("day").n_unique().alias("login_days"))
        grouped = window.group_by("aid").agg(measures)
        out[f"logins_{days}d"] = _per_account(grouped, "logins", n)
        out[f"users_{days}d"] = _per_account(grouped, "users", n)
        if days == 30:
            out["login_days_30d"] = _per_account(grouped, "login_days", n)
    prior = (
        _slice(before, "ts", as_of - 60 * day, as_of - 30 * day)
        .group_by("aid")
        .agg(pl.len().alias("logins"), pl.col("user").n_unique().alias("users"))
    )
    logins_prior = _per_account(prior, "logins", n)
    users_prior = _per_account(prior, "users", n)
    last = _slice(logins, "ts", None, as_of).group_by("aid").agg(pl.col("day").max())
    last = last.with_columns(((pl.lit(as_of) - pl.col("day")).dt.total_days()).alias("since"))
    return {
        "usage__logins_7d": out["logins_7d"],
        "usage__logins_30d": out["logins_30d"],
        "usage__logins_90d": out["logins_90d"],
        "usage__logins_prior_30d": logins_prior,
        "usage__active_users_7d": out["users_7d"],
        "usage__active_users_30d": out["users_30d"],
        "usage__active_users_90d": out["users_90d"],
        "usage__active_users_prior_30d": users_prior,
        "usage__seat_utilisation_30d": _ratio(out["users_30d"], seats),
        "usage__login_days_30d": out["login_days_30d"],
        "usage__logins_trend_30d": _ratio(out["logins_30d"], logins_prior),
        "usage__active_users_trend_30d": _ratio(out["users_30d"], users_prior),
        "usage__logins_vs_avg_90d": _ratio(out["logins_30d"], out["logins_90d"] / 3.0),
        "usage__days_since_last_login": _per_account(last, "since", n, np.nan),
    }


def adoption(rows: pl.DataFrame, first_use: pl.DataFrame, as_of: datetime, n: int) -> dict:
    day = timedelta(days=1)
    seen = first_use.filter(pl.col("first_day") < as_of)
    popularity = seen.group_by("feature").agg(pl.len().alias("accounts"))
    core = (
        popularity.sort(["accounts", "feature"], descending=[True, False])
        .head(CORE_COUNT)["feature"]
        .to_list()
    )
    catalogue = float(seen["feature"].n_unique())
    window = _slice(rows, "ts", as_of - 90 * day, as_of)
    recent = _slice(window, "ts", as_of - 30 * day, as_of)
    distinct_90 = _per_account(
        window.group_by("aid").agg(pl.col("feature").n_unique().alias("n")), "n", n
    )
    recent_stats = recent.group_by("aid").agg(
        pl.col("feature").n_unique().alias("distinct"),
        pl.col("events").sum().alias("events"),
        pl.col("feature").filter(pl.col("feature").is_in(core)).n_unique().alias("core"),
    )
    users = (
        recent.filter(pl.col("user").is_not_null())
        .group_by("aid")
        .agg(pl.col("events").sum().alias("events"), pl.col("user").n_unique().alias("users"))
    )
    new = (
        first_use.filter((pl.col("first_day") >= as_of - 30 * day) & (pl.col("first_day") < as_of))
        .group_by("aid")
        .agg(pl.len().alias("n"))
    )
    last_core = (
        _slice(rows, "ts", None, as_of)
        .filter(pl.col("feature").is_in(core))
        .group_by("aid")
        .agg(pl.col("day").max())
        .with_columns((pl.lit(as_of) - pl.col("day")).dt.total_days().alias("since"))
    )
    return {
        "adoption__distinct_features_30d": _per_account(recent_stats, "distinct", n),
        "adoption__distinct_features_90d": distinct_90,
        "adoption__feature_events_30d": _per_account(recent_stats, "events", n),
        "adoption__catalogue_share_90d": _ratio(distinct_90, np.full(n, catalogue)),
        "adoption__core_features_30d": _per_account(recent_stats, "core", n),
        "adoption__new_features_30d": _per_account(new, "n", n),
        "adoption__events_per_user_30d": _ratio(
            _per_account(users, "events", n, np.nan), _per_account(users, "users", n, np.nan)
        ),
        "adoption__days_since_core_use": _per_account(last_core, "since", n, np.nan),
    }


def support(tickets: pl.DataFrame, as_of: datetime, n: int) -> dict:
    day = timedelta(days=1)
    opened, closed = pl.col("opened_at"), pl.col("closed_at")
    in_30 = opened >= as_of - 30 * day
    in_prior = (opened >= as_of - 60 * day) & ~in_30
    in_90 = opened >= as_of - 90 * day
    open_now = closed.is_null() | (closed >= as_of)
    closed_90 = (closed < as_of) & (closed >= as_of - 90 * day)
    grouped = (
        tickets.filter(opened < as_of)
        .group_by("aid")
        .agg(
            in_30.sum().alias("t30"),
            in_prior.sum().alias("prior"),
            in_90.sum().alias("t90"),
            (in_90 & pl.col("urgent")).sum().alias("urgent90"),
            open_now.sum().alias("open"),
            (open_now & pl.col("urgent")).sum().alias("open_urgent"),
            (closed_90 & pl.col("escalated")).sum().alias("escalations"),
            ((closed - opened).dt.total_microseconds() / 86_400e6)
            .filter(closed_90)
            .mean()
            .alias("resolution"),
            pl.col("csat").filter(closed_90).mean().alias("csat"),
        )
    )
    t30, prior, t90 = (_per_account(grouped, c, n) for c in ("t30", "prior", "t90"))
    urgent90 = _per_account(grouped, "urgent90", n)
    return {
        "support__tickets_30d": t30,
        "support__tickets_prior_30d": prior,
        "support__tickets_90d": t90,
        "support__tickets_trend_30d": _ratio(t30, prior),
        "support__open_tickets": _per_account(grouped, "open", n),
        "support__open_urgent_tickets": _per_account(grouped, "open_urgent", n),
        "support__urgent_tickets_90d": urgent90,
        "support__urgent_share_90d": _ratio(urgent90, t90),
        "support__escalations_90d": _per_account(grouped, "escalations", n),
        "support__mean_resolution_days_90d": _per_account(grouped, "resolution", n, np.nan),
        "support__mean_csat_90d": _per_account(grouped, "csat", n, np.nan),
    }


def satisfaction(answers: pl.DataFrame, responses: pl.DataFrame, as_of: datetime, n: int) -> dict:
    latest = (
        _slice(answers, "responded_at", None, as_of)
        .group_by("aid")
        .agg(pl.all().last())
        .with_columns(
            (pl.lit(as_of) - pl.col("responded_at").dt.truncate("1d")).dt.total_days().alias("age")
        )
    )
    recent = (
        _slice(responses, "responded_at", as_of - timedelta(days=180), as_of)
        .group_by("aid")
        .agg(
            pl.len().alias("n"),
            pl.col("score").mean().alias("mean"),
            (pl.col("score") <= 6).mean().alias("detractors"),
            (pl.col("score") >= 9).mean().alias("promoters"),
        )
    )
    last = _per_account(latest, "score", n, np.nan)
    previous = _per_account(latest, "previous", n, np.nan)
    detractors = _per_account(recent, "detractors", n, np.nan)
    return {
        "satisfaction__last_nps": last,
        "satisfaction__previous_nps": previous,
        "satisfaction__nps_change": last - previous,
        "satisfaction__days_since_last_nps": _per_account(latest, "age", n, np.nan),
        "satisfaction__mean_nps_180d": _per_account(recent, "mean", n, np.nan),
        "satisfaction__nps_180d": 100.0
        * (_per_account(recent, "promoters", n, np.nan) - detractors),
        "satisfaction__detractor_share_180d": detractors,
        "satisfaction__responses_180d": _per_account(recent, "n", n),
    }


def contract(c: pl.DataFrame, as_of: datetime, n: int) -> dict:
    """One contract per account (the benchmark's data), in account order."""
    day = timedelta(days=1)
    start, end = pl.col("start_date"), pl.col("end_date")

    def active(point):
        return (start < point) & (end >= point)

    def change(column, offset):
        before = pl.when(active(as_of - offset * day)).then(pl.col(column))
        now = pl.when(active(as_of)).then(pl.col(column))
        return pl.when(before != 0).then((now - before) / before)

    earliest = pl.min_horizontal(
        pl.when(pl.col("created") <= as_of).then(pl.col("created")),
        pl.when(start < as_of).then(start),
    )
    tenure = (pl.lit(as_of) - earliest).dt.total_days().cast(pl.Float64)
    now = active(as_of)
    to_renewal, term_days = feature_data.term_grid(
        c["start_date"].to_numpy(), c["billing_period"].to_numpy(), as_of
    )
    c = c.with_columns(pl.Series("_to_renewal", to_renewal), pl.Series("_term_days", term_days))
    result = c.select(
        tenure.alias("contract__tenure_days"),
        pl.when(tenure < 90)
        .then(pl.lit("onboarding"))
        .when(tenure < 365)
        .then(pl.lit("adoption"))
        .when(tenure.is_not_null())
        .then(pl.lit("mature"))
        .alias("contract__lifecycle_stage"),
        pl.when(now).then(pl.col("_to_renewal")).alias("contract__days_to_renewal"),
        pl.when(now).then(pl.col("_term_days")).alias("contract__length_days"),
        pl.lit(0.0).alias("contract__renewal_count"),
        pl.when(now).then(pl.col("arr")).alias("contract__arr"),
        change("arr", 90).alias("contract__arr_change_90d"),
        change("arr", 180).alias("contract__arr_change_180d"),
        pl.when(now).then(pl.col("seats")).alias("contract__seats"),
        change("seats", 90).alias("contract__seat_change_90d"),
        pl.when(now).then(pl.col("billing_period")).alias("contract__billing_period"),
        pl.when(now).then(pl.col("plan")).alias("contract__plan"),
        pl.when(now).then(pl.col("auto_renew").cast(pl.Float64)).alias("contract__auto_renew"),
    )
    return {name: result[name].to_numpy() for name in result.columns}


def compute(directory: Path, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Every feature of every account at every date in ``dates``."""
    accounts = pl.read_parquet(directory / "accounts.parquet").sort("account_id")
    ids = accounts["account_id"].cast(pl.String)
    n = len(ids)
    keys = pl.DataFrame({"account_id": ids, "aid": np.arange(n, dtype=np.int64)})
    end = dates.max().to_pydatetime()
    contracts = (
        pl.read_parquet(directory / "contracts.parquet")
        .join(keys, on="account_id")
        .sort("aid")
        .with_columns(
            pl.col("start_date").dt.truncate("1d"),
            pl.col("end_date").dt.truncate("1d"),
            accounts["created_at"].dt.truncate("1d").alias("created"),
        )
    )
    logins = (
        _read(directory, "logins", keys)
        .filter(pl.col("ts") < end)
        .with_columns(
            pl.col("user_id").cast(pl.Categorical).to_physical().alias("user"),
            pl.col("ts").dt.truncate("1d").alias("day"),
        )
        .sort("ts")
    )
    rows = (
        _read(directory, "feature_usage", keys)
        .with_columns(pl.col("quantity").fill_null(1).cast(pl.Float64).alias("events"))
        .filter((pl.col("events") > 0) & (pl.col("ts") < end))
        .with_columns(
            pl.col("feature").cast(pl.String),
            pl.col("user_id").cast(pl.Categorical).to_physical().alias("user"),
            pl.col("ts").dt.truncate("1d").alias("day"),
        )
        .sort("ts")
    )
    first_use = rows.group_by("aid", "feature").agg(pl.col("day").min().alias("first_day"))
    tickets = (
        _read(directory, "support_tickets", keys)
        .filter(pl.col("opened_at") < end)
        .with_columns(
            pl.when(pl.col("closed_at") < end).then(pl.col("closed_at")).alias("closed_at"),
            pl.col("priority")
            .str.strip_chars()
            .str.to_lowercase()
            .is_in(["high", "urgent"])
            .alias("urgent"),
            pl.col("escalated").fill_null(False),
        )
    )
    responses = (
        _read(directory, "nps_responses", keys)
        .filter(pl.col("responded_at") < end)
        .sort("responded_at")
    )
    answers = (
        responses.group_by("aid", "responded_at")
        .agg(pl.col("score").mean())
        .sort("responded_at", "aid")
        .with_columns(pl.col("score").shift().over("aid").alias("previous"))
    )
    seats_all = contracts["seats"].to_numpy().astype(float)
    start = contracts["start_date"].to_numpy()
    finish = contracts["end_date"].to_numpy()
    account_columns = {
        f"account__{c}": accounts[c].to_numpy() for c in ("segment", "industry", "region")
    }
    account_columns["account__employees"] = accounts["employees"].cast(pl.Float64).to_numpy()
    parts = []
    for stamp in dates:
        as_of = stamp.to_pydatetime()
        at = np.datetime64(stamp)
        seats = np.where((start < at) & (finish >= at), seats_all, np.nan)
        columns = {"account_id": ids.to_numpy(), "as_of": stamp}
        columns |= usage(logins, as_of, n, seats)
        columns |= adoption(rows, first_use, as_of, n)
        columns |= support(tickets, as_of, n)
        columns |= satisfaction(answers, responses, as_of, n)
        columns |= contract(contracts, as_of, n)
        columns |= account_columns
        parts.append(pd.DataFrame(columns))
    return pd.concat(parts, ignore_index=True)
