"""Sampled softmax: kernel, samplers, statistical agreement with the full softmax."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification

from skmax import SoftmaxClassifier
from skmax._loss import SoftmaxLoss
from skmax._sampling import CandidateSampler


def _full_grad(a, y, T=1.0, eps=0.0, gamma=0.0):
    G = np.array(a, dtype=np.float64, order="C")
    loss = SoftmaxLoss(T, eps, gamma).loss_gradient(G, y.astype(np.int32), np.ones(len(y)))
    return loss, G


def _sampled_grad(a, y, cand, log_q, remove=True, T=1.0, eps=0.0, gamma=0.0):
    """Sampled loss and gradient of the rows of ``a`` scattered back to all K columns."""
    rows = np.union1d(y, cand)
    G = np.ascontiguousarray(a[:, rows], dtype=np.float64)
    loss = SoftmaxLoss(T, eps, gamma).sampled_loss_gradient(
        G, np.searchsorted(rows, y).astype(np.int32),
        np.searchsorted(rows, cand).astype(np.int32), np.asarray(log_q, dtype=np.float64),
        np.ones(len(y)), remove,
    )
    out = np.zeros_like(a, dtype=np.float64)
    out[:, rows] = G
    return loss, out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T, eps, gamma", [(1.0, 0.0, 0.0), (2.0, 0.1, 0.0), (0.5, 0.2, 2.0)])
def test_all_candidates_is_full_softmax(dtype, T, eps, gamma):
    rng = np.random.default_rng(0)
    a = rng.normal(scale=3, size=(7, 9)).astype(dtype)
    y = rng.integers(9, size=7)
    loss_f, G_f = _full_grad(a.astype(np.float64), y, T, eps, gamma)
    loss_s, G_s = _sampled_grad(a, y, np.arange(9), np.zeros(9), True, T, eps, gamma)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss_s, loss_f, rtol=rtol)
    np.testing.assert_allclose(G_s, G_f, rtol=rtol, atol=rtol * 1e-2)


def test_logq_correction_is_a_logit_shift():
    """Candidates' logits are shifted by -T*log_q; the true logit is not."""
    rng = np.random.default_rng(1)
    K, T = 12, 1.5
    a = rng.normal(size=(4, K))
    y = np.array([0, 3, 3, 5])
    cand = np.array([1, 2, 7, 9])
    log_q = np.log([0.5, 2.0, 0.1, 3.0])
    loss, G = _sampled_grad(a, y, cand, log_q, T=T)
    for i in range(4):
        z = np.concatenate([[a[i, y[i]] / T], a[i, cand] / T - log_q])
        lse = np.log(np.exp(z - z.max()).sum()) + z.max()
        p = np.exp(z - lse)
        expected = np.zeros(K)
        expected[y[i]] += (p[0] - 1) / T
        expected[cand] += p[1:] / T
        np.testing.assert_allclose(G[i], expected, atol=1e-12)
        assert not np.isclose(lse - z[0], 0)
    z_all = [np.concatenate([[a[i, y[i]] / T], a[i, cand] / T - log_q]) for i in range(4)]
    ref = sum(np.log(np.exp(z).sum()) - z[0] for z in z_all)
    np.testing.assert_allclose(loss, ref, rtol=1e-12)


def test_accidental_hits():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 6))
    y = np.array([1, 2, 4])
    cand = np.array([1, 3, 4])      # hits in rows 0 and 2
    log_q = np.zeros(3)
    loss_r, G_r = _sampled_grad(a, y, cand, log_q, remove=True)
    loss_k, G_k = _sampled_grad(a, y, cand, log_q, remove=False)
    # with removal, row 0 sees {1 (true), 3, 4}; row 1 sees {2, 1, 3, 4}; row 2 {4, 1, 3}
    sets = {0: [1, 3, 4], 1: [2, 1, 3, 4], 2: [4, 1, 3]}
    for i, cols in sets.items():
        z = a[i, cols]
        p = np.exp(z - np.logaddexp.reduce(z))
        expected = np.zeros(6)
        expected[cols] = p
        expected[y[i]] -= 1
        np.testing.assert_allclose(G_r[i], expected, atol=1e-12)
    # without removal the true class also counts as a candidate in rows 0 and 2
    z = np.concatenate([[a[0, 1]], a[0, cand]])
    p = np.exp(z - np.logaddexp.reduce(z))
    expected = np.zeros(6)
    expected[1] = p[0] - 1 + p[1]
    expected[3], expected[4] = p[2], p[3]
    np.testing.assert_allclose(G_k[0], expected, atol=1e-12)
    np.testing.assert_allclose(G_k[1], G_r[1])
    assert loss_k > loss_r


def _mean_sampled_grad(a, y, sampler, S, n_draws, seed, correct=True, remove=True):
    rng = np.random.default_rng(seed)
    acc = np.zeros_like(a)
    for _ in range(n_draws):
        cand, log_q = sampler.draw(S, rng)
        acc += _sampled_grad(a, y, cand, log_q if correct else np.zeros_like(log_q), remove)[1]
    return acc / n_draws


