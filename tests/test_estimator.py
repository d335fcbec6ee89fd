"""SoftmaxClassifier behaviour: agreement with LogisticRegression, dtypes,
sparse input, scikit-learn integration and bad input."""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmax import SoftmaxClassifier

from reference import log_softmax
from reference import objective as ref_objective

TIGHT = dict(tol=1e-10, max_iter=2000)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(400, 8, n_informative=5, n_classes=4, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("C", [0.05, 1.0, 100.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_logistic_regression_multiclass(data, solver, C, weighted):
    X, y = data
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    ours = SoftmaxClassifier(C=C, solver=solver, **TIGHT).fit(X, y, sample_weight=sw)
    ref = LogisticRegression(C=C, **TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_binary_conventions_and_logistic_regression_at_2C(data, solver):
    X, y = data
    yb = np.where(y > 1, "pos", "neg")
    ours = SoftmaxClassifier(C=0.3, solver=solver, **TIGHT).fit(X, yb)
    ref = LogisticRegression(C=0.6, **TIGHT).fit(X, yb)
    assert ours.coef_.shape == (1, X.shape[1]) and ours.intercept_.shape == (1,)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-6)
    d = ours.decision_function(X)
    assert d.shape == (len(X),)
    np.testing.assert_allclose(ours.predict_proba(X)[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_class_weight_equals_sample_weight(data):
    X, y = data
    cw = {0: 1.0, 1: 3.0, 2: 0.5, 3: 2.0}
    a = SoftmaxClassifier(class_weight=cw, **TIGHT).fit(X, y)
    b = SoftmaxClassifier(**TIGHT).fit(X, y, sample_weight=np.array([cw[k] for k in y]))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    bal = SoftmaxClassifier(class_weight="balanced", **TIGHT).fit(X, y)
    ref = LogisticRegression(class_weight="balanced", **TIGHT).fit(X, y)
    np.testing.assert_allclose(bal.coef_, ref.coef_, rtol=1e-5, atol=1e-6)


def test_temperature_is_a_reparametrisation(data):
    # CE(X W / T) + ||W||^2 / 2C  ==  CE(X V) + T^2 ||V||^2 / 2C  with V = W / T
    X, y = data
    T = 2.5
    hot = SoftmaxClassifier(C=1.0, temperature=T, **TIGHT).fit(X, y)
    cold = SoftmaxClassifier(C=1.0 / T**2, **TIGHT).fit(X, y)
    np.testing.assert_allclose(hot.coef_ / T, cold.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(hot.predict_proba(X), cold.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("eps, gamma", [(0.2, 0.0), (0.0, 2.0), (0.1, 1.0)])
def test_fit_minimises_reference_objective(data, eps, gamma):
    X, y = data
    clf = SoftmaxClassifier(C=2.0, temperature=1.5, label_smoothing=eps, focal_gamma=gamma,
                            **TIGHT).fit(X, y)
    sw = np.ones(len(y))

    def f(W, b):
        return ref_objective(W, b, X, y, sw, 2.0, 1.5, eps, gamma)

    best = f(clf.coef_, clf.intercept_)
    rng = np.random.default_rng(0)
    for _ in range(20):     # any small perturbation increases the objective
        dW = rng.normal(size=clf.coef_.shape) * 1e-3
        db = rng.normal(size=clf.intercept_.shape) * 1e-3
        assert f(clf.coef_ + dW, clf.intercept_ + db) > best
    assert clf.n_iter_ >= 1


def test_label_smoothing_and_temperature_soften_confidence(data):
    X, y = data
    base = SoftmaxClassifier(C=100.0, max_iter=500).fit(X, y).predict_proba(X).max(1).mean()
    smooth = SoftmaxClassifier(C=100.0, label_smoothing=0.3, max_iter=500).fit(X, y)
    hot = SoftmaxClassifier(C=100.0, max_iter=500).fit(X, y)
    hot.set_params(temperature=3.0)   # predicting at a higher temperature
    assert smooth.predict_proba(X).max(1).mean() < base
    assert hot.predict_proba(X).max(1).mean() < base


def test_decision_function_and_log_proba_consistency(data):
    X, y = data
    clf = SoftmaxClassifier(temperature=0.5, focal_gamma=1.0).fit(X, y)
    z = clf.decision_function(X)
    np.testing.assert_allclose(clf.predict_log_proba(X), log_softmax(z), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), np.exp(log_softmax(z)), rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[z.argmax(1)])


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(solver, fmt):
    X, y = make_classification(300, 20, n_informative=6, n_classes=3, random_state=1)
    X[np.abs(X) < 0.8] = 0.0
    Xs = sp.csr_matrix(X).asformat(fmt)
    dense = SoftmaxClassifier(solver=solver, label_smoothing=0.1, **TIGHT).fit(X, y)
    sparse = SoftmaxClassifier(solver=solver, label_smoothing=0.1, **TIGHT).fit(Xs, y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(X), atol=1e-8)
    assert sp.issparse(Xs) and Xs.format == fmt       # input untouched


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_float32_is_preserved(data, solver):
    X, y = data
    X32 = X.astype(np.float32)
    c32 = SoftmaxClassifier(solver=solver, temperature=1.5).fit(X32, y)
    c64 = SoftmaxClassifier(solver=solver, temperature=1.5).fit(X, y)
    assert c32.coef_.dtype == np.float32 and c32.intercept_.dtype == np.float32
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        assert getattr(c32, method)(X32).dtype == np.float32
    np.testing.assert_allclose(c32.coef_, c64.coef_, rtol=1e-3, atol=1e-3)
    Xs32 = sp.csr_matrix(X32)
    assert SoftmaxClassifier().fit(Xs32, y).coef_.dtype == np.float32


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e300), (np.float32, 3e38)])
def test_huge_logits_give_finite_probabilities(data, dtype, big):
    X, y = data
    clf = SoftmaxClassifier().fit(X.astype(dtype), y)
    clf.coef_ = np.full_like(clf.coef_, big / 1e3 / X.shape[1])
    clf.coef_[0] *= -1
    Xbig = np.full((3, X.shape[1]), 1e3, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = clf.predict_proba(Xbig)
        lp = clf.predict_log_proba(Xbig)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)


def test_pipeline_grid_search_clone_and_pickle():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxClassifier(max_iter=300))
    grid = GridSearchCV(
        pipe,
        {
            "softmaxclassifier__C": [0.1, 10.0],
            "softmaxclassifier__temperature": [1.0, 2.0],
            "softmaxclassifier__label_smoothing": [0.0, 0.1],
            "softmaxclassifier__focal_gamma": [0.0, 2.0],
        },
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert grid.best_score_ > 0.9
    best = grid.best_estimator_
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(restored.predict_proba(X), best.predict_proba(X))
    clone(best[-1]).fit(X, y)


def test_feature_names_in(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = SoftmaxClassifier().fit(df, y)
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


def test_warm_start_and_convergence_warning(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        SoftmaxClassifier(max_iter=2).fit(X, y)
    clf = SoftmaxClassifier(warm_start=True, **TIGHT).fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ < first


def test_verbose_prints_progress(data, capsys):
    X, y = data
    SoftmaxClassifier(verbose=1, max_iter=3, tol=0.1).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"iter\s+1\s+objective [0-9.]+\s+\|grad\|_inf [0-9.e-]+", out)


# -- bad input -----------------------------------------------------------

@pytest.mark.parametrize(
    "params",
    [
        dict(label_smoothing=1.0), dict(label_smoothing=-0.1), dict(temperature=0.0),
        dict(temperature=-1.0), dict(focal_gamma=-0.5), dict(C=0.0), dict(C=-1.0),
        dict(solver="sag"), dict(max_iter=-1), dict(tol=-1.0), dict(class_weight="auto"),
        dict(n_jobs=1.5),
    ],
)
def test_invalid_parameters(data, params):
    X, y = data
    with pytest.raises(InvalidParameterError):
        SoftmaxClassifier(**params).fit(X, y)


def test_focal_with_newton_names_lbfgs(data):
    X, y = data
    with pytest.raises(ValueError, match="lbfgs"):
        SoftmaxClassifier(solver="newton-cg", focal_gamma=1.0).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity"),
                                            (-np.inf, "infinity")])
@pytest.mark.parametrize("row", [0, 101, -1])
@pytest.mark.parametrize("params", [
    dict(), dict(solver="newton-cg"), dict(penalty="l1", C=0.5), dict(max_iter=0),
    dict(n_jobs=1), dict(warm_start=True), dict(soft=True), dict(low_memory=True),
])
def test_full_batch_fit_checks_x_in_its_first_evaluation(dtype, value, message, row, params):
    # dense X reaches the full-batch solvers unchecked by the input validation;
    # the objective's first sweep (or check_x, without evaluations) raises
    # scikit-learn's own error for any row, with the column compaction too
    params = dict(params)
    soft = params.pop("soft", False)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)).astype(dtype)
    X[:, 8:] = 0.0                                  # a third of the columns: compacted
    y = rng.integers(0, 3, 300)
    target = np.eye(3)[y] if soft else y
    clf = SoftmaxClassifier(**params).fit(X, target)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()}
    for column in (2, 10):                          # a used column, a zero one
        bad = X.copy()
        bad[row, column] = value
        with pytest.raises(ValueError, match=f"Input X contains {message}"):
            clf.fit(bad, target)
        assert not np.isfinite(bad[row, column])    # the input is not modified
    for k, v in state.items():                      # the fitted model is untouched
        np.testing.assert_array_equal(getattr(clf, k), v)


