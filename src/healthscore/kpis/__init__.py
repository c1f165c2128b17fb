"""Retention KPIs: customers, churn, GRR/NRR, ARPA, LTV, NPS, onboarding, cohorts.

Every figure here rests on one contract-based definition of who is a customer on which day
(see :mod:`healthscore.kpis._customers`): contract coverage, with gaps of up to
``labels.grace_days`` days before a renewal bridged. The formulas are listed, as data, in
:data:`KPI_DEFINITIONS` and in ``docs/kpis.md``.
"""

from __future__ import annotations

from healthscore.kpis.cohorts import cohort_retention, mean_retention_curve
from healthscore.kpis.retention import KPI_COLUMNS, compute_kpis, history_start
from healthscore.kpis.summary import KPI_DEFINITIONS, KpiDefinition, kpi_summary, kpis_markdown

__all__ = [
    "KPI_COLUMNS",
    "KPI_DEFINITIONS",
    "KpiDefinition",
    "cohort_retention",
    "compute_kpis",
    "kpi_summary",
    "kpis_markdown",
    "history_start",
    "mean_retention_curve",
]
