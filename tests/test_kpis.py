"""Retention KPIs, each checked against numbers worked out by hand from a tiny history.

The history (data ends 2024-07-01, so January to June 2024 are complete months; default
grace of 30 days, gross margin 70 %, onboarding = 3 distinct users within 90 days):

* A: one yearly contract, 12 000 ARR, all along.
* B: 6 000 ARR, upgraded mid-term on 2024-03-15 to 9 000 ARR (expansion in March).
* C: 4 800 ARR until 2024-03-25, renewed 16 days late (inside the grace) on 2024-04-10 at
  3 600 ARR: a customer throughout, carrying 4 800 through the gap, contraction in April.
* D: 2 400 ARR until 2024-03-01, then nothing for 61 days: churns on 2024-03-01 (March) and
  is won back on 2024-05-01 at 3 000 ARR.
* E: acquired 2024-02-10 at 6 000 ARR.
* F: signed up 2024-05-15, never a customer.

Customers (ARR) on the last day of each month, which is also the next month's start:
Dec 31: none; Jan 31: A 12000, B 6000, C 4800, D 2400 (4, 25 200); Feb 29: + E 6000
(5, 31 200); Mar 31: A 12000, B 9000, C 4800, E 6000 (4, 31 800); Apr 30: C at 3600
(4, 30 600); May 31 and Jun 30: + D 3000 (5, 33 600).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Config
from healthscore.errors import DataError
from healthscore.kpis import (
    KPI_COLUMNS,
    KPI_DEFINITIONS,
    cohort_retention,
    compute_kpis,
    kpi_summary,
    kpis_markdown,
    mean_retention_curve,
)
from healthscore.storage import source_from_frames

ACCOUNTS = """account_id,created_at
A,2024-01-01
B,2024-01-01
C,2024-01-01
D,2024-01-01
E,2024-02-01
F,2024-05-15
"""

CONTRACTS = """contract_id,account_id,start_date,end_date,arr
A1,A,2024-01-01,2025-01-01,12000
B1,B,2024-01-01,2024-03-15,6000
B2,B,2024-03-15,2025-03-15,9000
C1,C,2024-01-01,2024-03-25,4800
C2,C,2024-04-10,2025-04-10,3600
D1,D,2024-01-01,2024-03-01,2400
D2,D,2024-05-01,2025-05-01,3000
E1,E,2024-02-10,2025-02-10,6000
"""

NPS = """account_id,responded_at,score
A,2024-02-05,10
B,2024-02-12,9
C,2024-02-20,6
E,2024-02-25,8
D,2024-03-10,3
"""

# A: 3 users in its first 90 days; B: its 3rd user comes on day 100; C: one user thrice;
# D: no logins; E: 3 users; F: created too late for its 90 days to have ended.
LOGINS = """account_id,user_id,ts
A,u1,2024-01-02
A,u2,2024-01-03
A,u3,2024-02-01
B,u4,2024-01-05
B,u5,2024-01-06
B,u6,2024-04-10
C,u7,2024-01-02
C,u7,2024-01-03
C,u7,2024-01-04
E,u8,2024-02-02
E,u9,2024-02-03
E,u10,2024-02-04
"""

DATA_END = "2024-07-01"


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def _source(data_end: str = DATA_END, **extra: str):
    texts = {
        "accounts": ACCOUNTS,
        "contracts": CONTRACTS,
        "nps_responses": NPS,
        "logins": LOGINS,
        **extra,
    }
    return source_from_frames({k: _csv(v) for k, v in texts.items()}, data_end=data_end)


@pytest.fixture(scope="module")
def monthly() -> pd.DataFrame:
    return compute_kpis(_source(), Config()).set_index("period")


def _row(kpis: pd.DataFrame, period: str) -> pd.Series:
    return kpis.loc[period]


def test_columns_and_periods(monthly):
    assert list(monthly.reset_index().columns) == list(KPI_COLUMNS)
    assert list(monthly.index) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]


def test_customer_counts(monthly):
    counts = monthly[["customers_start", "new_customers", "churned_customers", "customers_end"]]
    assert counts.to_dict("index") == {
        "2024-01": dict(customers_start=0, new_customers=4, churned_customers=0, customers_end=4),
        "2024-02": dict(customers_start=4, new_customers=1, churned_customers=0, customers_end=5),
        "2024-03": dict(customers_start=5, new_customers=0, churned_customers=1, customers_end=4),
        "2024-04": dict(customers_start=4, new_customers=0, churned_customers=0, customers_end=4),
        "2024-05": dict(customers_start=4, new_customers=1, churned_customers=0, customers_end=5),
        "2024-06": dict(customers_start=5, new_customers=0, churned_customers=0, customers_end=5),
    }
    # The flows add up and one period's end is the next one's start.
    assert (
        monthly["customers_start"] + monthly["new_customers"] - monthly["churned_customers"]
        == monthly["customers_end"]
    ).all()
    assert monthly["customers_end"].tolist()[:-1] == monthly["customers_start"].tolist()[1:]


def test_zero_customers_at_start_gives_nan_rates(monthly):
    # January: nobody was a customer on Dec 31, so every rate over CS or starting ARR is NaN.
    january = _row(monthly, "2024-01")
    assert january["customers_start"] == 0 and january["arr_start"] == 0
    rates = ["retention_rate_pct", "logo_churn_rate_pct", "grr_pct", "nrr_pct"]
    rates += ["upsell_rate_pct", "arpa", "ltv"]
    assert january[rates].isna().all()


def test_retention_rate(monthly):
    # March: CS 5, CN 0, CE 4 -> (4 - 0) / 5 = 80 %. May: CS 4, CN 1 (D back), CE 5 -> 100 %.
    assert monthly.loc["2024-03", "retention_rate_pct"] == pytest.approx(80.0)
    assert monthly.loc["2024-05", "retention_rate_pct"] == pytest.approx(100.0)


def test_logo_churn_rate(monthly):
    # March: D's contract ends 2024-03-01 with no renewal within 30 days -> CC 1 / CS 5 = 20 %.
    assert monthly.loc["2024-03", "logo_churn_rate_pct"] == pytest.approx(20.0)
    assert monthly.loc["2024-04", "logo_churn_rate_pct"] == pytest.approx(0.0)


def test_churn_followed_by_win_back(monthly):
    # D churns in March and comes back on 2024-05-01: a new, reactivated customer in May.
    assert monthly["reactivated_customers"].tolist() == [0, 0, 0, 0, 1, 0]  # Jan..Jun
    assert monthly.loc["2024-05", "new_customers"] == 1


def test_win_back_within_one_period():
    # One account, quarterly: churns 2024-02-01, back on 2024-03-15 (43 days > 30), in Q1.
    contracts = """contract_id,account_id,start_date,end_date,arr
