"""skmax on dask input (``skmax/_dask.py``): the distributed fit against the
in-memory one, lazy prediction, faults, and the minibatch solvers under
dask-ml's ``Incremental``. A real ``LocalCluster`` of 2 single-thread worker
processes serves the whole module."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import skmax  # noqa: E402
from skmax import SoftmaxClassifier  # noqa: E402
from skmax._dask import DistributedObjective  # noqa: E402
from skmax._loss import SoftmaxLoss  # noqa: E402
from skmax._objective import SoftmaxObjective  # noqa: E402
from skmax._softmax import _balanced_class_weights  # noqa: E402

CHUNK = 70   # rows per chunk: several chunks per worker, one ragged


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 6))
    X[:, 4] = 0.0          # compacted column
    y = rng.integers(0, 4, 400)
    sw = rng.uniform(0.0, 2.0, 400)
    return X, y, sw


def _dask(*arrays):
    return [da.from_array(a, chunks=(CHUNK,) + a.shape[1:]) for a in arrays]


def _objective_value(clf, X, y, sw):
    """The in-memory objective of ``clf``'s parameters (float64)."""
    y_enc = np.searchsorted(clf.classes_, y)
    if clf.class_weight == "balanced":
        sw = sw * _balanced_class_weights(np.bincount(y_enc, weights=sw))[y_enc]
    W, b = clf._rows_per_class()
    loss = SoftmaxLoss(clf.temperature, clf.label_smoothing, clf.focal_gamma)
    obj = SoftmaxObjective(X, y_enc, sw, len(clf.classes_), loss, C=clf.C,
                           fit_intercept=clf.fit_intercept)
    coef = np.concatenate([W.ravel(), b]) if clf.fit_intercept else W.ravel()
    return obj.loss_gradient(coef)[0]


OPTIONS = [
    dict(),
    dict(solver="newton-cg"),
    dict(temperature=2.0, label_smoothing=0.1),
    dict(focal_gamma=1.5),
    dict(class_weight="balanced", fit_intercept=False, C=np.inf),
]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_distributed_fit_reaches_the_in_memory_objective(client, data, options):
    X, y, sw = data
    memory = SoftmaxClassifier(tol=1e-9, max_iter=1000, **options).fit(X, y, sample_weight=sw)
    dX, dy, dsw = _dask(X, y, sw)
    clf = SoftmaxClassifier(tol=1e-9, max_iter=1000, **options).fit(dX, dy, sample_weight=dsw)
    assert isinstance(clf.coef_, np.ndarray) and clf.coef_.dtype == np.float64
    expected = _objective_value(memory, X, y, sw)
    assert _objective_value(clf, X, y, sw) == pytest.approx(expected, rel=1e-8)
    np.testing.assert_array_equal(clf.classes_, memory.classes_)


def test_distributed_evaluations_equal_the_in_memory_objective(client, data):
    # value, gradient and Hessian product at one point, not only at the optimum
    from skmax._dask import _build_chunk, _raw_chunk

    X, y, sw = data
    loss = SoftmaxLoss(1.5, 0.05)
    memory = SoftmaxObjective(X, y.astype(np.int32), sw, 4, loss, C=0.5)
    states = [client.submit(_build_chunk, _raw_chunk(X[i:i + CHUNK], y[i:i + CHUNK],
                                                     sw[i:i + CHUNK]),
                            np.arange(4), 0, None, 1, loss, True, False)
              for i in range(0, len(y), CHUNK)]
    objective = DistributedObjective(client, states, *X.shape, 4, sw.sum(), 0.5, True)
    coef = np.random.default_rng(1).standard_normal(memory.n_params)
    vector = np.random.default_rng(2).standard_normal(memory.n_params)
    for got, want in [(objective.loss_gradient(coef), memory.loss_gradient(coef)),
                      ((0, objective.hessp(coef, vector)), (0, memory.hessp(coef, vector)))]:
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)


