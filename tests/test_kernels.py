"""Compiled kernels against the numpy oracle ``tests/reference.py``.

float64 agrees to ~1e-12 and float32 to ~1e-5 relative, for 1, 2 and 3 threads;
extreme logits stay finite.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from cases import OPTIONS, RTOL, random_logits, random_options

from skmax import _kernels, _minibatch_kernels, _sparse_kernels, _temperature_kernels

import reference as ref
from reference import row_gradients, row_hessp, row_losses

THREADS = [1, 2, 3]
CATCH_UP = _minibatch_kernels.adam_catch_up_table(0.9, 0.999)


def _params(T, eps, gamma):
    return dict(inv_T=1.0 / T, eps=eps, gamma=gamma)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS + random_options(6))
@pytest.mark.parametrize("K", [2, 3, 17, 40])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_kernel_matches_reference(dtype, options, K, n_threads):
    T, eps, gamma = options
    a, y, sw = random_logits(50, K, dtype)
    raw, proba = a.copy(), np.empty_like(a)
    total = _kernels.loss_gradient(raw, y, sw, proba, n_threads=n_threads,
                                   **_params(T, eps, gamma))
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
    a, y, _ = random_logits(6, 5, np.float64)
    h = 1e-6
    fd = np.empty_like(a)
    for j in range(a.shape[1]):
        e = np.zeros_like(a)
        e[:, j] = h
        diff = row_losses(a + e, y, T, eps, gamma) - row_losses(a - e, y, T, eps, gamma)
        fd[:, j] = diff / (2 * h)
    np.testing.assert_allclose(row_gradients(a, y, T, eps, gamma), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T", [1.0, 0.6, 3.0])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_hessp_kernel_matches_reference(dtype, T, n_threads):
    a, y, sw = random_logits(40, 6, dtype, seed=1)
    v = np.random.default_rng(2).normal(size=a.shape).astype(dtype)
    proba = np.empty_like(a)
    _kernels.loss_gradient(a.copy(), y, sw, proba, **_params(T, 0.1, 0.0))
    out = v.copy()
    _kernels.hessp(out, proba, sw, 1.0 / T, n_threads)
    ref = sw[:, None] * row_hessp(a.astype(np.float64), v.astype(np.float64), T)
    np.testing.assert_allclose(out, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * np.abs(ref).max())


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
        total = _kernels.loss_gradient(raw, y, np.ones(4), **_params(T, eps, gamma))
    assert np.isfinite(total) and np.all(np.isfinite(raw))
    # a confident, correct row has (almost) zero loss and gradient
    assert np.abs(raw[0]).max() <= (eps + 1e-6) / T


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [3, 17, 40])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_dominant_label_keeps_precision_of_one_minus_p(dtype, K, eps):
    # a confident, correct row: 1 - p_y is ~1e-12 and the label's gradient
    # entry (p_y - q_y) must keep its relative precision, in float32 too
    # (the float32 row computes the label's entry from the rest of the sum)
    a = np.zeros((4, K), dtype=dtype)
    a[:, 1] = [30.0, 20.0, 25.0, 28.0]
    y = np.ones(4, dtype=np.int32)
    raw, proba = a.copy(), np.empty_like(a)
    total = _kernels.loss_gradient(raw, y, np.ones(4), proba, **_params(1.0, eps, 0.0))
    # exact forms (the reference's log-sum-exp loses these to cancellation)
    rest = (K - 1) * np.exp(-a[:, 1].astype(np.float64))
    losses = np.log1p(rest) + eps / K * (K - 1) * a[:, 1].astype(np.float64)
    np.testing.assert_allclose(total, losses.sum(), rtol=RTOL[dtype])
    label_grad = -rest / (1 + rest) + eps - eps / K
    np.testing.assert_allclose(raw[:, 1], label_grad, rtol=RTOL[dtype])
    np.testing.assert_allclose(proba[:, 0], np.exp(-a[:, 1].astype(np.float64)) / (1 + rest),
                               rtol=RTOL[dtype])


def test_log_softmax_keeps_precision_of_tiny_probabilities():
    out = np.array([[0.0, -800.0]])
    _kernels.softmax(out, 1.0, True, 1)
    np.testing.assert_allclose(out, [[0.0, -800.0]], rtol=1e-15)
    p = np.array([[0.0, -40.0]])
    _kernels.softmax(p, 1.0, False, 1)
    np.testing.assert_allclose(p[0, 1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-14)


def test_openmp_info():
    assert _kernels.openmp_max_threads() >= 1
    assert isinstance(_kernels.built_with_openmp(), bool)


_DISPATCH_CODE = """
import json, numpy as np
from skmax import _kernels

