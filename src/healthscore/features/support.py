"""Support features from ``support_tickets``: volume, backlog, severity, resolution, CSAT.

What is known when:

* a ticket exists from ``opened_at``; its ``priority`` is taken as set at opening;
* it is open at ``as_of`` when opened before ``as_of`` and not closed before it
  (``closed_at`` empty or on/after ``as_of``);
* its resolution time, ``csat`` and ``escalated`` flag are outcomes, known at ``closed_at``:
  they count only for tickets closed before ``as_of`` (a ticket escalated after the snapshot
  must not show, and the export only holds the final flag).

Exact duplicate rows count once. Without ``closed_at`` the backlog, resolution, CSAT and
escalation features are off; without ``priority`` the urgency features are off.

Windows by opening or closing day are equi-joins of the tickets to the calendar of
observation dates; the backlog joins the tickets to the (few) observation dates, so no
snapshot is paired with every ticket of its account.
"""

from __future__ import annotations

import pandas as pd

from healthscore.features.engine import Session, ratio

URGENT_PRIORITIES: tuple[str, ...] = ("high", "urgent")


def _tickets(run: Session) -> str:
    has = {
        c: run.has_column("support_tickets", c)
        for c in ("closed_at", "priority", "csat", "escalated")
    }
    columns = ["ticket_id", "account_id", "opened_at"] + [c for c, ok in has.items() if ok]
    closed = "closed_at" if has["closed_at"] else "CAST(NULL AS TIMESTAMP)"
    urgent = (
        "lower(trim(priority)) IN (SELECT unnest($urgent::VARCHAR[]))"
        if has["priority"]
        else "false"
    )
    csat = "csat" if has["csat"] else "CAST(NULL AS DOUBLE)"
    escalated = "coalesce(escalated, false)" if has["escalated"] else "false"
    return f"""
        SELECT aid, opened_at,
               CASE WHEN {closed} < $data_end THEN {closed} END AS closed_at,
               {urgent} AS urgent, {csat} AS csat, {escalated} AS escalated
        FROM (SELECT DISTINCT {", ".join(columns)} FROM support_tickets
              WHERE opened_at < $data_end AND opened_at < $until)
        JOIN _hs_snapshot_accounts USING (account_id)
    """


_SELECT = f"""
    WITH opened AS (
        SELECT t.aid, c.as_of,
               count(*) FILTER (WHERE c.age <= 30) AS tickets_30d,
               count(*) FILTER (WHERE c.age > 30 AND c.age <= 60) AS tickets_prior_30d,
               count(*) AS tickets_90d,
               count(*) FILTER (WHERE t.urgent) AS urgent_90d
        FROM _hs_tickets t
        JOIN _hs_calendar c ON c.day = CAST(t.opened_at AS DATE) AND c.age <= 90
        GROUP BY ALL
    ),
    closed AS (
        SELECT t.aid, c.as_of,
               count(*) FILTER (WHERE t.escalated) AS escalations,
               avg(date_diff('microsecond', t.opened_at, t.closed_at)) AS resolution_days,
               avg(t.csat) AS csat
        FROM _hs_tickets t
        JOIN _hs_calendar c ON c.day = CAST(t.closed_at AS DATE) AND c.age <= 90
        WHERE t.opened_at < c.as_of
        GROUP BY ALL
    ),
    open_now AS (
        SELECT t.aid, d.as_of, count(*) AS open_tickets,
               count(*) FILTER (WHERE t.urgent) AS open_urgent
        FROM _hs_tickets t JOIN _hs_dates d
          ON t.opened_at < d.as_of AND (t.closed_at IS NULL OR t.closed_at >= d.as_of)
        GROUP BY ALL
    )
    SELECT s._row,
           CAST(coalesce(o.tickets_30d, 0) AS DOUBLE) AS support__tickets_30d,
           CAST(coalesce(o.tickets_prior_30d, 0) AS DOUBLE) AS support__tickets_prior_30d,
           CAST(coalesce(o.tickets_90d, 0) AS DOUBLE) AS support__tickets_90d,
           {ratio("coalesce(o.tickets_30d, 0)", "o.tickets_prior_30d")}
               AS support__tickets_trend_30d,
           CAST(coalesce(n.open_tickets, 0) AS DOUBLE) AS support__open_tickets,
           CAST(coalesce(n.open_urgent, 0) AS DOUBLE) AS support__open_urgent_tickets,
           CAST(coalesce(o.urgent_90d, 0) AS DOUBLE) AS support__urgent_tickets_90d,
           {ratio("o.urgent_90d", "o.tickets_90d")} AS support__urgent_share_90d,
           CAST(coalesce(c.escalations, 0) AS DOUBLE) AS support__escalations_90d,
           c.resolution_days / 86400e6 AS support__mean_resolution_days_90d,
           CAST(c.csat AS DOUBLE) AS support__mean_csat_90d
    FROM _hs_snapshots s
    LEFT JOIN opened o USING (aid, as_of)
    LEFT JOIN closed c USING (aid, as_of)
    LEFT JOIN open_now n USING (aid, as_of)
"""


def compute(run: Session) -> pd.DataFrame:
    """Support features of every snapshot row, with ``_row``.

    Missing optional columns are read as empty (no closing date, no priority, no rating, not
    escalated); the features that need them are switched off by the catalogue.
    """
    try:
        run.execute(
            f"CREATE OR REPLACE TEMP TABLE _hs_tickets AS {_tickets(run)}",
            until=run.until,
            urgent=list(URGENT_PRIORITIES),
        )
        return run.query(_SELECT)
    finally:
        run.drop("_hs_tickets")
