"""The fixed vocabulary of the simulated world: causes, features, plans, segments, reasons.

Everything here is a constant that the other simulator modules and the tests read, so that a
reader can see the whole cast of the world in one place. The numbers are loosely modelled on
what B2B SaaS customer-success reports describe (SMB-heavy logo counts, monthly billing for
small customers, per-seat pricing by tier, a handful of core features most users touch and a
long tail of advanced ones).
"""

from __future__ import annotations

#: The true causes of churn; every churned account has exactly one.
CAUSES: tuple[str, ...] = (
    "onboarding_failure",
    "usage_decay",
    "poor_adoption",
    "support_friction",
    "detractor",
    "budget",
    "random",
)

#: Features most active users touch every week; activation is measured on these.
CORE_FEATURES: tuple[str, ...] = ("dashboards", "reports", "alerts", "sharing")

#: Features beyond the core; breadth of adoption is measured on these.
ADVANCED_FEATURES: tuple[str, ...] = (
    "integrations",
    "exports",
    "custom_fields",
    "automations",
    "api",
    "mobile_app",
    "workflows",
    "ai_assistant",
    "forecasting",
    "sso",
    "audit_log",
)

#: The whole feature catalogue, core first.
FEATURES: tuple[str, ...] = CORE_FEATURES + ADVANCED_FEATURES

#: Relative popularity of each advanced feature: the order in which accounts tend to adopt.
ADVANCED_POPULARITY: tuple[float, ...] = (1.6, 1.5, 1.3, 1.2, 1.0, 1.0, 0.9, 0.8, 0.6, 0.6, 0.5)

#: Probability that a login session of an adopter touches each feature (core, then advanced).
FEATURE_USE_PER_LOGIN: tuple[float, ...] = (
    0.50, 0.25, 0.16, 0.12,
    0.12, 0.11, 0.10, 0.10, 0.09, 0.08, 0.08, 0.08, 0.07, 0.07, 0.06,
)  # fmt: skip

#: Mean extra events per daily feature row (a row holds ``1 + Poisson(mean)`` events).
FEATURE_EXTRA_EVENTS: tuple[float, ...] = (
    3.0, 1.5, 1.0, 0.8,
    2.0, 0.5, 1.0, 1.5, 4.0, 1.0, 1.0, 1.0, 0.5, 0.2, 0.5,
)  # fmt: skip

SEGMENTS: tuple[str, ...] = ("SMB", "mid_market", "enterprise")
SEGMENT_SHARES: tuple[float, ...] = (0.60, 0.30, 0.10)
#: Median and (low, high) bounds of head count per segment.
SEGMENT_EMPLOYEES: tuple[tuple[float, float, float], ...] = (
    (40.0, 3.0, 200.0),
    (500.0, 200.0, 2000.0),
    (5000.0, 2000.0, 100000.0),
)
#: Median and (low, high) bounds of initial licensed seats per segment.
SEGMENT_SEATS: tuple[tuple[float, float, float], ...] = (
    (5.0, 2.0, 20.0),
    (15.0, 8.0, 60.0),
    (45.0, 20.0, 200.0),
)

PLANS: tuple[str, ...] = ("starter", "growth", "enterprise")
#: List price per seat per month, by plan.
PLAN_PRICE_PER_SEAT_MONTH: tuple[float, ...] = (25.0, 49.0, 89.0)
#: Plan mix within each segment (rows: segments, columns: plans).
SEGMENT_PLAN_MIX: tuple[tuple[float, ...], ...] = (
    (0.65, 0.35, 0.00),
    (0.15, 0.60, 0.25),
    (0.00, 0.20, 0.80),
)

#: Contract term lengths in months and their mix per segment: month-to-month, one year,
#: two years, three years, half a year. Half-year terms are off in the default world
#: (``SimulatorParameters.halfyear_share`` moves part of the one-year terms to them).
TERM_MONTHS: tuple[int, ...] = (1, 12, 24, 36, 6)
SEGMENT_TERM_MIX: tuple[tuple[float, ...], ...] = (
    (0.80, 0.20, 0.00, 0.00, 0.00),
    (0.35, 0.65, 0.00, 0.00, 0.00),
    (0.00, 0.65, 0.20, 0.15, 0.00),
)
#: Discount off list price by term (month, year, two, three years, half a year).
TERM_DISCOUNT: tuple[float, ...] = (0.0, 0.15, 0.20, 0.20, 0.08)
#: How each term length is written as a billing period in the ``contracts`` table.
BILLING_PERIODS: dict[int, str] = {1: "month", 6: "halfyear", 12: "year", 24: "24", 36: "36"}

INDUSTRIES: tuple[str, ...] = (
    "software",
    "financial_services",
    "healthcare",
    "retail",
    "manufacturing",
    "education",
    "media",
    "professional_services",
)
INDUSTRY_SHARES: tuple[float, ...] = (0.24, 0.14, 0.11, 0.12, 0.10, 0.08, 0.07, 0.14)

REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")
REGION_SHARES: tuple[float, ...] = (0.45, 0.35, 0.15, 0.05)
#: UTC hour around which each region's working day is centred.
REGION_MIDDAY_UTC: tuple[float, ...] = (18.0, 12.0, 4.0, 16.0)

TICKET_CATEGORIES: tuple[str, ...] = (
    "how_to", "bug", "performance", "integration", "billing", "access",
)  # fmt: skip
#: Category mix of ordinary tickets and of tickets raised during a friction episode.
TICKET_CATEGORY_MIX_CALM: tuple[float, ...] = (0.38, 0.22, 0.08, 0.12, 0.10, 0.10)
TICKET_CATEGORY_MIX_FRICTION: tuple[float, ...] = (0.12, 0.42, 0.22, 0.14, 0.04, 0.06)
#: Median hours to resolve, by priority (low, normal, high, urgent).
PRIORITY_MEDIAN_RESOLUTION_HOURS: tuple[float, ...] = (40.0, 20.0, 8.0, 4.0)

#: Reasons a CS team logs, by true cause. The log agrees with the true cause most of the
#: time, not always (see :mod:`healthscore.synthetic.truth`).
CAUSE_REASONS: dict[str, tuple[str, ...]] = {
    "onboarding_failure": ("never got up and running", "failed onboarding"),
    "usage_decay": ("stopped using the product", "champion left"),
    "poor_adoption": ("not enough value for the price", "only used basic features"),
    "support_friction": ("unresolved product issues", "poor support experience"),
    "detractor": ("unhappy with the product", "relationship soured"),
    "budget": ("budget cuts", "price increase"),
    "random": ("acquired by another company", "went out of business"),
}

#: Which cause each logged reason text points to.
REASON_CAUSE: dict[str, str] = {
    reason: cause for cause, reasons in CAUSE_REASONS.items() for reason in reasons
}
