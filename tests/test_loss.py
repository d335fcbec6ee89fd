"""SoftmaxLoss: the one Python caller of the row kernels."""

import joblib
import numpy as np
import pytest
from cases import OPTIONS, RTOL, random_logits

from skmax import _kernels, _loss
from skmax._loss import SoftmaxLoss
from skmax._threads import MIN_WORK_PER_THREAD, n_threads_from_n_jobs, threads_for

import reference as ref


def test_hessp_rejects_focal():
    with pytest.raises(ValueError, match="focal_gamma"):
        SoftmaxLoss(focal_gamma=1.0).hessp(np.zeros((1, 2)), np.zeros((1, 2)), np.ones(1))


def test_kernels_do_not_touch_their_read_only_inputs():
    a, y, sw = random_logits(10, 3, np.float64)
    y.setflags(write=False)
    sw.setflags(write=False)
    SoftmaxLoss().loss_gradient(a, y, sw)      # read-only y and sw are accepted


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS)
def test_loss_methods_match_reference(dtype, options):
    T, eps, gamma = options
    loss = SoftmaxLoss(T, eps, gamma, n_threads=2)
    a, y, sw = random_logits(40, 5, dtype, seed=9)
    a64, rtol = a.astype(np.float64), RTOL[dtype]
    raw, proba = a.copy(), np.empty_like(a)
    total = loss.loss_gradient(raw, y, sw, proba)
    np.testing.assert_allclose(total, sw @ ref.row_losses(a64, y, T, eps, gamma), rtol=rtol)
    p = np.exp(ref.log_softmax(a64 / T))
    np.testing.assert_allclose(proba, p, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(loss.predict_proba(a.copy()), p, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(loss.predict_proba(a.copy(), log=True),
                               ref.log_softmax(a64 / T), rtol=rtol, atol=rtol)
    # all classes as candidates with no correction: the sampled path is the full loss
    G = a.copy()
    sampled = loss.sampled_loss_gradient(G, y, np.arange(5, dtype=np.int32), np.zeros(5), sw)
    np.testing.assert_allclose(sampled, total, rtol=rtol)
    np.testing.assert_allclose(G, raw, rtol=rtol, atol=rtol * np.abs(raw).max())


def test_temperature_methods_ignore_the_loss_configuration():
    a, y, sw = random_logits(30, 4, np.float64, seed=10)
    got = SoftmaxLoss(3.0, 0.2, 1.0, n_threads=2).temperature_nll(a, y, sw, 0.6)
    np.testing.assert_allclose(got, ref.temperature_nll(a, y, sw, 0.6), rtol=1e-12)
    spread = np.empty(30)
    SoftmaxLoss(3.0).row_spread(a, spread)
    np.testing.assert_array_equal(spread, np.ptp(a, axis=1))


def test_kernel_params_and_convexity():
    loss = SoftmaxLoss(2.0, 0.1, 0.0)
    assert loss.kernel_params() == dict(inv_T=0.5, eps=0.1, gamma=0.0)
    assert loss.kernel_params(hessian=True) == loss.kernel_params()
    with pytest.raises(ValueError, match="focal_gamma"):
        SoftmaxLoss(focal_gamma=1.0).kernel_params(hessian=True)


def test_one_small_block_rule():
    assert threads_for(8, 0) == 1
    assert threads_for(8, MIN_WORK_PER_THREAD - 1) == 1
    assert threads_for(8, MIN_WORK_PER_THREAD) == 2
    assert threads_for(2, 100 * MIN_WORK_PER_THREAD) == 2
    assert threads_for(0, 10**9) == 1
    assert n_threads_from_n_jobs(None) == max(1, _kernels.openmp_max_threads())
    # capped at the CPU count (issue #20, item 10)
    assert n_threads_from_n_jobs(3) == min(3, joblib.cpu_count())
    assert n_threads_from_n_jobs(-1) >= 1
    # other modules import the helper from the loss module
    assert _loss.n_threads_from_n_jobs is n_threads_from_n_jobs