X1,X,2023-10-01,2024-02-01,1200
X2,X,2024-03-15,2025-03-15,1800
"""
    source = source_from_frames(
        {"accounts": _csv("account_id,created_at\nX,2023-10-01\n"), "contracts": _csv(contracts)},
        data_end="2024-04-01",
    )
    q1 = compute_kpis(source, freq="quarter").set_index("period").loc["2024Q1"]
    # CS 1, churned 1, new 1 (a win-back), CE 1 -> retention (1 - 1) / 1 = 0 %, churn 100 %.
    assert (q1["customers_start"], q1["churned_customers"], q1["new_customers"]) == (1, 1, 1)
    assert (q1["reactivated_customers"], q1["customers_end"]) == (1, 1)
    assert q1["retention_rate_pct"] == pytest.approx(0.0)
    assert q1["logo_churn_rate_pct"] == pytest.approx(100.0)
    # Revenue retention compares the cohort's ARR at start and end: 1200 -> 1800, NRR 150 %.
    assert q1["nrr_pct"] == pytest.approx(150.0)


def test_renewal_inside_grace_is_not_churn(monthly):
    # C's coverage stops 2024-03-25 and resumes 2024-04-10 (16 days <= 30): still a customer
    # on Mar 31, with its last ARR (4 800) carried through the gap; only D churns in March.
    assert monthly.loc["2024-03", "churned_customers"] == 1
    assert monthly.loc["2024-03", "arr_end"] == pytest.approx(31800.0)  # 12000+9000+4800+6000


def test_renewal_beyond_a_shorter_grace_is_churn_and_win_back():
    config = Config().with_overrides(labels={"grace_days": 10})
    kpis = compute_kpis(_source(), config).set_index("period")
    # With 10 days' grace the 16-day gap ends C's spell on 2024-03-25 and C2 is a win-back.
    assert kpis.loc["2024-03", "churned_customers"] == 2  # C and D
    assert kpis.loc["2024-03", "customers_end"] == 3  # A, B, E
    assert kpis.loc["2024-04", "new_customers"] == 1
    assert kpis.loc["2024-04", "reactivated_customers"] == 1
    # March GRR: (31200 - 4800 (C) - 2400 (D)) / 31200 = 24000 / 31200 = 76.92 %.
    assert kpis.loc["2024-03", "grr_pct"] == pytest.approx(100 * 24000 / 31200)


def test_expansion_from_mid_term_upgrade(monthly):
    # B goes from 6 000 (Feb 29) to 9 000 (Mar 31): expansion 3 000 in March.
    assert monthly.loc["2024-03", "expansion_arr"] == pytest.approx(3000.0)


def test_contraction_at_renewal(monthly):
    # C renews at 3 600 after 4 800: contraction 1 200 in April, booked when C2 starts.
    assert monthly.loc["2024-04", "contraction_arr"] == pytest.approx(1200.0)
    assert monthly.loc["2024-03", "contraction_arr"] == pytest.approx(0.0)


def test_gross_revenue_retention(monthly):
    # March: start 31 200 (A 12000, B 6000, C 4800, D 2400, E 6000); D churns 2 400.
    # GRR = (31200 - 0 - 2400) / 31200 = 92.31 %.
    assert monthly.loc["2024-03", "churned_arr"] == pytest.approx(2400.0)
    assert monthly.loc["2024-03", "grr_pct"] == pytest.approx(100 * 28800 / 31200)
    # April: start 31 800, C contracts 1 200 -> GRR = 30600 / 31800 = 96.23 %.
    assert monthly.loc["2024-04", "grr_pct"] == pytest.approx(100 * 30600 / 31800)


def test_net_revenue_retention(monthly):
    # March: (31200 + 3000 - 0 - 2400) / 31200 = 31800 / 31200 = 101.92 %.
    assert monthly.loc["2024-03", "nrr_pct"] == pytest.approx(100 * 31800 / 31200)
    # April: (31800 + 0 - 1200 - 0) / 31800 = 96.23 %.
    assert monthly.loc["2024-04", "nrr_pct"] == pytest.approx(100 * 30600 / 31800)


def test_arpa_is_monthly_revenue_per_account(monthly):
    # February: 25 200 ARR over 4 customers at start, / 12 months = 525 a month.
    assert monthly.loc["2024-02", "arpa"] == pytest.approx(525.0)


def test_ltv(monthly):
    # March: ARPA 31200 / 5 / 12 = 520 a month; churn 1/5 a month; margin 0.7
    # -> LTV = 520 x 0.7 / 0.2 = 1 820. No churn in April -> NaN, not infinity.
    assert monthly.loc["2024-03", "ltv"] == pytest.approx(1820.0)
    assert math.isnan(monthly.loc["2024-04", "ltv"])


def test_ltv_uses_the_configured_margin():
    config = Config().with_overrides(kpis={"gross_margin": 0.5})
    kpis = compute_kpis(_source(), config).set_index("period")
    assert kpis.loc["2024-03", "ltv"] == pytest.approx(520 * 0.5 / 0.2)


def test_upsell_rate(monthly):
    # March: of the 5 customers at start only B ends with more ARR -> 20 %.
    assert monthly.loc["2024-03", "upsell_rate_pct"] == pytest.approx(20.0)
    assert monthly.loc["2024-04", "upsell_rate_pct"] == pytest.approx(0.0)


def test_nps(monthly):
    # February: 10, 9 promoters, 6 detractor, 8 passive -> (2 - 1) / 4 = +25.
    # March: one 3 -> -100. Months without responses: NaN.
    assert monthly.loc["2024-02", "nps"] == pytest.approx(25.0)
    assert monthly.loc["2024-02", "nps_responses"] == 4
    assert monthly.loc["2024-03", "nps"] == pytest.approx(-100.0)
    assert math.isnan(monthly.loc["2024-04", "nps"])


def test_onboarding_completion(monthly):
    # January signups A-D: only A has 3 distinct users within 90 days -> 1 / 4 = 25 %.
    # February: E has 3 -> 100 %. May: F's 90 days run past the data's end -> not eligible.
    assert monthly.loc["2024-01", "onboarding_completion_pct"] == pytest.approx(25.0)
    assert monthly.loc["2024-02", "onboarding_completion_pct"] == pytest.approx(100.0)
    assert monthly.loc["2024-05", "onboarding_eligible"] == 0
    assert math.isnan(monthly.loc["2024-05", "onboarding_completion_pct"])


def test_onboarding_is_nan_without_logins():
    frames = {name: _csv(text) for name, text in (("accounts", ACCOUNTS), ("contracts", CONTRACTS))}
    kpis = compute_kpis(source_from_frames(frames, data_end=DATA_END)).set_index("period")
    assert kpis.loc["2024-01", "onboarding_eligible"] == 4
    assert kpis["onboarding_completion_pct"].isna().all()
    assert kpis["nps"].isna().all() and (kpis["nps_responses"] == 0).all()


def test_quarterly_periods():
    kpis = compute_kpis(_source(), freq="quarter").set_index("period")
    assert list(kpis.index) == ["2024Q1", "2024Q2"]
    q2 = kpis.loc["2024Q2"]
    # Q2: start Mar 31 (A, B 9000, C 4800 carried, E) = 4 customers, 31 800; D back in May.
    assert (q2["customers_start"], q2["new_customers"], q2["customers_end"]) == (4, 1, 5)
    assert q2["grr_pct"] == pytest.approx(100 * 30600 / 31800)  # C's 1 200 contraction
    assert q2["arpa"] == pytest.approx(31800 / 4 / 4)  # per quarter: 1 987.5
    # Q1 NPS over all 5 responses: 2 promoters, 2 detractors -> 0.
    assert kpis.loc["2024Q1", "nps"] == pytest.approx(0.0)


def test_partial_last_period_is_dropped_and_recent_ones_provisional():
    kpis = compute_kpis(_source(data_end="2024-06-15")).set_index("period")
    assert kpis.index[-1] == "2024-05"  # June is not over
    # May ends Jun 1; a renewal may start up to Jul 1, after the data's end -> provisional.
    assert kpis["provisional"].tolist() == [False, False, False, False, True]  # Jan..May


def test_nothing_after_the_data_end_is_read(monthly):
    later = {
        "accounts": ACCOUNTS + "G,2024-07-05\n",
        "contracts": CONTRACTS + "G1,G,2024-07-05,2025-07-05,9999\n",
        "nps_responses": NPS + "A,2024-07-02,0\n",
        "logins": LOGINS + "B,u11,2024-07-01\n",
    }
    kpis = compute_kpis(_source(**later)).set_index("period")
    pd.testing.assert_frame_equal(kpis, monthly)


def test_no_complete_period():
    kpis = compute_kpis(_source(data_end="2024-01-20"))
    assert kpis.empty and list(kpis.columns) == list(KPI_COLUMNS)
    with pytest.raises(DataError, match="no complete period"):
        kpi_summary(kpis)
    assert cohort_retention(_source(data_end="2024-01-20")).empty


def test_unknown_freq_is_a_clear_error():
    with pytest.raises(DataError, match="week"):
        compute_kpis(_source(), freq="week")


def test_kpi_summary_is_the_latest_final_period(monthly):
    summary = kpi_summary(monthly.reset_index())
    # June is provisional (a renewal may start until Jul 30); May is the latest final month:
    # 5 customers, 33 600 ARR (A 12000, B 9000, C 3600, D 3000, E 6000), ARPA from its start
    # (Apr 30: 4 customers, 30 600 ARR) = 30600 / 4 / 12.
    assert summary["period"] == "2024-05" and summary["provisional"] is False
    assert summary["later_periods"] == ["2024-06"]
    assert summary["customers"] == 5 and summary["arr"] == pytest.approx(33600.0)
    assert summary["arpa"] == pytest.approx(637.5)
    assert summary["ltv"] is None and summary["nps"] is None  # no churn, no responses
    # Onboarding is reported on signups whose 90 days are over: February's (E, 100 %).
    assert summary["onboarding_period"] == "2024-02"
    assert summary["onboarding_completion_pct"] == pytest.approx(100.0)


def test_kpi_summary_when_every_period_is_provisional(monthly):
    summary = kpi_summary(monthly.reset_index().tail(1))
    assert summary["period"] == "2024-06" and summary["provisional"] is True


def test_periods_start_with_the_observed_history():
    """Signups and multi-year contracts long before the data's activity add no empty years."""
    old = {
        "accounts": ACCOUNTS + "OLD,2016-03-01\n",
        "contracts": CONTRACTS + "OLD1,OLD,2021-06-01,2024-06-01,50000\n",
    }
    kpis = compute_kpis(_source(**old)).set_index("period")
    assert kpis.index[0] == "2024-01"  # the first login is 2024-01-02
    assert kpis.loc["2024-01", "customers_start"] == 1  # OLD was already a customer
    cohorts = cohort_retention(_source(**old))
    assert list(cohorts.index) == ["2024-01", "2024-02"]  # OLD's acquisition was not observed


