"""Calibration maps: monotone, smooth (no flat steps), chosen by cross-validated log loss."""

import numpy as np
import pytest

from healthscore.calibration import SMOOTH_KINDS, Calibrator, fit_calibrator

SEED = 11


def validation_period(n: int = 5000, *, seed: int = SEED):
    """Raw log-odds of a model that is over-confident and shifted, and outcomes drawn from
    the true probability ``sigmoid(0.6 z - 0.8)``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-3.0, 1.6, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.6 * z - 0.8)))).astype(float)
    return z, y


@pytest.mark.parametrize("kind", [*SMOOTH_KINDS, "auto"])
def test_smooth_maps_are_strictly_increasing_with_no_flat_steps(kind):
    print(f"seed={SEED}")
    z, y = validation_period()
    calibrator = fit_calibrator(z, y, kind=kind)
    grid = np.linspace(-12, 6, 4001)  # far beyond the validation scores on both sides
    p = calibrator(grid)
    assert np.all(np.diff(p) > 0), "the map has a flat stretch"
    assert p.min() > 0 and p.max() < 1
    # Accounts that differ in raw score never share a calibrated probability.
    scores = np.sort(z)
    assert len(np.unique(calibrator(scores))) == len(np.unique(scores))


def test_plain_isotonic_steps_are_what_the_smooth_map_avoids():
    z, y = validation_period()
    steps = fit_calibrator(z, y, kind="isotonic")
    p = steps(np.linspace(-12, 6, 4001))
    assert (np.diff(p) == 0).mean() > 0.1  # flat beyond its ends: the saturation


def test_auto_picks_the_lowest_cross_validated_log_loss_and_records_it():
    z, y = validation_period()
    calibrator = fit_calibrator(z, y)
    assert set(calibrator.selection) == set(SMOOTH_KINDS)
    assert calibrator.kind == min(calibrator.selection, key=calibrator.selection.get)
    # The true map is a sigmoid of z: the chosen map is close to it where the data is.
    grid = np.linspace(-6, 0, 50)
    truth = 1 / (1 + np.exp(-(0.6 * grid - 0.8)))
    assert np.max(np.abs(calibrator(grid) - truth)) < 0.03
    # On fresh rows of the same world it corrects the raw model's miscalibration.
    from healthscore.evaluate import expected_calibration_error

    z_new, y_new = validation_period(seed=SEED + 1)
    raw = expected_calibration_error(y_new, 1 / (1 + np.exp(-z_new)))
    assert expected_calibration_error(y_new, calibrator(z_new)) < raw / 2


def test_calibrator_round_trips_through_json():
    z, y = validation_period()
    for kind in SMOOTH_KINDS:
        calibrator = fit_calibrator(z, y, kind=kind)
        again = Calibrator.from_dict(calibrator.to_dict())
        np.testing.assert_allclose(again(z), calibrator(z))
    chosen = fit_calibrator(z, y)
    assert Calibrator.from_dict(chosen.to_dict()).selection == chosen.selection


def test_a_bundle_with_the_older_isotonic_map_still_loads():
    old = {"kind": "isotonic", "x": [-5.0, -3.0, -1.0], "y": [0.01, 0.05, 0.2]}
    calibrator = Calibrator.from_dict(old)
    assert calibrator(np.array([-3.0]))[0] == pytest.approx(0.05)


def test_one_class_validation_falls_back_to_a_constant_sigmoid():
    z = np.linspace(-4, 0, 200)
    calibrator = fit_calibrator(z, np.zeros(200))
    assert calibrator.kind == "sigmoid" and np.all(calibrator(z) < 0.01)
