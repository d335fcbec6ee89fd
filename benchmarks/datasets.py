"""Loaders for the datasets of the benchmarks and the gallery examples.

Not part of the installed skmax: only ``benchmarks/`` and ``examples/`` read
these datasets, and they exist only beside a checkout of the repository.

The data files are never shipped with skmax and never downloaded: they
live in a data folder outside the repository (by default ``../shared/data``
relative to the project root), one sub-folder per dataset, each with its own
``README.md`` describing format and provenance.  Nothing is cached on disk;
every call parses the files again.

The folder is found by :func:`get_data_home`; :func:`available_datasets` lists
what is present there.  Every ``load_<name>`` loader takes ``data_home`` (the
folder; None: :func:`get_data_home`) and ``return_X_y`` (``(data, target)``
instead of a Bunch), and raises :class:`DatasetNotFoundError` (a
:class:`FileNotFoundError`) naming the path it looked at when a file is
missing; :func:`load_dataset` can fall back to a dataset shipped with
scikit-learn so that examples run anywhere.

Target conventions: numeric labels found in the files are kept as they are
(digits 0-9, shuttle 1-7, ALOI 1-1000); string labels (letter, 20 newsgroups)
are encoded as integer codes into ``target_names``.
"""

import gzip
import io
import os
import string
import tarfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

ENV_VAR = "SKMAX_DATA"

