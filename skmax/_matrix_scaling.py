"""Vector, Dirichlet and structured matrix scaling of classifier scores.

Each calibrator is a multinomial logistic regression on the ``K`` columns of
log-probabilities ``Z``: ``p = softmax(Z W^T + b)``, ``W`` diagonal (vector
scaling) or full (matrix scaling), with a ridge penalty on the departure from
the identity map ``W = I, b = 0``.

Design decisions:

1. Scores become log-probabilities first (log-softmax of logits, log of
   probabilities, floored at ``log(1e-12)``). Logits are defined up to a
   constant per row and log-probabilities are not; they are at most 0, so no
   fitted scale overflows them; on them equal scales are temperature scaling
   and ``W = I, b = 0`` is the identity.
2. One model, one penalty: ``sum_j s_j (theta_j - identity_j)^2`` with one
   strength per group (intercepts, diagonal, off-diagonal). A calibrator only
   picks its features, structure and strengths: ODIR (Kull et al. 2019) is
   off-diagonal + intercept; SMS (Berta et al. 2025) is all three scaled by
   ``(group size)^rho / n^tau``, on temperature-scaled probabilities mixed
   with the uniform distribution (weight ``1 / (n + 1)``).
3. The data term is the package's own: the full matrix is a
   :class:`SoftmaxObjective` with the features as ``X`` and no L2 (``C=inf``);
   the diagonal one calls :class:`SoftmaxLoss` on ``n x K`` logits (a ``K x K``
   sweep for ``K`` parameters would waste a factor ``K``). The package's
   solvers fit them, no second optimiser: Newton-CG the diagonal map (2K
   parameters, well conditioned: a dozen or two iterations to a tight
   tolerance), L-BFGS the full one (the softmax is blind to adding one vector
   to every row of ``W``, so only the weak penalty conditions those
   directions; Newton-CG's truncated steps stalled on them where L-BFGS did not).
4. The fit starts at the identity, where the penalty is zero, and both
   solvers only accept decreasing steps, so the training NLL is never above the
   identity's; a final check keeps the identity (with a warning) if rounding
   says otherwise.
5. Every strength has a floor (``_MIN_STRENGTH``): on separable scores or with
   an absent class the unpenalised optimum is at infinity; the floor keeps the
   parameters finite and the fit warns.
6. Cross-validation tries the strengths from the strongest to the weakest,
   each fit warm-started at the previous one (strong penalties fit in a few
   iterations and land next to the next grid point).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._calibration import (
    PROBA_FLOOR,
    TemperatureCalibrator,
    TemperatureScalingWarning,
    _check_probabilities,
    _to_logits,
)
from ._loss import SoftmaxLoss
from ._objective import SoftmaxObjective
from ._solvers import minimize_lbfgs, minimize_newton_cg
from ._threads import n_threads_from_n_jobs

__all__ = [
    "CalibrationWarning",
    "VectorScalingCalibrator",
    "DirichletCalibrator",
    "StructuredMatrixScalingCalibrator",
]

# The solver of each structure (note 3).
_SOLVERS = {"vector": minimize_newton_cg, "matrix": minimize_lbfgs}

# Probability floor of SMS's input (the paper's code: float32's smallest normal
# number). Its temperature and uniform mixture bound the features afterwards,
# so tiny probabilities keep their ranking instead of meeting at 1e-12; on
# overfit models' scores that lowered the test NLL (bench_calibrators).
_SMS_FLOOR = float(np.finfo(np.float32).tiny)

# Floor of every penalty strength (note 5): far below any useful strength, so
# it moves ordinary fits by rounding only.
_MIN_STRENGTH = 1e-8


class CalibrationWarning(UserWarning):
    """A scaling calibrator met data that only its penalty can fit.

    Separable scores, classes without calibration rows, more classes than
    rows, a single row: the fit still succeeds with finite parameters; filter
    this category to silence it, e.g. in a cross-validation loop.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skmax import CalibrationWarning, VectorScalingCalibrator
    >>> scores = np.array([[2.0, 0.0], [0.0, 2.0]])   # separates the classes
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     cal = VectorScalingCalibrator().fit(scores, [0, 1])
    >>> sorted({w.category.__name__ for w in caught})
    ['CalibrationWarning']
    """


# ---------------------------------------------------------------------------
# Features, parameters and the objective
# ---------------------------------------------------------------------------


def log_probabilities(S, kind, floor=PROBA_FLOOR):
    """Log-probabilities of validated scores ``S`` floored at ``log(floor)``
    (note 1), a new C array."""
    if kind == "probabilities" and S.shape[1] > 1:
        Z = np.log(np.maximum(S, S.dtype.type(floor)))
    else:
        Z = _to_logits(S, kind)
        if kind == "logits" and Z.shape[0]:
            SoftmaxLoss(n_threads=n_threads_from_n_jobs(None)).predict_proba(Z, log=True)
    np.maximum(Z, Z.dtype.type(np.log(floor)), out=Z)
    return Z


def identity_coef(structure, n_classes):
    """Flat parameters of the identity map: ``[diag, b]`` or ``[W.ravel(), b]``."""
    K = n_classes
    scales = np.ones(K) if structure == "vector" else np.eye(K).ravel()
    return np.concatenate([scales, np.zeros(K)])


def penalty_weights(structure, n_classes, intercept, diagonal, off_diagonal=0.0):
    """Per-parameter strengths ``s_j`` in the layout of :func:`identity_coef`."""
    K = n_classes
    if structure == "vector":
        scales = np.full(K, float(diagonal))
    else:
        scales = np.full((K, K), float(off_diagonal))
        np.fill_diagonal(scales, float(diagonal))
        scales = scales.ravel()
    weights = np.concatenate([scales, np.full(K, float(intercept))])
    return np.maximum(weights, _MIN_STRENGTH)


def scaled_logits(Z, coef, structure):
    """``Z W^T + b`` for the flat parameters ``coef``, a new array in ``Z``'s dtype."""
    K = Z.shape[1]
    dtype = Z.dtype
    b = coef[-K:].astype(dtype)
    if structure == "vector":
        return Z * coef[:K].astype(dtype) + b
    W = coef[: K * K].reshape(K, K).astype(dtype)
    return np.ascontiguousarray(Z @ W.T) + b


