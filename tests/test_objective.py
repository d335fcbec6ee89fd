"""Kernels and objective against the numpy reference and finite differences."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from reference import objective as ref_objective
from reference import row_gradients, row_hessp, row_losses
from skmax import _kernels
from skmax._loss import SoftmaxLoss
from skmax._objective import SoftmaxObjective

RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# (temperature, label_smoothing, focal_gamma): every objective variant
OPTIONS = [
    (1.0, 0.0, 0.0),   # cross-entropy
    (2.5, 0.0, 0.0),   # temperature
    (1.0, 0.2, 0.0),   # label smoothing
    (1.0, 0.0, 2.0),   # focal loss
    (1.0, 0.0, 0.5),   # focal, gamma < 1
    (0.7, 0.1, 1.5),   # everything
]


def _random_options(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (float(rng.uniform(0.3, 3.0)), float(rng.choice([0.0, rng.uniform(0, 0.5)])),
         float(rng.choice([0.0, rng.uniform(0, 3)])))
        for _ in range(n)
    ]


def _logits(n, K, dtype, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    a = (rng.normal(size=(n, K)) * scale).astype(dtype)
    y = rng.integers(0, K, n).astype(np.int32)
    sw = rng.uniform(0.2, 2.0, n)
    return a, y, sw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS + _random_options(6))
@pytest.mark.parametrize("K", [2, 3, 17])
def test_kernel_matches_reference(dtype, options, K):
    T, eps, gamma = options
    a, y, sw = _logits(50, K, dtype)
    raw, proba = a.copy(), np.empty_like(a)
    total = SoftmaxLoss(T, eps, gamma, n_threads=2).loss_gradient(raw, y, sw, proba)
    a64 = a.astype(np.float64)
    rtol = RTOL[dtype]
    np.testing.assert_allclose(total, sw @ row_losses(a64, y, T, eps, gamma), rtol=rtol)
    grad_ref = sw[:, None] * row_gradients(a64, y, T, eps, gamma)
    np.testing.assert_allclose(raw, grad_ref, rtol=rtol, atol=rtol * np.abs(grad_ref).max())
    p_ref = np.exp(a64 / T - a64.max(1, keepdims=True) / T)
    p_ref /= p_ref.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, p_ref, rtol=rtol, atol=1e-300)
    assert raw.dtype == dtype and proba.dtype == dtype


@pytest.mark.parametrize("options", OPTIONS)
def test_reference_gradient_matches_finite_differences(options):
    T, eps, gamma = options
    a, y, _ = _logits(6, 5, np.float64)
    h = 1e-6
    fd = np.empty_like(a)
    for j in range(a.shape[1]):
        e = np.zeros_like(a)
        e[:, j] = h
        fd[:, j] = (row_losses(a + e, y, T, eps, gamma) - row_losses(a - e, y, T, eps, gamma)) / (2 * h)
    np.testing.assert_allclose(row_gradients(a, y, T, eps, gamma), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T", [1.0, 0.6, 3.0])
def test_hessp_kernel_matches_reference(dtype, T):
    a, y, sw = _logits(40, 6, dtype, seed=1)
    v = np.random.default_rng(2).normal(size=a.shape).astype(dtype)
    proba = np.empty_like(a)
    SoftmaxLoss(T, 0.1, 0.0).loss_gradient(a.copy(), y, sw, proba)
    out = v.copy()
    SoftmaxLoss(T, 0.1, 0.0, n_threads=2).hessp(out, proba, sw)
    ref = sw[:, None] * row_hessp(a.astype(np.float64), v.astype(np.float64), T)
    np.testing.assert_allclose(out, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


def test_hessp_rejects_focal():
    with pytest.raises(ValueError, match="focal_gamma"):
        SoftmaxLoss(focal_gamma=1.0).hessp(np.zeros((1, 2)), np.zeros((1, 2)), np.ones(1))


def _problem(n=120, d=7, K=4, dtype=np.float64, sparse=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if sparse:
        X[rng.random(X.shape) < 0.6] = 0.0
        X = sp.csr_matrix(X)
    X = X.astype(dtype)
    y = rng.integers(0, K, n).astype(np.int32)
    sw = rng.uniform(0.1, 2.0, n)
    coef = rng.normal(size=K * (d + 1)) * 0.5
    return X, y, sw, coef


@pytest.mark.parametrize("options", OPTIONS + _random_options(4, seed=3))
@pytest.mark.parametrize("C", [0.3, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_matches_reference_and_finite_differences(options, C, fit_intercept):
    T, eps, gamma = options
    X, y, sw, coef = _problem()
    K, d = 4, X.shape[1]
    if not fit_intercept:
        coef = coef[: K * d]
    obj = SoftmaxObjective(X, y, sw, K, SoftmaxLoss(T, eps, gamma), C=C,
                           fit_intercept=fit_intercept, block_rows=33)
    value, grad = obj.loss_gradient(coef)
    W, b = obj.unpack(coef)

    def f(c):
        Wc, bc = obj.unpack(c)
        return ref_objective(Wc, bc, X, y, sw, C, T, eps, gamma)

    np.testing.assert_allclose(value, f(coef), rtol=1e-12)
    h = 1e-6
    fd = np.array([(f(coef + h * e) - f(coef - h * e)) / (2 * h) for e in np.eye(coef.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_at_zero_weights_matches_reference(dtype, sparse):
    # W = 0 skips the logit product (logits = intercepts): same value, gradient
    # and Hessian product as the reference and as a tiny nonzero W
    X, y, sw, coef = _problem(dtype=dtype, sparse=sparse)
    K, d = 4, X.shape[1]
    coef[: K * d] = 0.0
    obj = SoftmaxObjective(X, y, sw, K, SoftmaxLoss(1.5, 0.1, 0.0), C=0.3, block_rows=33)
    value, grad = obj.loss_gradient(coef)
    W, b = obj.unpack(coef)
    X64 = X.toarray() if sparse else X
    rtol = RTOL[dtype]
    np.testing.assert_allclose(value, ref_objective(W, b, X64.astype(np.float64), y, sw, 0.3,
                                                    1.5, 0.1, 0.0), rtol=rtol)
    nudged = coef.copy()
    nudged[0] = 1e-300          # not zero: the product runs, and adds nothing
    value2, grad2 = obj.loss_gradient(nudged)
    assert value2 == value
    np.testing.assert_array_equal(grad2[1:], grad[1:])
    v = np.random.default_rng(1).normal(size=coef.size)
    v[: K * d] = 0.0            # a direction along the intercepts only
    hv = obj.hessp(coef, v)
    fd = (obj.loss_gradient(coef + 1e-4 * v)[1] - obj.loss_gradient(coef - 1e-4 * v)[1]) / 2e-4
    np.testing.assert_allclose(hv, fd, rtol=1e-3, atol=1e-3 * np.abs(fd).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_hessp_matches_gradient_differences(dtype, sparse):
    X, y, sw, coef = _problem(dtype=dtype, sparse=sparse)
    obj = SoftmaxObjective(X, y, sw, 4, SoftmaxLoss(1.7, 0.1, 0.0), C=0.5, block_rows=50)
    X64 = X.astype(np.float64)
    obj64 = SoftmaxObjective(X64, y, sw, 4, SoftmaxLoss(1.7, 0.1, 0.0), C=0.5)
    v = np.random.default_rng(5).normal(size=coef.size)
    h = 1e-5
    fd = (obj64.loss_gradient(coef + h * v)[1] - obj64.loss_gradient(coef - h * v)[1]) / (2 * h)
    hv = obj.hessp(coef, v)
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(hv, fd, rtol=rtol, atol=rtol * np.abs(fd).max())


@pytest.mark.parametrize("sparse", [False, True])
def test_objective_hessp_in_float32(sparse):
    # float64 X with float32 Hessian products: close to the float64 product,
    # and the float32 copy is made (dense) or skipped (sparse stays as it is)
    X, y, sw, coef = _problem(sparse=sparse)
    exact = SoftmaxObjective(X, y, sw, 4, SoftmaxLoss(1.7, 0.1, 0.0), C=0.5)
    low = SoftmaxObjective(X, y, sw, 4, SoftmaxLoss(1.7, 0.1, 0.0), C=0.5, block_rows=50)
    v = np.random.default_rng(5).normal(size=coef.size)
    ref = exact.hessp(coef, v)
    hv = low.hessp(coef, v, dtype=np.float32)
    assert hv.dtype == np.float64
    if sparse:
        assert low._X32 is None
        np.testing.assert_allclose(hv, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    else:
        assert low._X32.dtype == np.float32
        np.testing.assert_allclose(hv, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
        assert not np.allclose(hv, ref, rtol=1e-12, atol=0)   # really float32
    # a new point refreshes the stored probabilities
    coef2 = coef + 0.3
    np.testing.assert_allclose(low.hessp(coef2, v, np.float32), exact.hessp(coef2, v), rtol=1e-5,
                               atol=1e-5 * np.abs(ref).max())
    # the gradient stays float64-exact
    np.testing.assert_allclose(low.loss_gradient(coef)[1], exact.loss_gradient(coef)[1],
                               rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("C", [0.3, np.inf])
def test_zero_columns_compacted(dtype, C):
    # all-zero columns are dropped from the products; value, gradient and
    # Hessian product (low precision too) still match the reference at a W
    # that is nonzero on those columns (a warm start), where only the penalty acts
    X, y, sw, coef = _problem(dtype=dtype)
    K, d = 4, X.shape[1]
    X = X.copy()
    X[:, [0, 3]] = 0.0
    obj = SoftmaxObjective(X, y, sw, K, SoftmaxLoss(1.5, 0.1, 0.0), C=C, block_rows=33)
    np.testing.assert_array_equal(obj._columns, [1, 2, 4, 5, 6])
    assert obj.X.shape == (X.shape[0], 5) and obj.X.flags.c_contiguous
    full = SoftmaxObjective(X, y, sw, K, SoftmaxLoss(1.5, 0.1, 0.0), C=C, block_rows=33)
    full._columns, full.X = None, X          # the same objective, not compacted
    rtol = RTOL[dtype] * 10
    for c in (coef, np.where(np.arange(coef.size) < K * d, 0.0, coef)):
        value, grad = obj.loss_gradient(c)
        W, b = obj.unpack(c)
        np.testing.assert_allclose(
            value, ref_objective(W, b, X.astype(np.float64), y, sw, C, 1.5, 0.1, 0.0), rtol=rtol)
        ref_value, ref_grad = full.loss_gradient(c)
        np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=rtol * np.abs(ref_grad).max())
        v = np.random.default_rng(2).normal(size=c.size)
        for low in (None, np.float32):
            hv, ref_hv = obj.hessp(c, v, low), full.hessp(c, v, low)
            np.testing.assert_allclose(hv, ref_hv, rtol=1e-5, atol=1e-5 * np.abs(ref_hv).max())
        np.testing.assert_allclose(obj.unpack(hv)[0][:, [0, 3]],
                                   obj.unpack(v)[0][:, [0, 3]] * obj.l2 * obj.scale)
    # below a tenth of zero columns, or none at all: X is used as it is
    X[:, 0] = 1.0
    X[:, 3] = 1.0
    assert SoftmaxObjective(X, y, sw, K, SoftmaxLoss())._columns is None
    X[:] = 0.0
    obj = SoftmaxObjective(X, y, sw, K, SoftmaxLoss(), C=C)
    assert obj.X.shape == (X.shape[0], 0)
    value, grad = obj.loss_gradient(coef)
    np.testing.assert_allclose(grad[: K * d], obj.l2 * obj.scale * coef[: K * d])
    assert np.isfinite(value)


def test_float32_copy_made_by_the_workers():
    # each worker converts its own row chunk; the copy is C-ordered and exact
    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.normal(size=(30000, 30)))
    y = rng.integers(0, 3, size=30000)
    with SoftmaxObjective(X, y, np.ones(30000), 3, SoftmaxLoss(), n_threads=2) as obj:
        assert len(obj._chunks) == 2
        X32 = obj._float32_copy()
    assert X32.dtype == np.float32 and X32.flags.c_contiguous
    np.testing.assert_array_equal(X32, X.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gamma", [0.0, 1.0])
def test_objective_same_for_blocks_threads_and_sparse(dtype, gamma):
    # the compiled dense sweep (any block size, one or two threads, any memory
    # order of X) and the sparse path give the same value, gradient and
    # Hessian product
    X, y, sw, coef = _problem(n=1000, dtype=dtype)
    vector = np.random.default_rng(5).normal(size=coef.size)
    loss = SoftmaxLoss(1.3, 0.05, gamma)
    base = SoftmaxObjective(X, y, sw, 4, loss, block_rows=1000)
    base_v, base_g = base.loss_gradient(coef)
    base_h = base.hessp(coef, vector) if loss.is_convex else None
    rtol = RTOL[dtype] * 10
    variants = [(X, dict(block_rows=1)), (X, dict(block_rows=7)),
                (X, dict(block_rows=7, n_threads=2)), (X, dict(n_threads=2)),
                (np.asfortranarray(X), dict(block_rows=64, n_threads=2))]
    variants += [(sp.csr_matrix(X).asformat(fmt), dict(n_threads=2)) for fmt in ["csr", "csc"]]
    for data, kwargs in variants:
        with SoftmaxObjective(data, y, sw, 4, loss, **kwargs) as obj:
            v, g = obj.loss_gradient(coef)
            h = obj.hessp(coef, vector) if loss.is_convex else None
        np.testing.assert_allclose(v, base_v, rtol=rtol)
        np.testing.assert_allclose(g, base_g, rtol=rtol, atol=rtol * np.abs(base_g).max())
        if h is not None:
            np.testing.assert_allclose(h, base_h, rtol=rtol, atol=rtol * np.abs(base_h).max())


def test_dense_sweep_rejects_mismatched_buffers():
    X = np.ones((10, 3))
    sw, y = np.ones(10), np.zeros(10, dtype=np.int32)
    ok = dict(acc_W=np.zeros((2, 2, 3)), acc_b=np.zeros((2, 2)),
              bounds=np.array([0, 5, 10], dtype=np.intp), block_rows=4)
    W, b = np.ones((2, 3)), np.zeros(2)
    assert _kernels.dense_sweep(X, W, b, y, sw, None, **ok) > 0
    bad = [dict(acc_W=np.zeros((1, 2, 3))), dict(acc_b=np.zeros((1, 2))),
           dict(bounds=np.array([0, 5, 9], dtype=np.intp))]
    for change in bad:
        with pytest.raises(ValueError):
            _kernels.dense_sweep(X, W, b, y, sw, None, **{**ok, **change})
    with pytest.raises(ValueError, match="proba"):
        _kernels.dense_sweep(X, W, b, y, sw, None, **ok, hessian=True)
    with pytest.raises(ValueError, match="block_rows"):
        _kernels.dense_sweep(X, W, b, y, sw, None, **{**ok, "block_rows": 0})
    with pytest.raises(ValueError):
        _kernels.dense_sweep(X, np.ones((2, 4)), b, y, sw, None, **ok)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float32, 3e38)])
@pytest.mark.parametrize("options", OPTIONS)
def test_extreme_logits_stay_finite(dtype, big, options):
    T, eps, gamma = options
    a = np.array([[big, -big, 0.0], [-big, big, big], [0.0, 0.0, -big], [big, big, big]],
                 dtype=dtype)
    y = np.array([0, 0, 2, 1], dtype=np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for take_log in (False, True):
            out = a.copy()
            _kernels.softmax(out, 1.0 / T, take_log, 2)
            assert np.all(np.isfinite(out))
            if not take_log:
                np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-6)
        raw = a.copy()
        total = SoftmaxLoss(T, eps, gamma).loss_gradient(raw, y, np.ones(4))
    assert np.isfinite(total) and np.all(np.isfinite(raw))
    # a confident, correct row has (almost) zero loss and gradient
    assert np.abs(raw[0]).max() <= (eps + 1e-6) / T


def test_log_softmax_keeps_precision_of_tiny_probabilities():
    out = np.array([[0.0, -800.0]])
    _kernels.softmax(out, 1.0, True, 1)
    np.testing.assert_allclose(out, [[0.0, -800.0]], rtol=1e-15)
    p = np.array([[0.0, -40.0]])
    _kernels.softmax(p, 1.0, False, 1)
    np.testing.assert_allclose(p[0, 1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-14)


def test_kernels_do_not_touch_their_read_only_inputs():
    a, y, sw = _logits(10, 3, np.float64)
    y.setflags(write=False)
    sw.setflags(write=False)
    SoftmaxLoss().loss_gradient(a, y, sw)      # read-only y and sw are accepted


def test_openmp_info():
    assert _kernels.openmp_max_threads() >= 1
    assert isinstance(_kernels.built_with_openmp(), bool)


def test_exp_dispatch_copies_agree():
    # the AVX2 + FMA copy of the exp loop (picked at run time on x86-64) and the
    # portable copy (forced with SKMAX_NO_AVX2) give the same kernel results
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, numpy as np\n"
        "from skmax import _kernels\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.normal(scale=30, size=(50, 17)); y = rng.integers(0, 17, 50).astype(np.int32)\n"
        "p = np.empty_like(a)\n"
        "v = _kernels.loss_gradient(a, y, np.ones(50), 0.7, 0.1, 0.0, p, 1)\n"
        "print(json.dumps([_kernels.exp_uses_avx2(), v, a.tolist(), p.tolist()]))\n"
    )
    env = dict(os.environ, SKMAX_NO_AVX2="1")
    # run beside the skmax this process imported (installed or built in place),
    # not beside a source tree without the compiled module
    here = os.path.dirname(os.path.dirname(os.path.abspath(_kernels.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=here, check=True).stdout
    avx2, value, grad, proba = json.loads(out)
    assert avx2 is False
    rng = np.random.default_rng(0)
    a = rng.normal(scale=30, size=(50, 17))
    y = rng.integers(0, 17, 50).astype(np.int32)
    p = np.empty_like(a)
    v = _kernels.loss_gradient(a, y, np.ones(50), 0.7, 0.1, 0.0, p, 1)
    np.testing.assert_allclose(v, value, rtol=1e-14)
    np.testing.assert_allclose(a, grad, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(p, proba, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_agree_for_every_thread_count(dtype):
    # every thread writes its own slice of one scratch buffer; 0 means
    # OpenMP's default team (the buffer is sized for it)
    a, y, sw = _logits(203, 13, dtype, seed=3)
    cand = np.array([0, 2, 5, 7, 11], dtype=np.int32)
    log_q = np.linspace(-1.0, 1.0, len(cand))

    def run(n_threads):
        grad = a.copy()
        loss = _kernels.loss_gradient(grad, y, sw, 0.7, 0.1, 1.5, None, n_threads)
        proba = a.copy()
        _kernels.softmax(proba, 0.7, False, n_threads)
        nll = _kernels.temperature_nll(a, y, sw, 0.7, n_threads)
        sampled = a.copy()
        sampled_loss = _kernels.sampled_loss_gradient(
            sampled, np.minimum(y, 12).astype(np.int32), cand, log_q, sw, 0.7, 0.1, 1.5,
            True, n_threads)
        return [loss, grad, proba, *nll, sampled_loss, sampled]

    serial = run(1)
    for n_threads in (0, 2, 3, 8):
        for got, want in zip(run(n_threads), serial):
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype] * 10)
