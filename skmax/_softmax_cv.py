"""SoftmaxClassifierCV: cross-validated ``C`` (and ``l1_ratio``) along a
regularisation path, on ``LogisticRegressionCV``'s model.

1. One task per (fold, ``l1_ratio``) walks the ``Cs`` in the order given,
   each fit warm-started from the previous ``C``'s solution on one
   :class:`SoftmaxObjective` built once per task (validation, column
   compaction and row chunks are paid once, not once per ``C``); the solver
   only changes the penalty (``SoftmaxObjective.set_penalty``).
2. A task's fits are those of a :class:`SoftmaxClassifier` with the same
   parameters, through its own validation, objective, solver and coefficient
   storage, and are scored through it with the scorer; so the scores, and with
   ``refit=True`` the refitted model, are those ``GridSearchCV`` over the same
   grid and folds gives, up to the solver's ``tol`` (warm and cold starts stop
   at different points within it).
3. Tasks run in parallel with joblib threads (``n_jobs``): the kernels release
   the GIL and the data are shared, not copied. With several tasks at once
   each task's kernels run on one thread; with ``n_jobs=None`` tasks run one
   after the other, each with all the kernels' threads.
4. The refit (``refit=True``) starts from the mean of the folds' solutions at
   the selected pair, not from zero: each fold's model is fitted on most of
   the rows, so their mean lies near the full-data solution and the refit
   needs fewer iterations. It then matches ``GridSearchCV``'s cold refit up
   to ``tol``, as the path's fits do (note 2). Not with an L1 part: OWL-QN
   may stop at rounding level short of ``tol`` (``_solvers``), where its end
   point depends on its start, so those refits start from zero as
   ``GridSearchCV``'s do.
"""

from contextlib import nullcontext
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import _fit_context, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from ._softmax import SoftmaxClassifier
from ._solvers import FULL_BATCH_SOLVERS
from ._threads import limit_blas_threads

# the SoftmaxClassifier parameters that SoftmaxClassifierCV passes on to its fits
_SHARED_PARAMS = ("temperature", "label_smoothing", "focal_gamma", "class_weight",
                  "fit_intercept", "solver", "tol", "max_iter", "random_state", "verbose")


