"""Minibatch solvers ('sgd', 'adam') with optional sampled softmax.

This module owns the whole minibatch fit: :class:`StochasticSolver` (one
step, one epoch), its set-up (:func:`new_solver`, :func:`configure_solver`),
the epoch loop with MLPClassifier's stopping rule and early stopping
(:func:`run_epochs`, :func:`fit_minibatch`). ``SoftmaxClassifier`` only
validates its input and dispatches here, as it dispatches the full-batch
solvers to ``_solvers``.

Objective and its minibatch estimate
------------------------------------
The full objective is ``L = (sum_i s_i l_i + ||W||^2 / (2C)) / S`` with
``S = sum_i s_i``. A batch ``B`` estimates it with::

    L_B = (sum_{i in B} s_i l_i + (S_B / S) ||W||^2 / (2C)) / S_B
        = sum_{i in B} s_i l_i / S_B + ||W||^2 / (2 C S),      S_B = sum_{i in B} s_i

so every batch carries the same penalty ``lambda ||W||^2 / 2`` with
``lambda = 1 / (C S)`` and the data term is the weighted mean loss of the batch
(batches with ``S_B = 0`` are skipped). Averaged over the batches of an epoch
this is the full objective (exactly so when the batch weights are equal).

Sparse updates
--------------
A batch *touches* the rows of ``W`` of the classes in its logits (all classes
for the full softmax; true classes and candidates under sampling) and, for
sparse ``X``, only the feature columns that are nonzero in the batch. Only
that block of ``W`` (and those entries of ``b``) is read and written, so a step
costs ``O(batch x touched classes x touched features)``, never ``O(K d)``.

* ``'sgd'``: ``W <- (1 - lr lambda) W - lr grad_loss`` is applied *exactly*
  to every entry: ``W`` is stored as ``alpha * V`` and the penalty's shrinkage
  is a scalar update of ``alpha`` (the trick of scikit-learn's SGD), so the
  stochastic gradient is that of ``L_B`` above for all of ``W``.
* ``'adam'``: the moments and the penalty gradient ``lambda W`` are updated
  only on the touched block ("lazy Adam", as TensorFlow's ``LazyAdam``), but an
  entry first catches up the steps it skipped as dense Adam would have made
  them with a zero loss gradient (moments decayed, momentum carried on; the
  closed form is note 5 of ``_minibatch_kernels.pyx``), so a rarely drawn
  class moves as far per touch as under dense Adam. With dense ``X`` and the
  full softmax every entry is touched and this is exact Adam on ``L_B``;
  otherwise an entry is shrunk only in the steps that touch it, so rarely
  touched rows are penalised less than ``lambda`` -- an approximation of the
  objective, documented in ``docs/sampled_softmax.md``.
"""

import time

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._minibatch_kernels import (
    adam_block_t,
    adam_catch_up_table,
    axpy_block_t,
    gather_block_t,
    sampled_step,
)
from ._prediction import predict_index
from ._sampling import CandidateSampler
from ._threads import limit_blas_threads, threads_for
from ._warnings import warn

_BETA1, _BETA2, _ADAM_EPS = 0.9, 0.999, 1e-8
_ADAM_CATCH_UP = adam_catch_up_table(_BETA1, _BETA2)

# What a solver needs to continue (partial_fit) besides its random streams and
# history: kept by the estimator as arrays and plain values only, so that a
# fitted model persists (skops) without trusting private types.
_STATE_FIELDS = ("solver", "V", "b", "alpha", "t", "fit_intercept", "counts",
                 "mW", "vW", "mb", "vb", "last_W", "last_b")


def _generator(saved):
    """A numpy Generator in the bit-generator state ``saved``."""
    bit_generator = getattr(np.random, saved["bit_generator"])()
    bit_generator.state = saved
    return np.random.Generator(bit_generator)