def rows(K, dtype):
    # random rows, and rows with ties at the max, -inf entries, a huge spread
    rng = np.random.default_rng(K)
    a = rng.normal(scale=30, size=(40, K))
    a[1] = a[1, 0]
    a[2, ::2] = a[2].max()
    a[3, 1:] = -np.inf
    a[4, : K // 2] = -1e300 if dtype == np.float64 else -3e38
    a[5] *= 1e-20
    return a.astype(dtype), rng.integers(0, K, 40).astype(np.int32)

out = {"avx2": _kernels.exp_uses_avx2()}
for dtype in (np.float64, np.float32):
    for K in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100):
        a, y = rows(K, dtype)
        p = np.empty_like(a)
        v = _kernels.loss_gradient(a, y, np.ones(40), p, inv_T=0.7, eps=0.1, gamma=0.0)
        out[f"{np.dtype(dtype).name} {K}"] = [v, a.astype(float).tolist(),
                                               p.astype(float).tolist()]
print(json.dumps(out))
"""


def _kernel_results(disabled):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("SKMAX_NO_AVX2", None)
    env.pop("SKMAX_NO_AVX512", None)
    if disabled:
        env[disabled] = "1"
    # run beside the skmax this process imported (installed or built in place),
    # not beside a source tree without the compiled module
    here = os.path.dirname(os.path.dirname(os.path.abspath(_kernels.__file__)))
    out = subprocess.run([sys.executable, "-c", _DISPATCH_CODE], capture_output=True,
                         text=True, env=env, cwd=here, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("disabled", ["SKMAX_NO_AVX2", "SKMAX_NO_AVX512"])
def test_dispatch_copies_agree(disabled):
    # the row head's copies (portable, AVX2 and AVX-512 intrinsics, picked at
    # run time on x86-64) give the same kernel results at every row length,
    # masked tails, ties at the max, -inf entries and huge spreads included
    ref, other = _kernel_results(None), _kernel_results(disabled)
    if disabled == "SKMAX_NO_AVX2":
        assert other.pop("avx2") is False
    else:
        other.pop("avx2")
    ref.pop("avx2")
    assert ref.keys() == other.keys()
    for key, (value, grad, proba) in ref.items():
        # float32 rows compute in float (FMA contraction differs between copies)
        rtol, atol = (1e-13, 1e-300) if key.startswith("float64") else (1e-5, 1e-8)
        np.testing.assert_allclose(other[key][0], value, rtol=rtol, err_msg=key)
        np.testing.assert_allclose(other[key][1], grad, rtol=rtol, atol=atol, err_msg=key)
        np.testing.assert_allclose(other[key][2], proba, rtol=rtol, atol=atol, err_msg=key)
        # (the loss may be inf: a label whose logit is -inf has probability 0)
        assert np.all(np.isfinite(proba)), key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_agree_for_every_thread_count(dtype):
    # every thread writes its own slice of one scratch buffer; 0 means
    # OpenMP's default team (the buffer is sized for it)
    a, y, sw = random_logits(203, 13, dtype, seed=3)
    cand = np.array([0, 2, 5, 7, 11], dtype=np.int32)
    log_q = np.linspace(-1.0, 1.0, len(cand))

    def run(n_threads):
        grad = a.copy()
        loss = _kernels.loss_gradient(grad, y, sw, None, inv_T=0.7, eps=0.1, gamma=1.5,
                                      n_threads=n_threads)
        proba = a.copy()
        _kernels.softmax(proba, 0.7, False, n_threads)
        nll = _temperature_kernels.temperature_nll(a, y, sw, 0.7, n_threads)
        sampled = a.copy()
        sampled_loss = _minibatch_kernels.sampled_loss_gradient(
            sampled, np.minimum(y, 12).astype(np.int32), cand, log_q, sw, inv_T=0.7, eps=0.1,
            gamma=1.5, n_threads=n_threads)
        return [loss, grad, proba, *nll, sampled_loss, sampled]

    serial = run(1)
    for n_threads in (0, 2, 3, 8):
        for got, want in zip(run(n_threads), serial):
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype] * 10)


def _sampled_problem(dtype, n=30, C=9, seed=4):
    """Logits over C reduced columns, true columns, and candidates that include
    some rows' true columns (accidental hits)."""
    rng = np.random.default_rng(seed)
    a = (rng.normal(size=(n, C)) * 3).astype(dtype)
    true_col = rng.integers(0, C, n).astype(np.int32)
    cand_col = np.array([0, 2, 3, 5, 8], dtype=np.int32)
    log_q = rng.normal(size=len(cand_col))
    sw = rng.uniform(0.2, 2.0, n)
    return a, true_col, cand_col, log_q, sw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("remove", [True, False])