# name -> (folder, files that must all be present for the dataset to count as available)
_REGISTRY = {
    "letter": ("letter", ("letter-recognition.data",)),
    "pendigits": ("pendigits", ("pendigits.tra", "pendigits.tes")),
    "optdigits": ("optdigits", ("optdigits.tra", "optdigits.tes")),
    "shuttle": ("shuttle", ("shuttle.trn", "shuttle.tst")),
    "mnist": ("mnist", ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")),
    "aloi": ("aloi", ("aloi_train.vw.gz", "aloi_test.vw.gz")),
    "20newsgroups": ("20newsgroups", ("20news-bydate.tar.gz",)),
    "ptb": ("ptb", ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file is missing from the data folder.

    Subclass of :class:`FileNotFoundError`; the message names the path that
    was looked at and how to point the loaders at the data.

    Examples
    --------
    >>> from benchmarks.datasets import DatasetNotFoundError, load_letter
    >>> try:
    ...     load_letter(data_home="/nonexistent")
    ... except FileNotFoundError as exc:
    ...     print(type(exc).__name__)
    DatasetNotFoundError
    """


# --------------------------------------------------------------------------
# locating the data folder
# --------------------------------------------------------------------------


def _search_roots():
    """Directories whose ``shared/data`` sub-folder is a candidate data home.

    CWD and its parents first, then this file's folder and its parents.
    Checking ``<d>/shared/data`` for ``d`` and all its ancestors covers both
    ``<dir>/shared/data`` and ``<dir>/../shared/data``.
    """
    seen = set()
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            if d not in seen:
                seen.add(d)
                yield d


def _find_shared_data():
    for d in _search_roots():
        cand = d / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


def get_data_home(data_home=None):
    """Return the path of the folder holding the benchmark datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit data folder.  When given it is returned (user-expanded,
        made absolute) without any check that it exists.

    Returns
    -------
    data_home : str
        Absolute path of the data folder.  Resolution order:

        1. the ``data_home`` argument;
        2. the ``SKMAX_DATA`` environment variable, if set and non-empty;
        3. the first existing ``shared/data`` folder found by walking up from
           the current working directory (i.e. ``<dir>/shared/data`` or
           ``<dir>/../shared/data`` for the CWD or any of its parents), then
           the same walk from the folder of this file;
        4. if nothing exists, ``<cwd>/../shared/data`` (the documented layout
           when running from the project root), which may not exist; loaders
           then raise :class:`DatasetNotFoundError`.

    Examples
    --------
    >>> from benchmarks.datasets import get_data_home
    >>> get_data_home("/data/skmax")
    '/data/skmax'
    >>> import os
    >>> os.path.isabs(get_data_home())
    True
    """
    if data_home is not None:
        return str(Path(os.fspath(data_home)).expanduser().absolute())
    env = os.environ.get(ENV_VAR, "")
    if env:
        return str(Path(env).expanduser().absolute())
    found = _find_shared_data()
    if found is not None:
        return str(found.absolute())
    return str((Path.cwd().parent / "shared" / "data").absolute())


def _how_to_point():
    return (
        f"Point the loaders at the data folder with the `data_home=` argument or the "
        f"{ENV_VAR} environment variable (default: a `shared/data` folder found "
        f"by walking up from the current directory, e.g. <project>/../shared/data)."
    )


def _dataset_path(name, filename, data_home):
    """Path of ``filename`` of dataset ``name``; raise if it does not exist."""
    home = get_data_home(data_home)
    folder = _REGISTRY[name][0]
    path = Path(home) / folder / filename
    if not path.is_file():
        if not Path(home).is_dir():
            what = f"data folder {home!r} does not exist"
        else:
            what = f"file {str(path)!r} does not exist"
        raise DatasetNotFoundError(
            f"Dataset {name!r} not found: {what} (looked for {str(path)!r}). "
            + _how_to_point()
        )
    return path


def available_datasets(data_home=None):
    """List the datasets whose files are present in the data folder.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.

    Returns
    -------
    names : list of str
        Sorted names usable with :func:`load_dataset` (e.g. ``'letter'``).
        A dataset counts as present when all of its files exist.

    Examples
    --------
    >>> from benchmarks.datasets import available_datasets
    >>> sorted(available_datasets())  # with the full data folder
    ['20newsgroups', 'aloi', 'letter', 'mnist', 'optdigits', 'pendigits', 'ptb', 'shuttle']
    """
    home = Path(get_data_home(data_home))
    names = []
    for name, (folder, files) in _REGISTRY.items():
        if all((home / folder / f).is_file() for f in files):
            names.append(name)
    return sorted(names)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _check_subset(subset, allowed):
    if subset not in allowed:
        raise ValueError(f"subset must be one of {list(allowed)}, got {subset!r}")


def _subset_files(subset, train, test):
    return {"train": [train], "test": [test], "all": [train, test]}[subset]


def _finish(bunch, return_X_y):
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


def _load_csv_label_last(name, files, data_home, dtype):
    """Parse comma-separated integer files with the label in the last column."""
    paths = [_dataset_path(name, f, data_home) for f in files]
    parts = [np.loadtxt(p, delimiter=",", dtype=np.int64, ndmin=2) for p in paths]
    arr = np.concatenate(parts, axis=0)
    X = np.ascontiguousarray(arr[:, :-1], dtype=dtype)
    y = arr[:, -1].copy()
    return X, y, [str(p) for p in paths]


# --------------------------------------------------------------------------
# small tabular datasets
# --------------------------------------------------------------------------

_LETTERS = np.array(list(string.ascii_uppercase))
_LETTER_N_TRAIN = 16000


def load_letter(*, data_home=None, subset="all", return_X_y=False, dtype=np.float64):
    """Load the UCI Letter Recognition dataset (20,000 x 16, 26 classes).

    The data come as one file; ``subset='train'`` / ``'test'`` give the
    customary deterministic split: the first 16,000 rows are the training set,
    the remaining rows (4,000) the test set.

    Parameters
    ----------
    subset : {'all', 'train', 'test'}, default='all'
        Rows to return.
    dtype : dtype, default=np.float64
        dtype of ``data`` (the features are integers 0-15).

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (n_samples, 16), ``target`` (int codes 0-25),
        ``target_names`` (``'A'`` .. ``'Z'``; ``target_names[target]`` is the
        letter), ``filename`` and ``DESCR``; or ``(data, target)``.

    Raises
    ------
    DatasetNotFoundError
        If ``letter/letter-recognition.data`` is missing.

    Examples
    --------
    >>> from benchmarks.datasets import load_letter
    >>> letter = load_letter()
    >>> letter.data.shape, letter.target_names[:3], letter.target[:3]
    ((20000, 16), array(['A', 'B', 'C'], dtype=...), array([19,  8,  3]))
    """
    _check_subset(subset, ("all", "train", "test"))
    path = _dataset_path("letter", "letter-recognition.data", data_home)
    X = np.loadtxt(path, delimiter=",", usecols=range(1, 17), dtype=np.int64, ndmin=2)
    labels = np.loadtxt(path, delimiter=",", usecols=0, dtype="U1", ndmin=1)
    y = np.searchsorted(_LETTERS, labels)
    if not np.array_equal(_LETTERS[np.minimum(y, 25)], labels):
        raise ValueError(f"{path}: labels must be capital letters A-Z")
    sl = {"all": slice(None), "train": slice(0, _LETTER_N_TRAIN),
          "test": slice(_LETTER_N_TRAIN, None)}[subset]
    bunch = Bunch(
        data=np.ascontiguousarray(X[sl], dtype=dtype),
        target=y[sl].astype(np.int64),
        target_names=_LETTERS.copy(),
        filename=str(path),
        DESCR=(
            "UCI Letter Recognition (Frey & Slate, 1991): 20,000 x 16 integer "
            "features (0-15), 26 classes A-Z. Train = first 16,000 rows, test = last "
            f"4,000. subset={subset!r}. See {path.parent / 'README.md'}."
        ),
    )
    return _finish(bunch, return_X_y)


def load_pendigits(*, data_home=None, subset="train", return_X_y=False, dtype=np.float64):
    """Load UCI Pen-Based Recognition of Handwritten Digits (16 features, 10 classes).

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` = ``pendigits.tra`` (7,494 rows), ``'test'`` =
        ``pendigits.tes`` (3,498 rows), ``'all'`` = both, train first.
    dtype : dtype, default=np.float64
        dtype of ``data`` (the features are integers 0-100).

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (n_samples, 16), ``target`` (digits 0-9),
        ``target_names`` (``arange(10)``), ``filename`` (list) and ``DESCR``;
        or ``(data, target)``.

    Examples
    --------
    >>> from benchmarks.datasets import load_pendigits
    >>> X, y = load_pendigits(subset="test", return_X_y=True)
    >>> X.shape, sorted(set(y.tolist())) == list(range(10))
    ((3498, 16), True)
    """
    _check_subset(subset, ("train", "test", "all"))
    files = _subset_files(subset, "pendigits.tra", "pendigits.tes")
    X, y, paths = _load_csv_label_last("pendigits", files, data_home, dtype)
    bunch = Bunch(
        data=X, target=y, target_names=np.arange(10), filename=paths,
        DESCR=(
            "UCI Pen-Based Recognition of Handwritten Digits: 16 integer features "
            "(0-100), 10 classes; train 7,494 rows, test 3,498 rows. "
            f"subset={subset!r}."
        ),
    )
    return _finish(bunch, return_X_y)


def load_optdigits(*, data_home=None, subset="train", return_X_y=False, dtype=np.float64):
    """Load UCI Optical Recognition of Handwritten Digits (64 features, 10 classes).

    The test file holds the same data as :func:`sklearn.datasets.load_digits`.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` = ``optdigits.tra`` (3,823 rows), ``'test'`` =
        ``optdigits.tes`` (1,797 rows), ``'all'`` = both, train first.
    dtype : dtype, default=np.float64
        dtype of ``data`` (the features are integers 0-16).

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (n_samples, 64), ``target`` (digits 0-9),
        ``target_names`` (``arange(10)``), ``filename`` (list) and ``DESCR``;
        or ``(data, target)``.

    Examples
    --------
    >>> import numpy as np
    >>> from benchmarks.datasets import load_optdigits
    >>> X, y = load_optdigits(return_X_y=True, dtype=np.float32)
    >>> X.shape, X.dtype
    ((3823, 64), dtype('float32'))
    """
    _check_subset(subset, ("train", "test", "all"))
    files = _subset_files(subset, "optdigits.tra", "optdigits.tes")
    X, y, paths = _load_csv_label_last("optdigits", files, data_home, dtype)
    bunch = Bunch(
        data=X, target=y, target_names=np.arange(10), filename=paths,
        DESCR=(
            "UCI Optical Recognition of Handwritten Digits: 64 integer features "
            "(8x8 block counts, 0-16), 10 classes; train 3,823 rows, test 1,797 "
            f"rows. subset={subset!r}."
        ),
    )
    return _finish(bunch, return_X_y)


_SHUTTLE_NAMES = np.array(
    ["Rad Flow", "Fpv Close", "Fpv Open", "High", "Bypass", "Bpv Close", "Bpv Open"]
)


def load_shuttle(*, data_home=None, subset="train", return_X_y=False, dtype=np.float64):
    """Load the UCI Statlog Shuttle dataset (9 features, 7 imbalanced classes).

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` = ``shuttle.trn`` (43,500 rows), ``'test'`` =
        ``shuttle.tst`` (14,500 rows), ``'all'`` = both, train first.
    dtype : dtype, default=np.float64
        dtype of ``data`` (the features are integers).

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (n_samples, 9), ``target`` (the UCI labels 1-7,
        kept as in the files), ``target_names`` (7 names; the name of label
        ``k`` is ``target_names[k - 1]``), ``filename`` (list) and ``DESCR``;
        or ``(data, target)``.

    Examples
    --------
    >>> import numpy as np
    >>> from benchmarks.datasets import load_shuttle
    >>> X, y = load_shuttle(return_X_y=True)
    >>> X.shape, np.bincount(y)[1:]  # labels 1-7, very imbalanced
    ((43500, 9), array([34108,    37,   132,  6748,  2458,     6,    11]))
    """
    _check_subset(subset, ("train", "test", "all"))
    files = _subset_files(subset, "shuttle.trn", "shuttle.tst")
    X, y, paths = _load_csv_label_last("shuttle", files, data_home, dtype)
    bunch = Bunch(
        data=X, target=y, target_names=_SHUTTLE_NAMES.copy(), filename=paths,
        DESCR=(
            "UCI Statlog (Shuttle): 9 integer features, labels 1-7 (about 78% "
            "label 1); train 43,500 rows, test 14,500 rows. target_names[k - 1] "
            f"names label k. subset={subset!r}."
        ),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# MNIST (IDX format)
# --------------------------------------------------------------------------


def _read_idx(path):
    """Read a gzip'd IDX file of unsigned bytes into an array of its shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: only unsigned byte IDX files are supported")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    arr = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {shape} values, found {arr.size}")
    return arr.reshape(shape)


def load_mnist(*, data_home=None, subset="test", return_X_y=False, dtype=np.float64):
    """Load the MNIST test set (10,000 x 784, 10 classes).

    Only the 10,000 test images are available in the data folder (the
    training images are not), so ``subset='test'`` is the only choice; split
    it yourself (e.g. 8,000 / 2,000) for train/test experiments.

    Parameters
    ----------
    subset : {'test'}, default='test'
        Only ``'test'`` is supported.
    dtype : dtype, default=np.float64
        dtype of ``data``.  Pixel values are kept on their 0-255 scale (no
        rescaling); pass ``np.uint8`` for the raw bytes.

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (10000, 784), ``images`` (10000, 28, 28) uint8,
        ``target`` (digits 0-9), ``target_names`` (``arange(10)``),
        ``filename`` and ``DESCR``; or ``(data, target)``.

    Raises
    ------
    DatasetNotFoundError
        If an image or label file is missing.

    Examples
    --------
    >>> from benchmarks.datasets import load_mnist
    >>> mnist = load_mnist()
    >>> mnist.data.shape, mnist.images.shape
    ((10000, 784), (10000, 28, 28))
    """
    if subset != "test":
        raise ValueError(
            f"subset must be 'test' for MNIST (the training images are not in the "
            f"data folder), got {subset!r}"
        )
    img_path = _dataset_path("mnist", "t10k-images-idx3-ubyte.gz", data_home)
    lab_path = _dataset_path("mnist", "t10k-labels-idx1-ubyte.gz", data_home)
    images = _read_idx(img_path)
    labels = _read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST shape mismatch: images {images.shape}, labels {labels.shape}"
        )
    n = images.shape[0]
    bunch = Bunch(
        data=np.ascontiguousarray(images.reshape(n, -1), dtype=dtype),
        images=images,
        target=labels.astype(np.int64),
        target_names=np.arange(10),
        filename=[str(img_path), str(lab_path)],
        DESCR=(
            "MNIST test set (LeCun, Cortes & Burges): 10,000 28x28 grey images "
            "flattened to 784 features (0-255, not rescaled), 10 classes."
        ),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# ALOI (gzip'd Vowpal Wabbit text) -> sparse CSR
# --------------------------------------------------------------------------

_ALOI_N_FEATURES = 128


def _read_vw_gz(path, dtype):
    """Parse ``label | idx:val ...`` lines (1-based idx) into CSR parts."""
    with gzip.open(path, "rt", encoding="ascii") as f:
        text = f.read()
    labels = []
    feats = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        lab, sep, rest = line.partition("|")
        if not sep:
            raise ValueError(f"{path}:{lineno}: expected 'label | idx:val ...'")
        labels.append(lab)
        feats.append(rest)
    counts = np.fromiter((len(r.split()) for r in feats), dtype=np.int64, count=len(feats))
    indptr = np.zeros(len(feats) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    if nnz:
        tokens = "\n".join(" ".join(feats).split())
        pairs = np.loadtxt(io.StringIO(tokens), delimiter=":", dtype=np.float64, ndmin=2)
        if pairs.shape != (nnz, 2):
            raise ValueError(f"{path}: malformed 'idx:val' features")
        indices = pairs[:, 0].astype(np.int64) - 1
        if indices.min() < 0:
            raise ValueError(f"{path}: feature indices must start at 1")
        values = pairs[:, 1].astype(dtype)
    else:
        indices = np.zeros(0, dtype=np.int64)
        values = np.zeros(0, dtype=dtype)
    y = np.array([int(lab) for lab in labels], dtype=np.int64)
    return y, indptr, indices, values


def load_aloi(*, data_home=None, subset="train", return_X_y=False, dtype=np.float64):
    """Load ALOI, 1,000 classes, as a sparse CSR matrix (128 features).

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` = ``aloi_train.vw.gz`` (97,200 rows), ``'test'`` =
        ``aloi_test.vw.gz`` (10,800 rows), ``'all'`` = both, train first.
    dtype : dtype, default=np.float64
        dtype of the sparse matrix values.

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (scipy.sparse CSR matrix, n_samples x 128,
        absent features are 0), ``target`` (int64 labels 1-1000 as in the
        files), ``filename`` (list) and ``DESCR``; or ``(data, target)``.

    Examples
    --------
    >>> from benchmarks.datasets import load_aloi
    >>> X, y = load_aloi(subset="test", return_X_y=True)
    >>> X.shape, X.format, int(y.min()), int(y.max())
    ((10800, 128), 'csr', 1, 1000)
    """
    _check_subset(subset, ("train", "test", "all"))
    files = _subset_files(subset, "aloi_train.vw.gz", "aloi_test.vw.gz")
    paths = [_dataset_path("aloi", f, data_home) for f in files]
    dtype = np.dtype(dtype)
    parts = [_read_vw_gz(path, dtype) for path in paths]
    n_features = max([_ALOI_N_FEATURES] + [int(i.max()) + 1 for _, _, i, _ in parts if i.size])
    X = sp.vstack(
        [sp.csr_matrix((v, i, p), shape=(len(p) - 1, n_features)) for _, p, i, v in parts],
        format="csr",
    ).astype(dtype, copy=False)
    ys = [y for y, _, _, _ in parts]
    X.sum_duplicates()
    bunch = Bunch(
        data=X,
        target=np.concatenate(ys),
        filename=[str(p) for p in paths],
        DESCR=(
            "ALOI (Amsterdam Library of Object Images), 1,000-class LIBSVM/VW "
            "version: 128 sparse non-negative integer features (~31 nnz/row), "
            "labels 1-1000; train 97,200 rows, test 10,800 rows. "
            f"subset={subset!r}."
        ),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# 20 newsgroups (raw text from the bydate tar.gz)
# --------------------------------------------------------------------------


def load_20newsgroups(*, data_home=None, subset="train", categories=None, return_X_y=False):
    """Load the raw text of the 20 Newsgroups "bydate" split.

    Documents are read straight from ``20newsgroups/20news-bydate.tar.gz``
    (nothing is extracted to disk) and decoded as latin-1, headers kept.
    Order is deterministic: by category (sorted), then by file name (sorted);
    with ``'all'`` the training documents come first.  Vectorize the text
    yourself (e.g. ``TfidfVectorizer``) for a sparse benchmark.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` = 11,314 documents, ``'test'`` = 7,532 documents.
    categories : list of str, default=None
        Keep only these newsgroups (all 20 when None).  ``target`` then
        indexes the sorted selected names.

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (list of str), ``target`` (int codes into
        ``target_names``), ``target_names`` (sorted newsgroup names),
        ``filenames`` (archive member names), ``filename`` and ``DESCR``; or
        ``(data, target)``.

    Raises
    ------
    DatasetNotFoundError
        If the archive is missing.

    Examples
    --------
    >>> from benchmarks.datasets import load_20newsgroups
    >>> news = load_20newsgroups(subset="test", categories=["sci.space"])
    >>> len(news.data), news.target_names
    (394, ['sci.space'])
    """
    _check_subset(subset, ("train", "test", "all"))
    path = _dataset_path("20newsgroups", "20news-bydate.tar.gz", data_home)
    wanted = ("train", "test") if subset == "all" else (subset,)
    prefixes = {f"20news-bydate-{s}": s for s in wanted}
    docs = {s: [] for s in wanted}  # (group, name, text)
    all_groups = set()
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            if len(parts) != 3:
                continue
            top, group, _ = parts
            if top not in ("20news-bydate-train", "20news-bydate-test"):
                continue
            all_groups.add(group)
            if top not in prefixes:
                continue
            if categories is not None and group not in categories:
                continue
            text = tar.extractfile(member).read().decode("latin-1")
            docs[prefixes[top]].append((group, member.name, text))
    if categories is not None:
        unknown = sorted(set(categories) - all_groups)
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(all_groups)}")
        target_names = sorted(set(categories))
    else:
        target_names = sorted(all_groups)
    code = {g: i for i, g in enumerate(target_names)}
    data, target, filenames = [], [], []
    for s in wanted:
        for group, name, text in sorted(docs[s], key=lambda t: (t[0], t[1])):
            data.append(text)
            target.append(code[group])
            filenames.append(name)
    bunch = Bunch(
        data=data,
        target=np.array(target, dtype=np.int64),
        target_names=target_names,
        filenames=np.array(filenames, dtype=object),
        filename=str(path),
        DESCR=(
            "20 Newsgroups, bydate split (J. Rennie): raw posts with headers, "
            "decoded as latin-1; 20 classes; train 11,314 docs, test 7,532 docs. "
            f"subset={subset!r}."
        ),
    )
    return _finish(bunch, return_X_y)


# --------------------------------------------------------------------------
# Penn Treebank (language modelling)
# --------------------------------------------------------------------------

_PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
EOS = "<eos>"
UNK = "<unk>"


def _read_ptb_sentences(path, add_eos):
    with open(path, encoding="utf-8") as f:
        sents = [line.split() for line in f]
    if add_eos:
        for s in sents:
            s.append(EOS)
    return sents


def _ptb_vocabulary(sentences):
    """Words sorted by decreasing count, ties alphabetical; ``<eos>`` counted per line."""
    counts = Counter()
    for s in sentences:
        counts.update(s)
    return sorted(counts, key=lambda w: (-counts[w], w))


def load_ptb(
    *,
    data_home=None,
    subset="train",
    as_ids=False,
    vocabulary=None,
    add_eos=True,
    context=1,
    return_X_y=False,
):
    """Load the Penn Treebank language-modelling text (Mikolov version).

    Parameters
    ----------
    subset : {'train', 'valid', 'test'}, default='train'
        Which file to read (929,589 / 73,760 / 82,430 tokens with ``<eos>``).
    as_ids : bool, default=False
        If False, ``data`` is a list of sentences (lists of str tokens).
        If True, ``data`` is the whole token stream as one int64 array of word
        ids and ``vocabulary`` is returned as well.
    vocabulary : list of str, default=None
        Word list (id = position) used to encode ids.  When None it is built
        from the *training* file (so ids agree across subsets): words sorted by
        decreasing training frequency, ties alphabetically, so id 0 is the most
        frequent word (10,000 words including ``<eos>``; frequency order suits
        log-uniform negative samplers).  Words missing from a given
        vocabulary map to ``<unk>`` if it is in the vocabulary, else raise.
    add_eos : bool, default=True
        Append ``<eos>`` to every sentence (the standard token counts).
    context : int, default=1
        Number of previous tokens used as features with ``return_X_y=True``.
    return_X_y : bool, default=False
        If True, return a next-word prediction task ``(X, y)`` built from the
        id stream (implies ``as_ids=True``): ``X[i]`` holds the ``context``
        previous token ids, int64 of shape (n_tokens - context, context), and
        ``y[i]`` the id of the next token.  ``X`` is categorical (ids), not
        numeric; one-hot encode or hash it before fitting a linear model.

    Returns
    -------
    data : Bunch or tuple
        Bunch with ``data`` (list of token lists, or int64 id array),
        ``vocabulary`` (only with ``as_ids=True``), ``filename`` and
        ``DESCR``; or ``(X, y)`` with ``return_X_y=True``.

    Raises
    ------
    DatasetNotFoundError
        If the subset's file (or, when a vocabulary must be built, the
        training file) is missing.

    Examples
    --------
    >>> from benchmarks.datasets import load_ptb
    >>> ptb = load_ptb(subset="valid")
    >>> len(ptb.data), ptb.data[0][:3]
    (3370, ['consumers', 'may', 'want'])
    >>> X, y = load_ptb(subset="valid", context=2, return_X_y=True)
    >>> X.shape, y.shape
    ((73758, 2), (73758,))
    """
    _check_subset(subset, tuple(_PTB_FILES))
    context = int(context)
    if context < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    path = _dataset_path("ptb", _PTB_FILES[subset], data_home)
    sentences = _read_ptb_sentences(path, add_eos)
    descr = (
        "Penn Treebank, Mikolov language-modelling version: one sentence per "
        "line, <unk> for rare words, N for numbers; 10,000-word vocabulary "
        f"(with <eos>). subset={subset!r}."
    )
    if not (as_ids or return_X_y):
        return Bunch(data=sentences, filename=str(path), DESCR=descr)

    if vocabulary is None:
        if subset == "train":
            train_sents = sentences
        else:
            train_sents = _read_ptb_sentences(
                _dataset_path("ptb", _PTB_FILES["train"], data_home), add_eos
            )
        vocabulary = _ptb_vocabulary(train_sents)
    vocabulary = list(vocabulary)
    word_to_id = {w: i for i, w in enumerate(vocabulary)}
    if len(word_to_id) != len(vocabulary):
        raise ValueError("vocabulary contains duplicate words")
    unk = word_to_id.get(UNK)
    stream = [w for s in sentences for w in s]
    try:
        if unk is None:
            ids = np.fromiter((word_to_id[w] for w in stream), dtype=np.int64, count=len(stream))
        else:
            ids = np.fromiter((word_to_id.get(w, unk) for w in stream), dtype=np.int64,
                              count=len(stream))
    except KeyError as e:
        raise ValueError(f"word {e.args[0]!r} not in vocabulary (and no {UNK!r})") from None

    if return_X_y:
        n = ids.size - context
        if n <= 0:
            return np.zeros((0, context), dtype=np.int64), np.zeros(0, dtype=np.int64)
        X = np.lib.stride_tricks.sliding_window_view(ids, context)[:n].copy()
        y = ids[context:].copy()
        return X, y
    return Bunch(data=ids, vocabulary=vocabulary, filename=str(path), DESCR=descr)


# --------------------------------------------------------------------------
# dispatch with fallback
# --------------------------------------------------------------------------

_LOADERS = {
    "letter": load_letter,
    "pendigits": load_pendigits,
    "optdigits": load_optdigits,
    "shuttle": load_shuttle,
    "mnist": load_mnist,
    "aloi": load_aloi,
    "20newsgroups": load_20newsgroups,
    "ptb": load_ptb,
}

_SKLEARN_FALLBACKS = ("digits", "iris", "wine", "breast_cancer")


def _sklearn_fallback(name):
    from sklearn import datasets as skd

    loader = getattr(skd, f"load_{name}")
    return loader(return_X_y=True)


def load_dataset(name, *, data_home=None, fallback=None, **kwargs):
    """Load a dataset by name as ``(X, y)``, optionally falling back.

    Parameters
    ----------
    name : str
        One of ``'letter'``, ``'pendigits'``, ``'optdigits'``, ``'shuttle'``,
        ``'mnist'``, ``'aloi'``, ``'20newsgroups'``, ``'ptb'``.
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    fallback : {'digits', 'iris', 'wine', 'breast_cancer'}, callable or None, default=None
        What to use when the dataset's files are missing
        (:class:`DatasetNotFoundError`).  A string names a dataset shipped
        with scikit-learn (``sklearn.datasets.load_<name>``; nothing is
        downloaded); a callable is called without arguments and must return
        ``(X, y)``.  None re-raises the error.  A :class:`UserWarning` says
        which dataset is used instead.  Other errors are never caught.
    **kwargs
        Passed to the loader (e.g. ``subset='test'``, ``dtype=np.float32``).
        With a scikit-learn fallback only ``dtype`` is applied (to ``X``).

    Returns
    -------
    X : ndarray, sparse matrix or list of str
    y : ndarray
    used_name : str
        ``name``, or the name of the fallback that was used (e.g.
        ``'digits'``, or the callable's ``__name__``).

    Examples
    --------
    >>> import warnings
    >>> from benchmarks.datasets import load_dataset
    >>> X, y, used = load_dataset("pendigits", subset="test", fallback="digits")
    >>> used, X.shape
    ('pendigits', (3498, 16))

    Without the data folder the fallback is used, with a warning:

    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     X, y, used = load_dataset("pendigits", data_home="/nonexistent",
    ...                               fallback="digits")
    >>> used, X.shape, caught[0].category.__name__
    ('digits', (1797, 64), 'UserWarning')
    """
    return _load_or_fallback(name, data_home, fallback, kwargs, stacklevel=3)


def _load_or_fallback(name, data_home, fallback, kwargs, stacklevel):
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(_LOADERS)}")
    if fallback is not None and not callable(fallback) and fallback not in _SKLEARN_FALLBACKS:
        raise ValueError(
            f"fallback must be None, a callable or one of {list(_SKLEARN_FALLBACKS)}, "
            f"got {fallback!r}"
        )
    try:
        X, y = _LOADERS[name](data_home=data_home, return_X_y=True, **kwargs)
        return X, y, name
    except DatasetNotFoundError as exc:
        if fallback is None:
            raise
        if callable(fallback):
            used = getattr(fallback, "__name__", "callable")
            X, y = fallback()
        else:
            used = fallback
            X, y = _sklearn_fallback(fallback)
            if "dtype" in kwargs:
                X = np.asarray(X, dtype=kwargs["dtype"])
        warnings.warn(
            f"dataset {name!r} not found, using {used!r} instead ({exc})",
            UserWarning,
            stacklevel=stacklevel,
        )
        return X, y, used


# datasets without their own train / test files: split their rows
_NO_OWN_SPLIT = ("mnist",)


def load_train_test(name, *, data_home=None, fallback=None, test_size=0.3, random_state=0,
                    **kwargs):
    """Train and test sets of a dataset, optionally falling back.

    The dataset's own train and test files where it has them (all but MNIST,
    of which only the test set is in the data folder); otherwise, and for a
    fallback, a stratified :func:`~sklearn.model_selection.train_test_split`
    of its rows.

    Parameters
    ----------
    name : str
        As for :func:`load_dataset` (not ``'ptb'``, which is a corpus, not a
        table: use :func:`load_ptb`).
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    fallback : str, callable or None, default=None
        As for :func:`load_dataset`: used, with a :class:`UserWarning`, when
        the dataset's files are missing.
    test_size : float, default=0.3
        Fraction of the rows held out when splitting.
    random_state : int, default=0
        Seed of the split.
    **kwargs
        Passed to the loader (e.g. ``dtype=np.float32``), not ``subset``.

    Returns
    -------
    X_train, X_test, y_train, y_test
        In the order of :func:`~sklearn.model_selection.train_test_split`.
    used_name : str
        ``name``, or the name of the fallback that was used.

    Examples
    --------
    >>> from benchmarks.datasets import load_train_test
    >>> X_train, X_test, y_train, y_test, used = load_train_test(
    ...     "pendigits", fallback="digits")
    >>> used, X_train.shape, X_test.shape
    ('pendigits', (7494, 16), (3498, 16))
    """
    from sklearn.model_selection import train_test_split

    if name == "ptb":
        raise ValueError("load_train_test does not handle 'ptb'; use load_ptb(subset=...)")
    if "subset" in kwargs:
        raise TypeError("load_train_test takes no 'subset': it returns both sets")
    own_split = name not in _NO_OWN_SPLIT
    if own_split:
        kwargs["subset"] = "train"
    X, y, used = _load_or_fallback(name, data_home, fallback, kwargs, stacklevel=3)
    if used == name and own_split:
        kwargs["subset"] = "test"
        X_test, y_test, _ = _load_or_fallback(name, data_home, None, kwargs, stacklevel=3)
        return X, X_test, y, y_test, used
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state)
    return X_train, X_test, y_train, y_test, used