class StochasticSolver:
    """State of a minibatch solver: parameters, optimiser moments, random streams.

    Parameters
    ----------
    solver : {'sgd', 'adam'}
    W, b : initial weights (K, d) and intercepts (K,), copied in ``dtype``
    loss : SoftmaxLoss (temperature, smoothing, focal, threads)
    learning_rate : float
    fit_intercept : bool
    n_sampled : int or None; None: the full softmax; ``>= K - 1``: the sampled
        kernel with every class as a candidate and no correction (the full
        softmax, through the sampled code path)
    sampler : CandidateSampler or None
    remove_accidental_hits : bool
    seeds : two ints, for the shuffling and the candidate streams
    """

    def __init__(self, solver, W, b, dtype, loss, learning_rate, fit_intercept,
                 n_sampled, sampler, remove_accidental_hits, seeds):
        self.solver = solver
        self.dtype = np.dtype(dtype)
        self.V = np.array(W, dtype=self.dtype, order="C")    # a copy
        self.b = np.array(b, dtype=self.dtype)
        self.alpha = 1.0                 # W = alpha * V ('sgd' lazy shrinkage)
        self.loss = loss
        self.learning_rate = float(learning_rate)
        self.fit_intercept = fit_intercept
        self.n_sampled = None if n_sampled is None else int(n_sampled)
        self.sampler = sampler
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.shuffle_rng = np.random.default_rng(seeds[0])
        self.sample_rng = np.random.default_rng(seeds[1])
        self.t = 0                       # optimiser steps
        if solver == "adam":
            self.mW = np.zeros(self.V.shape, dtype=self.dtype)
            self.vW = np.zeros(self.V.shape, dtype=self.dtype)
            self.mb = np.zeros_like(self.b)
            self.vb = np.zeros_like(self.b)
            # step of each entry's last update, for the lazy catch-up
            self.last_W = np.zeros(self.V.shape, dtype=np.int32)
            self.last_b = np.zeros(self.b.shape, dtype=np.int32)

    # -- parameters -------------------------------------------------------
    @property
    def n_classes(self):
        return self.V.shape[0]

    def coef(self, copy=True):
        """Current ``(W, b)``; without ``copy`` ``W`` may be the state's array."""
        if self.alpha == 1.0 and not copy:
            return self.V, self.b.copy()
        return self.alpha * self.V, self.b.copy()

    def state(self):
        """Everything :meth:`from_state` needs to continue, as arrays and plain
        values (the arrays are shared with the solver, not copied)."""
        state = {name: getattr(self, name) for name in _STATE_FIELDS if hasattr(self, name)}
        state.update(
            alpha=float(self.alpha), t=int(self.t), dtype=self.dtype.name,
            rngs=[rng.bit_generator.state for rng in (self.shuffle_rng, self.sample_rng)],
            history=self.history.as_dict(),
        )
        return state

    @classmethod
    def from_state(cls, state):
        """The solver that :meth:`state` described, sharing its arrays; the
        hyper-parameters come from :func:`configure_solver`."""
        solver = cls.__new__(cls)
        for name in _STATE_FIELDS:
            if name in state:
                setattr(solver, name, state[name])
        solver.dtype = np.dtype(state["dtype"])
        solver.shuffle_rng, solver.sample_rng = map(_generator, state["rngs"])
        solver.history = EpochHistory.from_dict(state["history"])
        return solver

    def _normalise_scale(self):
        if self.alpha != 1.0:
            self.V *= self.dtype.type(self.alpha)
            self.alpha = 1.0

    # -- one step ---------------------------------------------------------
    def _touched_features(self, Xb):
        """(feature indices or None, X restricted to them)."""
        if not sp.issparse(Xb):
            return None, Xb
        Xb = sp.csr_matrix(Xb)
        F, inv = np.unique(Xb.indices, return_inverse=True)
        if F.shape[0] > 0.5 * Xb.shape[1]:
            return None, Xb
        Xc = sp.csr_matrix((Xb.data, inv.astype(np.int32), Xb.indptr),
                           shape=(Xb.shape[0], F.shape[0]))
        return F, Xc

    def _compiled_sampled_step(self, X, batch, y, sw, lam):
        """:meth:`step` on dense ``X`` under sampling, in one compiled call
        (``sampled_step``): the candidates are drawn here, the rest is compiled."""
        if not float(sw[batch].sum()) > 0:
            return 0.0
        cand, log_q = self.sampler.draw(self.n_sampled, self.sample_rng)
        if not hasattr(self, "_column_of"):   # the kernel's class -> column map
            self._column_of = np.full(self.n_classes, -1, dtype=np.intc)
        adam, alpha, sgd_step = None, self.alpha, 0.0
        if self.solver == "adam":
            adam = (self.mW, self.vW, self.last_W, self.mb.reshape(-1, 1),
                    self.vb.reshape(-1, 1), self.last_b.reshape(-1, 1))
        else:   # the penalty first, as a scale on alpha
            self._shrink(lam)
            # the logits use W before the shrink: alpha V / shrink
            alpha = self.alpha / (1.0 - self.learning_rate * lam)
            sgd_step = -self.learning_rate / self.alpha
        self.t += 1
        n_threads = threads_for(self.loss.n_threads,
                                batch.shape[0] * (batch.shape[0] + cand.shape[0]))
        return sampled_step(
            X, batch, y, sw, cand.astype(np.intp), log_q, self.V,
            self.b.reshape(-1, 1) if self.fit_intercept else None, adam, _ADAM_CATCH_UP,
            self._column_of, alpha=alpha, sgd_step=sgd_step, lam=lam, lr=self.learning_rate,
            t=self.t, beta1=_BETA1, beta2=_BETA2, adam_eps=_ADAM_EPS,
            remove_accidental_hits=self.remove_accidental_hits, n_threads=n_threads,
            **self.loss.kernel_params())

    def step(self, Xb, yb, swb, lam):
        """One update on the batch; returns ``sum_B s_i l_i`` (the sampled loss
        under sampling). ``lam = 1 / (C S)`` is the per-batch penalty."""
        S_B = float(swb.sum())
        if not S_B > 0:
            return 0.0
        F, Xc = self._touched_features(Xb)
        sw_n = swb / S_B
        if self.n_sampled is None:
            rows = None
        else:
            if self.n_sampled >= self.n_classes - 1:
                cand, log_q = np.arange(self.n_classes), np.zeros(self.n_classes)
            else:
                cand, log_q = self.sampler.draw(self.n_sampled, self.sample_rng)
            rows = np.union1d(yb, cand)
            true_col = np.searchsorted(rows, yb).astype(np.int32)
            cand_col = np.searchsorted(rows, cand).astype(np.int32)
        # the touched block: every class row and feature column unless sampled/sparse
        K = self.n_classes
        rows_idx = np.arange(K, dtype=np.intp) if rows is None else rows.astype(np.intp)
        cols_idx = np.arange(Xc.shape[1], dtype=np.intp) if F is None else F.astype(np.intp)
        if F is not None:   # sparse batch: gather the touched block, transposed
            WT = np.empty((F.shape[0], rows_idx.shape[0]), dtype=self.dtype)
            gather_block_t(self.V, rows_idx, cols_idx, WT,
                           threads_for(self.loss.n_threads, WT.size))
            G = np.ascontiguousarray(Xc @ WT, dtype=self.dtype)
        elif rows is None:
            G = np.asarray(Xc @ self.V.T, dtype=self.dtype, order="C")
        else:
            G = np.asarray(Xc @ self.V[rows].T, dtype=self.dtype, order="C")
        if self.alpha != 1.0:
            G *= self.dtype.type(self.alpha)
        if self.fit_intercept:
            G += self.b if rows is None else self.b[rows]
        if self.n_sampled is None:
            value = self.loss.loss_gradient(G, yb, sw_n)
        else:
            value = self.loss.sampled_loss_gradient(G, true_col, cand_col, log_q, sw_n,
                                                    self.remove_accidental_hits)
        self.t += 1
        gT = np.ascontiguousarray(Xc.T @ G, dtype=self.dtype)     # (|cols|, |rows|)
        self._update_weights(rows_idx, cols_idx, gT, lam)
        if self.fit_intercept:
            self._update_intercept(rows_idx, G.sum(axis=0))
        return value * S_B

    def _shrink(self, lam):
        """'sgd': the penalty's shrinkage of every entry, as a scale on ``alpha``."""
        if lam > 0:
            shrink = 1.0 - self.learning_rate * lam
            if shrink <= 0:
                raise ValueError(
                    f"learning_rate_init={self.learning_rate} is too large for the penalty: "
                    "learning_rate_init / (C * sum of sample weights) = "
                    f"{self.learning_rate * lam:.3g} must be below 1."
                )
            self.alpha *= shrink
            if self.alpha < 1e-6:
                self._normalise_scale()

    def _update_weights(self, rows, cols, gT, lam):
        """Step on the block ``W[rows][:, cols]`` from its loss gradient ``gT``
        (transposed); the penalty ``lam`` as in the module note."""
        nt = threads_for(self.loss.n_threads, gT.size)
        if self.solver == "sgd":
            self._shrink(lam)
            axpy_block_t(self.V, rows, cols, gT, -self.learning_rate / self.alpha, nt)
        else:
            self._adam(self.V, self.mW, self.vW, self.last_W, rows, cols, gT, lam, nt)

    def _adam(self, P, m, v, last, rows, cols, gT, lam, n_threads):
        adam_block_t(P, m, v, last, rows, cols, gT, _ADAM_CATCH_UP, lam, self.learning_rate,
                     self.t, _BETA1, _BETA2, _ADAM_EPS, n_threads)

    def _update_intercept(self, rows, gb):
        """Step on ``b[rows]`` (unpenalised): the block kernels on ``b`` as one column."""
        col, gT = np.zeros(1, dtype=np.intp), gb.reshape(1, -1)
        if self.solver == "sgd":
            axpy_block_t(self.b.reshape(-1, 1), rows, col, gT, -self.learning_rate)
        else:
            self._adam(self.b.reshape(-1, 1), self.mb.reshape(-1, 1), self.vb.reshape(-1, 1),
                       self.last_b.reshape(-1, 1), rows, col, gT, 0.0, 1)

    # -- epochs -----------------------------------------------------------
    def epoch(self, X, y, sw, batch_size, shuffle, lam):
        """One pass over ``(X, y, sw)``; returns ``sum_i s_i l_i`` over the pass."""
        n = X.shape[0]
        order = self.shuffle_rng.permutation(n) if shuffle else None
        total = 0.0
        compiled = (not sp.issparse(X) and self.n_sampled is not None
                    and self.n_sampled < self.n_classes - 1)
        if compiled:   # the compiled step reads the batch rows itself
            Xc, yc = np.ascontiguousarray(X), np.ascontiguousarray(y, dtype=np.intc)
            swc = np.ascontiguousarray(sw, dtype=np.float64)
            order = np.arange(n) if order is None else order
        # small per-batch BLAS products: one BLAS thread, so BLAS and the
        # OpenMP kernels never compete for the cores (as in SoftmaxObjective)
        with limit_blas_threads():
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                if order is None:
                    idx = slice(start, stop)
                else:
                    idx = np.sort(order[start:stop]) if sp.issparse(X) else order[start:stop]
                if compiled:
                    total += self._compiled_sampled_step(Xc, order[start:stop], yc, swc, lam)
                else:
                    total += self.step(X[idx], y[idx], sw[idx], lam)
        return total

    def penalty(self):
        """``||W||^2 / 2``."""
        return 0.5 * self.alpha ** 2 * float(np.dot(self.V.ravel(), self.V.ravel()))

    def predict_index(self, X):
        """Argmax of the logits over row chunks."""
        return predict_index(X, self.V, self.b, scale=self.alpha)