@pytest.mark.parametrize("n_threads", THREADS)
def test_sampled_kernel_matches_reference(dtype, options, remove, n_threads):
    T, eps, gamma = options
    a, true_col, cand_col, log_q, sw = _sampled_problem(dtype)
    G = a.copy()
    total = _minibatch_kernels.sampled_loss_gradient(
        G, true_col, cand_col, log_q, sw, remove_accidental_hits=remove,
        n_threads=n_threads, **_params(T, eps, gamma))
    losses, grads = ref.sampled_row_losses_gradients(
        a.astype(np.float64), true_col, cand_col, log_q, T, eps, gamma, remove)
    rtol = RTOL[dtype]
    np.testing.assert_allclose(total, sw @ losses, rtol=rtol)
    want = sw[:, None] * grads
    np.testing.assert_allclose(G, want, rtol=rtol, atol=rtol * np.abs(want).max())
    assert G.dtype == dtype


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float32, 3e38)])
def test_sampled_kernel_extreme_logits_stay_finite(dtype, big):
    a = np.array([[big, -big, 0.0], [-big, big, big]], dtype=dtype)
    G = a.copy()
    total = _minibatch_kernels.sampled_loss_gradient(
        G, np.array([0, 1], dtype=np.int32), np.array([1, 2], dtype=np.int32), np.zeros(2),
        np.ones(2), **_params(0.7, 0.1, 1.5))
    assert np.isfinite(total) and np.all(np.isfinite(G))