class VectorScalingObjective:
    """Weighted mean NLL of ``softmax(Z * w + b)`` over ``coef = [w, b]``
    (the interface of :class:`SoftmaxObjective` that the solvers use)."""

    def __init__(self, Z, y, sample_weight, n_threads=1):
        self.Z = Z
        self.y = np.ascontiguousarray(y, dtype=np.int32)
        self.sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        self.n_samples, K = Z.shape
        self.n_params = 2 * K
        self.dtype = np.dtype(Z.dtype)
        self.low_memory = False
        self.scale = 1.0 / self.sample_weight.sum()
        self.loss = SoftmaxLoss(n_threads=n_threads)
        self._proba = self._proba_at = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def _pullback(self, G):
        """Gradient over ``[w, b]`` of a quantity whose logit gradient is ``G``."""
        grad_w = np.einsum("ik,ik->k", G, self.Z, dtype=np.float64)
        return self.scale * np.concatenate([grad_w, G.sum(axis=0, dtype=np.float64)])

    def loss_gradient(self, coef, keep_proba=False):
        G = scaled_logits(self.Z, coef, "vector")
        proba = np.empty_like(G) if keep_proba else None
        total = self.loss.loss_gradient(G, self.y, self.sample_weight, proba)
        if keep_proba:
            self._proba, self._proba_at = proba, np.array(coef, copy=True)
        return self.scale * total, self._pullback(G)

    def hessp(self, coef, vector, dtype=None):
        if self._proba_at is None or not np.array_equal(coef, self._proba_at):
            self.loss_gradient(coef, keep_proba=True)
        D = scaled_logits(self.Z, vector, "vector")
        self.loss.hessp(D, self._proba, self.sample_weight)
        return self._pullback(D)