# ---------------------------------------------------------------------------
# Set-up, epoch loop and early stopping (the estimator only validates and
# dispatches here)
# ---------------------------------------------------------------------------


class EpochHistory:
    """Per-epoch curves and MLPClassifier's stopping counter of one solver run
    (published by the estimator as ``loss_curve_``, ``best_loss_``, ...)."""

    def __init__(self, early_stopping):
        self.loss_curve = []
        self.best_loss = None if early_stopping else np.inf
        self.validation_scores = [] if early_stopping else None
        self.best_validation_score = -np.inf if early_stopping else None
        self.no_improvement_count = 0
        self.n_iter = 0
        self.t = 0

    def as_dict(self):
        return {name: float(v) if isinstance(v, np.floating) else v
                for name, v in vars(self).items()}

    @classmethod
    def from_dict(cls, values):
        history = cls.__new__(cls)
        history.__dict__.update(values)
        return history


def batch_size_for(batch_size, n_samples):
    """Minibatch size for ``batch_size`` ('auto': ``min(200, n_samples)``)."""
    if batch_size == "auto":
        return max(1, min(200, n_samples))
    return max(1, min(int(batch_size), n_samples))


def configure_solver(solver, *, loss, learning_rate, n_sampled, sampler, sampler_power,
                     remove_accidental_hits):
    """Copy the current hyper-parameters into ``solver`` (they may change between
    ``partial_fit`` calls through ``set_params``); the sampler uses
    ``solver.counts``."""
    solver.loss = loss
    solver.learning_rate = float(learning_rate)
    solver.n_sampled = n_sampled
    solver.sampler = (None if n_sampled is None
                      else CandidateSampler(sampler, solver.counts, sampler_power))
    solver.remove_accidental_hits = bool(remove_accidental_hits)