def test_sampled_kernel_rejects_out_of_range_columns():
    a, true_col, cand_col, log_q, sw = _sampled_problem(np.float64)
    with pytest.raises(ValueError, match="cand_col"):
        _minibatch_kernels.sampled_loss_gradient(
            a, true_col, cand_col + 9, log_q, sw, **_params(1.0, 0.0, 0.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("beta", [0.05, 0.7, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", THREADS)
def test_temperature_nll_matches_reference(dtype, beta, weighted, n_threads):
    a, y, sw = random_logits(60, 7, dtype, scale=4.0, seed=5)
    sw = sw if weighted else None
    got = _temperature_kernels.temperature_nll(a, y, sw, beta, n_threads)
    want = ref.temperature_nll(a, y, sw, beta)
    # F' and F'' are sums of terms of both signs: compare at the scale of the terms
    scale = ref.temperature_nll(np.abs(a), y, sw, beta)
    for g, w, s in zip(got, want, scale):
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype], atol=RTOL[dtype] * abs(s))


def test_reference_temperature_derivatives_match_finite_differences():
    a, y, sw = random_logits(20, 5, np.float64, seed=6)
    h = 1e-5
    f, g, H = ref.temperature_nll(a, y, sw, 0.8)
    fp, gp, _ = ref.temperature_nll(a, y, sw, 0.8 + h)
    fm, gm, _ = ref.temperature_nll(a, y, sw, 0.8 - h)
    np.testing.assert_allclose(g, (fp - fm) / (2 * h), rtol=1e-7)
    np.testing.assert_allclose(H, (gp - gm) / (2 * h), rtol=1e-7)


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float32, 3e38)])
def test_temperature_nll_extreme_scores_stay_finite(dtype, big):
    a = np.array([[big, -big, 0.0], [0.0, big, big]], dtype=dtype)
    values = _temperature_kernels.temperature_nll(a, np.array([0, 2], dtype=np.int32), None, 1.0)
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", THREADS)
def test_row_spread_matches_numpy(dtype, n_threads):
    a, _, _ = random_logits(50, 6, dtype, seed=7)
    out = np.empty(50)
    _temperature_kernels.row_spread(a, out, n_threads)
    np.testing.assert_array_equal(out, np.ptp(a.astype(np.float64), axis=1))
    # with labels, the same pass says whether each label holds a row maximum
    y = np.argmax(a, axis=1).astype(np.int32)
    y[::3] = (y[::3] + 1) % 6          # a third of the rows: not the maximum
    a[1, :] = a[1, 0]                   # ties: every label is a maximum
    label_max = np.empty(50, dtype=np.uint8)
    _temperature_kernels.row_spread(a, out, n_threads, y, label_max)
    want = a[np.arange(50), y] >= a.max(axis=1)
    np.testing.assert_array_equal(label_max.astype(bool), want)
    assert 0 < want.sum() < 50
    # and whether each row is finite (NaN may hide from the min and max)
    finite = np.empty(50, dtype=np.uint8)
    a[[0, 17, 49], [2, 0, 5]] = [np.nan, np.inf, -np.inf]
    _temperature_kernels.row_spread(a, out, n_threads, None, None, finite)
    np.testing.assert_array_equal(finite.astype(bool), np.isfinite(a).all(axis=1))
    np.testing.assert_array_equal(out[finite == 1],
                                  np.ptp(a[finite == 1].astype(np.float64), axis=1))


def _block_problem(dtype, seed=8):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(6, 9)).astype(dtype)
    m = rng.normal(size=W.shape).astype(dtype)
    v = rng.uniform(0.0, 2.0, size=W.shape).astype(dtype)
    rows = np.array([4, 0, 2], dtype=np.intp)
    cols = np.array([1, 8, 3, 5], dtype=np.intp)
    gT = rng.normal(size=(len(cols), len(rows))).astype(dtype)
    return W, m, v, rows, cols, gT


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", THREADS)
def test_block_updates_match_reference(dtype, n_threads):
    W, m, v, rows, cols, gT = _block_problem(dtype)
    rtol = RTOL[dtype]
    out = np.empty_like(gT)
    _minibatch_kernels.gather_block_t(W, rows, cols, out, n_threads)
    np.testing.assert_array_equal(out, W[np.ix_(rows, cols)].T)

    W1 = W.copy()
    _minibatch_kernels.axpy_block_t(W1, rows, cols, gT, -0.3, n_threads)
    np.testing.assert_allclose(W1, ref.sgd_block_update(W, rows, cols, gT, -0.3), rtol=rtol)

    untouched = np.ones(W.shape, dtype=bool)
    untouched[np.ix_(rows, cols)] = False
    # entries last updated at step 0 (never: m = v = 0), just before, or long ago
    last = np.random.default_rng(0).choice([0, 8, 9, 3, 1], size=W.shape).astype(np.int32)
    m[last == 0], v[last == 0] = 0, 0
    for t, eps in [(10, 1e-8), (10, 0.0), (40_000, 0.0)]:
        W2, m2, v2, last2 = W.copy(), m.copy(), v.copy(), last.copy()
        if t > 10:
            last2[last > 0] += t - 10
        args = (0.05, 0.01, t, 0.9, 0.999, eps)    # lam, lr, t, beta1, beta2, eps
        want = ref.adam_block_update(W2, m2, v2, last2, rows, cols, gT, *args)
        _minibatch_kernels.adam_block_t(W2, m2, v2, last2, rows, cols, gT, CATCH_UP,
                                        *args, n_threads)
        np.testing.assert_array_equal(last2, want[3])
        # eps > 0: only the entries that skipped no step match to rounding
        exact = (last2 == t) & ((last == 9) | (last == 0) | (eps == 0))
        for got, expected in zip((W2, m2, v2), want[:3]):
            np.testing.assert_allclose(got[exact], expected[exact], rtol=rtol,
                                       atol=rtol * np.abs(expected).max())
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(W2[untouched], W[untouched])


