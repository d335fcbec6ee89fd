"""Smooth ECE and the kernel-smoothed reliability curve (``skmax/metrics.py``)."""

import numpy as np
import pytest

from skmax.metrics import (
    expected_calibration_error,
    smooth_calibration_error,
    smooth_reliability_curve,
)


def binary_case(n, seed, distort):
    rng = np.random.RandomState(seed)
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < p).astype(int)
    return y, distort(p)


CASES = {
    "calibrated": lambda p: p,
    "overconfident": lambda p: np.clip(1.5 * p - 0.25, 0, 1),
    "underconfident": lambda p: 0.3 + 0.4 * p,
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("n", [300, 5000])
def test_matches_relplot(case, n):
    relplot = pytest.importorskip("relplot")
    y, f = binary_case(n, n, CASES[case])
    # one-vs-rest of a binary problem is the relplot setting (f = P(y = 1))
    ours = smooth_calibration_error(y, f, kind="classwise")
    assert ours == pytest.approx(relplot.smECE(f, y.astype(float)), abs=1.5e-3)


def test_orders_miscalibration_and_is_zero_ish_when_calibrated():
    y, f = binary_case(20000, 0, CASES["calibrated"])
    calibrated = smooth_calibration_error(y, f, kind="classwise")
    _, f_over = binary_case(20000, 0, CASES["overconfident"])
    over = smooth_calibration_error(y, f_over, kind="classwise")
    assert calibrated < 0.02 < over
    # the same order as the binned ECE
    assert expected_calibration_error(y, f, kind="classwise") < expected_calibration_error(
        y, f_over, kind="classwise")


def test_weights_equal_repeated_rows_and_top_label():
    rng = np.random.RandomState(0)
    P = rng.dirichlet(np.ones(4), size=400)
    y = np.array([rng.choice(4, p=p) for p in P])
    reps = rng.randint(0, 3, len(y))
    a = smooth_calibration_error(y, P, sample_weight=reps)
    b = smooth_calibration_error(np.repeat(y, reps), np.repeat(P, reps, axis=0),
                                 labels=[0, 1, 2, 3])
    assert a == pytest.approx(b, rel=1e-9)
    # top-label: confidence max_k p_k against "argmax is the label"
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == y).astype(int)
    assert a != pytest.approx(smooth_calibration_error(y, P, kind="classwise"))
    assert smooth_calibration_error(y, P) == pytest.approx(
        smooth_calibration_error(correct, conf, kind="classwise"), rel=1e-9)


def test_reliability_curve_tracks_the_truth():
    y, f = binary_case(50000, 1, CASES["underconfident"])
    t, acc, density, sigma = smooth_reliability_curve(y, f, bandwidth=0.02, pos_label=1)
    inside = (t > 0.35) & (t < 0.65)
    # true frequency at confidence t is (t - 0.3) / 0.4
    np.testing.assert_allclose(acc[inside], (t[inside] - 0.3) / 0.4, atol=0.05)
    assert density[t < 0.25].max() < 0.05 and density[inside].min() > 1.5
    assert np.sum(density) * (t[1] - t[0]) == pytest.approx(1.0, rel=0.01)
    _, _, _, auto = smooth_reliability_curve(y, f, pos_label=1)
    assert 0 < auto < 1


def test_bad_input():
    with pytest.raises(ValueError, match="outside"):
        smooth_calibration_error([0, 1], [1.5, 0.2])
    with pytest.raises(ValueError, match="bandwidth"):
        smooth_reliability_curve([0, 1], [0.3, 0.2], bandwidth=0.0)
    with pytest.raises(ValueError, match="pos_label"):
        smooth_reliability_curve([0, 1], [0.3, 0.2], pos_label=7)


def test_reliability_display_draws_the_smoothed_curve():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skmax.plotting import ReliabilityDisplay

    y, f = binary_case(3000, 2, CASES["overconfident"])
    disp = ReliabilityDisplay.from_predictions(y, f, pos_label=1, smooth=True)
    t, acc, density, _ = smooth_reliability_curve(y, f, pos_label=1)
    x, y_line = disp.smooth_line_.get_data()
    np.testing.assert_allclose(y_line, acc)
    assert np.isnan(x).any() == bool((density < 0.01 * density.max()).any())
    assert disp.line_ is not disp.smooth_line_
    assert ReliabilityDisplay.from_predictions(y, f).smooth_line_ is None
    plt.close("all")
