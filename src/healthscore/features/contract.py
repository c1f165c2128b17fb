"""Contract features from ``contracts`` (and ``accounts.created_at``): tenure, renewal, money.

Features see the contract state *just before* ``as_of``: a contract is visible when it
started before ``as_of`` and active when it is visible and had not ended before ``as_of``
(``start_date < as_of <= end_date``). Contracts starting on or after ``as_of`` (a renewal or
upgrade signed for the future) therefore change nothing: not the ARR, not the renewal
count, not the days to renewal. A contract ending exactly on ``as_of`` is still active; a
contract starting exactly on ``as_of`` is not seen yet, so on an account's very first day the
money features are missing. Tenure counts from ``accounts.created_at`` (when on or before
``as_of``) or the first visible contract start, whichever is earlier.

``end_date`` is only compared with ``as_of``: its value reaches no feature, because billing
systems rewrite it when a customer cancels. Renewal dates and term lengths come from the
term grid instead (:mod:`healthscore.contract_terms`): each active contract's renewal date
*as known at* ``as_of``. The *current* contract is the active one with the latest known
renewal date (ties: earliest start, the base contract an add-on co-terms with, then id);
its renewal date, term length, plan, billing period and auto-renew flag are reported.
``contract__cancellation_known`` (with the optional ``canceled_at`` column) says whether a
cancellation of an active contract was recorded before ``as_of``.

A *renewal* is a visible contract starting at, or within ``labels.grace_days`` after, the end
of all the account's earlier coverage; one starting before that end is an upgrade, one
starting later a win-back. ARR and seats sum over active contracts; their relative change
compares with the same sums just before ``as_of - 90`` (or 180) days and is missing when
those were 0 or unknown.
"""

from __future__ import annotations

from typing import Literal, get_args

import pandas as pd

from healthscore.contract_terms import known_renewal_sql, present_columns, term_days_sql
from healthscore.features.engine import Session, ratio

#: The lifecycle stages, youngest first (``contract__lifecycle_stage``).
LifecycleStage = Literal["onboarding", "adoption", "mature"]
LIFECYCLE_STAGES: tuple[LifecycleStage, ...] = get_args(LifecycleStage)
#: Tenure (days) below which an account is in each stage; older accounts are ``MATURE``.
STAGES: tuple[tuple[int, LifecycleStage], ...] = ((90, "onboarding"), (365, "adoption"))
MATURE: LifecycleStage = "mature"


def _at(offset: int, contract: str = "j", snapshot: str = "j") -> str:
    """SQL: the contract row was active just before ``as_of - offset`` days."""
    as_of = f"{snapshot}.as_of"
    point = as_of if offset == 0 else f"({as_of} - INTERVAL {offset} DAY)"
    return f"{contract}.start_date < {point} AND {contract}.end_date >= {point}"