class PenalisedObjective:
    """``data(coef) + sum_j weights_j (coef_j - centre_j)^2`` for any data
    objective with the :class:`SoftmaxObjective` interface."""

    def __init__(self, data, weights, centre):
        self.data = data
        self.weights = weights
        self.centre = centre
        self.n_samples = data.n_samples
        self.n_params = data.n_params
        self.dtype = data.dtype           # the solvers' stopping tests read these
        self.low_memory = data.low_memory

    def __enter__(self):
        self.data.__enter__()
        return self

    def __exit__(self, *exc):
        self.data.__exit__(*exc)

    def loss_gradient(self, coef, keep_proba=False):
        value, grad = self.data.loss_gradient(coef, keep_proba=keep_proba)
        d = coef - self.centre
        return value + float(self.weights @ (d * d)), grad + 2.0 * self.weights * d

    def hessp(self, coef, vector, dtype=None):
        return self.data.hessp(coef, vector, dtype) + 2.0 * self.weights * vector


def scaling_objective(Z, y, sample_weight, structure, weights, n_threads=1):
    """The penalised objective of a vector or matrix scaling fit (note 3)."""
    K = Z.shape[1]
    if structure == "vector":
        data = VectorScalingObjective(Z, y, sample_weight, n_threads)
    else:
        data = SoftmaxObjective(Z, y, sample_weight, K, SoftmaxLoss(), C=np.inf,
                                fit_intercept=True, n_threads=n_threads)
    return PenalisedObjective(data, weights, identity_coef(structure, K))


def fit_scaling(Z, y, sample_weight, structure, weights, coef0=None, *, tol=1e-6,
                max_iter=1000, n_threads=1):
    """Minimise the penalised NLL from ``coef0`` (default: the identity).

    Returns ``(coef, n_iter)``.
    """
    objective = scaling_objective(Z, y, sample_weight, structure, weights, n_threads)
    coef0 = objective.centre if coef0 is None else coef0
    with objective:
        return _SOLVERS[structure](objective, coef0, tol=tol, max_iter=max_iter)


def mean_nll(Z, y, sample_weight, coef, structure):
    """Weighted mean NLL of the calibrated probabilities on ``(Z, y)``."""
    logits = scaled_logits(Z, coef, structure)
    sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.int32)
    return SoftmaxLoss().loss_gradient(logits, y, sample_weight) / sample_weight.sum()


def cross_validate_strength(Z, y, sample_weight, structure, weights_of, alphas, cv,
                            **fit_params):
    """Pick the overall strength among ``alphas`` by held-out NLL (note 6).

    ``weights_of(alpha, n_rows)`` gives the per-parameter strengths. Returns
    ``(best_alpha, coef, n_iter, scores)`` where ``coef`` is refitted on all
    rows along the grid down to ``best_alpha`` and ``scores`` is the summed
    held-out weighted NLL per alpha (in the order of ``alphas``).
    """
    order = np.argsort(alphas)[::-1]         # strongest first
    splitter = check_cv(cv, y, classifier=True)
    scores = np.zeros(len(alphas))
    with warnings.catch_warnings():
        # StratifiedKFold warns when a class has fewer rows than folds; the
        # scores of such folds are still valid held-out NLLs
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        splits = list(splitter.split(Z, y))
    for train, test in splits:
        Z_train, y_train, sw_train = Z[train], y[train], sample_weight[train]
        Z_test, y_test, sw_test = Z[test], y[test], sample_weight[test]
        coef = None
        for g in order:
            weights = weights_of(alphas[g], len(train))
            coef, _ = fit_scaling(Z_train, y_train, sw_train, structure, weights, coef,
                                  **fit_params)
            scores[g] += mean_nll(Z_test, y_test, sw_test, coef, structure) * sw_test.sum()
    best = int(np.argmin(scores))
    coef, n_iter = None, 0
    for g in order[: list(order).index(best) + 1]:
        coef, it = fit_scaling(Z, y, sample_weight, structure,
                               weights_of(alphas[g], len(y)), coef, **fit_params)
        n_iter += it
    return float(alphas[best]), coef, n_iter, scores