def test_sparse_chunks_and_float32(client, data):
    X, y, _ = data
    Xs = sp.random(400, 30, density=0.2, format="csr", random_state=0)
    dXs = da.from_array(Xs, chunks=(CHUNK, 30), asarray=False)
    dy, = _dask(y)
    memory = SoftmaxClassifier(tol=1e-9, max_iter=1000).fit(Xs, y)
    clf = SoftmaxClassifier(tol=1e-9, max_iter=1000).fit(dXs, dy)
    ones = np.ones(len(y))
    assert (_objective_value(clf, Xs.toarray(), y, ones)
            == pytest.approx(_objective_value(memory, Xs.toarray(), y, ones), rel=1e-8))
    X32 = X.astype(np.float32)
    clf32 = SoftmaxClassifier().fit(da.from_array(X32, chunks=(CHUNK, 6)), dy)
    assert clf32.coef_.dtype == np.float32
    np.testing.assert_allclose(clf32.coef_, SoftmaxClassifier().fit(X32, y).coef_,
                               rtol=1e-4, atol=1e-5)


def test_dataframe_input_and_lazy_prediction(client, data):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    frame["label"] = np.array(["a", "b", "c", "d"])[y]
    ddf = dd.from_pandas(frame, npartitions=4)
    clf = SoftmaxClassifier().fit(ddf.drop(columns="label"), ddf["label"])
    memory = SoftmaxClassifier().fit(frame.drop(columns="label"), frame["label"])
    np.testing.assert_allclose(clf.coef_, memory.coef_, rtol=1e-6, atol=1e-8)
    assert list(clf.feature_names_in_) == list(frame.columns[:-1])

    dX, = _dask(X)
    for method in ["decision_function", "predict_proba", "predict_log_proba", "predict"]:
        lazy = getattr(clf, method)(dX)
        assert isinstance(lazy, da.Array)
        want = getattr(memory, method)(X)
        assert lazy.dtype == want.dtype and lazy._meta.dtype == want.dtype
        assert lazy.chunks[0] == dX.chunks[0] and lazy.shape == want.shape
        got = lazy.compute()
        if method == "predict":
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_binary_decision_function_is_one_dimensional(client, data):
    X, y, _ = data
    dX, dy = _dask(X, y % 2)
    clf = SoftmaxClassifier().fit(dX, dy)
    scores = clf.decision_function(dX)
    assert scores.ndim == 1 and scores.chunks == (dX.chunks[0],)
    np.testing.assert_allclose(scores.compute(), clf.decision_function(X))


def test_result_is_an_ordinary_estimator(client, data):
    X, y, _ = data
    clf = SoftmaxClassifier().fit(*_dask(X, y))
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict(X), clf.predict(X))
    assert not hasattr(clone, "_stochastic")


