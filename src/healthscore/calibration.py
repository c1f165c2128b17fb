"""Probability calibration fitted on the validation period, stored as plain numbers.

LightGBM's raw probabilities rank well but are not trustworthy as probabilities (early
stopping and regularisation bend them). A monotone map fitted on a later, held-out period
fixes that. The map must also be *smooth*: a step function (plain isotonic regression) gives
every account on a step the same probability, so hundreds of accounts share one health score
and a small change in behaviour makes the score jump between steps. Three smooth, strictly
increasing maps from the raw log-odds ``z`` to the calibrated probability are fitted:

``sigmoid`` (Platt scaling)
    ``logit p = a z + b``: two numbers, the right shape when the model is only over- or
    under-confident.
``beta`` (beta calibration, Kull et al. 2017)
    ``logit p = a ln s - b ln(1 - s) + c`` with ``s = sigmoid(z)`` and ``a, b >= 0``: three
    numbers; it also corrects a model that is miscalibrated differently at the two ends.
``spline`` (smoothed isotonic)
    Isotonic regression, each flat step replaced by one knot at its centre holding the step's
    churn rate (shrunk a little towards the overall rate, so an empty step does not claim 0%),
    joined in log-odds by a monotone cubic (PCHIP) and continued beyond the outer knots by
    straight lines with the Platt slope.

``kind="auto"`` (the default) picks the one with the lowest log loss in a 5-fold
cross-validation over the validation rows (each map is scored on rows it was not fitted on)
and refits it on all of them; the log losses are kept in :attr:`Calibrator.selection` and in
the model bundle. The calibrated probabilities of the validation rows are kept too, as
quantiles (:attr:`Calibrator.reference`): the reference portfolio of the health score's
scale (:mod:`healthscore.health`). The older step-wise ``isotonic`` map still loads, so
bundles trained before stay usable. Every kind is JSON, so a model bundle needs no pickle to
load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.interpolate import PchipInterpolator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from healthscore.health import ScoreReference

Kind = Literal["sigmoid", "beta", "spline", "isotonic"]
#: The smooth kinds ``auto`` chooses from, in the order ties are broken.
SMOOTH_KINDS: tuple[str, ...] = ("sigmoid", "beta", "spline")
_FOLDS = 5
_EPS = 1e-6
_SHRINK = 2.0  # pseudo-observations at the overall rate added to each isotonic step


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """``ln sigmoid(z)``, without overflow for large ``|z|``."""
    return -np.logaddexp(0.0, -z)


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw log-odds to a calibrated probability.

    ``x`` and ``y`` hold the map's numbers: for ``sigmoid`` ``x = (a,)``, ``y = (b,)``; for
    ``beta`` ``x = (a, b)``, ``y = (c,)``; for ``spline`` the knots (raw log-odds) and the
    calibrated log-odds at them, plus the tail slope as the last ``y``; for the legacy
    ``isotonic`` the step centres and their probabilities.
    """

    kind: Kind
    x: tuple[float, ...]
    y: tuple[float, ...]
    selection: dict[str, float] = field(default_factory=dict, compare=False)
    reference: ScoreReference | None = field(default=None, compare=False)

    def __call__(self, raw_log_odds: np.ndarray) -> np.ndarray:
        z = np.asarray(raw_log_odds, dtype=float)
        if self.kind == "isotonic":
            return np.interp(z, self.x, self.y)
        return _sigmoid(self.log_odds(z))

    def log_odds(self, raw_log_odds: np.ndarray) -> np.ndarray:
        """The calibrated log-odds of churn (the smooth kinds only)."""
        z = np.asarray(raw_log_odds, dtype=float)
        if self.kind == "sigmoid":
            return self.x[0] * z + self.y[0]
        if self.kind == "beta":
            a, b = self.x
            return a * _log_sigmoid(z) - b * _log_sigmoid(-z) + self.y[0]
        if self.kind == "spline":
            knots, values, slope = np.array(self.x), np.array(self.y[:-1]), self.y[-1]
            inside = PchipInterpolator(knots, values, extrapolate=False)(
                np.clip(z, knots[0], knots[-1])
            )
            below = values[0] + slope * (z - knots[0])
            above = values[-1] + slope * (z - knots[-1])
            return np.where(z < knots[0], below, np.where(z > knots[-1], above, inside))
        return _logit(np.interp(z, self.x, self.y))

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "x": list(self.x), "y": list(self.y)}
        if self.selection:
            out["selection_log_loss"] = dict(self.selection)
        if self.reference is not None:
            out["score_reference"] = self.reference.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Calibrator:
        selection = raw.get("selection_log_loss") or {}
        reference = raw.get("score_reference")
        return cls(
            raw["kind"],
            tuple(raw["x"]),
            tuple(raw["y"]),
            dict(selection),
            ScoreReference.from_dict(reference) if reference else None,
        )