# ---------------------------------------------------------------------------
# The estimators
# ---------------------------------------------------------------------------


class _ScalingCalibrator(TransformerMixin, BaseEstimator):
    """Shared fit/transform of the scaling calibrators; subclasses set the
    structure, the strengths (:meth:`_weights`) and optionally the features."""

    _structure = "vector"
    _default_alphas = np.logspace(-4, 2, 7)

    _parameter_constraints = {
        "input": [StrOptions({"auto", "logits", "probabilities"})],
        "classes": ["array-like", None],
        "cv": ["cv_object", None],
        "alphas": ["array-like", None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    # score validation, label encoding and output names are the temperature
    # calibrator's: the same conventions for every calibrator
    _validate_scores = TemperatureCalibrator._validate_scores
    _resolve_classes = TemperatureCalibrator._resolve_classes
    _encode_labels = TemperatureCalibrator._encode_labels
    _fit_inputs = TemperatureCalibrator._fit_inputs
    get_feature_names_out = TemperatureCalibrator.get_feature_names_out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _weights(self, alpha, n_rows, n_classes):
        raise NotImplementedError

    def _fit_features(self, S, kind, y_enc, sw):
        """Features of the training scores (and any preprocessing they fit)."""
        return log_probabilities(S, kind)

    def _features(self, S):
        return log_probabilities(S, self.input_kind_)

    def _warn(self, what, stacklevel=5):
        # default: called from _check_data, under fit and its _fit_context wrapper
        warnings.warn(f"{self.__class__.__name__}: {what}", CalibrationWarning,
                      stacklevel=stacklevel)

    def _check_data(self, Z, y_enc, sw):
        """Warn about the data the penalty alone keeps finite (note 5); True if any."""
        n, K = Z.shape
        warned = False
        positive = sw > 0
        present = np.unique(y_enc[positive])
        if len(present) < K:
            missing = np.setdiff1d(np.arange(K), present)
            warned = True
            self._warn(
                f"the classes {self.classes_[missing].tolist()[:10]} have no calibration "
                "rows; their parameters are set by the penalty alone, and their "
                "probabilities only shrink as far as it allows."
            )
        if K > positive.sum():
            warned = True
            self._warn(
                f"{K} classes but only {int(positive.sum())} calibration rows; the fit is "
                "dominated by the penalty."
            )
        rows = np.flatnonzero(positive)
        label_score = Z[rows, y_enc[rows]]
        others = Z[rows].copy()
        others[np.arange(len(rows)), y_enc[rows]] = -np.inf
        if len(rows) >= 2 and np.all(label_score > others.max(axis=1)):
            warned = True
            self._warn(
                "the scores separate the classes perfectly; the likelihood keeps "
                "growing with the scales, which only the penalty keeps finite."
            )
        return warned

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y, sample_weight=None):
        """Fit the calibration map.

        Parameters
        ----------
        scores : array-like of shape (n_samples, n_classes) or (n_samples,)
            Logits, decision-function values or probabilities (see ``input``);
            float32 stays float32.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Fitted calibrator.
        """
        S, kind, classes, y_enc = self._fit_inputs(scores, y)
        n = S.shape[0]
        sw = _check_sample_weight(sample_weight, S, dtype=np.float64, ensure_non_negative=True)
        if not sw.sum() > 0:
            raise ValueError("The sample weights sum to zero; there is nothing to fit.")
        alphas = None
        if self.cv is not None:
            alphas = np.asarray(
                self._default_alphas if self.alphas is None else self.alphas, dtype=np.float64
            )
            if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas < 0):
                raise ValueError("alphas must be a non-empty 1-D array of non-negative values.")

        self.input_kind_ = kind
        self.classes_ = classes
        Z = self._fit_features(S, kind, y_enc, sw)
        K = Z.shape[1]
        structure = self._structure
        identity = identity_coef(structure, K)
        hard_data = self._check_data(Z, y_enc, sw)
        n_threads = n_threads_from_n_jobs(None)   # small inputs: fewer (SoftmaxLoss)
        fit_params = dict(tol=self.tol, max_iter=self.max_iter, n_threads=n_threads)
        self.alpha_ = self.cv_scores_ = None
        with warnings.catch_warnings():
            if hard_data:   # the warning above says why the solver may stop early
                warnings.simplefilter("ignore", ConvergenceWarning)
            if np.count_nonzero(sw) < 2:
                self._warn("a single calibration row cannot determine a map; the identity "
                           "is used.", stacklevel=4)
                coef, n_iter = identity, 0
            elif alphas is None:
                coef, n_iter = fit_scaling(Z, y_enc, sw, structure,
                                           self._weights(None, n, K), **fit_params)
            else:
                self.alpha_, coef, n_iter, self.cv_scores_ = cross_validate_strength(
                    Z, y_enc, sw, structure, lambda a, m: self._weights(a, m, K),
                    alphas, self.cv, **fit_params,
                )
        nll = mean_nll(Z, y_enc, sw, coef, structure)
        nll_identity = mean_nll(Z, y_enc, sw, identity, structure)
        if not nll <= nll_identity:   # note 4; also catches a NaN
            self._warn("the fitted map is not better than the identity on the training "
                       "data; the identity is kept.", stacklevel=4)
            coef, nll = identity, nll_identity
        self._set_coef(coef, K)
        self.nll_ = float(nll)
        self.n_iter_ = int(n_iter)
        return self

    def _set_coef(self, coef, K):
        self.intercept_ = coef[-K:].copy()
        if self._structure == "vector":
            self.coef_ = coef[:K].copy()
        else:
            self.coef_ = coef[: K * K].reshape(K, K).copy()

    def _flat_coef(self):
        return np.concatenate([self.coef_.ravel(), self.intercept_])

    def transform(self, scores):
        """Calibrated probabilities.

        Parameters
        ----------
        scores : array-like of shape (n_samples, n_classes) or (n_samples,)
            Scores of the same kind and width as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Calibrated probabilities, in the dtype of ``scores``.
        """
        check_is_fitted(self)
        S = self._validate_scores(scores, reset=False)
        if self.input_kind_ == "probabilities":
            _check_probabilities(S)
        logits = scaled_logits(self._features(S), self._flat_coef(), self._structure)
        if logits.shape[0]:
            SoftmaxLoss(n_threads=n_threads_from_n_jobs(None)).predict_proba(logits)
        return logits