def test_bad_input_raises_and_keeps_the_previous_fit(client, data):
    X, y, _ = data
    clf = SoftmaxClassifier().fit(*_dask(X, y))
    coef = clf.coef_.copy()
    bad = X.copy()
    bad[100, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(*_dask(bad, y))
    with pytest.raises(ValueError, match="Negative"):
        clf.fit(*_dask(X, y), sample_weight=da.from_array(-np.ones(len(y)), chunks=CHUNK))
    with pytest.raises(ValueError, match="Incremental"):
        SoftmaxClassifier(solver="adam").fit(*_dask(X, y))
    with pytest.raises(ValueError, match="OWL-QN"):
        clf.set_params(penalty="l1").fit(*_dask(X, y))
    clf.set_params(penalty="l2")
    soft = np.eye(4)[np.searchsorted(clf.classes_, y)]
    with pytest.raises(ValueError, match="soft targets"):
        clf.fit(da.from_array(X, chunks=CHUNK), da.from_array(soft, chunks=(CHUNK, 4)))
    with pytest.raises(ValueError, match="features"):
        clf.predict(da.from_array(X[:, :3], chunks=CHUNK))
    np.testing.assert_array_equal(clf.coef_, coef)


def test_worker_killed_between_iterations_gives_the_same_model(client, data, monkeypatch):
    X, y, sw = data
    dX, dy, dsw = _dask(X, y, sw)
    expected = SoftmaxClassifier(tol=1e-8).fit(dX, dy, sample_weight=dsw)
    evaluate = DistributedObjective.loss_gradient
    calls = []

    def kill_after_third(self, coef, keep_proba=False):
        calls.append(1)
        if len(calls) == 3:
            victim = sorted(client.scheduler_info()["workers"])[0]
            client.run(os._exit, 1, workers=[victim], on_error="ignore")   # nanny restarts it
        return evaluate(self, coef, keep_proba)

    monkeypatch.setattr(DistributedObjective, "loss_gradient", kill_after_third)
    clf = SoftmaxClassifier(tol=1e-8).fit(dX, dy, sample_weight=dsw)
    assert len(calls) > 3
    np.testing.assert_array_equal(clf.coef_, expected.coef_)
    assert clf.n_iter_ == expected.n_iter_
    client.wait_for_workers(2)


@pytest.mark.parametrize("options", [dict(solver="sgd"), dict(solver="adam"),
                                     dict(solver="adam", n_sampled=2)], ids=str)
def test_incremental_matches_partial_fit_over_the_blocks(client, data, options):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, _ = data
    dX, dy = _dask(X, y)
    est = SoftmaxClassifier(random_state=0, shuffle=False, **options)
    inc = wrappers.Incremental(est, scoring="accuracy", shuffle_blocks=False)
    inc.fit(dX, dy, classes=np.arange(4))
    memory = SoftmaxClassifier(random_state=0, shuffle=False, **options)
    for i in range(0, len(y), CHUNK):
        memory.partial_fit(X[i:i + CHUNK], y[i:i + CHUNK], classes=np.arange(4))
    # equal up to rounding: the workers' BLAS runs on one thread
    np.testing.assert_allclose(inc.estimator_.coef_, memory.coef_, rtol=1e-12, atol=1e-15)
    assert inc.estimator_.t_ == memory.t_
    assert isinstance(inc.predict_proba(dX), da.Array)


def test_skmax_works_without_dask():
    code = ("import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
            "import numpy as np, skmax\n"
            "X = np.random.default_rng(0).standard_normal((50, 3)); y = np.arange(50) % 3\n"
            "print(skmax.SoftmaxClassifier().fit(X, y).score(X, y))")
    # run beside the skmax this process imported (installed or built in place)
    root = os.path.dirname(os.path.dirname(os.path.abspath(skmax.__file__)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) > 0.3


@pytest.mark.parametrize("kind", ["logits", "probabilities", "binary"])
def test_temperature_calibrator_on_dask_scores(client, kind):
    import warnings

    from skmax import TemperatureCalibrator
    from skmax._calibration import TemperatureScalingWarning

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 500)
    scores = 3.0 * rng.standard_normal((500, 3))
    scores[np.arange(500), y] += 2.0
    sw = rng.uniform(0.0, 2.0, 500)
    if kind == "probabilities":
        scores = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    elif kind == "binary":
        scores, y = scores[:, 0] - scores[:, 1], (y == 0).astype(int)
    memory = TemperatureCalibrator().fit(scores, y, sample_weight=sw)
    d_scores, dy, dsw = _dask(scores, y, sw)
    cal = TemperatureCalibrator().fit(d_scores, dy, sample_weight=dsw)
    assert cal.input_kind_ == memory.input_kind_
    assert cal.temperature_ == pytest.approx(memory.temperature_, rel=1e-6)
    assert cal.nll_ == pytest.approx(memory.nll_, rel=1e-10)
    proba = cal.transform(d_scores)
    assert isinstance(proba, da.Array) and proba.dtype == scores.dtype
    np.testing.assert_allclose(proba.compute(), memory.transform(scores), rtol=1e-6)
    # separable scores hit the bound with the in-memory warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sep = np.eye(2)[np.arange(500) % 2] * 5.0
        TemperatureCalibrator().fit(da.from_array(sep, chunks=(CHUNK, 2)), np.arange(500) % 2)
    assert any(issubclass(w.category, TemperatureScalingWarning) for w in caught)


@pytest.mark.parametrize("kind", ["top-label", "classwise"])
def test_calibration_metrics_on_dask_input(client, kind):
    from skmax.metrics import (
        calibration_bins,
        expected_calibration_error,
        maximum_calibration_error,
    )

    rng = np.random.default_rng(4)
    P = rng.dirichlet(np.ones(3), 500)
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 500)]
    sw = rng.uniform(0.0, 2.0, 500)
    dP, dy, dsw = _dask(P, y, sw)
    for metric in [expected_calibration_error, maximum_calibration_error]:
        assert metric(dy, dP, sample_weight=dsw, kind=kind) == pytest.approx(
            metric(y, P, sample_weight=sw, kind=kind), rel=1e-12)
    for got, want in zip(calibration_bins(dy, dP, pos_label="b"),
                         calibration_bins(y, P, pos_label="b")):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="uniform"):
        expected_calibration_error(dy, dP, strategy="quantile")
    with pytest.raises(ValueError, match="outside"):
        expected_calibration_error(dy, dP * 2)