def test_adam_catch_up_table_is_the_bias_corrected_series():
    beta1, beta2, s = 0.9, 0.999, 5
    r = beta1 / np.sqrt(beta2)
    steps = np.arange(s + 1, s + 2000)
    series = np.sum(np.sqrt(1 - beta2 ** steps) / (1 - beta1 ** steps) * r ** (steps - s))
    np.testing.assert_allclose(CATCH_UP[s], series, rtol=1e-12)
    np.testing.assert_allclose(CATCH_UP[-1], r / (1 - r), rtol=1e-12)


def test_block_updates_reject_mismatched_blocks():
    W, m, v, rows, cols, gT = _block_problem(np.float64)
    with pytest.raises(ValueError, match="gt"):
        _minibatch_kernels.axpy_block_t(W, rows, cols, gT.T.copy(), 1.0)
    with pytest.raises(ValueError, match="gt"):
        _minibatch_kernels.adam_block_t(W, m, v, np.zeros(W.shape, np.int32), rows, cols[:2],
                                        gT, CATCH_UP, 0.0, 0.1, 1, 0.9, 0.999, 1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_sparse_products_match_scipy(dtype, n_threads):
    # the three products of _sparse_kernels against scipy.sparse, on a matrix
    # with empty rows and columns, every thread count

    rng = np.random.default_rng(0)
    n, d, K = 203, 150, 9
    X = sp.random(n, d, density=0.03, format="csr", random_state=1, dtype=dtype)
    B = rng.normal(size=(d, K)).astype(dtype)
    b = rng.normal(size=K).astype(dtype)
    G = rng.normal(size=(n, K)).astype(dtype)
    ip, ix = X.indptr.astype(np.intp), X.indices.astype(np.intp)
    Xc = X.tocsc()
    rtol = RTOL[dtype] * 10

    out = np.empty((n, K), dtype=dtype)
    _sparse_kernels.csr_dense(ip, ix, X.data, B, b, out, n_threads)
    want = X.astype(np.float64) @ B.astype(np.float64) + b
    np.testing.assert_allclose(out, want, rtol=rtol, atol=rtol * np.abs(want).max())
    _sparse_kernels.csr_dense(ip, ix, X.data, B, None, out, n_threads)
    np.testing.assert_allclose(out, want - b, rtol=rtol, atol=rtol * np.abs(want).max())

    want = (X.T.astype(np.float64) @ G.astype(np.float64)).T
    grad = np.empty((K, d))
    _sparse_kernels.csc_dense(Xc.indptr.astype(np.intp), Xc.indices.astype(np.intp), Xc.data,
                              G, grad, n_threads)
    np.testing.assert_allclose(grad, want, rtol=rtol, atol=rtol * np.abs(want).max())
    # rows 50..203 in n_threads parts, added to what the accumulators hold
    acc = np.ones((n_threads, d, K), dtype=dtype)
    bounds = np.linspace(0, n - 50, n_threads + 1).astype(np.intp)
    _sparse_kernels.csr_t_dense(ip[50:], ix, X.data, G[50:], acc, bounds)
    want = (X[50:].T.astype(np.float64) @ G[50:].astype(np.float64)) + n_threads
    np.testing.assert_allclose(acc.sum(axis=0), want, rtol=rtol, atol=rtol * np.abs(want).max())
    with pytest.raises(ValueError, match="agree in shape"):
        _sparse_kernels.csr_dense(ip[:-1], ix, X.data, B, b, out, n_threads)