_COMMON_PARAMS = """    input : {'auto', 'logits', 'probabilities'}, default='auto'
        How to read the scores, as in :class:`TemperatureCalibrator`. Both
        become log-probabilities: ``log_softmax(scores)`` or
        ``log(max(p, 1e-12))``.
    classes : array-like of shape (n_classes,), default=None
        The labels of the score columns, in column order (see
        :class:`TemperatureCalibrator`).
    cv : int, cross-validation generator or iterable, default=None
        ``None``: fit with the strengths given. Otherwise the overall strength
        ``alpha`` is chosen among ``alphas`` by the held-out NLL of these
        folds (an int means :class:`~sklearn.model_selection.StratifiedKFold`),
        fitting from the strongest to the weakest with warm starts, and the
        map is refitted on all rows.
    alphas : array-like of float, default=None
        The grid of ``cv`` (``None``: the class's default grid).
    tol : float, default=1e-6
        The solver stops when the largest gradient entry is below ``tol``.
    max_iter : int, default=1000
        Maximum number of solver iterations per fit (Newton-CG for a diagonal
        map, L-BFGS for a full matrix)."""

_COMMON_ATTRIBUTES = """    intercept_ : ndarray of shape (n_classes,)
        The intercepts ``b``.
    alpha_ : float or None
        The strength chosen by cross-validation (``None`` without ``cv``).
    cv_scores_ : ndarray of shape (n_alphas,) or None
        Summed held-out weighted NLL per entry of ``alphas`` (``None`` without ``cv``).
    nll_ : float
        Weighted mean NLL of the calibrated training scores.
    n_iter_ : int
        Solver iterations of the final fit (summed along the grid with ``cv``).
    input_kind_ : {'logits', 'probabilities'}
        How the scores were read.
    classes_ : ndarray of shape (n_classes,)
        Class labels of the output columns.
    n_features_in_ : int
        Number of score columns seen in ``fit`` (1 for a 1-D binary score).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the score columns, if given as a DataFrame with string columns."""