def test_sampled_gradient_is_close_to_full_gradient_on_average():
    """Statistical test (fixed seed): the sampled gradient averaged over draws is
    close to the full softmax gradient; without the logQ correction or without
    removing accidental hits it is not."""
    rng = np.random.default_rng(0)
    K, n, S = 200, 6, 40
    counts = rng.zipf(1.5, size=K).astype(float)
    sampler = CandidateSampler("unigram", counts, 0.75)
    a = rng.normal(scale=1.0, size=(n, K))
    y = np.argsort(-sampler.q)[:n]          # frequent classes: hits are likely
    a[np.arange(n), y] += 3.0               # and the true class matters in Z
    _, full = _full_grad(a, y)
    norm = np.linalg.norm(full)
    err = np.linalg.norm(_mean_sampled_grad(a, y, sampler, S, 3000, 0) - full) / norm
    err_no_q = np.linalg.norm(
        _mean_sampled_grad(a, y, sampler, S, 3000, 0, correct=False) - full) / norm
    err_hits = np.linalg.norm(
        _mean_sampled_grad(a, y, sampler, S, 3000, 0, remove=False) - full) / norm
    assert err < 0.1
    assert err_no_q > 3 * err
    assert err_hits > 1.5 * err


@pytest.mark.parametrize("kind", ["uniform", "unigram", "log_uniform"])
def test_samplers(kind):
    counts = np.array([5.0, 0.0, 20.0, 1.0])
    s = CandidateSampler(kind, counts, 0.75)
    assert np.isclose(s.q.sum(), 1) and np.all(s.q > 0)
    if kind == "unigram":
        expected = (counts + 1) ** 0.75
        np.testing.assert_allclose(s.q, expected / expected.sum())
    elif kind == "log_uniform":
        rank = np.array([1, 3, 0, 2])
        np.testing.assert_allclose(s.q, np.log((rank + 2) / (rank + 1)) / np.log(5))
    draws = s.sample(200_000, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 200_000, s.q, atol=5e-3)
    cand, log_q = s.draw(50, np.random.default_rng(1))
    assert np.all(np.diff(cand) > 0)
    c = np.bincount(s.sample(50, np.random.default_rng(1)), minlength=4)[cand]
    np.testing.assert_allclose(log_q, np.log(50 * s.q[cand] / c))


def _data(K=8, n=400, seed=0):
    return make_classification(n, 10, n_informative=8, n_classes=K, n_clusters_per_class=1,
                               random_state=seed)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("extra", [0, 5])
def test_n_sampled_at_least_k_minus_1_matches_full(solver, extra):
    X, y = _data()
    params = dict(solver=solver, learning_rate_init=0.01, max_iter=5, random_state=0,
                  label_smoothing=0.1, temperature=1.5)
    full = SoftmaxClassifier(**params).fit(X, y)
    samp = SoftmaxClassifier(n_sampled=7 + extra, **params).fit(X, y)
    np.testing.assert_allclose(samp.coef_, full.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(samp.loss_curve_, full.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_n_sampled_needs_minibatch_solver(solver):
    X, y = _data()
    with pytest.raises(ValueError, match="n_sampled=3.*minibatch solver"):
        SoftmaxClassifier(solver=solver, n_sampled=3).fit(X, y)


@pytest.mark.parametrize("sampler", ["uniform", "unigram", "log_uniform"])
def test_sampled_fit_is_accurate(sampler):
    X, y = _data(K=20, n=2000)
    ref = SoftmaxClassifier(max_iter=500).fit(X, y).score(X, y)
    clf = SoftmaxClassifier(solver="adam", n_sampled=8, sampler=sampler,
                            learning_rate_init=0.01, max_iter=60, random_state=0).fit(X, y)
    assert clf.score(X, y) > ref - 0.05


def test_only_touched_rows_are_updated():
    X, y = _data(K=30, n=300)
    Xs = sp.csr_matrix(X)
    clf = SoftmaxClassifier(solver="adam", n_sampled=3, batch_size=8, shuffle=False,
                            random_state=0)
    clf.partial_fit(Xs[:8], y[:8], classes=np.arange(30))
    changed = np.flatnonzero(np.any(clf.coef_ != 0, axis=1) | (clf.intercept_ != 0))
    assert len(changed) <= len(np.unique(y[:8])) + 3
    assert set(np.unique(y[:8])) <= set(changed)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_sampled_float32_and_sparse(solver):
    X, y = _data(K=10)
    X32 = sp.csr_matrix(X.astype(np.float32))
    clf = SoftmaxClassifier(solver=solver, n_sampled=3, max_iter=3, learning_rate_init=0.01,
                            random_state=0).fit(X32, y)
    assert clf.coef_.dtype == np.float32
    assert clf.predict_proba(X32).dtype == np.float32
    assert sp.issparse(X32) and X32.dtype == np.float32
