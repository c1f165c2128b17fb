"""Probability calibration fitted on the validation period, stored as plain numbers.

LightGBM's raw probabilities rank well but are not trustworthy as probabilities (early
stopping and regularisation bend them). A monotone map fitted on a later, held-out period
fixes that. Isotonic regression is stored as the centres of its steps and applied with
``np.interp`` (strictly increasing, so the model's ranking survives calibration);
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
    knots_x, knots_y = _centred_knots(iso.X_thresholds_, iso.y_thresholds_)
    return Calibrator("isotonic", knots_x, knots_y)


def _centred_knots(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Replace each flat step of an isotonic fit by one knot at its centre.

    Plain isotonic regression is a step function: every account on a step gets the same
    probability, which throws away the model's ranking inside the step (and with it AUC and
    a clean top-k). Interpolating linearly between the steps' centres keeps the calibration
    and makes the map strictly increasing between the outermost knots.
    """
    xs, ys = [], []
    start = 0
    for i in range(1, len(y) + 1):
        if i == len(y) or y[i] != y[start]:
            xs.append(float((x[start] + x[i - 1]) / 2))
            ys.append(float(y[start]))
            start = i
    if len(xs) == 1:
        return (float(x[0]), float(x[-1])), (ys[0], ys[0])
    return tuple(xs), tuple(ys)