_COMMON_NOTES = """    The fit starts at the identity map, where the penalty is zero, so the
    training NLL never exceeds the uncalibrated one. Separable scores, classes
    without calibration rows, more classes than rows and a single row each
    give a :class:`CalibrationWarning`; every strength has a floor of 1e-8,
    which keeps the parameters finite there."""


class VectorScalingCalibrator(_ScalingCalibrator):
    __doc__ = f"""Vector scaling: a scale and an intercept per class (Guo et al. 2017).

    ``p = softmax(w * z + b)`` on the log-probabilities ``z`` of the scores;
    ``w = 1 / T`` for every class is temperature scaling. A ridge penalty
    ``alpha * (mean_k (w_k - 1)^2 + mean_k b_k^2)`` pulls towards the
    identity: unpenalised (``alpha=0``, Guo et al.'s original), a class whose
    probability is only above the floor on its own rows has an unbounded
    scale, which overfits the calibration set.

    Parameters
    ----------
{_COMMON_PARAMS}
    alpha : float, default=0.01
        Strength of the penalty (without ``cv``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes,)
        The scales ``w``.
{_COMMON_ATTRIBUTES}

    Notes
    -----
{_COMMON_NOTES}

    Examples
    --------
    >>> import numpy as np
    >>> from skmax import VectorScalingCalibrator
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=300)
    >>> scores = 4.0 * np.eye(3)[y] + 3.0 * rng.randn(300, 3)
    >>> cal = VectorScalingCalibrator().fit(scores, y)
    >>> cal.coef_.shape, cal.transform(scores).shape
    ((3,), (300, 3))
    """

    _structure = "vector"
    _parameter_constraints = {
        **_ScalingCalibrator._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, input="auto", classes=None, *, alpha=0.01, cv=None, alphas=None,
                 tol=1e-6, max_iter=1000):
        self.input = input
        self.classes = classes
        self.alpha = alpha
        self.cv = cv
        self.alphas = alphas
        self.tol = tol
        self.max_iter = max_iter

    def _weights(self, alpha, n_rows, n_classes):
        strength = (self.alpha if alpha is None else alpha) / n_classes
        return penalty_weights("vector", n_classes, strength, strength)


