"""SoftmaxClassifier: multinomial logistic regression with temperature, label
smoothing, focal term and class/sample weights.

1. The estimator validates and dispatches, as ``LogisticRegression`` does: the
   full-batch solvers live in ``_solvers``, the minibatch solvers with their
   epoch loop, early stopping and set-up in ``_sgd``; prediction (one compiled
   call per row block) in ``_prediction``, shared with the early stopping.
2. ``fit`` and ``partial_fit`` share one validation (``_validate_fit_data``),
   so the sample and class weight checks are written once.
3. A fit builds its fitted attributes aside and installs them at once at the
   end; any failure (bad input, a diverging solver, KeyboardInterrupt)
   restores the previous ``__dict__``, so the previous model stays usable.
4. The minibatch solver's state is kept as arrays and plain values
   (``StochasticSolver.state``), so a fitted model persists with skops
   trusting only this class; ``coef_`` is always a copy, never that state.
"""

from functools import partial
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._dask import fit_dask, is_dask, predict_dask
from ._loss import SoftmaxLoss, class_totals, n_threads_from_n_jobs
from ._objective import SoftmaxObjective
from ._prediction import predict_linear, rows_per_class
from ._sampling import SAMPLERS
from ._sgd import StochasticSolver, configure_solver, fit_minibatch, new_solver, run_epochs
from ._solvers import FULL_BATCH_SOLVERS, minimize_owlqn

STOCHASTIC_SOLVERS = ("sgd", "adam")

# Sample weights whose largest value lies in this range are used as they are.
_SAFE_WEIGHTS = (2.0**-300, 2.0**300)


def _rescaled_weights(sample_weight, C):
    """``(sample_weight * 2**k, C / 2**k)``: the same objective, with the
    largest weight near 1 when it lies outside ``_SAFE_WEIGHTS``. Subnormal
    weights otherwise lose the data term to rounding (NaN ``coef_``) and huge
    ones overflow the weight sum. A power of two keeps the scaling exact."""
    k, C = _weight_scaling(float(sample_weight.max(initial=0.0)), C)
    return (sample_weight if k == 0 else np.ldexp(sample_weight, k)), C


def _weight_scaling(largest, C):
    """``(k, C / 2**k)`` of :func:`_rescaled_weights` from the largest weight
    (in memory, or over dask chunks)."""
    if largest == 0.0 or _SAFE_WEIGHTS[0] <= largest <= _SAFE_WEIGHTS[1]:
        return 0, C
    k = -int(np.frexp(largest)[1])
    C = float(np.ldexp(C, -k))
    if not 1.0 / C < np.inf:
        raise ValueError(
            f"The sample weights are too small for C (largest weight {largest:.3g}): the "
            "penalty 1 / (C * max(sample_weight)) overflows. Multiply sample_weight by "
            "a constant and divide C by the same constant.")
    return k, C


def _balanced_class_weights(totals):
    """``S / (n_classes * S_k)`` from the weighted class totals ``S_k`` (1 for a
    class without weight: its samples count for nothing anyway)."""
    n_classes = len(totals)
    weights = np.ones(n_classes)
    present = totals > 0
    weights[present] = totals.sum() / (n_classes * totals[present])
    return weights


def _class_weights(class_weight, classes, totals):
    """The weight of each class for ``class_weight`` (None: no class weights),
    from the weighted class totals ``totals`` (used by ``'balanced'``); the same
    for the in-memory fit and the distributed one, which has no ``y`` on the
    driver."""
    if class_weight is None:
        return None
    if class_weight == "balanced":
        return _balanced_class_weights(totals)
    # a dict: y only serves to check that its labels are classes
    return compute_class_weight(class_weight, classes=classes, y=classes)