def test_bad_input_errors_and_changes_nothing(data):
    X, y = data
    clf = SoftmaxClassifier().fit(X, y)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()}
    Xc, yc = X.copy(), y.copy()
    bad_X = X.copy()
    bad_X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad_X, y)
    bad_X[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        clf.fit(bad_X, y)
    with pytest.raises(ValueError, match="class"):
        clf.fit(X[:, :3], np.zeros(len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="(?i)negative"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(bad_X * np.nan)
    for k, v in state.items():                  # the fitted model is untouched
        np.testing.assert_array_equal(getattr(clf, k), v)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(y, yc)


def test_inputs_not_modified():
    X, y = make_classification(200, 5, n_classes=3, n_informative=3, random_state=0)
    X32 = np.asfortranarray(X.astype(np.float32))
    copy = X32.copy()
    sw = np.ones(200)
    SoftmaxClassifier(class_weight="balanced").fit(X32, y, sample_weight=sw)
    np.testing.assert_array_equal(X32, copy)
    np.testing.assert_array_equal(sw, 1.0)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function", "score"])
def test_unfitted(method, data):
    X, y = data
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(SoftmaxClassifier(), method)(*args)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fmt", [None, "csr"])
def test_predictions_over_row_chunks(monkeypatch, n_classes, fmt):
    # blocks of 7 rows give the same predictions as one block
    import skmax._prediction as prediction

    X, y = make_classification(50, 6, n_informative=4, n_classes=n_classes, random_state=0)
    clf = SoftmaxClassifier().fit(X, y)
    whole = clf.decision_function(X)
    proba = clf.predict_proba(X)
    Xin = X if fmt is None else sp.csr_matrix(X)
    width = clf.coef_.shape[0] + int(n_classes == 2)
    monkeypatch.setattr(prediction, "_PREDICT_CHUNK_BYTES", 7 * 8 * width)
    np.testing.assert_allclose(clf.decision_function(Xin), whole, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(Xin), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(Xin), clf.classes_[np.argmax(proba, axis=1)])

