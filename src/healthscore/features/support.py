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


def _select(run: Session) -> str:
    closed_in_90 = "t.closed_at < s.as_of AND t.closed_at >= s.as_of - INTERVAL 90 DAY"
    open_now = "(t.closed_at IS NULL OR t.closed_at >= s.as_of)"
    return f"""
        WITH t AS ({_tickets(run)}),
        a AS (
            SELECT s._row,
                   count(*) FILTER (WHERE t.opened_at >= s.as_of - INTERVAL 30 DAY) AS tickets_30d,
                   count(*) FILTER (WHERE t.opened_at < s.as_of - INTERVAL 30 DAY
                                      AND t.opened_at >= s.as_of - INTERVAL 60 DAY)
                       AS tickets_prior_30d,
                   count(*) FILTER (WHERE t.opened_at >= s.as_of - INTERVAL 90 DAY) AS tickets_90d,
                   count(*) FILTER (WHERE t.opened_at >= s.as_of - INTERVAL 90 DAY AND t.urgent)
                       AS urgent_90d,
                   count(*) FILTER (WHERE {open_now}) AS open_tickets,
                   count(*) FILTER (WHERE {open_now} AND t.urgent) AS open_urgent,
                   count(*) FILTER (WHERE {closed_in_90} AND t.escalated) AS escalations,
                   avg(date_diff('microsecond', t.opened_at, t.closed_at))
                       FILTER (WHERE {closed_in_90})
                       AS resolution_days,
                   avg(t.csat) FILTER (WHERE {closed_in_90}) AS csat
            FROM _hs_snapshots s JOIN t
              ON t.aid = s.aid AND t.opened_at < s.as_of
             AND (t.opened_at >= s.as_of - INTERVAL 90 DAY OR t.closed_at IS NULL
                  OR t.closed_at >= s.as_of - INTERVAL 90 DAY)
            GROUP BY s._row
        )
        SELECT s._row,
               CAST(coalesce(a.tickets_30d, 0) AS DOUBLE) AS support__tickets_30d,
               CAST(coalesce(a.tickets_prior_30d, 0) AS DOUBLE) AS support__tickets_prior_30d,
               CAST(coalesce(a.tickets_90d, 0) AS DOUBLE) AS support__tickets_90d,
               {ratio("coalesce(a.tickets_30d, 0)", "a.tickets_prior_30d")}
                   AS support__tickets_trend_30d,
               CAST(coalesce(a.open_tickets, 0) AS DOUBLE) AS support__open_tickets,
               CAST(coalesce(a.open_urgent, 0) AS DOUBLE) AS support__open_urgent_tickets,
               CAST(coalesce(a.urgent_90d, 0) AS DOUBLE) AS support__urgent_tickets_90d,
               {ratio("a.urgent_90d", "a.tickets_90d")} AS support__urgent_share_90d,
               CAST(coalesce(a.escalations, 0) AS DOUBLE) AS support__escalations_90d,
               a.resolution_days / 86400e6 AS support__mean_resolution_days_90d,
               CAST(a.csat AS DOUBLE) AS support__mean_csat_90d
        FROM _hs_snapshots s LEFT JOIN a USING (_row)
    """


def compute(run: Session) -> pd.DataFrame:
    """Support features of every snapshot row, with ``_row``.

    Missing optional columns are read as empty (no closing date, no priority, no rating, not
    escalated); the features that need them are switched off by the catalogue.
    """
    return run.query(_select(run), until=run.until, urgent=list(URGENT_PRIORITIES))
