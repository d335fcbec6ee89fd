"""The penalised objective against the numpy reference and finite differences."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from cases import OPTIONS, RTOL, random_options

from skmax._loss import SoftmaxLoss
from skmax._objective import _CHUNKS_PER_THREAD, SoftmaxObjective

from reference import objective as ref_objective


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


@pytest.mark.parametrize("options", OPTIONS + random_options(4, seed=3))
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
    # the workers convert the row chunks; the copy is C-ordered and exact
    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.normal(size=(30000, 30)))
    y = rng.integers(0, 3, size=30000)
    with SoftmaxObjective(X, y, np.ones(30000), 3, SoftmaxLoss(), n_threads=2) as obj:
        assert obj.n_threads == 2 and len(obj._chunks) == 2 * _CHUNKS_PER_THREAD
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
    variants += [(sp.csr_matrix(X).asformat(fmt), dict(n_threads=t))
                 for fmt in ["csr", "csc"] for t in (1, 2, 3)]
    for data, kwargs in variants:
        with SoftmaxObjective(data, y, sw, 4, loss, **kwargs) as obj:
            v, g = obj.loss_gradient(coef)
            h = obj.hessp(coef, vector) if loss.is_convex else None
        np.testing.assert_allclose(v, base_v, rtol=rtol)
        np.testing.assert_allclose(g, base_g, rtol=rtol, atol=rtol * np.abs(base_g).max())
        if h is not None:
            np.testing.assert_allclose(h, base_h, rtol=rtol, atol=rtol * np.abs(base_h).max())


def test_objective_pickles_while_open():
    # a later issue ships objectives to other processes: the BLAS limiter and
    # the worker pool stay behind, the clone evaluates the same
    X, y, sw, coef = _problem()
    with SoftmaxObjective(X, y, sw, 4, SoftmaxLoss(), n_threads=2) as obj:
        value, grad = obj.loss_gradient(coef)
        clone = pickle.loads(pickle.dumps(obj))
    assert clone._executor is None and clone._limits is None
    value2, grad2 = clone.loss_gradient(coef)
    np.testing.assert_allclose(value2, value, rtol=1e-12)
    np.testing.assert_allclose(grad2, grad, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("mode", ["by features", "by rows", "by row chunks"])
def test_sparse_objective_matches_dense_in_every_gradient_form(monkeypatch, dtype, n_threads,
                                                               mode):
    # wide sparse X takes G.T @ X over a CSC copy (more features than rows per
    # thread); low_memory takes it by rows, in chunks when the logits are long
    import skmax._objective as objective

    rng = np.random.default_rng(3)
    n, d, K = 50, 400, 5
    X = sp.random(n, d, density=0.05, format="csr", random_state=4, dtype=np.float64)
    keep = np.ones(n)
    keep[7] = 0     # an empty row (and many empty columns)
    X = sp.csr_matrix(sp.diags(keep) @ X, dtype=dtype)
    y = rng.integers(0, K, n).astype(np.int32)
    sw = rng.uniform(0.5, 2.0, n)
    coef = rng.normal(size=K * (d + 1))
    vector = rng.normal(size=coef.size)
    if mode == "by row chunks":
        monkeypatch.setattr(objective, "_SPARSE_CHUNK_BYTES", 7 * K * X.dtype.itemsize)
    loss = SoftmaxLoss(1.3, 0.05, 0.0)
    dense = SoftmaxObjective(X.toarray(), y, sw, K, loss)
    want_v, want_g = dense.loss_gradient(coef)
    want_h = dense.hessp(coef, vector)
    with SoftmaxObjective(X, y, sw, K, loss, n_threads=n_threads,
                          low_memory=mode != "by features") as obj:
        assert (obj._csc is not None) == (mode == "by features")
        v, g = obj.loss_gradient(coef)
        h = obj.hessp(coef, vector)
    rtol = RTOL[dtype] * 10
    np.testing.assert_allclose(v, want_v, rtol=rtol)
    np.testing.assert_allclose(g, want_g, rtol=rtol, atol=rtol * np.abs(want_g).max())
    np.testing.assert_allclose(h, want_h, rtol=rtol, atol=rtol * np.abs(want_h).max())


def test_sparse_objective_rejects_indices_outside_the_matrix():
    X = sp.csr_matrix((np.ones(2), np.array([0, 5]), np.array([0, 1, 2])), shape=(2, 3))
    with pytest.raises(ValueError, match="outside its shape"):
        SoftmaxObjective(X, np.array([0, 1]), np.ones(2), 2, SoftmaxLoss())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("soft", [False, True])
def test_sparse_objective_by_dense_row_chunks(monkeypatch, dtype, n_threads, fit_intercept,
                                              soft):
    # few features, many nonzeros per row: the dense sweep on dense copies of
    # row chunks (note 10); here 6 chunks of 7 rows and a short last one
    import skmax._objective as objective

    rng = np.random.default_rng(5)
    n, d, K = 40, 12, 6
    X = sp.random(n, d, density=0.5, format="csr", random_state=6, dtype=np.float64)
    X = sp.csr_matrix(X, dtype=dtype)
    y = rng.dirichlet(np.ones(K), n) if soft else rng.integers(0, K, n).astype(np.int32)
    sw = rng.uniform(0.5, 2.0, n)
    coef = rng.normal(size=K * (d + int(fit_intercept)))
    vector = rng.normal(size=coef.size)
    monkeypatch.setattr(objective, "_DENSE_CHUNK_BYTES", 7 * d * X.dtype.itemsize)
    loss = SoftmaxLoss(0.8, 0.1, 0.0)
    dense = SoftmaxObjective(X.toarray(), y, sw, K, loss, fit_intercept=fit_intercept)
    want_v, want_g = dense.loss_gradient(coef)
    want_h = dense.hessp(coef, vector)
    with SoftmaxObjective(X, y, sw, K, loss, n_threads=n_threads,
                          fit_intercept=fit_intercept) as obj:
        assert obj._dense_chunk_rows == 7 and obj._csc is None
        v, g = obj.loss_gradient(coef)
        h = obj.hessp(coef, vector)
        state = pickle.loads(pickle.dumps(obj))     # without its scratch buffer
        assert state._dense_chunk is None
        assert np.isclose(state.loss_gradient(coef)[0], v, rtol=1e-12)
    rtol = RTOL[dtype] * 10
    np.testing.assert_allclose(v, want_v, rtol=rtol)
    np.testing.assert_allclose(g, want_g, rtol=rtol, atol=rtol * np.abs(want_g).max())
    np.testing.assert_allclose(h, want_h, rtol=rtol, atol=rtol * np.abs(want_h).max())
    # text-like X keeps the sparse products
    wide = sp.random(n, 400, density=0.02, format="csr", random_state=7, dtype=dtype)
    assert SoftmaxObjective(wide, y, sw, K, loss)._dense_chunk_rows == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_rows_to_dense_adds_duplicates_and_takes_any_rows(dtype):
    from skmax import _sparse_kernels

    # row 1 holds column 2 twice (non-canonical CSR), row 2 is empty
    indptr = np.array([0, 2, 5, 5, 6], dtype=np.intp)
    indices = np.array([0, 3, 2, 1, 2, 3], dtype=np.intp)
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=dtype)
    X = sp.csr_matrix((data, indices, indptr), shape=(4, 4))
    for lo, m, threads in [(0, 4, 1), (1, 2, 2), (3, 1, 2), (2, 0, 1)]:
        out = np.full((m, 4), np.nan, dtype=dtype)
        _sparse_kernels.csr_rows_to_dense(indptr, indices, data, lo, out, threads)
        np.testing.assert_array_equal(out, X[lo:lo + m].toarray())
    with pytest.raises(ValueError, match="within the matrix"):
        _sparse_kernels.csr_rows_to_dense(indptr, indices, data, 2, np.empty((3, 4), dtype), 1)