def new_solver(solver_name, dtype, W0, b0, counts, seeds, *, fit_intercept,
               early_stopping, config):
    """A fresh :class:`StochasticSolver` with an empty :class:`EpochHistory`;
    ``config``: the keyword arguments of :func:`configure_solver`."""
    solver = StochasticSolver(
        solver_name, W0, b0, dtype, config["loss"], config["learning_rate"],
        fit_intercept, config["n_sampled"], None, config["remove_accidental_hits"], seeds,
    )
    solver.counts = np.array(counts, dtype=np.float64)
    configure_solver(solver, **config)
    solver.history = EpochHistory(early_stopping)
    return solver


def split_validation(X, y, sw, data_sw, validation_fraction, random_state):
    """Hold out ``validation_fraction`` of the rows (stratified when every class
    has two samples): ``(X, y, sw, data_sw)`` to train on and ``(X, y, sw)`` to
    score."""
    stratify = y if np.bincount(y).min() >= 2 else None
    X, X_val, y, y_val, sw, sw_val, data_sw, _ = train_test_split(
        X, y, sw, data_sw, test_size=validation_fraction, random_state=random_state,
        stratify=stratify,
    )
    if X.shape[0] < 1 or X_val.shape[0] < 1 or not sw.sum() > 0 or not sw_val.sum() > 0:
        raise ValueError(
            f"validation_fraction={validation_fraction} leaves no training or "
            "no validation samples with positive weight; use more data or "
            "early_stopping=False."
        )
    return (X, y, sw, data_sw), (X_val, y_val, sw_val)


