"""Tests for benchmarks.datasets: tiny fake data folders, resolution, errors, real data."""

import doctest
import gzip
import io
import tarfile

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import datasets
from benchmarks.datasets import (
    DatasetNotFoundError,
    available_datasets,
    get_data_home,
    load_20newsgroups,
    load_aloi,
    load_dataset,
    load_letter,
    load_mnist,
    load_optdigits,
    load_pendigits,
    load_ptb,
    load_shuttle,
    load_train_test,
)

ALL_NAMES = ["20newsgroups", "aloi", "letter", "mnist", "optdigits", "pendigits", "ptb", "shuttle"]


# ---------------------------------------------------------------------------
# fake data folder in the real formats
# ---------------------------------------------------------------------------


def _write_csv_label_last(path, X, y, pad=False):
    with open(path, "w") as f:
        for row, lab in zip(X, y, strict=True):
            vals = list(row) + [lab]
            fmt = "{:3d}" if pad else "{:d}"
            f.write(",".join(fmt.format(int(v)) for v in vals) + "\n")


def _idx_bytes(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    return header + arr.tobytes()


def _add_tar_file(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_tar_dir(tar, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    tar.addfile(info)


@pytest.fixture
def fake_home(tmp_path):
    rng = np.random.RandomState(0)
    home = tmp_path / "data"

    d = home / "letter"
    d.mkdir(parents=True)
    letters = ["T", "I", "D", "A", "Z", "Q"]
    with open(d / "letter-recognition.data", "w") as f:
        for i in range(18):
            feats = rng.randint(0, 16, size=16)
            f.write(letters[i % 6] + "," + ",".join(map(str, feats)) + "\n")

    d = home / "pendigits"
    d.mkdir()
    _write_csv_label_last(d / "pendigits.tra", rng.randint(0, 101, (12, 16)), np.arange(12) % 10,
                          pad=True)
    _write_csv_label_last(d / "pendigits.tes", rng.randint(0, 101, (5, 16)), np.arange(5),
                          pad=True)

    d = home / "optdigits"
    d.mkdir()
    _write_csv_label_last(d / "optdigits.tra", rng.randint(0, 17, (11, 64)), np.arange(11) % 10)
    _write_csv_label_last(d / "optdigits.tes", rng.randint(0, 17, (4, 64)), [3, 1, 4, 1])

    d = home / "shuttle"
    d.mkdir()
    _write_csv_label_last(d / "shuttle.trn", rng.randint(-20, 120, (9, 9)),
                          [1, 1, 1, 4, 5, 2, 3, 6, 7])
    _write_csv_label_last(d / "shuttle.tst", rng.randint(-20, 120, (3, 9)), [1, 4, 1])

    d = home / "mnist"
    d.mkdir()
    images = rng.randint(0, 256, (7, 28, 28))
    labels = np.array([7, 2, 1, 0, 4, 1, 4])
    with gzip.open(d / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(_idx_bytes(images))
    with gzip.open(d / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(_idx_bytes(labels))

    d = home / "aloi"
    d.mkdir()
    with gzip.open(d / "aloi_train.vw.gz", "wt") as f:
        f.write("541 | 1:8 2:6 128:2 \n")
        f.write("3 | 5:1 \n")
        f.write("1000 | 1:1 64:3 65:5\n")
    with gzip.open(d / "aloi_test.vw.gz", "wt") as f:
        f.write("7 | 2:4 3:1 \n")

    d = home / "20newsgroups"
    d.mkdir()
    with tarfile.open(d / "20news-bydate.tar.gz", "w:gz") as tar:
        for top, docs in [
            ("20news-bydate-train", [("sci.space", "61", "moon\n"),
                                     ("alt.atheism", "49960", "god\xe9\n"),
                                     ("alt.atheism", "51060", "two\n")]),
            ("20news-bydate-test", [("alt.atheism", "53068", "test a\n"),
                                    ("sci.space", "62", "test s\n")]),
        ]:
            _add_tar_dir(tar, top + "/")
            for group, name, text in docs:
                _add_tar_file(tar, f"{top}/{group}/{name}", text.encode("latin-1"))

    d = home / "ptb"
    d.mkdir()
    (d / "ptb.train.txt").write_text(" the cat sat \n the dog <unk> \n the N cats \n")
    (d / "ptb.valid.txt").write_text(" the cat \n dog sat \n")
    (d / "ptb.test.txt").write_text(" the bird \n")
    return home


# ---------------------------------------------------------------------------
# data home resolution
# ---------------------------------------------------------------------------


def test_data_home_explicit_beats_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SKMAX_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")
    assert get_data_home() == str(tmp_path / "env")


def test_data_home_env_empty_is_ignored(monkeypatch, tmp_path):
    shared = tmp_path / "shared" / "data"
    shared.mkdir(parents=True)
    monkeypatch.setenv("SKMAX_DATA", "")
    monkeypatch.chdir(tmp_path)
    assert get_data_home() == str(shared)


def test_data_home_searches_up_from_cwd(monkeypatch, tmp_path):
    # layout <tmp>/project (CWD, project root) and <tmp>/shared/data
    shared = tmp_path / "shared" / "data"
    shared.mkdir(parents=True)
    sub = tmp_path / "project" / "examples" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.delenv("SKMAX_DATA", raising=False)
    monkeypatch.chdir(tmp_path / "project")
    assert get_data_home() == str(shared)
    monkeypatch.chdir(sub)
    assert get_data_home() == str(shared)
    # a shared/data inside the project root is closer and wins
    inner = tmp_path / "project" / "shared" / "data"
    inner.mkdir(parents=True)
    assert get_data_home() == str(inner)


def test_data_home_package_location(monkeypatch, tmp_path):
    shared = tmp_path / "pkgroot" / "shared" / "data"
    shared.mkdir(parents=True)
    pkg = tmp_path / "pkgroot" / "repo" / "skmax"
    pkg.mkdir(parents=True)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.delenv("SKMAX_DATA", raising=False)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(datasets, "__file__", str(pkg / "datasets.py"))
    if datasets._find_shared_data() != shared:  # pragma: no cover - a shared/data above tmp
        pytest.skip("a shared/data folder exists above the temporary directory")
    assert get_data_home() == str(shared)


def test_data_home_nothing_found(monkeypatch, tmp_path):
    monkeypatch.delenv("SKMAX_DATA", raising=False)
    monkeypatch.setattr(datasets, "_find_shared_data", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert get_data_home() == str(tmp_path.parent / "shared" / "data")


def test_env_var_used_by_loaders(monkeypatch, fake_home):
    monkeypatch.setenv("SKMAX_DATA", str(fake_home))
    X, y = load_pendigits(return_X_y=True)
    assert X.shape == (12, 16)
    assert available_datasets() == ALL_NAMES


def test_available_datasets(fake_home, tmp_path):
    assert available_datasets(fake_home) == ALL_NAMES
    (fake_home / "ptb" / "ptb.test.txt").unlink()
    assert "ptb" not in available_datasets(fake_home)
    assert available_datasets(tmp_path / "nowhere") == []


# ---------------------------------------------------------------------------
# missing data
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loader", [load_letter, load_pendigits, load_optdigits, load_shuttle, load_mnist,
               load_aloi, load_20newsgroups, load_ptb]
)
def test_missing_folder_clear_error(loader, tmp_path):
    home = tmp_path / "nope"
    with pytest.raises(DatasetNotFoundError) as info:
        loader(data_home=home)
    msg = str(info.value)
    assert str(home) in msg
    assert "data_home" in msg and "SKMAX_DATA" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_missing_file_names_the_file(fake_home):
    (fake_home / "shuttle" / "shuttle.tst").unlink()
    load_shuttle(data_home=fake_home, subset="train")  # train still loads
    with pytest.raises(FileNotFoundError, match=r"shuttle\.tst"):
        load_shuttle(data_home=fake_home, subset="test")


def test_ptb_ids_need_train_for_vocabulary(fake_home):
    (fake_home / "ptb" / "ptb.train.txt").unlink()
    assert len(load_ptb(data_home=fake_home, subset="valid").data) == 2
    with pytest.raises(DatasetNotFoundError, match=r"ptb\.train\.txt"):
        load_ptb(data_home=fake_home, subset="valid", as_ids=True)
    ids = load_ptb(data_home=fake_home, subset="valid", as_ids=True,
                   vocabulary=["<eos>", "the", "cat", "dog", "sat"]).data
    np.testing.assert_array_equal(ids, [1, 2, 0, 3, 4, 0])


# ---------------------------------------------------------------------------
# loaders on fake data
# ---------------------------------------------------------------------------


def test_letter(fake_home):
    b = load_letter(data_home=fake_home)
    assert b.data.shape == (18, 16) and b.data.dtype == np.float64
    assert list(b.target_names[b.target[:6]]) == ["T", "I", "D", "A", "Z", "Q"]
    assert b.target.dtype == np.int64 and len(b.target_names) == 26
    assert b.data.min() >= 0 and b.data.max() <= 15
    X, y = load_letter(data_home=fake_home, return_X_y=True, dtype=np.float32)
    assert X.dtype == np.float32 and X.flags.c_contiguous
    np.testing.assert_array_equal(y, b.target)
    # documented split: first 16,000 rows train, rest test (fake file has 18 rows)
    assert load_letter(data_home=fake_home, subset="train").data.shape == (18, 16)
    assert load_letter(data_home=fake_home, subset="test").data.shape == (0, 16)
    with pytest.raises(ValueError, match="subset"):
        load_letter(data_home=fake_home, subset="valid")


@pytest.mark.parametrize(
    "loader, n_feat, n_train, n_test",
    [(load_pendigits, 16, 12, 5), (load_optdigits, 64, 11, 4), (load_shuttle, 9, 9, 3)],
)
def test_csv_label_last(loader, n_feat, n_train, n_test, fake_home):
    tr = loader(data_home=fake_home)
    te = loader(data_home=fake_home, subset="test")
    al = loader(data_home=fake_home, subset="all", dtype=np.float32)
    assert tr.data.shape == (n_train, n_feat) and tr.data.dtype == np.float64
    assert te.data.shape == (n_test, n_feat)
    assert al.data.shape == (n_train + n_test, n_feat) and al.data.dtype == np.float32
    np.testing.assert_array_equal(al.target, np.concatenate([tr.target, te.target]))
    np.testing.assert_array_equal(al.data[:n_train], tr.data)
    assert tr.target.dtype == np.int64
    assert isinstance(tr.DESCR, str) and tr.DESCR


def test_shuttle_labels_kept(fake_home):
    b = load_shuttle(data_home=fake_home)
    np.testing.assert_array_equal(b.target, [1, 1, 1, 4, 5, 2, 3, 6, 7])
    assert b.target_names[b.target[3] - 1] == "High"


def test_mnist(fake_home):
    b = load_mnist(data_home=fake_home)
    assert b.data.shape == (7, 784) and b.data.dtype == np.float64
    assert b.images.shape == (7, 28, 28) and b.images.dtype == np.uint8
    np.testing.assert_array_equal(b.data, b.images.reshape(7, -1))
    np.testing.assert_array_equal(b.target, [7, 2, 1, 0, 4, 1, 4])
    X, _ = load_mnist(data_home=fake_home, return_X_y=True, dtype=np.uint8)
    assert X.dtype == np.uint8
    with pytest.raises(ValueError, match="training images"):
        load_mnist(data_home=fake_home, subset="train")


def test_aloi(fake_home):
    X, y = load_aloi(data_home=fake_home, return_X_y=True)
    assert sp.issparse(X) and X.format == "csr"
    assert X.shape == (3, 128) and X.dtype == np.float64
    np.testing.assert_array_equal(y, [541, 3, 1000])
    dense = X.toarray()
    assert dense[0, 0] == 8 and dense[0, 1] == 6 and dense[0, 127] == 2
    assert dense[1, 4] == 1 and X[1].nnz == 1
    assert dense[2, 63] == 3 and dense[2, 64] == 5
    assert X.nnz == 7
    Xa, ya = load_aloi(data_home=fake_home, subset="all", return_X_y=True, dtype=np.float32)
    assert Xa.shape == (4, 128) and Xa.dtype == np.float32
    np.testing.assert_array_equal(ya, [541, 3, 1000, 7])
    assert Xa[3].toarray()[0, 1] == 4


def test_20newsgroups(fake_home):
    b = load_20newsgroups(data_home=fake_home)
    assert b.target_names == ["alt.atheism", "sci.space"]
    assert b.data == ["god\xe9\n", "two\n", "moon\n"]  # sorted by group, then name
    np.testing.assert_array_equal(b.target, [0, 0, 1])
    assert b.filenames[0] == "20news-bydate-train/alt.atheism/49960"
    X, y = load_20newsgroups(data_home=fake_home, subset="test", return_X_y=True)
    assert X == ["test a\n", "test s\n"] and list(y) == [0, 1]
    b = load_20newsgroups(data_home=fake_home, subset="all", categories=["sci.space"])
    assert b.data == ["moon\n", "test s\n"] and list(b.target) == [0, 0]
    with pytest.raises(ValueError, match="unknown categories"):
        load_20newsgroups(data_home=fake_home, categories=["rec.autos"])


def test_ptb(fake_home):
    b = load_ptb(data_home=fake_home)
    assert b.data[0] == ["the", "cat", "sat", "<eos>"]
    assert len(b.data) == 3 and sum(map(len, b.data)) == 12
    assert load_ptb(data_home=fake_home, add_eos=False).data[1] == ["the", "dog", "<unk>"]
    tr = load_ptb(data_home=fake_home, as_ids=True)
    # frequency order: <eos> 3, the 3 (tie -> alphabetical), then singletons alphabetically
    assert tr.vocabulary[:2] == ["<eos>", "the"]
    words = {"the", "cat", "sat", "dog", "<unk>", "N", "cats", "<eos>"}
    assert sorted(tr.vocabulary) == sorted(words)
    assert tr.data.dtype == np.int64 and tr.data.shape == (12,)
    assert [tr.vocabulary[i] for i in tr.data[:4]] == ["the", "cat", "sat", "<eos>"]
    va = load_ptb(data_home=fake_home, subset="valid", as_ids=True)
    assert va.vocabulary == tr.vocabulary
    assert [va.vocabulary[i] for i in va.data] == ["the", "cat", "<eos>", "dog", "sat", "<eos>"]
    te = load_ptb(data_home=fake_home, subset="test", as_ids=True)  # OOV 'bird' -> <unk>
    assert [te.vocabulary[i] for i in te.data] == ["the", "<unk>", "<eos>"]
    X, y = load_ptb(data_home=fake_home, subset="valid", return_X_y=True)
    assert X.shape == (5, 1) and y.shape == (5,)
    np.testing.assert_array_equal(X[:, 0], va.data[:-1])
    np.testing.assert_array_equal(y, va.data[1:])
    X2, y2 = load_ptb(data_home=fake_home, subset="valid", return_X_y=True, context=2)
    np.testing.assert_array_equal(X2, np.stack([va.data[:-2], va.data[1:-1]], axis=1))
    np.testing.assert_array_equal(y2, va.data[2:])
    with pytest.raises(ValueError, match="subset"):
        load_ptb(data_home=fake_home, subset="all")
    with pytest.raises(ValueError, match="not in vocabulary"):
        load_ptb(data_home=fake_home, subset="test", as_ids=True, vocabulary=["the", "<eos>"])


# ---------------------------------------------------------------------------
# load_dataset with fallback
# ---------------------------------------------------------------------------


def test_load_dataset_present(fake_home):
    X, y, used = load_dataset("optdigits", data_home=fake_home, subset="test", dtype=np.float32)
    assert used == "optdigits" and X.shape == (4, 64) and X.dtype == np.float32


def test_load_dataset_fallback_sklearn(tmp_path):
    with pytest.warns(UserWarning, match="'letter' not found.*'digits'"):
        X, y, used = load_dataset("letter", data_home=tmp_path, fallback="digits", dtype=np.float32)
    assert used == "digits" and X.shape == (1797, 64) and X.dtype == np.float32
    with pytest.warns(UserWarning):
        X, y, used = load_dataset("aloi", data_home=tmp_path, fallback="iris")
    assert used == "iris" and X.shape == (150, 4)


def test_load_dataset_fallback_callable(tmp_path):
    def tiny():
        return np.eye(3), np.arange(3)

    with pytest.warns(UserWarning, match="tiny"):
        X, y, used = load_dataset("shuttle", data_home=tmp_path, fallback=tiny)
    assert used == "tiny" and X.shape == (3, 3)


def test_load_dataset_errors(tmp_path, fake_home):
    with pytest.raises(DatasetNotFoundError):
        load_dataset("letter", data_home=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("covtype", data_home=tmp_path)
    with pytest.raises(ValueError, match="fallback"):
        load_dataset("letter", data_home=tmp_path, fallback="fetch_20newsgroups")
    # non-missing errors are not swallowed by the fallback
    with pytest.raises(ValueError, match="subset"):
        load_dataset("letter", data_home=fake_home, subset="bogus", fallback="digits")


def test_load_train_test_own_split(fake_home):
    X_tr, X_te, y_tr, y_te, used = load_train_test("pendigits", data_home=fake_home,
                                                   fallback="digits", dtype=np.float32)
    assert used == "pendigits"
    assert X_tr.shape == (12, 16) and X_te.shape == (5, 16) and X_tr.dtype == np.float32
    np.testing.assert_array_equal(y_te, load_pendigits(data_home=fake_home, subset="test").target)


def test_load_train_test_splits_mnist(monkeypatch, fake_home):
    # MNIST has only its test file: its own rows are split, stratified
    X, y = load_mnist(data_home=fake_home, return_X_y=True)
    X, y = np.repeat(X, 4, axis=0), np.repeat(y, 4)   # every class >= 2 rows
    calls = []

    def fake_mnist(**kwargs):
        calls.append(kwargs)
        return X, y

    monkeypatch.setitem(datasets._LOADERS, "mnist", fake_mnist)
    X_tr, X_te, y_tr, y_te, used = load_train_test("mnist", data_home=fake_home, test_size=0.25)
    assert used == "mnist" and "subset" not in calls[0]
    assert X_tr.shape == (21, 784) and X_te.shape == (7, 784)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == sorted(y.tolist())
    assert set(y_te) == set(y)


def test_load_train_test_fallback_and_errors(tmp_path):
    with pytest.warns(UserWarning, match="'optdigits' not found.*'digits'"):
        X_tr, X_te, y_tr, y_te, used = load_train_test("optdigits", data_home=tmp_path,
                                                       fallback="digits", random_state=1)
    assert used == "digits" and X_tr.shape == (1257, 64) and X_te.shape == (540, 64)
    # stratified: every class in both parts, in nearly the same proportions
    np.testing.assert_allclose(np.bincount(y_tr) / len(y_tr), np.bincount(y_te) / len(y_te),
                               atol=0.01)
    with pytest.raises(DatasetNotFoundError):
        load_train_test("optdigits", data_home=tmp_path)
    with pytest.raises(TypeError, match="subset"):
        load_train_test("optdigits", data_home=tmp_path, subset="train")
    with pytest.raises(ValueError, match="load_ptb"):
        load_train_test("ptb", data_home=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_train_test("covtype", data_home=tmp_path)


# ---------------------------------------------------------------------------
# real data (skipped when the shared data folder is not found)
# ---------------------------------------------------------------------------

REAL_HOME = get_data_home()
REAL = set(available_datasets(REAL_HOME))


def real(name):
    return pytest.mark.skipif(name not in REAL,
                              reason=f"real dataset {name!r} not found under {REAL_HOME}")


@real("letter")
def test_real_letter():
    b = load_letter()
    assert b.data.shape == (20000, 16)
    counts = np.bincount(b.target, minlength=26)
    assert (counts > 0).all() and counts.min() == 734 and counts.max() == 813
    assert b.target_names[np.argmax(counts)] == "U"
    assert b.data.min() == 0 and b.data.max() == 15
    assert load_letter(subset="train").data.shape == (16000, 16)
    assert load_letter(subset="test").data.shape == (4000, 16)


@real("pendigits")
def test_real_pendigits():
    tr, te = load_pendigits(), load_pendigits(subset="test")
    assert tr.data.shape == (7494, 16) and te.data.shape == (3498, 16)
    assert list(np.bincount(tr.target)) == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert list(np.bincount(te.target)) == [363, 364, 364, 336, 364, 335, 336, 364, 336, 336]
    assert tr.data.max() == 100


@real("optdigits")
def test_real_optdigits():
    tr, te = load_optdigits(), load_optdigits(subset="test")
    assert tr.data.shape == (3823, 64) and te.data.shape == (1797, 64)
    assert list(np.bincount(tr.target)) == [376, 389, 380, 389, 387, 376, 377, 387, 380, 382]
    assert list(np.bincount(te.target)) == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@real("shuttle")
def test_real_shuttle():
    tr, te = load_shuttle(), load_shuttle(subset="test")
    assert tr.data.shape == (43500, 9) and te.data.shape == (14500, 9)
    assert list(np.bincount(tr.target)[1:]) == [34108, 37, 132, 6748, 2458, 6, 11]
    assert list(np.bincount(te.target)[1:]) == [11478, 13, 39, 2155, 809, 4, 2]


@real("mnist")
def test_real_mnist():
    X, y = load_mnist(return_X_y=True, dtype=np.float32)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 255
    assert list(np.bincount(y)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@real("aloi")
def test_real_aloi():
    Xtr, ytr = load_aloi(return_X_y=True)
    Xte, yte = load_aloi(subset="test", return_X_y=True)
    assert Xtr.shape == (97200, 128) and Xte.shape == (10800, 128)
    assert Xtr.format == "csr"
    assert len(np.unique(ytr)) == 1000 and len(np.unique(yte)) == 1000
    assert ytr.min() == 1 and ytr.max() == 1000
    ctr = np.bincount(ytr)[1:]
    assert ctr.min() == 87 and ctr.max() == 105
    assert 30 < Xtr.nnz / Xtr.shape[0] < 32
    assert Xtr.data.min() > 0


@real("20newsgroups")
def test_real_20newsgroups():
    tr = load_20newsgroups()
    te = load_20newsgroups(subset="test")
    assert len(tr.data) == 11314 and len(te.data) == 7532
    assert len(tr.target_names) == 20 and tr.target_names == te.target_names
    assert list(np.bincount(tr.target)) == [480, 584, 591, 590, 578, 593, 585, 594, 598, 597,
                                            600, 595, 591, 594, 593, 599, 546, 564, 465, 377]
    assert list(np.bincount(te.target)) == [319, 389, 394, 392, 385, 395, 390, 396, 398, 397,
                                            399, 396, 393, 396, 394, 398, 364, 376, 310, 251]
    assert all(isinstance(d, str) for d in tr.data[:10])


@real("ptb")
def test_real_ptb():
    expected = {"train": (42068, 929589), "valid": (3370, 73760), "test": (3761, 82430)}
    vocab = None
    for subset, (n_lines, n_tokens) in expected.items():
        b = load_ptb(subset=subset)
        assert len(b.data) == n_lines and sum(map(len, b.data)) == n_tokens
        ids = load_ptb(subset=subset, as_ids=True, vocabulary=vocab)
        vocab = ids.vocabulary
        assert len(vocab) == 10000 and ids.data.shape == (n_tokens,)
        assert ids.data.max() < 10000
    assert len(set(vocab)) == 10000 and "<eos>" in vocab and "<unk>" in vocab


def test_docstring_examples():
    # The examples show the real data: they run only when all of it is present.
    missing = sorted(set(datasets._LOADERS) - REAL)
    if missing:
        pytest.skip(f"the docstring examples need the data folder; missing {missing}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(datasets, datasets.__name__, globs={"np": np}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) failed"