def test_cohort_logo_retention():
    table = cohort_retention(_source(), by="logos")
    # Jan cohort A-D: D's first spell ends Mar 1 (3/4 from March on; its win-back in May is
    # a new acquisition, so the curve never rises). Feb cohort: E only; its 6th month (July)
    # is not over yet -> NaN.
    expected = pd.DataFrame(
        [[1.0, 1.0, 0.75, 0.75, 0.75, 0.75], [1.0, 1.0, 1.0, 1.0, 1.0, math.nan]],
        index=pd.Index(["2024-01", "2024-02"], name="cohort"),
        columns=pd.Index(range(6), name="periods_since_acquisition"),
    )
    pd.testing.assert_frame_equal(table, expected, check_index_type=False)


def test_cohort_revenue_retention():
    table = cohort_retention(_source(), by="revenue")
    # Jan cohort starts at 25 200. Mar 31: 12000 + 9000 + 4800 = 25 800 (1.024);
    # Apr 30: C at 3600 -> 24 600 (0.976); May 31: + D 3000 -> 27 600 (1.095 > 1).
    assert table.loc["2024-01"].tolist() == pytest.approx(
        [1.0, 1.0, 25800 / 25200, 24600 / 25200, 27600 / 25200, 27600 / 25200]
    )
    assert table.loc["2024-02", 4] == pytest.approx(1.0)
    assert math.isnan(table.loc["2024-02", 5])