def _is_soft(y):
    """Whether ``y`` holds soft targets: a 2-D array of several float columns."""
    if not hasattr(y, "shape"):
        y = np.asarray(y)
    return len(y.shape) == 2 and y.shape[1] > 1 and np.asarray(y).dtype.kind == "f"


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    r"""Multinomial logistic regression with temperature, label smoothing and focal loss.

    The model computes logits ``a_i = W x_i + b``, scales them by a fixed
    temperature ``z_i = a_i / T`` and predicts ``p_i = softmax(z_i)``.
    ``W`` (``n_classes x n_features``) and ``b`` minimise

    .. math::

        L(W, b) = \sum_i s_i l_i + \frac{1}{2C} \|W\|_F^2, \qquad
        l_i = -\sum_k (1 - p_{ik})^{\gamma} q_{ik} \log p_{ik},

    with the smoothed target ``q_i = (1 - eps) onehot(y_i) + eps / K``
    (``eps = label_smoothing``), the focal exponent ``gamma = focal_gamma``
    and ``s_i = sample_weight_i * class_weight[y_i]`` (class weights play the
    role of the focal loss' alpha). The intercept is not penalised and
    ``C=np.inf`` removes the penalty. ``gamma = 0`` gives the (smoothed)
    cross-entropy; ``eps = 0, gamma > 0`` the focal loss of Lin et al. (2017).
    The solvers minimise ``L / sum_i s_i``, which has the same minimiser and
    makes ``tol`` independent of the number of samples.

    With ``eps = 0``, ``gamma = 0`` and ``T = 1`` this is exactly
    scikit-learn's multinomial :class:`~sklearn.linear_model.LogisticRegression`
    at the same ``C`` for three or more classes. For two classes the model is
    fitted as a two-row softmax but exposed with scikit-learn's binary
    conventions: ``coef_`` of shape ``(1, n_features)`` equal to ``w_1 - w_0``,
    ``intercept_ = b_1 - b_0`` and a 1-D ``decision_function``; since the
    fitted rows satisfy ``w_0 = -w_1``, plain cross-entropy gives the same
    model as ``LogisticRegression(C=2 * C)``.

    Parameters
    ----------
    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
        The penalty on ``W`` (never on the intercept), with scikit-learn's
        scaling: ``(1 - r) ||W||_F^2 / (2C) + r ||W||_1 / C`` in place of the
        ``||W||_F^2 / (2C)`` above, ``r = 0`` for 'l2', ``1`` for 'l1',
        ``l1_ratio`` for 'elasticnet'; None: no penalty (as ``C=np.inf``).
        An L1 part needs ``solver='lbfgs'``, which then runs OWL-QN (an
        orthant-wise L-BFGS): ``coef_`` holds exact zeros and ``tol`` bounds
        the largest entry of the minimum-norm subgradient. Binary problems are
        fitted as a two-row softmax (see above): with 'l1' this is
        ``LogisticRegression(penalty='l1', C=C)``.
    C : float, default=1.0
        Inverse of the penalty strength; ``np.inf`` disables the penalty.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing ``r`` of ``penalty='elasticnet'`` (ignored otherwise).
    temperature : float, default=1.0
        Fixed temperature ``T > 0`` dividing the logits, in training and in
        prediction. ``T > 1`` softens the predicted probabilities. At fit
        time ``T`` is equivalent to the penalty ``C / T**2`` (the same
        probabilities, ``coef_`` scaled by ``T``), so a grid over both
        ``C`` and ``temperature`` wastes compute; to calibrate a fitted
        model, use :class:`TemperatureCalibrator`.
    label_smoothing : float in [0, 1), default=0.0
        Mass ``eps`` of the target spread uniformly over all classes.
    focal_gamma : float >= 0, default=0.0
        Focal exponent; ``0`` gives the cross-entropy. Values ``> 0``
        down-weight well-classified samples; the objective is then not
        convex, so only ``solver='lbfgs'`` is allowed.
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{class_label: weight}``; ``'balanced'`` uses
        ``S / (n_classes * S_k)`` with ``S_k`` the sample weight of class
        ``k`` and ``S`` that of all classes (without ``sample_weight``:
        ``n_samples / (n_classes * np.bincount(y))``), as scikit-learn >= 1.9.
    fit_intercept : bool, default=True
        Whether to fit the (unpenalised) intercept ``b``.
    solver : {'lbfgs', 'newton-cg', 'sgd', 'adam'}, default='lbfgs'
        ``'lbfgs'``: scipy's L-BFGS-B, one kernel sweep gives value and
        gradient. ``'newton-cg'``: line-search truncated Newton-CG with
        the kernels' Hessian-vector products; fewer iterations on badly scaled
        data, requires ``focal_gamma=0``. On large dense float64 data its
        Hessian products run on a float32 copy of ``X`` (half its memory);
        the gradient and the stopping test stay float64. ``'sgd'`` (constant
        step) and ``'adam'``: minibatch solvers as in ``MLPClassifier``;
        they support :meth:`partial_fit` and the sampled softmax
        (``n_sampled``). Each
        batch ``B`` minimises ``sum_B s_i l_i / S_B + ||W||^2 / (2 C S)``
        (``S_B``, ``S``: the batch's and the data's weight sums), an estimate
        of ``L / sum_i s_i``. Only the touched block of ``W`` is updated
        (all classes with the full softmax, the batch's true classes and the
        candidates when sampling; for sparse ``X`` only the batch's nonzero
        features): exact for ``'sgd'`` (the penalty's shrinkage is a global
        scale), "lazy" for ``'adam'`` (moments and penalty only on the touched
        block; exact with dense ``X`` and the full softmax). See
        ``docs/sampled_softmax.md``.
    tol : float, default=1e-4
        Stop when the largest gradient entry of ``L / sum_i s_i`` is below
        ``tol`` (``'lbfgs'`` and ``'newton-cg'``). For ``'sgd'`` and
        ``'adam'`` (MLPClassifier's rule): stop when the epoch's training
        loss (or the validation accuracy with ``early_stopping``) has not
        improved by ``tol`` for ``n_iter_no_change`` consecutive epochs.
    max_iter : int, default=100
        Maximum number of solver iterations (epochs for 'sgd' and 'adam').
    warm_start : bool, default=False
        Start from the previous solution when refitting on data with the
        same classes and features.
    n_jobs : int, default=None
        Number of threads of the kernels and of the row-chunked objective.
        ``None`` uses OpenMP's default (all cores, or ``OMP_NUM_THREADS``);
        ``-1`` all CPUs.
    random_state : int, RandomState instance or None, default=None
        Unused by the full-batch solvers, which are deterministic; kept for
        API compatibility with the stochastic solvers.
    verbose : int, default=0
        If ``> 0``, print the objective and the gradient's max-norm at
        every iteration (the epoch's loss for 'sgd' and 'adam').
    batch_size : int or 'auto', default='auto'
        Minibatch size of 'sgd' and 'adam'; ``'auto'``: ``min(200, n_samples)``.
    learning_rate_init : float, default=0.001
        Step size of 'sgd' (constant) and 'adam'.
    shuffle : bool, default=True
        Shuffle the samples at every epoch ('sgd', 'adam').
    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` before stopping ('sgd', 'adam').
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified when every
        class has two samples) and stop on its accuracy; the best weights are
        kept ('sgd', 'adam'; ignored by :meth:`partial_fit`).
    validation_fraction : float in (0, 1), default=0.1
        Held-out fraction for ``early_stopping``.
    n_sampled : int or None, default=None
        Sampled softmax ('sgd' and 'adam' only; a ``ValueError`` otherwise):
        per minibatch ``n_sampled`` candidate classes are drawn with
        replacement from ``sampler`` and shared by the batch; each row's
        loss uses its true class and the candidates, with the candidates'
        temperature-scaled logits corrected by ``-log(n_sampled Q_k / count_k)``
        (logQ correction). Label smoothing then spreads ``eps`` uniformly over
        the row's reduced set (true class and non-hit candidates) and the
        focal term uses the sampled-softmax probabilities; both reduce to the
        full definitions when every class is a candidate. ``n_sampled >=
        n_classes - 1`` uses every class as a candidate: the full softmax.
        Prediction always uses the full softmax. ``loss_curve_`` then holds
        the sampled loss.
    sampler : {'uniform', 'unigram', 'log_uniform'}, default='unigram'
        Candidate distribution ``Q``: uniform; ``(count_k + 1) ** sampler_power``
        with the class counts of the training ``sample_weight`` (the add-one
        keeps every class sampleable); or Zipf over the frequency rank
        ``r``: ``log((r + 2) / (r + 1)) / log(K + 1)``. :meth:`partial_fit`
        uses the counts of all chunks seen so far.
    sampler_power : float, default=0.75
        Exponent of the unigram counts.
    remove_accidental_hits : bool, default=True
        Drop, for each row, the candidates equal to its true class.
    low_memory : bool, default=False
        'lbfgs' and 'newton-cg': make no working copy of ``X``. By default
        dense ``X`` with many all-zero columns is compacted to its other
        columns, and 'newton-cg' on large dense float64 ``X`` runs its Hessian
        products on a float32 copy; both make fits faster. ``True`` skips both
        copies, for fits near the memory limit.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights ``W`` (binary: ``w_1 - w_0``), of the dtype of the training ``X``.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts ``b`` (binary: ``b_1 - b_0``); zeros if ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Number of solver iterations run (epochs for 'sgd' and 'adam';
        :meth:`partial_fit` adds one per call), as ``LogisticRegression``.
    loss_curve_ : list of float
        'sgd', 'adam': the training objective estimate of each epoch.
    best_loss_ : float or None
        'sgd', 'adam': smallest ``loss_curve_`` value (None with early stopping).
    validation_scores_ : list of float or None
        'sgd', 'adam' with ``early_stopping``: validation accuracy per epoch.
    best_validation_score_ : float or None
        'sgd', 'adam' with ``early_stopping``: best validation accuracy.
    t_ : int
        'sgd', 'adam': number of training samples seen.
    n_features_in_ : int
        Number of features seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same model without
        temperature, label smoothing or focal term.
    TemperatureCalibrator : Learn a temperature after the fact.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmax import SoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxClassifier(C=10.0, label_smoothing=0.05, max_iter=500).fit(X, y)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    >>> round(clf.score(X, y), 2)
    0.98
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(FULL_BATCH_SOLVERS) | set(STOCHASTIC_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_sampled": [Interval(Integral, 1, None, closed="left"), None],
        "sampler": [StrOptions(set(SAMPLERS))],
        "sampler_power": [Interval(Real, 0, None, closed="left")],
        "remove_accidental_hits": ["boolean"],
        "low_memory": ["boolean"],
    }

    def __init__(
        self,
        penalty="l2",
        C=1.0,
        l1_ratio=0.0,
        temperature=1.0,
        label_smoothing=0.0,
        focal_gamma=0.0,
        class_weight=None,
        fit_intercept=True,
        solver="lbfgs",
        tol=1e-4,
        max_iter=100,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
        batch_size="auto",
        learning_rate_init=0.001,
        shuffle=True,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        n_sampled=None,
        sampler="unigram",
        sampler_power=0.75,
        remove_accidental_hits=True,
        low_memory=False,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.temperature = temperature
        self.label_smoothing = label_smoothing
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.shuffle = shuffle
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_sampled = n_sampled
        self.sampler = sampler
        self.sampler_power = sampler_power
        self.remove_accidental_hits = remove_accidental_hits
        self.low_memory = low_memory

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting ----------------------------------------------------------
    def _penalty_strength(self):
        """``(C, l1_ratio)`` of the objective that ``penalty`` selects."""
        if self.penalty is None:
            return np.inf, 0.0
        l1_ratio = {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio)
        return self.C, float(l1_ratio)

    def _check_solver_options(self):
        C, l1_ratio = self._penalty_strength()
        if l1_ratio > 0 and np.isfinite(C) and self.solver != "lbfgs":
            raise ValueError(
                f"penalty={self.penalty!r} with an L1 part needs solver='lbfgs' (which "
                f"then runs OWL-QN), not solver={self.solver!r}."
            )
        if self.focal_gamma > 0 and self.solver == "newton-cg":
            raise ValueError(
                "solver='newton-cg' needs a convex objective, but focal_gamma="
                f"{self.focal_gamma} > 0 makes it non-convex; use solver='lbfgs'."
            )
        if self.n_sampled is not None and self.solver not in STOCHASTIC_SOLVERS:
            raise ValueError(
                f"n_sampled={self.n_sampled} (sampled softmax) needs a minibatch solver, "
                f"solver='sgd' or solver='adam', not solver={self.solver!r}; use "
                "n_sampled=None for the full-batch solvers."
            )

    def _validate_fit_data(self, X, y, sample_weight, classes=None, reset=True,
                           defer_finite=False):
        """Validated ``X``, the classes, encoded ``y`` (int32 labels, or float64
        target distributions for soft targets), ``s_i`` (sample times class
        weights), the sample weights alone (float64) and the ``C`` that goes
        with them (:func:`_rescaled_weights`).

        ``classes=None`` (:meth:`fit`): the classes are those of ``y`` (soft
        targets: ``0 .. K-1``) and the feature checks reset; else
        (:meth:`partial_fit`) ``y`` must lie in the given classes. ``reset``:
        forget the features seen so far. A soft target row's class weight is
        its expected class weight ``t_i @ class_weight``. ``defer_finite``:
        dense ``X`` is not checked for infinite and NaN entries here; the
        caller's objective must be built with ``check_x`` (``_objective.py``,
        note 8)."""
        finite = not defer_finite or sp.issparse(X)
        if _is_soft(y):
            X, classes, y_enc = self._validate_soft_targets(X, y, classes, reset, finite)
        else:
            X, classes, y_enc = self._validate_labels(X, y, classes, reset, finite)
        data_sw, C = _rescaled_weights(
            _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True),
            self._penalty_strength()[0])
        sw = data_sw
        if self.class_weight is not None:
            cw = _class_weights(self.class_weight, classes,
                                class_totals(y_enc, data_sw, len(classes)))
            sw = data_sw * (y_enc @ cw if y_enc.ndim == 2 else cw[y_enc])
        if not sw.sum() > 0:
            raise ValueError("The sample weights (times class weights) sum to zero.")
        return X, classes, y_enc, sw, data_sw, C

    def _validate_labels(self, X, y, classes, reset, ensure_all_finite=True):
        """``X``, the classes and ``y`` encoded as int32 indices into them."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            order="C", reset=reset, ensure_all_finite=ensure_all_finite,
        )
        if y.dtype.kind not in "iub":   # 1-D integer and bool labels are class labels
            check_classification_targets(y)
        if classes is None:
            classes, y_enc = np.unique(y, return_inverse=True)
            if classes.shape[0] < 2:
                raise ValueError(
                    "This solver needs samples of at least 2 classes in the data, but the "
                    f"data contains only one class: {classes[0]!r}"
                )
        else:
            unknown = ~np.isin(y, classes)
            if unknown.any():
                raise ValueError(
                    f"y contains labels that are not in classes: {np.unique(y[unknown])!r}; "
                    f"classes={classes!r}."
                )
            y_enc = np.searchsorted(classes, y)
        return X, classes, y_enc.astype(np.int32, copy=False)

    def _validate_soft_targets(self, X, Y, classes, reset, ensure_all_finite=True):
        """``X``, the classes and soft targets ``Y`` (n, K) as float64 rows of
        class probabilities."""
        if self.n_sampled is not None or (self.early_stopping and classes is None
                                          and self.solver in STOCHASTIC_SOLVERS):
            raise ValueError("Soft targets need n_sampled=None and early_stopping=False.")
        X, Y = validate_data(
            self, X, Y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            order="C", reset=reset, multi_output=True, y_numeric=True,
            ensure_all_finite=ensure_all_finite,
        )
        Y = np.ascontiguousarray(Y, dtype=np.float64)   # a copy when Y is float32
        K = Y.shape[1]
        if classes is None:
            classes = np.arange(K)
        elif len(classes) != K:
            raise ValueError(f"Soft targets have {K} columns but there are "
                             f"{len(classes)} classes.")
        if (Y < 0).any() or not np.allclose(Y.sum(axis=1), 1.0, rtol=0, atol=1e-6):
            raise ValueError("Soft targets must be non-negative with rows summing to 1.")
        return X, classes, Y

    def _rows_per_class(self):
        """Fitted ``(W, b)`` in float64 with one row per class."""
        return rows_per_class(self.coef_, self.intercept_)

    def _initial_coef(self, n_rows, n_features, warm):
        """Flat float64 ``[W.ravel(), b]``: zeros, or the previous fit (``warm``)."""
        coef = np.zeros(n_rows * (n_features + int(self.fit_intercept)), dtype=np.float64)
        if not warm:
            return coef
        W_prev, b_prev = self._rows_per_class()
        if W_prev.shape != (n_rows, n_features):
            return coef
        coef[: n_rows * n_features] = W_prev.ravel()
        if self.fit_intercept:
            coef[n_rows * n_features:] = b_prev
        return coef

    def _training_loss(self, n_threads):
        return SoftmaxLoss(self.temperature, self.label_smoothing, self.focal_gamma, n_threads)

    @staticmethod
    def _coef_attributes(W, b, dtype):
        """``coef_`` / ``intercept_`` with scikit-learn's binary convention, as
        new arrays (never a solver's working state)."""
        if W.shape[0] == 2:
            W = W[1:] - W[:1]
            b = b[1:] - b[:1]
        return {"coef_": np.array(W, dtype=dtype, order="C"),
                "intercept_": np.array(b, dtype=dtype)}

    # Fitted attributes a new fit replaces (a stale one of another solver must go).
    _fitted_names = ("classes_", "coef_", "intercept_", "n_iter_", "loss_curve_", "best_loss_",
                     "validation_scores_", "best_validation_score_", "t_", "_stochastic")

    def _replace_fitted(self, fitted):
        """Install a fit's attributes at once, dropping those of an earlier fit."""
        for name in self._fitted_names:
            self.__dict__.pop(name, None)
        self.__dict__.update(fitted)
        return self

    def _commit_fit(self, build, *args):
        """Install the fitted attributes that ``build(*args)`` returns (built
        aside); on any failure (KeyboardInterrupt included) restore the previous
        state, since validation itself records ``n_features_in_``."""
        previous_state = self.__dict__.copy()
        try:
            fitted = build(*args)
        except BaseException:
            self.__dict__ = previous_state
            raise
        return self._replace_fitted(fitted)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimising the penalised objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is fitted in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Target labels, or soft targets: a float array whose rows are class
            probabilities (non-negative, summing to 1), e.g. a teacher's
            predictions for distillation or annotators' vote shares. Soft
            targets ``t_i`` replace ``onehot(y_i)`` in the objective, so label
            smoothing, temperature, focal term (``q_ik`` weighting each class's
            term) and weights compose with them; ``classes_`` is then
            ``arange(n_classes)`` and a row's class weight is ``t_i @
            class_weight``. Score such fits with
            :data:`skmax.metrics.soft_log_loss_scorer` (e.g. in
            ``cross_val_score``). Soft targets need ``n_sampled=None`` and
            ``early_stopping=False``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights, multiplied by the class weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._check_solver_options()
        # the distributed fit builds its attributes aside too
        build = partial(fit_dask, self) if is_dask(X) else self._fit_in_memory
        return self._commit_fit(build, X, y, sample_weight)

    def _warm(self, classes):
        """Whether to start from the current fit: ``warm_start`` with the same classes."""
        return self.warm_start and np.array_equal(getattr(self, "classes_", np.empty(0)),
                                                  classes)

    def _fit_in_memory(self, X, y, sample_weight):
        """The fitted attributes of a fit on in-memory data."""
        full_batch = self.solver not in STOCHASTIC_SOLVERS
        # a full-batch fit checks dense X in its first evaluation (one pass less)
        X, classes, y_enc, sw, data_sw, C = self._validate_fit_data(
            X, y, sample_weight, defer_finite=full_batch)
        warm = self._warm(classes)
        if not full_batch:
            return self._fit_stochastic(X, y_enc, sw, data_sw, C, classes, warm)
        return self._fit_full_batch(X, y_enc, sw, C, classes, warm)

    def _fit_full_batch(self, X, y, sw, C, classes, warm):
        """Minimise the objective with ``FULL_BATCH_SOLVERS[self.solver]`` (OWL-QN
        for an L1 part); returns the fitted attributes. ``X`` is checked for
        infinite and NaN entries by the objective (``_objective.py``, note 8)."""
        coef0 = self._initial_coef(len(classes), X.shape[1], warm)
        objective = self._full_batch_objective(X, y, sw, C, len(classes), check_x=True)
        with objective:
            coef, n_iter = self._solve(objective, coef0)
        objective.check_x()     # a fit without evaluations (max_iter=0)
        return {"classes_": classes, **self._solution_attributes(objective, coef, n_iter)}

    def _full_batch_objective(self, X, y, sw, C, n_rows, check_x=False):
        """The :class:`SoftmaxObjective` of encoded ``y`` at penalty ``C`` (the
        one :meth:`_validate_fit_data` returns); ``check_x``: the objective
        checks ``X`` for infinite and NaN entries (validated with
        ``defer_finite``)."""
        return SoftmaxObjective(
            X, y, sw, n_rows, self._training_loss(1), C=C,
            l1_ratio=self._penalty_strength()[1], fit_intercept=self.fit_intercept,
            n_threads=n_threads_from_n_jobs(self.n_jobs), low_memory=self.low_memory,
            check_x=type(self).__name__ if check_x else None,
        )

    def _solve(self, objective, coef0):
        """``(coef, n_iter)``: the full-batch solver run from ``coef0``."""
        if self.max_iter == 0:
            return coef0, 0
        solver = minimize_owlqn if objective.l1 > 0 else FULL_BATCH_SOLVERS[self.solver]
        return solver(objective, coef0, tol=self.tol, max_iter=self.max_iter,
                      verbose=self.verbose)

    def _solution_attributes(self, objective, coef, n_iter):
        """``n_iter_``, ``coef_`` and ``intercept_`` of a flat solution of ``objective``."""
        W, b = objective.unpack(coef)
        if b is None:
            b = np.zeros(objective.n_classes)
        return {"n_iter_": np.array([n_iter], dtype=np.int32),
                **self._coef_attributes(W, b, objective.dtype)}

    # -- minibatch solvers (the loop lives in _sgd) -----------------------
    def _minibatch_config(self):
        """Keyword arguments of ``_sgd.configure_solver``."""
        return dict(
            loss=self._training_loss(n_threads_from_n_jobs(self.n_jobs)),
            learning_rate=self.learning_rate_init, n_sampled=self.n_sampled,
            sampler=self.sampler, sampler_power=self.sampler_power,
            remove_accidental_hits=self.remove_accidental_hits,
        )

    def _stopping_options(self, C):
        """Keyword arguments of ``_sgd.run_epochs``."""
        return dict(
            C=C, tol=self.tol, batch_size=self.batch_size, shuffle=self.shuffle,
            n_iter_no_change=self.n_iter_no_change, max_iter=self.max_iter,
            verbose=self.verbose,
        )

    def _start_coef(self, n_rows, n_features, warm):
        """Initial ``(W, b)``: the previous minibatch state (warm start with the
        same shapes), else :meth:`_initial_coef`."""
        state = getattr(self, "_stochastic", None)
        if warm and state is not None and state["V"].shape == (n_rows, n_features):
            return state["alpha"] * state["V"], state["b"].copy()
        coef = self._initial_coef(n_rows, n_features, warm)
        W = coef[: n_rows * n_features].reshape(n_rows, n_features)
        b = coef[n_rows * n_features:] if self.fit_intercept else np.zeros(n_rows)
        return W, b

    @classmethod
    def _minibatch_attributes(cls, solver, classes):
        """Fitted attributes from the minibatch solver and its history; the
        solver's own state is kept as arrays and plain values."""
        history = solver.history
        W, b = solver.coef(copy=False)
        return {
            "classes_": classes, "_stochastic": solver.state(),
            "loss_curve_": history.loss_curve, "best_loss_": history.best_loss,
            "validation_scores_": history.validation_scores,
            "best_validation_score_": history.best_validation_score,
            "n_iter_": np.array([history.n_iter], dtype=np.int32), "t_": history.t,
            **cls._coef_attributes(W, b, solver.dtype),
        }

    def _fit_stochastic(self, X, y, sw, data_sw, C, classes, warm):
        W0, b0 = self._start_coef(len(classes), X.shape[1], warm)
        solver = fit_minibatch(
            self.solver, X, y, sw, data_sw, W0, b0, random_state=self.random_state,
            fit_intercept=self.fit_intercept, early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction, config=self._minibatch_config(),
            stopping=self._stopping_options(C),
        )
        return self._minibatch_attributes(solver, classes)

    def _check_stochastic(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for the minibatch solvers "
                f"{STOCHASTIC_SOLVERS}, not for solver={self.solver!r}."
            )
        return True

    @available_if(_check_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch of the minibatch solver over a chunk of data.

        Each call makes one pass over ``(X, y)`` in batches of ``batch_size``
        (shuffled within the chunk if ``shuffle``), continuing the optimiser
        state (moments, step count, random streams) of the previous calls.
        The penalty of each call is scaled by the chunk's total weight
        ``S_chunk``: a call minimises the objective of its chunk, exactly as
        one epoch of :meth:`fit` on that chunk would. To target the objective
        of the concatenated data ``S_total``, use ``C * S_total / S_chunk``.
        With ``n_sampled``, the 'unigram' and 'log_uniform' samplers use the
        class counts of all chunks seen so far. ``early_stopping`` and
        ``max_iter`` are ignored. A call that fails (bad input, divergence,
        ``KeyboardInterrupt``) keeps the model of the previous call; after a
        failure during the epoch the next call restarts the optimiser
        (moments, history) from that model, since the optimiser's arrays are
        updated in place rather than copied on every call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Target labels, all in ``classes``, or soft targets (rows of class
            probabilities over ``classes``; see :meth:`fit`).
        classes : array-like of shape (n_classes,), default=None
            All the classes that can appear in any call; required on the first
            call and ignored afterwards (it must then match ``classes_``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights, multiplied by the class weights.

        Returns
        -------
        self : object
            The estimator.
        """
        self._check_solver_options()
        previous_state = self.__dict__.copy()
        try:
            if self.class_weight == "balanced":
                raise ValueError(
                    "class_weight='balanced' is not supported for partial_fit: the class "
                    "frequencies of the whole data are unknown. Pass a dict computed with "
                    "sklearn.utils.class_weight.compute_class_weight('balanced', "
                    "classes=classes, y=y) instead."
                )
            first = _check_partial_fit_first_call(self, classes)
            if first and len(self.classes_) < 2:
                raise ValueError(
                    f"classes must contain at least 2 classes, got {self.classes_!r}."
                )
            X, _, y_enc, sw, data_sw, C = self._validate_fit_data(
                X, y, sample_weight, classes=self.classes_, reset=first)
            solver = self._partial_fit_solver(X, y_enc, data_sw, first)
        except BaseException:
            self.__dict__ = previous_state   # bad input changes nothing
            raise
        if sp.issparse(X):
            X = X.tocsr()
        if X.dtype != solver.dtype:
            X = X.astype(solver.dtype)
        try:
            run_epochs(solver, X, y_enc, sw, 1, incremental=True, **self._stopping_options(C))
        except BaseException:
            # The optimiser's arrays are updated in place (no copy of W and the
            # moments per call): after a failed epoch the previous call's model
            # stays, and the next call restarts the optimiser from it.
            previous_state.pop("_stochastic", None)
            self.__dict__ = previous_state
            raise
        return self._replace_fitted(self._minibatch_attributes(solver, self.classes_))

    def _partial_fit_solver(self, X, y_enc, data_sw, first):
        """The solver of the previous calls (its state updated with this chunk's
        class counts and the current hyper-parameters), or a new one."""
        state = getattr(self, "_stochastic", None)
        n_rows, n_features = len(self.classes_), X.shape[1]
        counts = class_totals(y_enc, data_sw, n_rows)
        if first or state is None:
            if first:
                W0 = np.zeros((n_rows, n_features), dtype=X.dtype)
                b0 = np.zeros(n_rows, dtype=X.dtype)
            else:   # continue from a full-batch fit (or after a failed call)
                W0, b0 = self._rows_per_class()
            seeds = check_random_state(self.random_state).randint(
                np.iinfo(np.int32).max, size=2)
            return new_solver(self.solver, X.dtype, W0, b0, counts, seeds,
                              fit_intercept=self.fit_intercept, early_stopping=False,
                              config=self._minibatch_config())
        solver = StochasticSolver.from_state(state)
        solver.counts = solver.counts + counts
        configure_solver(solver, **self._minibatch_config())
        return solver

    # -- prediction -------------------------------------------------------
    def _validate_predict_data(self, X):
        # infinite and NaN entries: checked by the prediction kernel, in cache
        # and in parallel (skmax/_prediction.py, note 4)
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            reset=False, ensure_all_finite=False,
        )

    def _predict(self, X, kind):
        """:func:`predict_linear` of the fitted model, at its temperature."""
        X = self._validate_predict_data(X)
        return predict_linear(X, self.coef_, self.intercept_, kind,
                              inv_T=1.0 / self.temperature,
                              n_threads=n_threads_from_n_jobs(self.n_jobs),
                              check_finite=True)

    def decision_function(self, X):
        """Temperature-scaled logits ``z = (X @ coef_.T + intercept_) / T``.

        ``predict_proba(X) == softmax(decision_function(X))`` for three or
        more classes; for two classes the 1-D score is ``z_1 - z_0`` and
        ``predict_proba(X)[:, 1] == sigmoid(decision_function(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        if is_dask(X):
            return predict_dask(self, "decision_function", X)
        scores = self._predict(X, "decision")
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities ``softmax(decision_function(X))``.

        Computed from the logits with a stable softmax: finite for any finite
        input. The output is a dense ``n_samples x n_classes`` array (with
        many classes, call it on row chunks, or use :meth:`predict`, which
        never holds more than a chunk of rows x ``n_classes`` logits).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        if is_dask(X):
            return predict_dask(self, "predict_proba", X)
        return self._predict(X, "proba")

    def predict_log_proba(self, X):
        """Log of the class probabilities, computed as a log-softmax.

        Never the log of a rounded probability: very unlikely classes get
        large negative, finite values instead of ``-inf``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        if is_dask(X):
            return predict_dask(self, "predict_log_proba", X)
        return self._predict(X, "log_proba")

    def predict(self, X):
        """Most probable class of each sample (computed in row chunks).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        if is_dask(X):
            return predict_dask(self, "predict", X)
        labels = self._predict(X, "label")     # checks that the model is fitted first
        return self.classes_[labels]
