"""Thin Python layer over the row kernels: one object per loss configuration."""

from . import _kernels


def n_threads_from_n_jobs(n_jobs):
    """OpenMP thread count for ``n_jobs``.

    ``None`` uses OpenMP's default (all cores, or ``OMP_NUM_THREADS``, which
    joblib sets inside its workers so nested parallelism does not oversubscribe);
    negative values count back from the number of CPUs as in joblib.
    """
    if n_jobs is None:
        return max(1, _kernels.openmp_max_threads())
    if n_jobs < 0:
        import joblib

        return max(1, joblib.cpu_count() + 1 + n_jobs)
    return max(1, int(n_jobs))


class SoftmaxLoss:
    """Per-sample softmax loss with temperature, label smoothing and focal term.

    ``l(a, y) = - sum_k (1 - p_k)^gamma q_k log p_k`` with ``p = softmax(a / T)``
    and ``q = (1 - label_smoothing) onehot(y) + label_smoothing / K``.

    The methods work in place on C-contiguous logit blocks of dtype float32 or
    float64; see ``skmax/_kernels.pyx`` for the row formulas.
    """

    def __init__(self, temperature=1.0, label_smoothing=0.0, focal_gamma=0.0, n_threads=1):
        self.temperature = float(temperature)
        self.label_smoothing = float(label_smoothing)
        self.focal_gamma = float(focal_gamma)
        self.n_threads = int(n_threads)

    def _threads(self, raw):
        """Threads for a block: one below ~64k entries, where waking OpenMP
        workers (which spin, and fight any other process for the cores)
        costs more than the rows."""
        return self.n_threads if raw.size >= (1 << 16) else 1

    @property
    def is_convex(self):
        return self.focal_gamma == 0.0

    def _check_hessian(self):
        if not self.is_convex:
            raise ValueError("Hessian products are only available for focal_gamma=0.")

    def loss_gradient(self, raw, y, sample_weight, proba=None):
        """Return ``sum_i sw_i l_i``; ``raw`` (IN: logits) is overwritten by the
        weighted gradient ``sw_i dl_i/da_i``; ``proba`` (OUT) receives ``p``."""
        return _kernels.loss_gradient(
            raw,
            y,
            sample_weight,
            1.0 / self.temperature,
            self.label_smoothing,
            self.focal_gamma,
            proba,
            self._threads(raw),
        )

    def hessp(self, direction, proba, sample_weight):
        """Overwrite ``direction`` (logit space) with ``sw_i H_i direction_i``."""
        self._check_hessian()
        _kernels.hessp(direction, proba, sample_weight, 1.0 / self.temperature,
                       self._threads(direction))

    def dense_sweep(self, X, W, b, y, sample_weight, proba, acc_W, acc_b, bounds,
                    block_rows, n_threads, hessian=False):
        """One compiled pass over dense ``X`` (``_kernels.dense_sweep``): the loss
        (``proba`` OUT, may be None) or, with ``hessian``, the Hessian product for
        the direction ``(W, b)`` (``proba`` IN); ``G.T @ X`` and ``G.sum(0)`` of
        each row chunk accumulate into ``acc_W`` and ``acc_b``."""
        if hessian:
            self._check_hessian()
        return _kernels.dense_sweep(
            X, W, b, y, sample_weight, proba, acc_W, acc_b, bounds, block_rows, hessian,
            1.0 / self.temperature, self.label_smoothing, self.focal_gamma, n_threads,
        )

    def predict_proba(self, raw, log=False):
        """Overwrite logits ``raw`` with ``softmax(raw / T)`` (or its log)."""
        _kernels.softmax(raw, 1.0 / self.temperature, bool(log), self._threads(raw))
        return raw

