"""SoftmaxClassifier: multinomial logistic regression with temperature, label
smoothing, focal term and class/sample weights."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._loss import SoftmaxLoss, n_threads_from_n_jobs
from ._objective import SoftmaxObjective
from ._solvers import FULL_BATCH_SOLVERS

# Rows of logits computed at once at prediction time: bounds memory to
# about _PREDICT_CHUNK_BYTES for any number of classes.
_PREDICT_CHUNK_BYTES = 1 << 24


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
    C : float, default=1.0
        Inverse of the L2 penalty strength; ``np.inf`` disables the penalty.
    temperature : float, default=1.0
        Fixed temperature ``T > 0`` dividing the logits, in training and in
        prediction. ``T > 1`` softens the predicted probabilities.
    label_smoothing : float in [0, 1), default=0.0
        Mass ``eps`` of the target spread uniformly over all classes.
    focal_gamma : float >= 0, default=0.0
        Focal exponent; ``0`` gives the cross-entropy. Values ``> 0``
        down-weight well-classified samples; the objective is then not
        convex, so only ``solver='lbfgs'`` is allowed.
    class_weight : dict, 'balanced' or None, default=None
        Weights ``{class_label: weight}``; ``'balanced'`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    fit_intercept : bool, default=True
        Whether to fit the (unpenalised) intercept ``b``.
    solver : {'lbfgs', 'newton-cg'}, default='lbfgs'
        ``'lbfgs'``: scipy's L-BFGS-B, one kernel sweep gives value and
        gradient. ``'newton-cg'``: scipy's trust-region Newton-CG with the
        kernels' Hessian-vector products; fewer iterations on badly scaled
        data, requires ``focal_gamma=0``.
    tol : float, default=1e-4
        Stop when the largest gradient entry of ``L / sum_i s_i`` is below
        ``tol`` (its Euclidean norm for ``'newton-cg'``).
    max_iter : int, default=100
        Maximum number of solver iterations.
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
        every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights ``W`` (binary: ``w_1 - w_0``), of the dtype of the training ``X``.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts ``b`` (binary: ``b_1 - b_0``); zeros if ``fit_intercept=False``.
    n_iter_ : int
        Number of solver iterations run.
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
        "C": [Interval(Real, 0, None, closed="right")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(FULL_BATCH_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        C=1.0,
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
    ):
        self.C = C
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting ----------------------------------------------------------
    def _check_solver_options(self):
        if self.focal_gamma > 0 and self.solver == "newton-cg":
            raise ValueError(
                "solver='newton-cg' needs a convex objective, but focal_gamma="
                f"{self.focal_gamma} > 0 makes it non-convex; use solver='lbfgs'."
            )

    def _validate_fit_data(self, X, y, sample_weight):
        """Validated ``X``, encoded ``y`` (int32) and ``s_i`` (float64)."""
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            order="C",
        )
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the "
                f"data contains only one class: {classes[0]!r}"
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight is not None:
            cw = compute_class_weight(self.class_weight, classes=classes, y=y)
            sample_weight = sample_weight * cw[y_enc]
        if not sample_weight.sum() > 0:
            raise ValueError("The sample weights (times class weights) sum to zero.")
        return X, classes, y_enc.astype(np.int32, copy=False), sample_weight

    def _initial_coef(self, n_rows, n_features, dtype):
        """Flat float64 ``[W.ravel(), b]``: zeros, or the previous fit (warm start)."""
        coef = np.zeros(n_rows * (n_features + int(self.fit_intercept)), dtype=np.float64)
        if not (self.warm_start and hasattr(self, "coef_")):
            return coef
        W_prev = np.asarray(self.coef_, dtype=np.float64)
        b_prev = np.asarray(self.intercept_, dtype=np.float64)
        if n_rows == 2 and W_prev.shape[0] == 1:   # binary: w_1 - w_0 with w_0 = -w_1
            W_prev = np.vstack([-W_prev / 2, W_prev / 2])
            b_prev = np.array([-b_prev[0] / 2, b_prev[0] / 2])
        if W_prev.shape != (n_rows, n_features):
            return coef
        coef[: n_rows * n_features] = W_prev.ravel()
        if self.fit_intercept:
            coef[n_rows * n_features:] = b_prev
        return coef

    def _training_loss(self, n_threads):
        return SoftmaxLoss(self.temperature, self.label_smoothing, self.focal_gamma, n_threads)

    def _set_coef(self, W, b, dtype):
        """Store ``coef_`` / ``intercept_`` with scikit-learn's binary convention."""
        if W.shape[0] == 2:
            W = W[1:] - W[:1]
            b = b[1:] - b[:1]
        self.coef_ = np.ascontiguousarray(W, dtype=dtype)
        self.intercept_ = np.asarray(b, dtype=dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minimising the penalised objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is fitted in float32.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights, multiplied by the class weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._check_solver_options()
        previous_state = self.__dict__.copy()
        previous_classes = getattr(self, "classes_", None)
        try:
            X, classes, y_enc, sw = self._validate_fit_data(X, y, sample_weight)
        except Exception:
            self.__dict__ = previous_state   # bad input changes nothing
            raise
        if previous_classes is not None and not np.array_equal(previous_classes, classes):
            self.__dict__.pop("coef_", None)        # warm start only with the same classes
        self.classes_ = classes
        n_threads = n_threads_from_n_jobs(self.n_jobs)
        n_rows = len(classes)
        coef0 = self._initial_coef(n_rows, X.shape[1], X.dtype)
        objective = SoftmaxObjective(
            X, y_enc, sw, n_rows, self._training_loss(1), C=self.C,
            fit_intercept=self.fit_intercept, n_threads=n_threads,
        )
        if self.max_iter == 0:
            coef, self.n_iter_ = coef0, 0
        else:
            with objective:
                coef, self.n_iter_ = FULL_BATCH_SOLVERS[self.solver](
                    objective, coef0, tol=self.tol, max_iter=self.max_iter,
                    verbose=self.verbose,
                )
        W, b = objective.unpack(coef)
        if b is None:
            b = np.zeros(n_rows)
        self._set_coef(W, b, X.dtype)
        return self

    # -- prediction -------------------------------------------------------
    def _validate_predict_data(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
            reset=False,
        )

    def _logit_chunks(self, X, full_rows=True):
        """Yield ``(start, stop, a)`` with raw logits ``a = X @ coef_.T + b`` over
        row chunks (C-contiguous, fresh arrays). For binary models and
        ``full_rows`` the logits are the two rows ``[0, a]``."""
        n = X.shape[0]
        dtype = np.result_type(X.dtype, self.coef_.dtype)
        coef = self.coef_.astype(dtype, copy=False)
        intercept = self.intercept_.astype(dtype, copy=False)
        binary = full_rows and coef.shape[0] == 1 and len(self.classes_) == 2
        width = coef.shape[0] + int(binary)
        step = max(1, _PREDICT_CHUNK_BYTES // (np.dtype(dtype).itemsize * width))
        if sp.issparse(X):
            X = X.tocsr()
        for start in range(0, max(n, 1), step):
            stop = min(start + step, n)
            a = np.asarray(X[start:stop] @ coef.T, dtype=dtype)
            a += intercept
            if binary:
                a = np.hstack([np.zeros_like(a), a])
            yield start, stop, np.ascontiguousarray(a)

    def _proba(self, X, log):
        X = self._validate_predict_data(X)
        loss = self._training_loss(n_threads_from_n_jobs(self.n_jobs))
        out = None
        for start, stop, a in self._logit_chunks(X):
            if out is None:
                out = np.empty((X.shape[0], a.shape[1]), dtype=a.dtype)
            out[start:stop] = loss.predict_proba(a, log=log)
        return out

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
        X = self._validate_predict_data(X)
        scores = np.vstack([a for _, _, a in self._logit_chunks(X, full_rows=False)])
        scores = scores / np.asarray(self.temperature, dtype=scores.dtype)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities ``softmax(decision_function(X))``.

        Computed from the logits with a stable softmax: finite for any finite
        input. The output is ``n_samples x n_classes``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        return self._proba(X, log=False)

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
        return self._proba(X, log=True)

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
        X = self._validate_predict_data(X)
        idx = np.empty(X.shape[0], dtype=np.intp)
        for start, stop, a in self._logit_chunks(X, full_rows=False):
            idx[start:stop] = (a[:, 0] > 0) if a.shape[1] == 1 else a.argmax(axis=1)
        return self.classes_[idx]