def run_epochs(solver, X, y, sw, n_epochs, *, C, tol, batch_size, shuffle, n_iter_no_change,
               max_iter, verbose, validation=None, incremental=False):
    """Run up to ``n_epochs`` epochs with MLPClassifier's stopping rule, recording
    them in ``solver.history``; with ``validation`` the best weights are kept."""
    history = solver.history
    if validation is None and history.best_loss is None:
        # partial_fit after a fit with early stopping: the loss is tracked from here
        history.best_loss = np.inf
    S = float(sw.sum())
    lam = 0.0 if np.isinf(C) else 1.0 / (C * S)
    batch_size = batch_size_for(batch_size, X.shape[0])
    best = None
    start = time.perf_counter()
    for _ in range(n_epochs):
        with np.errstate(over="ignore", invalid="ignore"):   # reported below
            total = solver.epoch(X, y, sw, batch_size, shuffle, lam)
            loss = total / S + lam * solver.penalty()
        if not np.isfinite(loss):
            raise ValueError(
                f"The minibatch solver diverged in epoch {history.n_iter + 1} (the loss "
                "is not finite): the features are too large for the "
                f"{solver.dtype.name} arithmetic, or learning_rate_init is too large. "
                "Scale the data (e.g. with StandardScaler) or lower learning_rate_init.")
        history.n_iter += 1
        history.t += X.shape[0]
        history.loss_curve.append(loss)
        progress = f"Iteration {history.n_iter}, loss = {loss:.8f}"
        if validation is not None:
            X_val, y_val, sw_val = validation
            pred = solver.predict_index(X_val)
            score = float(np.sum(sw_val * (pred == y_val)) / np.sum(sw_val))
            progress += f", validation score = {score:.6f}"
            history.validation_scores.append(score)
            if score < history.best_validation_score + tol:
                history.no_improvement_count += 1
            else:
                history.no_improvement_count = 0
            if score > history.best_validation_score:
                history.best_validation_score = score
                best = solver.coef()
        else:
            if loss > history.best_loss - tol:
                history.no_improvement_count += 1
            else:
                history.no_improvement_count = 0
            history.best_loss = min(history.best_loss, loss)
        if verbose:
            print(f"{progress}, elapsed {time.perf_counter() - start:.3f} s")
        if incremental:
            break
        if history.no_improvement_count > n_iter_no_change:
            what = "Validation score" if validation is not None else "Training loss"
            if verbose:
                print(f"{what} did not improve more than tol={tol} for "
                      f"{n_iter_no_change} consecutive epochs. Stopping.")
            break
    else:
        if not incremental and n_epochs > 0:
            warn(f"Stochastic optimizer: maximum iterations ({max_iter}) reached "
                 "and the optimization hasn't converged yet.", ConvergenceWarning)
    if best is not None:
        solver.V, solver.b, solver.alpha = best[0].astype(solver.dtype), best[1], 1.0


def fit_minibatch(solver_name, X, y, sw, data_sw, W0, b0, *, random_state, fit_intercept,
                  early_stopping, validation_fraction, config, stopping):
    """A full minibatch fit: seeds, optional validation split, a new solver and
    ``stopping['max_iter']`` epochs at most. ``data_sw`` (the sample weights
    without the class weights) gives the sampler's class frequencies, since class
    weights reweight the loss, not the data. Returns the solver."""
    if sp.issparse(X):
        X = X.tocsr()
    rs = check_random_state(random_state)
    seeds = rs.randint(np.iinfo(np.int32).max, size=2)
    validation = None
    if early_stopping:
        (X, y, sw, data_sw), validation = split_validation(
            X, y, sw, data_sw, validation_fraction, rs)
    counts = np.bincount(y, weights=data_sw, minlength=W0.shape[0])
    solver = new_solver(solver_name, X.dtype, W0, b0, counts, seeds,
                        fit_intercept=fit_intercept, early_stopping=early_stopping,
                        config=config)
    run_epochs(solver, X, y, sw, stopping["max_iter"], validation=validation, **stopping)
    return solver