class DirichletCalibrator(_ScalingCalibrator):
    __doc__ = f"""Dirichlet calibration: matrix scaling of log-probabilities with ODIR.

    ``p = softmax(W z + b)`` on the log-probabilities ``z`` of the scores, a
    full ``K x K`` matrix (Kull et al., NeurIPS 2019), with the
    off-diagonal and intercept regularisation (ODIR)
    ``alpha * mean_{{j != k}} W_jk^2 + mu * mean_k b_k^2``; the diagonal is free.
    An infinite ``alpha`` is vector scaling.

    Parameters
    ----------
{_COMMON_PARAMS}
    alpha : float, default=1.0
        Off-diagonal strength ``lambda`` (without ``cv``; ``np.inf`` fits a
        diagonal ``W``, i.e. :class:`VectorScalingCalibrator`).
    intercept_alpha : float, default=None
        Intercept strength ``mu``; ``None`` ties it to ``alpha`` (also along
        the ``cv`` grid, as ``dirichletcal`` does), or 0 for an infinite ``alpha``.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_classes)
        The matrix ``W``.
{_COMMON_ATTRIBUTES}

    Notes
    -----
{_COMMON_NOTES}

    Examples
    --------
    >>> import numpy as np
    >>> from skmax import DirichletCalibrator
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=300)
    >>> scores = 4.0 * np.eye(3)[y] + 3.0 * rng.randn(300, 3)
    >>> cal = DirichletCalibrator(alpha=0.1).fit(scores, y)
    >>> cal.coef_.shape, cal.transform(scores).shape
    ((3, 3), (300, 3))
    """

    _default_alphas = np.logspace(-1, 4, 6)
    _parameter_constraints = {
        **_ScalingCalibrator._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="both")],
        "intercept_alpha": [Interval(Real, 0, None, closed="left"), None],
    }

    def __init__(self, input="auto", classes=None, *, alpha=1.0, intercept_alpha=None,
                 cv=None, alphas=None, tol=1e-6, max_iter=1000):
        self.input = input
        self.classes = classes
        self.alpha = alpha
        self.intercept_alpha = intercept_alpha
        self.cv = cv
        self.alphas = alphas
        self.tol = tol
        self.max_iter = max_iter

    @property
    def _structure(self):
        # an infinite off-diagonal penalty pins W to its diagonal: fit that
        # directly (the same optimum, K instead of K^2 parameters)
        return "vector" if np.isinf(self.alpha) and self.cv is None else "matrix"

    def _weights(self, alpha, n_rows, n_classes):
        K = n_classes
        off = self.alpha if alpha is None else alpha
        if self.intercept_alpha is not None:
            mu = self.intercept_alpha
        else:
            mu = off if np.isfinite(off) else 0.0
        if self._structure == "vector":
            return penalty_weights("vector", K, mu / K, 0.0)
        return penalty_weights("matrix", K, mu / K, 0.0, off / max(K * (K - 1), 1))


