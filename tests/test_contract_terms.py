"""Terms, not end dates: the term grid, and features that a rewritten end date cannot move.

Billing systems overwrite ``end_date`` when a customer cancels mid-term. The simulator can
write such an export (:class:`~healthscore.synthetic.BillingExport`); the same world exported
with and without the rewrite must give identical features at every snapshot up to the
cancellation. Labels may differ (the churn moves to the cancellation day); features may not.
"""

from __future__ import annotations

import calendar
import warnings
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from healthscore.config import Config
from healthscore.contract_terms import (
    add_months,
    contract_terms,
    grid_distance_days,
    next_boundary_sql,
    term_anchors,
    term_months_sql,
)
from healthscore.features import build_features
from healthscore.snapshots import make_snapshots
from healthscore.storage import source_from_frames
from healthscore.synthetic import BillingExport, SimulatorParameters, generate_world
from healthscore.validation import validate_source

SEED = 11


# --------------------------------------------------------------------------- the term grid


@pytest.mark.parametrize(
    ("value", "months"),
    [
        ("month", 1),
        (" Monthly ", 1),
        ("quarter", 3),
        ("halfyear", 6),
        ("semiannual", 6),
        ("Half-Year", 6),
        ("year", 12),
        ("annual", 12),
        ("24", 24),
        ("36", 36),
        ("36.0", 36),
        ("weekly", None),
        ("2.5", None),
        ("0", None),
        ("lifetime", None),
        (None, None),
    ],
)
def test_billing_periods_become_term_months(value, months):
    got = duckdb.sql(f"SELECT {term_months_sql('v')} FROM (SELECT ?::VARCHAR AS v)", params=[value])
    assert got.fetchall()[0][0] == months


def test_month_arithmetic_matches_sql_on_every_day_of_a_leap_cycle():
    days = pd.Series(pd.date_range("2023-01-01", "2024-12-31", freq="D"))
    rng = np.random.default_rng(SEED)
    months = rng.integers(0, 40, len(days))
    ours = add_months(days, months)
    con = duckdb.connect()
    con.register("frame", pd.DataFrame({"day": days.dt.date, "n": months}))
    sql = con.sql("SELECT CAST(day + to_months(CAST(n AS INTEGER)) AS DATE) AS d FROM frame")
    sql = sql.df()["d"]
    assert (pd.to_datetime(sql).to_numpy() == ours.to_numpy()).all()