def fit_calibrator(
    raw_log_odds: np.ndarray,
    y: np.ndarray,
    *,
    kind: Literal["auto", "sigmoid", "beta", "spline", "isotonic"] = "auto",
) -> Calibrator:
    """Fit the calibration map on held-out raw scores and outcomes.

    ``kind="auto"`` cross-validates the smooth kinds (:data:`SMOOTH_KINDS`) by log loss and
    refits the best on all rows; a validation period with a single class falls back to
    ``sigmoid``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(-3, 1.5, 4000)
    >>> y = rng.random(4000) < 1 / (1 + np.exp(-(0.7 * z - 0.5)))
    >>> calibrator = fit_calibrator(z, y)
    >>> bool(np.all(np.diff(calibrator(np.linspace(-8, 3, 50))) > 0))
    True
    """
    z = np.asarray(raw_log_odds, dtype=float)
    target = np.asarray(y, dtype=float)
    losses: dict[str, float] = {}
    if kind == "isotonic":
        fitted = _fit_steps(z, target)
    elif kind != "auto":
        fitted = _FITTERS[kind](z, target)
    elif len(np.unique(target)) < 2 or min(target.sum(), len(target) - target.sum()) < _FOLDS:
        fitted = _fit_sigmoid(z, target)
    else:
        losses = {name: round(_cv_log_loss(name, z, target), 6) for name in SMOOTH_KINDS}
        best = min(SMOOTH_KINDS, key=lambda name: (losses[name], SMOOTH_KINDS.index(name)))
        fitted = _FITTERS[best](z, target)
    # The calibrated validation rows are the score scale's reference portfolio.
    reference = ScoreReference.from_probabilities(fitted(z)) if len(z) else None
    return Calibrator(fitted.kind, fitted.x, fitted.y, losses, reference)


def _cv_log_loss(kind: str, z: np.ndarray, y: np.ndarray) -> float:
    """Mean log loss of ``kind`` over stratified folds, each fold scored by the others' fit."""
    folds = np.empty(len(y), dtype=int)
    for label in (0.0, 1.0):
        rows = np.flatnonzero(y == label)
        folds[rows] = np.arange(len(rows)) % _FOLDS  # deterministic, stratified by outcome
    total = 0.0
    for fold in range(_FOLDS):
        test = folds == fold
        fitted = _FITTERS[kind](z[~test], y[~test])
        p = np.clip(fitted(z[test]), _EPS, 1 - _EPS)
        total -= float(np.sum(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p)))
    return total / len(y)


def _logistic(columns: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    model = LogisticRegression(C=1e6, max_iter=2000).fit(columns, y)
    return model.coef_[0].astype(float), float(model.intercept_[0])


def _fit_sigmoid(z: np.ndarray, y: np.ndarray) -> Calibrator:
    if len(np.unique(y)) < 2:
        rate = float(np.clip(y.mean() if len(y) else 0.5, _EPS, 1 - _EPS))
        return Calibrator("sigmoid", (0.0,), (float(_logit(np.array([rate]))[0]),))
    (a,), b = _logistic(z.reshape(-1, 1), y)
    if a <= 0:  # a model that ranks backwards on validation: keep the ranking, fix the level
        a = 1.0
        b = float(_logit(np.array([y.mean()]))[0] - np.mean(z))
    return Calibrator("sigmoid", (float(a),), (float(b),))


def _fit_beta(z: np.ndarray, y: np.ndarray) -> Calibrator:
    """Beta calibration; a negative coefficient drops its term (the published recipe)."""
    columns = np.column_stack([_log_sigmoid(z), -_log_sigmoid(-z)])
    (a, b), c = _logistic(columns, y)
    if a < 0 or b < 0:
        keep = 1 if a < 0 else 0
        (coef,), c = _logistic(columns[:, [keep]], y)
        coef = max(float(coef), 0.0)
        a, b = (0.0, coef) if keep == 1 else (coef, 0.0)
    if a + b <= 0:
        return _fit_sigmoid(z, y)
    return Calibrator("beta", (float(a), float(b)), (float(c),))


def _fit_spline(z: np.ndarray, y: np.ndarray) -> Calibrator:
    """Isotonic steps as centred knots, joined by PCHIP in log-odds, straight tails."""
    slope = _fit_sigmoid(z, y).x[0] or 1.0
    order = np.argsort(z, kind="stable")
    zs, ys = z[order], y[order]
    fitted = IsotonicRegression(out_of_bounds="clip").fit(zs, ys).predict(zs)
    overall = float(ys.mean())
    knots, values = [], []
    start = 0
    for i in range(1, len(zs) + 1):
        if i == len(zs) or fitted[i] != fitted[start]:
            n = i - start
            rate = (ys[start:i].sum() + _SHRINK * overall) / (n + _SHRINK)
            knots.append(float((zs[start] + zs[i - 1]) / 2))
            values.append(float(_logit(np.array([rate]))[0]))
            start = i
    # Steps sharing a centre (ties in z) or not rising after shrinkage are merged away.
    xs, vs = [knots[0]], [values[0]]
    for x, v in zip(knots[1:], values[1:], strict=True):
        if x > xs[-1] and v > vs[-1]:
            xs.append(x)
            vs.append(v)
    if len(xs) < 2:
        return _fit_sigmoid(z, y)
    return Calibrator("spline", tuple(xs), (*vs, float(slope)))


def _fit_steps(z: np.ndarray, y: np.ndarray) -> Calibrator:
    """The legacy isotonic map: step centres joined linearly (flat beyond the ends)."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(z, y)
    xs, ys = [], []
    x, v = iso.X_thresholds_, iso.y_thresholds_
    start = 0
    for i in range(1, len(v) + 1):
        if i == len(v) or v[i] != v[start]:
            xs.append(float((x[start] + x[i - 1]) / 2))
            ys.append(float(v[start]))
            start = i
    if len(xs) == 1:
        return Calibrator("isotonic", (float(x[0]), float(x[-1])), (ys[0], ys[0]))
    return Calibrator("isotonic", tuple(xs), tuple(ys))


_FITTERS = {"sigmoid": _fit_sigmoid, "beta": _fit_beta, "spline": _fit_spline}
