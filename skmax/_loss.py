"""The softmax loss: the one Python caller of the compiled row kernels.

1. ``SoftmaxLoss`` takes logits in and gives the loss, its gradient, Hessian
   products and probabilities out, full or sampled, plus the temperature NLL
   (value and derivatives in ``beta = 1 / T``) and the row spread used by
   calibration. Estimators, solvers and the calibrator go through it, so the
   loss configuration (``1 / T``, smoothing, focal exponent) is assembled in
   one place: :meth:`SoftmaxLoss.kernel_params`.
2. The methods work in place on C-contiguous logit blocks (float32 or
   float64); the formulas are in the design notes of ``skmax/_kernels.pyx``,
   ``_temperature_kernels.pyx`` and ``_minibatch_kernels.pyx``.
3. Each call picks its threads with the one small-block rule of
   ``skmax/_threads.py``.
"""

import numpy as np

from . import _kernels, _minibatch_kernels, _temperature_kernels
from ._threads import n_threads_from_n_jobs, threads_for

__all__ = ["SoftmaxLoss", "n_threads_from_n_jobs"]   # n_threads_from_n_jobs: re-exported


def labels_and_targets(y):
    """Split encoded targets for the kernels: 1-D int labels give ``(labels,
    None)``; an ``(n, K)`` array of target distributions (soft targets) gives
    ``(zeros, targets)`` (the kernels then ignore the labels)."""
    if np.ndim(y) == 2:
        return (np.zeros(len(y), dtype=np.int32),
                np.ascontiguousarray(y, dtype=np.float64))
    return np.ascontiguousarray(y, dtype=np.int32), None


def class_totals(y, weights, n_classes):
    """Weighted count of each class in encoded targets (labels or soft targets)."""
    if np.ndim(y) == 2:
        return np.asarray(weights, dtype=np.float64) @ np.asarray(y, dtype=np.float64)
    return np.bincount(y, weights=weights, minlength=n_classes)


class SoftmaxLoss:
    """Per-sample softmax loss with temperature, label smoothing and focal term.

    ``l(a, y) = - sum_k (1 - p_k)^gamma q_k log p_k`` with ``p = softmax(a / T)``
    and ``q = (1 - label_smoothing) t + label_smoothing / K``, ``t = onehot(y)``
    for labels, or a given target distribution (soft targets).

    Parameters
    ----------
    temperature, label_smoothing, focal_gamma : float
        ``T``, ``eps`` and ``gamma`` above.
    n_threads : int
        Most OpenMP threads a call may use (small blocks use fewer).
    """

    def __init__(self, temperature=1.0, label_smoothing=0.0, focal_gamma=0.0, n_threads=1):
        self.temperature = float(temperature)
        self.label_smoothing = float(label_smoothing)
        self.focal_gamma = float(focal_gamma)
        self.n_threads = int(n_threads)

    def _threads(self, block):
        return threads_for(self.n_threads, block.size)

    @property
    def is_convex(self):
        return self.focal_gamma == 0.0

    def kernel_params(self, hessian=False):
        """Keyword arguments ``inv_T, eps, gamma`` of the compiled kernels; with
        ``hessian``, raises unless the loss is convex (Hessian products exist
        only for ``focal_gamma=0``)."""
        if hessian and not self.is_convex:
            raise ValueError("Hessian products are only available for focal_gamma=0.")
        return dict(inv_T=1.0 / self.temperature, eps=self.label_smoothing,
                    gamma=self.focal_gamma)

    def loss_gradient(self, raw, y, sample_weight, proba=None):
        """Return ``sum_i sw_i l_i``; ``raw`` (IN: logits) is overwritten by the
        weighted gradient ``sw_i dl_i/da_i``; ``proba`` (OUT) receives ``p``.
        ``y``: int labels, or an ``(n, K)`` array of target distributions."""
        labels, targets = labels_and_targets(y)
        return _kernels.loss_gradient(raw, labels, sample_weight, proba, targets,
                                      n_threads=self._threads(raw), **self.kernel_params())

    def sampled_loss_gradient(self, logits, true_col, cand_col, log_q, sample_weight,
                              remove_accidental_hits=True):
        """Sampled-softmax ``sum_i sw_i l_i`` over a block of reduced columns;
        ``logits`` is overwritten by the weighted gradient (0 on unused columns).
        See ``skmax/_minibatch_kernels.pyx`` for the column sets."""
        return _minibatch_kernels.sampled_loss_gradient(
            logits, true_col, cand_col, log_q, sample_weight,
            remove_accidental_hits=remove_accidental_hits, n_threads=self._threads(logits),
            **self.kernel_params())

    def hessp(self, direction, proba, sample_weight):
        """Overwrite ``direction`` (logit space) with ``sw_i H_i direction_i``."""
        inv_T = self.kernel_params(hessian=True)["inv_T"]
        _kernels.hessp(direction, proba, sample_weight, inv_T, self._threads(direction))

    def predict_proba(self, raw, log=False):
        """Overwrite logits ``raw`` with ``softmax(raw / T)`` (or its log)."""
        _kernels.softmax(raw, 1.0 / self.temperature, bool(log), self._threads(raw))
        return raw

    def temperature_nll(self, scores, y, sample_weight, beta):
        """``(F, F', F'')`` of ``F(beta) = sum_i sw_i NLL_i(softmax(beta scores_i))``,
        derivatives in ``beta``; ``sample_weight`` may be None. The loss's own
        temperature, smoothing and focal term do not apply."""
        return _temperature_kernels.temperature_nll(scores, y, sample_weight, beta,
                                                    self._threads(scores))

    def row_spread(self, scores, out, y=None, label_max=None, finite=None):
        """Fill ``out`` with ``max_k - min_k`` of each row of ``scores``; with
        labels ``y``, ``label_max`` with whether each label is a row maximum;
        ``finite`` (optional) with whether each row's entries are all finite."""
        _temperature_kernels.row_spread(scores, out, self._threads(scores), y, label_max,
                                        finite)
