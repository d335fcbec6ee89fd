import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skmax.metrics import expected_calibration_error, maximum_calibration_error


def ece_ref(y, P, labels, n_bins, w=None):
    """Straightforward loop: top-label ECE and MCE with bins (b/B, (b+1)/B]."""
    w = np.ones(len(y)) if w is None else w
    conf = P.max(axis=1)
    correct = labels[P.argmax(axis=1)] == y
    ece, mce = 0.0, 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        m = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if not m.any():
            continue
        gap = abs(np.average(correct[m], weights=w[m]) - np.average(conf[m], weights=w[m]))
        ece += w[m].sum() / w.sum() * gap
        mce = max(mce, gap)
    return ece, mce


def make(n=500, K=4, seed=0):
    rng = np.random.RandomState(seed)
    z = 2 * rng.randn(n, K)
    P = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P]) if seed % 2 else rng.randint(0, K, n)
    return y, P


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_top_label_against_reference(seed, n_bins):
    y, P = make(seed=seed)
    w = np.random.RandomState(seed).rand(len(y))
    for sw in (None, w):
        ece, mce = ece_ref(y, P, np.arange(4), n_bins, sw)
        got_ece = expected_calibration_error(y, P, n_bins=n_bins, sample_weight=sw)
        got_mce = maximum_calibration_error(y, P, n_bins=n_bins, sample_weight=sw)
        assert got_ece == pytest.approx(ece, abs=1e-12)
        assert got_mce == pytest.approx(mce, abs=1e-12)


def test_classwise_is_mean_of_one_vs_rest():
    y, P = make(seed=3)
    ref = []
    for k in range(4):
        Pk = np.column_stack([1 - P[:, k], P[:, k]])
        yk = (y == k).astype(int)
        # one-vs-rest reliability of p_k: bins of p_k against y == k
        conf = P[:, k]
        e = 0.0
        for b in range(10):
            m = (conf > b / 10) & (conf <= (b + 1) / 10) if b else conf <= 0.1
            if m.any():
                e += m.mean() * abs(yk[m].mean() - conf[m].mean())
        ref.append(e)
        assert Pk.shape == (len(y), 2)
    got = expected_calibration_error(y, P, n_bins=10, kind="classwise")
    assert got == pytest.approx(np.mean(ref), abs=1e-12)


def test_quantile_bins_equal_mass_and_perfect_calibration():
    rng = np.random.RandomState(0)
    p1 = rng.rand(20000)
    y = (rng.rand(20000) < p1).astype(int)  # calibrated by construction
    ece = expected_calibration_error(y, p1, n_bins=10, strategy="quantile", kind="classwise")
    assert ece < 0.02
    assert expected_calibration_error(y, np.column_stack([1 - p1, p1]), n_bins=10) < 0.03


def test_string_labels_and_labels_param():
    y = np.array(["a", "b", "b", "a"])
    P = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.4, 0.6, 0.0], [0.3, 0.7, 0.0]])
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(y, P)
    e = expected_calibration_error(y, P, labels=["a", "b", "c"], n_bins=5)
    assert e == pytest.approx(0.25)


@pytest.mark.parametrize(
    "y, P, match",
    [
        ([0, 1], [[0.5, np.nan], [0.5, 0.5]], "NaN"),
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], "inconsistent"),
        ([0, 1], [[1.2, -0.2], [0.5, 0.5]], r"outside \[0, 1\]"),
        ([0, 1], [[0.6, 0.6], [0.5, 0.5]], "sum to 1"),
    ],
)
def test_bad_inputs(y, P, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y, P)


def test_unknown_label_and_params():
    with pytest.raises(ValueError, match="not in labels"):
        expected_calibration_error([0, 5], [[0.5, 0.5], [0.5, 0.5]], labels=[0, 1])
    with pytest.raises(InvalidParameterError):
        expected_calibration_error([0, 1], [[0.5, 0.5], [0.5, 0.5]], n_bins=0)
    with pytest.raises(InvalidParameterError):
        maximum_calibration_error([0, 1], [[0.5, 0.5], [0.5, 0.5]], kind="top")