class StructuredMatrixScalingCalibrator(_ScalingCalibrator):
    __doc__ = f"""Structured matrix scaling, SMS (Berta, Holzmüller, Jordan, Bach 2025).

    The scores are first temperature-scaled (one unpenalised temperature),
    mixed with the uniform distribution at weight ``1 / (n + 1)`` (which
    bounds the log-probabilities of confidently wrong rows) and mapped to
    log-probabilities ``z``. Then ``p = softmax(W z + b)`` with ``W = I +
    Delta`` and the structured ridge penalty

    ``lambda_b K^rho / n^tau ||b||^2 + lambda_d K^rho / n^tau ||diag Delta||^2
    + lambda_o (K (K - 1))^rho / n^tau ||offdiag Delta||^2``

    where ``n`` is the number of calibration rows: each group's strength
    grows with its size and shrinks as data accumulates. ``structure='vector'``
    drops the off-diagonal part (structured vector scaling, SVS). If the
    preprocessing raises the training NLL it is skipped.

    Parameters
    ----------
{_COMMON_PARAMS}
    structure : {{'matrix', 'vector'}}, default='matrix'
        SMS (full ``W``) or SVS (diagonal ``W``).
    alpha : float, default=1.0
        Common multiplier of the three strengths (without ``cv``).
    intercept_penalty, diagonal_penalty, off_diagonal_penalty : float, default=1.0
        ``lambda_b``, ``lambda_d``, ``lambda_o``.
    rho, tau : float, default=1.0
        Exponents of the group size and of the number of rows.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_classes) or (n_classes,)
        ``W`` (its diagonal for ``structure='vector'``), acting on the
        preprocessed log-probabilities.
    temperature_ : float
        Temperature of the preprocessing (1 when skipped).
    mixture_weight_ : float
        Weight of the uniform distribution in the preprocessing (0 when skipped).
{_COMMON_ATTRIBUTES}

    Notes
    -----
{_COMMON_NOTES}

    Examples
    --------
    >>> import numpy as np
    >>> from skmax import StructuredMatrixScalingCalibrator
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=300)
    >>> scores = 4.0 * np.eye(3)[y] + 3.0 * rng.randn(300, 3)
    >>> cal = StructuredMatrixScalingCalibrator().fit(scores, y)
    >>> cal.coef_.shape, cal.transform(scores).shape
    ((3, 3), (300, 3))
    """

    _default_alphas = np.logspace(-2, 2, 5)
    _parameter_constraints = {
        **_ScalingCalibrator._parameter_constraints,
        "structure": [StrOptions({"matrix", "vector"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "intercept_penalty": [Interval(Real, 0, None, closed="left")],
        "diagonal_penalty": [Interval(Real, 0, None, closed="left")],
        "off_diagonal_penalty": [Interval(Real, 0, None, closed="left")],
        "rho": [Real],
        "tau": [Real],
    }

    def __init__(self, input="auto", classes=None, *, structure="matrix", alpha=1.0,
                 intercept_penalty=1.0, diagonal_penalty=1.0, off_diagonal_penalty=1.0,
                 rho=1.0, tau=1.0, cv=None, alphas=None, tol=1e-6, max_iter=1000):
        self.input = input
        self.classes = classes
        self.structure = structure
        self.alpha = alpha
        self.intercept_penalty = intercept_penalty
        self.diagonal_penalty = diagonal_penalty
        self.off_diagonal_penalty = off_diagonal_penalty
        self.rho = rho
        self.tau = tau
        self.cv = cv
        self.alphas = alphas
        self.tol = tol
        self.max_iter = max_iter

    @property
    def _structure(self):
        return self.structure

    def _weights(self, alpha, n_rows, n_classes):
        K = n_classes
        alpha = self.alpha if alpha is None else alpha
        per_row = alpha / float(n_rows) ** self.tau
        return penalty_weights(
            self.structure, K,
            self.intercept_penalty * per_row * K**self.rho,
            self.diagonal_penalty * per_row * K**self.rho,
            self.off_diagonal_penalty * per_row * float(K * (K - 1)) ** self.rho,
        )

    def _preprocess(self, L):
        """``log((1 - e) softmax(L / T) + e / K)``, a new array."""
        P = L * L.dtype.type(1.0 / self.temperature_)
        SoftmaxLoss(n_threads=n_threads_from_n_jobs(None)).predict_proba(P)
        e = P.dtype.type(self.mixture_weight_)
        P *= 1 - e
        P += e / P.shape[1]
        return np.log(P, out=P)

    def _fit_features(self, S, kind, y_enc, sw):
        L = log_probabilities(S, kind, _SMS_FLOOR)
        n, K = L.shape
        with warnings.catch_warnings():
            # separable and one-row data get this class's own warnings
            warnings.simplefilter("ignore", TemperatureScalingWarning)
            ts = TemperatureCalibrator(input="logits", classes=np.arange(K)).fit(L, y_enc, sw)
        self.temperature_, self.mixture_weight_ = ts.temperature_, 1.0 / (n + 1)
        Z = self._preprocess(L)
        identity = identity_coef("vector", K)
        if mean_nll(Z, y_enc, sw, identity, "vector") > mean_nll(L, y_enc, sw, identity,
                                                                  "vector"):
            self.temperature_, self.mixture_weight_ = 1.0, 0.0
            Z = L
        return Z

    def _features(self, S):
        return self._preprocess(log_probabilities(S, self.input_kind_, _SMS_FLOOR))
