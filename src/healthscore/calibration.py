"""Probability calibration fitted on the validation period, stored as plain numbers.

LightGBM's raw probabilities rank well but are not trustworthy as probabilities (early
stopping and regularisation bend them). A monotone map fitted on a later, held-out period
fixes that. Isotonic regression is stored as its breakpoints and applied with ``np.interp``;
Platt (sigmoid) scaling as two coefficients on the log-odds. Both are JSON, so a model bundle
needs no pickle to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw log-odds to a calibrated probability."""

    kind: Literal["isotonic", "sigmoid"]
    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw_log_odds: np.ndarray) -> np.ndarray:
        z = np.asarray(raw_log_odds, dtype=float)
        if self.kind == "sigmoid":
            a, b = self.x[0], self.y[0]
            return 1.0 / (1.0 + np.exp(-(a * z + b)))
        return np.interp(z, self.x, self.y)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Calibrator:
        return cls(raw["kind"], tuple(raw["x"]), tuple(raw["y"]))  # type: ignore[arg-type]


def fit_calibrator(
    raw_log_odds: np.ndarray, y: np.ndarray, *, kind: Literal["isotonic", "sigmoid"]
) -> Calibrator:
    """Fit the calibration map on held-out raw scores and outcomes."""
    z = np.asarray(raw_log_odds, dtype=float)
    y = np.asarray(y, dtype=float)
    if kind == "sigmoid":
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
        return Calibrator("sigmoid", (float(lr.coef_[0, 0]),), (float(lr.intercept_[0]),))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(z, y)
    return Calibrator(
        "isotonic",
        tuple(float(v) for v in iso.X_thresholds_),
        tuple(float(v) for v in iso.y_thresholds_),
    )