class SoftmaxClassifierCV(SoftmaxClassifier):
    """Softmax classifier with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    The counterpart of :class:`~sklearn.linear_model.LogisticRegressionCV`: for
    every fold (and every ``l1_ratio``), the model is fitted along the path of
    ``Cs`` with warm starts, each fit starting from the previous ``C``'s
    solution; the pair with the best mean score over the folds is selected and,
    with ``refit=True``, the model is refitted on all the data with it. The
    penalty is ``(1 - l1_ratio) ||W||^2 / (2C) + l1_ratio ||W||_1 / C`` (see
    :class:`SoftmaxClassifier`, ``penalty='elasticnet'``); the loss options are
    those of :class:`SoftmaxClassifier`.

    The selected ``C`` and the refitted model are those of
    :class:`~sklearn.model_selection.GridSearchCV` over
    ``SoftmaxClassifier(penalty='elasticnet')`` with the same grid, folds and
    scoring (up to the solver's ``tol``: a warm start stops at another point
    within it).

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The values of ``C``, walked in this order (increasing ``C`` is the usual
        path: each solution is less penalised than the last); an int ``n``
        gives ``np.logspace(-4, 4, n)``, as ``LogisticRegressionCV``.
    l1_ratios : array-like of float in [0, 1], default=(0.0,)
        The elastic-net mixings to try; ``0``: L2 penalty, ``1``: L1.
    cv : int, cross-validation generator or iterable, default=None
        As in ``LogisticRegressionCV``: None is 5-fold stratified.
    scoring : str or callable, default=None
        Scorer (:func:`sklearn.metrics.check_scoring`); None: accuracy.
    refit : bool, default=True
        Refit on all the data with the best ``C`` and ``l1_ratio``; else the
        model is the mean over the folds of their coefficients at the best pair.
    n_jobs : int, default=None
        Number of (fold, ``l1_ratio``) tasks run in parallel (joblib threads);
        see module note 3.
    temperature, label_smoothing, focal_gamma, class_weight, fit_intercept, \
solver, tol, max_iter, random_state, verbose
        As in :class:`SoftmaxClassifier` (``solver``: 'lbfgs' or 'newton-cg';
        an ``l1_ratio > 0`` needs 'lbfgs').

    Attributes
    ----------
    Cs_ : ndarray of shape (n_Cs,)
        The values of ``C`` tried.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The values of ``l1_ratio`` tried.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Test score of each fold at each pair.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_rows, n_dof)
        Coefficients of each fit, ``coef_`` with ``intercept_`` as a last column
        when ``fit_intercept`` (``n_rows`` as in ``coef_``).
    n_iters_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Solver iterations of each fit.
    C_ : float
        The selected ``C``.
    l1_ratio_ : float
        The selected ``l1_ratio``.
    classes_, coef_, intercept_, n_iter_, n_features_in_, feature_names_in_
        Those of the final model (see :class:`SoftmaxClassifier`).

    See Also
    --------
    SoftmaxClassifier : The estimator at one ``C``.
    sklearn.linear_model.LogisticRegressionCV : The same search for
        ``LogisticRegression``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skmax import SoftmaxClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxClassifierCV(Cs=5, max_iter=500).fit(X, y)
    >>> clf.scores_.shape
    (5, 1, 5)
    >>> float(clf.C_) in clf.Cs_
    True
    """

    _parameter_constraints: dict = {
        **{name: SoftmaxClassifier._parameter_constraints[name] for name in _SHARED_PARAMS},
        "solver": [StrOptions(set(FULL_BATCH_SOLVERS))],
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [callable, str, None],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=(0.0,),
        cv=None,
        scoring=None,
        refit=True,
        n_jobs=None,
        temperature=1.0,
        label_smoothing=0.0,
        focal_gamma=0.0,
        class_weight=None,
        fit_intercept=True,
        solver="lbfgs",
        tol=1e-4,
        max_iter=100,
        random_state=None,
        verbose=0,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.temperature = temperature
        self.label_smoothing = label_smoothing
        self.focal_gamma = focal_gamma
        self.class_weight = class_weight
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose

    # the fitted model predicts through SoftmaxClassifier's methods, which read these
    penalty = "elasticnet"
    warm_start = False
    # the fitted attributes added to SoftmaxClassifier's
    _fitted_names = SoftmaxClassifier._fitted_names + (
        "Cs_", "l1_ratios_", "scores_", "n_iters_", "coefs_paths_", "C_", "l1_ratio_")

    def _base_estimator(self, n_jobs):
        params = {name: getattr(self, name) for name in _SHARED_PARAMS}
        return SoftmaxClassifier(penalty="elasticnet", n_jobs=n_jobs, **params)

    def _grid(self):
        Cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, Integral) else self.Cs
        Cs = np.asarray(Cs, dtype=np.float64).ravel()
        l1_ratios = np.asarray(self.l1_ratios, dtype=np.float64).ravel()
        if Cs.size == 0 or not np.all(Cs > 0):
            raise ValueError(f"Cs must be positive numbers, got {self.Cs!r}.")
        if l1_ratios.size == 0 or not np.all((l1_ratios >= 0) & (l1_ratios <= 1)):
            raise ValueError(f"l1_ratios must lie in [0, 1], got {self.l1_ratios!r}.")
        return Cs, l1_ratios

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Cross-validate the grid, select the best pair and fit the final model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; float32 data is fitted in float32.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative per-sample weights, multiplied by the class weights
            (the folds' fits and scorers use their rows' weights).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._commit_fit(self._fit_grid, X, y, sample_weight)

    def _fit_grid(self, X, y, sample_weight):
        """The paths over the folds, the selection and the final model, as a
        dict of fitted attributes."""
        Cs, l1_ratios = self._grid()
        for l1_ratio in l1_ratios:
            self._base_estimator(None).set_params(l1_ratio=l1_ratio)._check_solver_options()
        X, y = validate_data(self, X, y, accept_sparse="csr",
                             dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        sample_weight = (None if sample_weight is None else
                         _check_sample_weight(sample_weight, X, dtype=np.float64))
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        scorer = check_scoring(self._base_estimator(None), scoring=self.scoring)
        tasks = [(fold, l1_ratio) for fold in folds for l1_ratio in l1_ratios]
        parallel = self.n_jobs not in (None, 1) and len(tasks) > 1
        n_kernel_jobs = 1 if parallel else None
        # parallel tasks: BLAS on one thread for all of them at once (each
        # task's objective limits BLAS only while open, and threadpoolctl's
        # limits are process-wide: one task's exit would hand BLAS its threads
        # back in the middle of another task's evaluation)
        with limit_blas_threads() if parallel else nullcontext():
            paths = Parallel(n_jobs=self.n_jobs if parallel else None, prefer="threads")(
                delayed(_fit_path)(self._base_estimator(n_kernel_jobs), X, y, sample_weight,
                                   train, test, Cs, l1_ratio, scorer)
                for (train, test), l1_ratio in tasks
            )
        shape = (len(folds), len(l1_ratios), len(Cs))
        fitted = {"Cs_": Cs, "l1_ratios_": l1_ratios,
                  "scores_": np.array([p[0] for p in paths]).reshape(shape),
                  "n_iters_": np.array([p[1] for p in paths]).reshape(shape)}
        coefs = [p[2] for p in paths]
        same_shape = len({c.shape for c in coefs}) == 1
        if same_shape:
            fitted["coefs_paths_"] = np.array(coefs).reshape(shape + coefs[0].shape[1:])
        # ties go to the first pair in GridSearchCV's order ({"C", "l1_ratio"}:
        # C-major), so that both select the same pair
        mean = fitted["scores_"].mean(axis=0).T
        best_C, best_ratio = np.unravel_index(np.argmax(mean), mean.shape)
        fitted["C_"], fitted["l1_ratio_"] = float(Cs[best_C]), float(l1_ratios[best_ratio])
        if same_shape:
            mean_model = _mean_fold_model(fitted["coefs_paths_"][:, best_ratio, best_C],
                                          np.unique(y), X.shape[1], X.dtype)
        elif not self.refit:
            raise ValueError("refit=False needs every training fold to hold every "
                             "class, so that the folds' coefficients can be averaged.")
        if not self.refit:
            fitted.update(mean_model, n_iter_=np.array(
                [fitted["n_iters_"][:, best_ratio, best_C].max()], dtype=np.int32))
            return fitted
        warm = same_shape and fitted["l1_ratio_"] == 0   # module note 4
        final = self._base_estimator(self.n_jobs).set_params(
            C=fitted["C_"], l1_ratio=fitted["l1_ratio_"], warm_start=warm)
        if warm:
            final.__dict__.update(mean_model)
        final.fit(X, y, sample_weight=sample_weight)
        fitted.update(classes_=final.classes_, coef_=final.coef_,
                      intercept_=final.intercept_, n_iter_=final.n_iter_)
        return fitted


def _mean_fold_model(coefs, classes, n_features, dtype):
    """``classes_``, ``coef_`` and ``intercept_`` of the mean of the folds'
    coefficient rows ``coefs`` (n_folds, n_rows, n_dof), as in ``coefs_paths_``."""
    mean_coef = coefs.mean(axis=0)
    intercept = (mean_coef[:, n_features] if mean_coef.shape[1] > n_features
                 else np.zeros(mean_coef.shape[0]))
    return {"classes_": classes,
            "coef_": np.ascontiguousarray(mean_coef[:, :n_features], dtype=dtype),
            "intercept_": np.asarray(intercept, dtype=dtype)}


def _fit_path(estimator, X, y, sample_weight, train, test, Cs, l1_ratio, scorer):
    """Fit ``estimator`` on the ``train`` rows along ``Cs`` with warm starts
    (module note 1); returns the test scores, iterations and coefficient rows."""
    estimator = clone(estimator).set_params(C=Cs[0], l1_ratio=l1_ratio)
    sw_train = None if sample_weight is None else sample_weight[train]
    # X was validated, finiteness included, by SoftmaxClassifierCV.fit
    X_train, classes, y_enc, sw, _, C_first = estimator._validate_fit_data(
        X[train], y[train], sw_train, defer_finite=True)
    # the weights' power-of-two rescaling (_rescaled_weights) scales every C alike
    C_scale = C_first / Cs[0]
    objective = estimator._full_batch_objective(X_train, y_enc, sw, C_first, len(classes))
    coef = estimator._initial_coef(len(classes), X.shape[1], warm=False)
    X_test, y_test = X[test], y[test]
    score_kwargs = {} if sample_weight is None else {"sample_weight": sample_weight[test]}
    scores, n_iters, coefs = [], [], []
    with objective:
        for C in Cs:
            objective.set_penalty(C * C_scale, l1_ratio)
            coef, n_iter = estimator._solve(objective, coef)
            estimator._replace_fitted(
                {"classes_": classes, **estimator._solution_attributes(objective, coef, n_iter)})
            scores.append(scorer(estimator, X_test, y_test, **score_kwargs))
            n_iters.append(n_iter)
            if estimator.fit_intercept:
                coefs.append(np.column_stack([estimator.coef_, estimator.intercept_]))
            else:
                coefs.append(estimator.coef_.copy())
    return scores, n_iters, np.array(coefs, dtype=np.float64)
