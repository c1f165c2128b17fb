"""Point-in-time features of accounts, declared in one catalogue.

Every feature of an ``(account_id, as_of)`` row reads only the days before ``as_of``; the
catalogue (:data:`CATALOGUE`) declares each one's name, source, window, meaning, driver
family, risk direction and sentence template, and drives building, documentation and
explanations. One SQL module per driver family computes them over the source's DuckDB views.
"""

from healthscore.features.build import (
    FeaturesOffWarning,
    active_features,
    build_features,
    features_at,
    features_on,
    switched_off,
)
from healthscore.features.catalogue import (
    CATALOGUE,
    FAMILIES,
    FeatureSpec,
    catalogue_frame,
    catalogue_markdown,
    feature_names,
    feature_spec,
    sentence,
)

__all__ = [
    "CATALOGUE",
    "FAMILIES",
    "FeatureSpec",
    "FeaturesOffWarning",
    "active_features",
    "build_features",
    "catalogue_frame",
    "catalogue_markdown",
    "feature_names",
    "feature_spec",
    "features_at",
    "features_on",
    "sentence",
    "switched_off",
]