def _select(run: Session) -> str:
    has = {
        c: run.has_column("contracts", c)
        for c in ("plan", "seats", "billing_period", "auto_renew", "canceled_at")
    }
    present = present_columns(run.source)
    known = known_renewal_sql(present, t="t", as_of="s.as_of")
    term_days = term_days_sql(present, t="t", as_of="s.as_of")
    # The current contract: latest known renewal, then earliest start (the base contract an
    # add-on co-terms with), then smallest id. Ranked with a window rather than picked by
    # arg_min over this key: at a million snapshot rows the per-row arg_min states took
    # about a gigabyte.
    current_order = "known_renewal DESC, start_date, contract_id"
    optional = []
    current = ["r.term_days AS length_days"]
    outputs = ["CAST(c.length_days AS DOUBLE) AS contract__length_days"]
    if has["seats"]:
        optional += [
            f"sum(j.seats) FILTER (WHERE {_at(0)}) AS seats",
            f"sum(j.seats) FILTER (WHERE {_at(90)}) AS seats_90",
        ]
        outputs += [
            "CAST(a.seats AS DOUBLE) AS contract__seats",
            f"{ratio('a.seats - a.seats_90', 'a.seats_90')} AS contract__seat_change_90d",
        ]
    for column in ("billing_period", "plan"):
        if has[column]:
            current.append(f"CAST(r.{column} AS VARCHAR) AS {column}")
            outputs.append(f"c.{column} AS contract__{column}")
    if has["auto_renew"]:
        current.append("CAST(r.auto_renew AS DOUBLE) AS auto_renew")
        outputs.append("c.auto_renew AS contract__auto_renew")
    if has["canceled_at"]:
        optional.append(
            "max(CASE WHEN j.canceled_at < j.as_of THEN 1.0 ELSE 0.0 END) "
            "FILTER (WHERE j.known_renewal IS NOT NULL) AS cancellation_known"
        )
        outputs.append("a.cancellation_known AS contract__cancellation_known")
    extra_aggregates = "".join(f",\n                   {x}" for x in optional)
    extra_outputs = "".join(f",\n               {x}" for x in outputs)
    current_columns = ", ".join(current)
    (onboarding_days, onboarding), (adoption_days, adoption) = STAGES
    return f"""
        WITH ordered AS (
            SELECT *, max(end_date) OVER (
                       PARTITION BY aid ORDER BY start_date, end_date, contract_id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
            FROM _hs_terms
        ),
        t AS (
            SELECT *, coalesce(start_date >= covered_until
                               AND start_date <= covered_until + $grace, false) AS is_renewal
            FROM ordered
        ),
        j AS (
            SELECT s._row, s.as_of, t.*,
                   CASE WHEN {_at(0, "t", "s")} THEN {known} END AS known_renewal,
                   CASE WHEN {_at(0, "t", "s")} THEN {term_days} END AS term_days
            FROM _hs_snapshots s JOIN t
              ON t.aid = s.aid AND t.start_date < s.as_of
        ),
        a AS (
            SELECT j._row,
                   min(j.start_date) AS first_start,
                   count(*) FILTER (WHERE j.is_renewal) AS renewals,
                   max(j.known_renewal) AS renewal_date,
                   sum(j.arr) FILTER (WHERE {_at(0)}) AS arr,
                   sum(j.arr) FILTER (WHERE {_at(90)}) AS arr_90,
                   sum(j.arr) FILTER (WHERE {_at(180)}) AS arr_180{extra_aggregates}
            FROM j
            GROUP BY j._row
        ),
        c AS (
            SELECT r._row, {current_columns}
            FROM (
                SELECT *, row_number() OVER (PARTITION BY _row ORDER BY {current_order}) AS rank
                FROM j WHERE known_renewal IS NOT NULL
            ) r
            WHERE r.rank = 1
        ),
        tenure AS (
            SELECT s._row, date_diff('day', least(
                       CASE WHEN CAST(acc.created_at AS DATE) <= s.as_of
                            THEN CAST(acc.created_at AS DATE) END,
                       a.first_start), s.as_of) AS days
            FROM _hs_snapshots s
            LEFT JOIN (SELECT account_id, min(created_at) AS created_at FROM accounts
                       GROUP BY account_id) acc USING (account_id)
            LEFT JOIN a USING (_row)
        )
        SELECT s._row,
               CAST(tenure.days AS DOUBLE) AS contract__tenure_days,
               CASE WHEN tenure.days IS NULL THEN NULL
                    WHEN tenure.days < {onboarding_days} THEN '{onboarding}'
                    WHEN tenure.days < {adoption_days} THEN '{adoption}'
                    ELSE '{MATURE}' END AS contract__lifecycle_stage,
               CAST(date_diff('day', s.as_of, a.renewal_date) AS DOUBLE)
                   AS contract__days_to_renewal,
               CAST(coalesce(a.renewals, 0) AS DOUBLE) AS contract__renewal_count,
               CAST(a.arr AS DOUBLE) AS contract__arr,
               {ratio("a.arr - a.arr_90", "a.arr_90")} AS contract__arr_change_90d,
               {ratio("a.arr - a.arr_180", "a.arr_180")} AS contract__arr_change_180d{extra_outputs}
        FROM _hs_snapshots s
        LEFT JOIN a USING (_row)
        LEFT JOIN c USING (_row)
        LEFT JOIN tenure USING (_row)
    """


def compute(run: Session) -> pd.DataFrame:
    """Contract features of every snapshot row, with ``_row``."""
    return run.query(_select(run), grace=int(run.config.labels.grace_days))