def test_every_column_is_documented():
    assert [d.column for d in KPI_DEFINITIONS] == list(KPI_COLUMNS)
    docs = Path(__file__).resolve().parents[1] / "docs" / "kpis.md"
    assert kpis_markdown() in docs.read_text(encoding="utf-8"), "docs/kpis.md table is stale"


def test_cohort_curves_and_their_mean_never_rise():
    table = cohort_retention(_source(), by="logos")
    assert (table.diff(axis=1).fillna(0) <= 1e-12).all().all()
    # Cohorts of different quality reaching different ages: a plain column mean would rise
    # where only the good old cohort is left; the chained mean does not, and it stops where
    # fewer than min_cohorts cohorts are old enough.
    cohorts = pd.DataFrame(
        [[1.0, 0.95, 0.9, 0.88], [1.0, 0.6, 0.5, math.nan], [1.0, 0.7, math.nan, math.nan]]
    )
    assert cohorts.mean().diff().max() > 0  # the naive mean rises from 1 to 2
    curve = mean_retention_curve(cohorts, min_cohorts=2)
    assert (curve.diff().dropna() <= 0).all()
    assert curve.tolist()[:3] == pytest.approx([1.0, 0.75, 0.75 * (0.9 / 0.95 + 0.5 / 0.6) / 2])
    assert math.isnan(curve.iloc[3])
