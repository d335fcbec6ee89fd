"""Candidate samplers for the sampled softmax.

A sampler draws ``n_sampled`` candidate classes *with replacement* from a fixed
proposal distribution ``Q`` over the ``K`` classes; the candidates are shared
by all rows of a minibatch. The expected number of times class ``k`` is drawn
is ``n_sampled * Q_k``; the sampled-softmax kernel subtracts the log of that
expected count, divided by the observed count of the drawn candidate (a class
drawn ``c`` times is kept once, as ``c`` identical columns would be), from the
temperature-scaled candidate logits (the logQ correction).

Proposals (``counts`` are the class totals of the training ``sample_weight``;
class weights reweight the loss, not the data distribution, and are left out):

``'uniform'``
    ``Q_k = 1 / K``.
``'unigram'``
    ``Q_k proportional to (counts_k + 1) ** power``: the empirical class
    frequency raised to ``power`` (0.75 as in word2vec). The add-one keeps
    every class in the support of ``Q`` -- importance sampling needs
    ``Q_k > 0`` wherever the softmax is positive, otherwise classes absent
    from the training data would never be pushed down.
``'log_uniform'``
    Zipf over the frequency rank ``r_k`` (0 for the most frequent class, ties
    broken by class index): ``Q_k = log((r_k + 2) / (r_k + 1)) / log(K + 1)``.

The proposal is built in log space: ``(counts_k + 1) ** power`` overflows
float64 from ``power`` of about 60 on counts of a million, and the normalised
``Q`` then became NaN (the sampled loss turned 0 and nothing was learnt). The
logQ correction is read from ``log Q`` itself, so it stays finite for a class
whose ``Q_k`` underflows to 0.
"""

import numpy as np

SAMPLERS = ("uniform", "unigram", "log_uniform")


class CandidateSampler:
    """Proposal distribution ``q`` (float64, sums to 1) and a with-replacement sampler.

    Parameters
    ----------
    kind : {'uniform', 'unigram', 'log_uniform'}
    counts : ndarray of shape (n_classes,), non-negative weighted class counts
    power : float, exponent of the unigram counts
    """

    def __init__(self, kind, counts, power=0.75):
        counts = np.asarray(counts, dtype=np.float64)
        K = counts.shape[0]
        if kind == "uniform":
            log_q = np.zeros(K)
        elif kind == "unigram":
            log_q = float(power) * np.log1p(counts)
        elif kind == "log_uniform":
            order = np.argsort(-counts, kind="stable")
            rank = np.empty(K, dtype=np.float64)
            rank[order] = np.arange(K)
            log_q = np.log(np.log1p(1.0 / (rank + 1.0)))
        else:
            raise ValueError(f"Unknown sampler {kind!r}; expected one of {SAMPLERS}.")
        self.kind = kind
        self.n_classes = K
        # normalised in log space (logsumexp), so no power of the counts overflows
        log_q -= log_q.max()
        self.log_q = log_q - np.log(np.exp(log_q).sum())
        self.q = np.exp(self.log_q)
        self._cdf = np.cumsum(self.q)
        self._cdf[-1] = 1.0

    def sample(self, n_sampled, rng):
        """``n_sampled`` class indices drawn i.i.d. from ``q`` (with replacement)."""
        if self.kind == "uniform":
            return rng.integers(self.n_classes, size=n_sampled)
        idx = np.searchsorted(self._cdf, rng.random(n_sampled), side="right")
        return np.minimum(idx, self.n_classes - 1)

    def draw(self, n_sampled, rng):
        """Distinct candidates (sorted) and their logQ correction
        ``log(n_sampled * q_k / count_k)``."""
        cand, count = np.unique(self.sample(n_sampled, rng), return_counts=True)
        log_q = np.log(n_sampled) + self.log_q[cand] - np.log(count)
        return cand, log_q