def test_failed_distributed_fit_keeps_the_previous_model(client, data, monkeypatch):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = SoftmaxClassifier(warm_start=True).fit(frame, y % 3)
    before = {name: value.copy() if isinstance(value, np.ndarray) else value
              for name, value in vars(clf).items()}
    evaluate = DistributedObjective.loss_gradient
    calls = []

    def fail_on_third(self, coef, keep_proba=False):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the scheduler gave up")
        return evaluate(self, coef, keep_proba)

    monkeypatch.setattr(DistributedObjective, "loss_gradient", fail_on_third)
    with pytest.raises(RuntimeError, match="gave up"):
        clf.fit(*_dask(X[:, :5], y))     # other features and classes
    assert len(calls) == 3
    assert vars(clf).keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(clf, name), value)


def test_extreme_sample_weights_rescaled_as_in_memory(client, data):
    X, y, sw = data
    for factor in [2.0**-700, 2.0**1000]:
        memory = SoftmaxClassifier(class_weight="balanced").fit(X, y, sample_weight=sw * factor)
        clf = SoftmaxClassifier(class_weight="balanced").fit(*_dask(X, y, sw * factor))
        np.testing.assert_allclose(clf.coef_, memory.coef_, rtol=1e-6, atol=1e-8)


def test_distributed_temperature_is_scale_equivariant(client):
    from skmax import TemperatureCalibrator

    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 300)
    scores = rng.standard_normal((300, 3))
    scores[np.arange(300), y] += 1.0
    reference = TemperatureCalibrator().fit(*_dask(scores, y))
    for k in [-900, -600, 600, 1021]:    # not subnormal: those keep too few bits
        cal = TemperatureCalibrator().fit(*_dask(np.ldexp(scores, k), y))
        assert cal.temperature_ == pytest.approx(np.ldexp(reference.temperature_, k), rel=1e-9)
        assert cal.nll_ == pytest.approx(reference.nll_, rel=1e-9)
        memory = TemperatureCalibrator().fit(np.ldexp(scores, k), y)
        assert cal.temperature_ == pytest.approx(memory.temperature_, rel=1e-6)


def test_chunk_sums_are_the_same_bits_whoever_holds_the_chunks():
    # the per-worker partial trees, completed on the driver, give one root
    # whatever the split of the chunks between workers (note 3 of _dask.py)
    from skmax._dask import _complete

    rng = np.random.default_rng(6)
    n = 13
    leaves = {(0, i): (float(rng.standard_normal() * 10.0 ** rng.integers(-8, 8)),
                       rng.standard_normal(5) * 10.0 ** rng.integers(-8, 8, 5))
              for i in range(n)}
    roots = []
    for split in [np.zeros(n, int), np.arange(n) % 2, rng.integers(0, 3, n),
                  (np.arange(n) >= 6).astype(int)]:
        nodes = {}
        for worker in np.unique(split):
            nodes.update(_complete({key: leaves[key] for key in leaves
                                    if split[key[1]] == worker}, n))
        (root,) = _complete(nodes, n).values()
        roots.append(root)
    for value, vector in roots[1:]:
        assert value == roots[0][0]
        np.testing.assert_array_equal(vector, roots[0][1])
    assert roots[0][0] == pytest.approx(sum(v for v, _ in leaves.values()), rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_chunk_objective_reports_the_bytes_it_holds(data, sparse):
    # dask weighs moving a chunk by sizeof(); a tiny or failing estimate lets
    # the scheduler steal tasks together with their data
    from dask.sizeof import sizeof

    from skmax._dask import _ChunkObjective

    X, y, sw = data
    X = sp.csr_matrix(X) if sparse else X
    chunk = _ChunkObjective(X, y.astype(np.int32), sw, 4, SoftmaxLoss(1.0, 0.0, 0.0, 1),
                            True, 1, False)
    held = chunk.X.data.nbytes + chunk.y.nbytes + chunk.sample_weight.nbytes
    assert chunk.__sizeof__() >= held
    assert sizeof(chunk) >= chunk.__sizeof__()    # plus the object header