def test_next_boundary_is_the_first_grid_day_on_or_after_as_of():
    rng = np.random.default_rng(SEED)
    n = 2000
    anchors = pd.Series(
        pd.to_datetime("2022-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    )
    months = pd.Series(rng.choice([1, 3, 6, 12, 24, 36], n))
    as_of = anchors + pd.to_timedelta(rng.integers(1, 1500, n), "D")
    con = duckdb.connect()
    con.register("frame", pd.DataFrame({"anchor": anchors.dt.date, "m": months, "as_of": as_of}))
    got = con.sql(
        f"SELECT {next_boundary_sql('anchor', 'm', 'CAST(as_of AS DATE)')} AS b FROM frame"
    )
    got = got.df()
    want = pd.Series(pd.NaT, index=anchors.index, dtype="datetime64[ns]")
    for k in range(1, 60):  # walk the grid: the first boundary on or after as_of wins
        boundary = add_months(anchors, k * months)
        want = want.where(want.notna() | (boundary < as_of), boundary)
    assert (pd.to_datetime(got["b"]).to_numpy() == want.to_numpy()).all()


#: account, contract, start, end, term months, expected anchor
ANCHOR_CASES = [
    # a: a yearly term, upgraded mid-term (old row closed that day), then renewed: a new
    # term on the same grid.
    ("a", "a1", "2023-03-10", "2023-08-01", 12, "2023-03-10"),
    ("a", "a2", "2023-08-01", "2024-03-10", 12, "2023-03-10"),
    ("a", "a3", "2024-03-10", "2025-03-10", 12, "2024-03-10"),
    # b: cancelled mid-term, won back later: a new grid.
    ("b", "b1", "2023-01-15", "2023-06-02", 12, "2023-01-15"),
    ("b", "b2", "2023-09-20", "2024-09-20", 12, "2023-09-20"),
    # c: switches from monthly to yearly while the month runs: a new grid.
    ("c", "c1", "2023-01-05", "2023-02-05", 1, "2023-01-05"),
    ("c", "c2", "2023-01-20", "2024-01-20", 12, "2023-01-20"),
    # d: a co-termed add-on beside a running base contract; an unknown term keeps its own.
    ("d", "d1", "2023-02-01", "2024-02-01", 12, "2023-02-01"),
    ("d", "d2", "2023-05-01", "2024-02-01", 12, "2023-02-01"),
    ("d", "d3", "2023-06-01", "2024-02-01", None, "2023-06-01"),
]


def test_anchor_cases_like_a_spreadsheet():
    terms = pd.DataFrame(
        [row[:5] for row in ANCHOR_CASES],
        columns=["account_id", "contract_id", "start_date", "end_date", "term_months"],
    )
    terms["start_date"] = pd.to_datetime(terms["start_date"])
    terms["end_date"] = pd.to_datetime(terms["end_date"])
    shuffled = terms.sample(frac=1.0, random_state=SEED)
    got = term_anchors(shuffled, grace_days=30).reindex(terms.index)
    assert got.dt.strftime("%Y-%m-%d").tolist() == [row[5] for row in ANCHOR_CASES]


# --------------------------------------------------------------------------- rewritten ends


def _export(*, rewrite: bool, columns: bool = False):
    return generate_world(
        500,
        start="2023-07-01",
        end="2026-01-01",
        seed=SEED,
        parameters=SimulatorParameters(halfyear_share=0.4),
        billing=BillingExport(
            cancel_share=0.7, rewrite_end_dates=rewrite, cancellation_columns=columns
        ),
    )


@pytest.fixture(scope="module")
def exports():
    """The same world exported with end dates kept and rewritten, with and without columns."""
    return {
        (rewrite, columns): _export(rewrite=rewrite, columns=columns)
        for rewrite in (False, True)
        for columns in (False, True)
    }


def _source(world):
    return source_from_frames(world.tables, data_end=world.data_end)


def _rows_before_cancellation(world) -> pd.DataFrame:
    """Monthly snapshots of the kept export, up to each cancellation (inclusive)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = make_snapshots(_source(world), Config())
    until = rows["account_id"].map(
        world.truth["cancellations"].set_index("account_id")["canceled_at"]
    )
    return rows[until.isna() | (rows["as_of"] <= until)].reset_index(drop=True)


def test_the_export_has_mid_term_cancellations_half_year_and_multi_year_terms(exports):
    kept, rewritten = exports[False, False], exports[True, False]
    cancellations = rewritten.truth["cancellations"]
    assert len(cancellations) >= 20
    periods = set(rewritten.tables["contracts"]["billing_period"])
    assert {"month", "halfyear", "year", "24", "36"} <= periods
    by_id = rewritten.tables["contracts"].set_index("contract_id")
    assert (
        by_id.loc[cancellations["contract_id"], "end_date"].to_numpy()
        == cancellations["canceled_at"].to_numpy()
    ).all()
    kept_by_id = kept.tables["contracts"].set_index("contract_id")
    assert (
        kept_by_id.loc[cancellations["contract_id"], "end_date"].to_numpy()
        == cancellations["scheduled_end"].to_numpy()
    ).all()
    for name in ("logins", "feature_usage", "support_tickets", "nps_responses"):
        assert_frame_equal(kept.tables[name], rewritten.tables[name])


@pytest.mark.parametrize("columns", [False, True], ids=["end_date only", "with canceled_at"])
def test_no_feature_moves_before_a_cancellation_when_end_dates_are_rewritten(exports, columns):
    kept, rewritten = exports[False, columns], exports[True, columns]
    rows = _rows_before_cancellation(kept)
    cancelled = rows["account_id"].isin(kept.truth["cancellations"]["account_id"])
    assert cancelled.sum() >= 100, "too few snapshots of cancelled accounts to tell"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = build_features(_source(kept), rows, Config())
        after = build_features(_source(rewritten), rows, Config())
    assert_frame_equal(before, after)


def test_control_the_old_reading_of_end_date_would_move(exports):
    """Without a term (no billing_period) days to renewal reads end_date, and it moves."""
    kept, rewritten = exports[False, False], exports[True, False]
    rows = _rows_before_cancellation(kept)

    def build(world):
        tables = dict(world.tables)
        tables["contracts"] = tables["contracts"].drop(columns=["billing_period"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build_features(
                source_from_frames(tables, data_end=world.data_end), rows, Config()
            )

    before, after = build(kept), build(rewritten)
    moved = before["contract__days_to_renewal"] != after["contract__days_to_renewal"]
    assert moved.sum() >= 50


def test_renewal_snapshots_do_not_move_before_a_cancellation(exports):
    config = Config().with_overrides(labels={"mode": "renewal"})
    kept, rewritten = exports[False, False], exports[True, False]
    until = kept.truth["cancellations"].set_index("account_id")["canceled_at"]

    def before_cancellation(world) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = make_snapshots(_source(world), config)
        stop = rows["account_id"].map(until)
        return rows[stop.isna() | (rows["as_of"] < stop)].reset_index(drop=True)

    a, b = before_cancellation(kept), before_cancellation(rewritten)
    assert len(a) > 100
    assert_frame_equal(a, b)


def test_labels_follow_the_rewritten_end(exports):
    """Labels may differ: the rewritten export churns on the cancellation day."""
    kept, rewritten = exports[False, False], exports[True, False]
    config = Config()
    from healthscore.labels import churn_dates

    first = kept.truth["cancellations"].iloc[0]
    churn_kept = churn_dates(_source(kept), config).set_index("account_id")["churned_at"]
    churn_rewritten = churn_dates(_source(rewritten), config).set_index("account_id")["churned_at"]
    assert churn_rewritten[first["account_id"]] == first["canceled_at"]
    assert churn_kept[first["account_id"]] == first["scheduled_end"]


def test_validate_measures_the_rewrite_pattern(exports):
    kept, rewritten = exports[False, False], exports[True, False]
    report = validate_source(_source(rewritten))
    [warning] = [p for p in report.warnings if p.column == "end_date"]
    assert "rewrites end_date" in warning.message and "canceled_at" in warning.message
    assert "docs/own-data.md#point-in-time-traps" in warning.message
    assert warning.count > 0
    assert not [p for p in validate_source(_source(kept)).problems if p.column == "end_date"]


def test_validate_says_when_days_to_renewal_trusts_end_date(exports):
    kept = exports[False, False]
    tables = dict(kept.tables)
    tables["contracts"] = tables["contracts"].drop(columns=["billing_period"])
    report = validate_source(source_from_frames(tables, data_end=kept.data_end))
    [notice] = [p for p in report.warnings if "trust end_date" in p.message]
    assert (notice.table, notice.column) == ("contracts", "billing_period")
    assert not [p for p in validate_source(_source(kept)).warnings if "end_date" in p.message]


def test_a_billing_period_that_is_no_term_is_an_error_listing_values(exports):
    kept = exports[False, False]
    tables = dict(kept.tables)
    contracts = tables["contracts"].copy()
    contracts.loc[contracts.index[:3], "billing_period"] = "fortnight"
    tables["contracts"] = contracts
    report = validate_source(source_from_frames(tables, data_end=kept.data_end))
    [error] = [p for p in report.errors if p.column == "billing_period"]
    assert "'fortnight'" in error.message and "halfyear" in error.message
    assert error.count == 3


def test_terms_of_the_default_world_follow_its_contracts():
    """In the default world contracts end on their grid: days to renewal are exact there.

    The simulator moves anniversaries off days 29-31 (and off the history's last day of the
    month), so a first term may end up to three days off the grid of its start.
    """
    world = generate_world(300, start="2024-01-01", end="2025-07-01", seed=SEED)
    terms = contract_terms(_source(world), grace_days=30)
    last = terms.groupby("account_id")["end_date"].transform("max").eq(terms["end_date"])
    ended = terms[last & (terms["end_date"] < world.data_end)]
    distance = grid_distance_days(ended["end_date"], ended["anchor"], ended["term_months"])
    assert len(ended) > 50
    assert distance.max() <= 3
    assert (distance == 0).mean() > 0.98


@pytest.mark.slow
def test_train_says_once_that_days_to_renewal_trusts_end_date(tmp_path, capsys):
    from healthscore.cli import main
    from healthscore.storage import write_tables

    world = generate_world(300, start="2024-01-01", end="2026-01-01", seed=SEED)
    tables = dict(world.tables)
    tables["contracts"] = tables["contracts"].drop(columns=["billing_period"])
    write_tables(tables, tmp_path / "exports")
    config = tmp_path / "c.toml"
    config.write_text(
        "[tracking]\nenabled = false\n[split]\nbacktest_cutoffs = 0\n[model]\nn_estimators = 60\n"
    )
    args = ["train", "--data", str(tmp_path / "exports"), "--config", str(config)]
    assert main([*args, "--model-dir", str(tmp_path / "models")]) == 0
    out = capsys.readouterr().out
    assert out.count("warning: contracts has no billing_period") == 1


# --------------------------------------------------------------------------- against a reference


def _plus_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the end of a shorter month (written out)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _nearest_boundary_days(day: date, anchor: date, months: int) -> int:
    """Days from ``day`` to the nearest ``anchor + k * months`` (k >= 0), walking the grid."""
    k, best = 0, abs((day - anchor).days)
    while _plus_months(anchor, k * months) <= day:
        k += 1
        best = min(best, abs((day - _plus_months(anchor, k * months)).days))
    return best


def _reference_anchors(rows: list[dict], *, grace_days: int) -> dict[str, date]:
    """The anchor rule of the module docstring, one row after another."""
    ordered = sorted(rows, key=lambda r: (r["account_id"], r["start"], r["contract_id"]))
    anchors: dict[str, date] = {}
    previous = None
    for row in ordered:
        anchor = row["start"]
        if (
            previous is not None
            and previous["account_id"] == row["account_id"]
            and row["months"] is not None
            and row["months"] == previous["months"]
        ):
            held = anchors[previous["contract_id"]]
            if row["start"] < previous["end"] or (
                row["start"] == previous["end"]
                and _nearest_boundary_days(row["start"], held, row["months"]) > grace_days
            ):
                anchor = held
        anchors[row["contract_id"]] = anchor
        previous = row
    return anchors


#: Account identifiers whose order differs between naive and byte-wise comparisons.
TRICKY_IDS = ["A", "a", "a-1", "a1", "a_1", "B10", "B9", "Z", "b", "é", "ö1", "Ω", "acct 2"]


def _random_histories(rng: np.random.Generator, accounts: int) -> list[dict]:
    """Contract histories with renewals, upgrades, overlaps, gaps and month-end dates."""
    rows: list[dict] = []
    for a in range(accounts):
        account = TRICKY_IDS[a] if a < len(TRICKY_IDS) else f"acc{a:03d}"
        months = [1, 3, 6, 12, 24, 36, None][rng.integers(0, 7)]
        day = int(rng.choice([1, 15, 28, 29, 30, 31]))
        month, year = int(rng.integers(1, 13)), int(rng.integers(2019, 2024))
        start = _plus_months(date(year, month, 1), 0) + timedelta(days=day - 1)
        if start.month != month:  # Feb 30th and the like: the month's last day
            start = date(year, month, calendar.monthrange(year, month)[1])
        anchor = start
        for _ in range(int(rng.integers(1, 7))):
            if rng.random() < 0.15:
                months = [1, 3, 6, 12, 24, None][rng.integers(0, 6)]
            term = months or int(rng.choice([1, 12]))
            end = _plus_months(start, term)
            kind = rng.random()
            if kind < 0.1:  # rewritten or closed early
                end = start + timedelta(days=int(rng.integers(1, 40)))
            rows.append({"account_id": account, "start": start, "end": end, "months": months})
            step = rng.random()
            if step < 0.35:  # back-to-back renewal
                start = end
            elif step < 0.55:  # closed mid-term by an upgrade: the old row ends that day
                cut = start + timedelta(days=int(rng.integers(1, max(2, (end - start).days))))
                rows[-1]["end"] = cut
                start = cut
            elif step < 0.65:  # a co-termed add-on beside the running row
                start = start + timedelta(days=int(rng.integers(0, max(1, (end - start).days))))
            elif step < 0.8:  # starts near a boundary of the grid, inside or outside grace
                boundary = _plus_months(anchor, term * int(rng.integers(1, 4)))
                start = boundary + timedelta(days=int(rng.integers(-35, 36)))
                rows[-1]["end"] = max(start, rows[-1]["start"] + timedelta(days=1))
            elif step < 0.9:  # won back after a gap
                start = end + timedelta(days=int(rng.integers(1, 400)))
            else:  # same start day as the row before
                pass
            anchor = start if rng.random() < 0.5 else anchor
        if rng.random() < 0.05:  # "never ends", as some exports write it
            rows[-1]["end"] = date(9999, 12, 31)
    for row, number in zip(rows, rng.permutation(len(rows)), strict=True):
        row["contract_id"] = f"c{number:05d}"  # not in start order
    return rows


def _terms_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": [r["account_id"] for r in rows],
            "contract_id": [r["contract_id"] for r in rows],
            "start_date": pd.to_datetime([r["start"] for r in rows]),
            "end_date": pd.to_datetime([r["end"] for r in rows]),
            "term_months": pd.array([r["months"] for r in rows], dtype="Int64"),
        }
    )


@pytest.mark.parametrize("seed", [SEED, 12, 13])
def test_anchors_and_grid_distances_match_a_written_out_reference(seed):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    rows = _random_histories(rng, 400)
    terms = _terms_frame(rows).sample(frac=1.0, random_state=seed)
    for grace_days in (0, 7, 30):
        want = _reference_anchors(rows, grace_days=grace_days)
        got = term_anchors(terms, grace_days=grace_days)
        assert list(got.index) == list(terms.index)
        assert got.tolist() == [pd.Timestamp(want[c]) for c in terms["contract_id"]]
    known = terms[terms["term_months"].notna()]
    days = known["start_date"] + pd.to_timedelta(rng.integers(-60, 2000, len(known)), "D")
    distance = grid_distance_days(days, known["end_date"], known["term_months"])
    assert distance.tolist() == [
        _nearest_boundary_days(d.date(), a.date(), int(m))
        for d, a, m in zip(days, known["end_date"], known["term_months"], strict=True)
    ]


@pytest.mark.parametrize("seed", [SEED, 14])
def test_contract_terms_match_the_reference_in_order_and_anchors(seed):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    rows = _random_histories(rng, 300)
    contracts = _terms_frame(rows).drop(columns="term_months")
    periods = {None: None, 1: "month", 3: "quarter", 6: "halfyear", 12: "year"}
    contracts["billing_period"] = [periods.get(r["months"], str(r["months"])) for r in rows]
    contracts["arr"] = 1200.0
    contracts = contracts.sample(frac=1.0, random_state=seed, ignore_index=True)
    accounts = pd.DataFrame(
        {"account_id": sorted(set(contracts["account_id"])), "created_at": "2019-01-01"}
    )
    source = source_from_frames(
        {"accounts": accounts, "contracts": contracts}, data_end="2100-01-01"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = contract_terms(source, grace_days=30)
    want = _reference_anchors(rows, grace_days=30)
    expected = got.sort_values(
        ["account_id", "start_date", "end_date", "contract_id"],
        key=lambda s: s.map(lambda v: v.encode()) if s.name.endswith("_id") else s,
    )
    assert got["contract_id"].tolist() == expected["contract_id"].tolist()
    assert got["anchor"].tolist() == [pd.Timestamp(want[c]) for c in got["contract_id"]]
    assert got.index.equals(pd.RangeIndex(sum(r["end"] > r["start"] for r in rows)))


def test_month_arithmetic_matches_the_written_out_calendar():
    days = pd.Series(pd.date_range("1899-12-25", "2101-01-05", freq="7D"))
    rng = np.random.default_rng(SEED)
    months = rng.integers(-30, 500, len(days))
    got = add_months(days, months)
    assert got.tolist() == [
        pd.Timestamp(_plus_months(d.date(), int(m))) for d, m in zip(days, months, strict=True)
    ]
    with_gaps = add_months(pd.Series([pd.NaT, pd.Timestamp("2024-01-31")]), [1.0, np.nan])
    assert with_gaps.isna().all() and with_gaps.dtype == "datetime64[ns]"
