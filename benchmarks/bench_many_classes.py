"""Full vs sampled softmax with the minibatch solvers on many classes.

One run prints one table (markdown):

(a) synthetic data, K = 1,000 / 10,000 / 50,000 classes (Zipf-distributed
    labels, dense Gaussian features around one centroid per class);
(b) next-word prediction on Penn Treebank: the previous word (``--context 1``)
    or two words (``--context 2``) as sparse one-hot features, the 10,000-word
    vocabulary as classes; trained on ``ptb.valid.txt``, tested on
    ``ptb.test.txt``, read with ``benchmarks.datasets.load_ptb`` (``../shared/data``,
    ``SKMAX_DATA`` or ``--data-home``).

For each data set: seconds per epoch of ``SoftmaxClassifier(solver='adam')``
with the full softmax and with ``n_sampled`` = 64, 256, 1024 (same solver,
batch size, learning rate and number of epochs, one ``partial_fit`` call per
epoch), test accuracy and test log-loss (full softmax, computed in row
chunks) after those epochs, and the peak memory traced by ``tracemalloc``
during the first epoch (numpy / scipy allocations: parameters, optimiser
moments, batch buffers; not the OS-level RSS). Seconds per epoch are the mean
over the epochs after the first, which also allocates the parameters and
moments and is the traced one.
``SGDClassifier(loss='log_loss')`` (one-vs-rest) is added where it runs in
reasonable time (``--sgd-max-k``).

Epochs: ``--epochs`` (default 10) on the synthetic data, ``--ptb-epochs``
(default 2) on Penn Treebank, whose full-softmax epochs are the slowest of the
run (times in docs/benchmarks.md).
A sampled model updates a class's weights only when that class is drawn, so
after 2 epochs on synthetic K=10,000 it still trails the full softmax by 5-12
points; by 10 epochs it has caught up.

A second table (its own section of the page, ``bench_many_classes_curves``)
follows the defaults of ``SoftmaxClassifier(solver='adam')`` (learning rate,
batch size) as time-to-accuracy curves: test accuracy and cumulative training
seconds after each of ``--curve-epochs`` epochs, full softmax against
``n_sampled=64``, on synthetic K = 2,000 (n = 80,000) and 10,000 (n = 40,000), d = 64.
``--curves-only`` runs just that table.

Usage: python benchmarks/bench_many_classes.py [--quick] [--epochs N] [--ptb-epochs N]
[--curve-epochs N] [--curves-only] [--write-docs [PAGE]] (the page's tables: the defaults).
"""

import argparse
import os
import sys
import time
import tracemalloc
import warnings

import numpy as np
import scipy.sparse as sp

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option  # noqa: E402
from skmax import SoftmaxClassifier  # noqa: E402


# -- data -----------------------------------------------------------------
def synthetic(n_classes, n_train, n_test, n_features, seed=0):
    rng = np.random.default_rng(seed)
    prior = 1.0 / np.arange(1, n_classes + 1)
    prior /= prior.sum()
    centroids = rng.normal(size=(n_classes, n_features)).astype(np.float32)
    y = rng.choice(n_classes, size=n_train + n_test, p=prior)
    X = centroids[y] + rng.normal(scale=0.8, size=(y.shape[0], n_features)).astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], np.arange(n_classes)


def _load_ptb(data_home):
    """Token lists of the PTB train / valid / test files, through benchmarks.datasets
    (raises DatasetNotFoundError, a FileNotFoundError, when they are absent)."""
    from benchmarks.datasets import load_ptb

    return {s: [w for sentence in load_ptb(subset=s, data_home=data_home).data
                for w in sentence]
            for s in ("train", "valid", "test")}


def ptb_next_word(data_home=None, context=1, max_tokens=None, max_vocab=None):
    """Sparse one-hot features of the previous ``context`` words; labels the next word."""
    words = _load_ptb(data_home)
    vocab = sorted(set(words["train"]))
    if max_vocab is not None:   # smoke runs: the most frequent words, the rest <unk>
        uniq, counts = np.unique(words["train"], return_counts=True)
        keep = set(uniq[np.argsort(-counts, kind="stable")[:max_vocab - 1]]) | {"<unk>"}
        vocab = sorted(keep)
    index = {w: i for i, w in enumerate(vocab)}
    V = len(vocab)

    def encode(tokens):
        ids = np.array([index.get(w, index["<unk>"]) for w in tokens], dtype=np.int64)
        if max_tokens is not None:
            ids = ids[: max_tokens + context]
        n = ids.shape[0] - context
        rows = np.repeat(np.arange(n), context)
        cols = np.concatenate(
            [ids[context - j - 1: context - j - 1 + n] + j * V for j in range(context)]
        ).reshape(context, n).T.ravel()
        X = sp.csr_matrix((np.ones(n * context, dtype=np.float32), (rows, cols)),
                          shape=(n, V * context))
        return X, ids[context:]

    X_train, y_train = encode(words["valid"])
    X_test, y_test = encode(words["test"])
    return X_train, y_train, X_test, y_test, np.arange(V)


# -- evaluation -----------------------------------------------------------
def _log_proba(clf, X):
    """Log-probabilities: skmax's log-softmax, else the log of clipped probabilities
    (SGDClassifier's one-vs-rest probabilities can be exactly 0)."""
    if isinstance(clf, SoftmaxClassifier):
        return clf.predict_log_proba(X)
    return np.log(np.clip(clf.predict_proba(X), 1e-15, None))


def evaluate(clf, X, y, chunk=4096):
    """Accuracy and log-loss over all classes, in row chunks."""
    correct, nll = 0, 0.0
    pos = np.searchsorted(clf.classes_, y)
    for start in range(0, X.shape[0], chunk):
        logp = _log_proba(clf, X[start:start + chunk])
        yy = pos[start:start + chunk]
        correct += int(np.sum(logp.argmax(axis=1) == yy))
        nll -= float(np.sum(logp[np.arange(yy.shape[0]), yy]))
    return correct / X.shape[0], nll / X.shape[0]


def _train_epochs(clf, data, epochs):
    """One ``partial_fit`` per epoch: mean seconds per epoch, test accuracy and
    log-loss, and the tracemalloc peak of the first epoch.

    The first epoch allocates the parameters and moments and is traced for
    the memory peak; it is left out of the timing when there are more, and
    the timed epochs run untraced (tracing every allocation slows the many
    small per-batch allocations of the sampled solver by up to 2x)."""
    X_train, y_train, X_test, y_test, classes = data
    tracemalloc.start()
    t0 = time.perf_counter()
    clf.partial_fit(X_train, y_train, classes=classes)
    times = [time.perf_counter() - t0]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    for _ in range(epochs - 1):
        t0 = time.perf_counter()
        clf.partial_fit(X_train, y_train, classes=classes)
        times.append(time.perf_counter() - t0)
    times = times[1:] if len(times) > 1 else times
    acc, ll = evaluate(clf, X_test, y_test)
    return float(np.mean(times)), acc, ll, peak


def run_skmax(data, n_sampled, epochs, args):
    clf = SoftmaxClassifier(
        solver="adam", learning_rate_init=args.lr, batch_size=args.batch_size,
        n_sampled=n_sampled, random_state=0, n_jobs=args.n_jobs,
    )
    return _train_epochs(clf, data, epochs)


def run_sgdclassifier(data, epochs, args):
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0, n_jobs=args.n_jobs)
    return _train_epochs(clf, data, epochs)


def accuracy_curve(data, n_sampled, epochs, n_jobs):
    """Cumulative training seconds and test accuracy after each epoch, at the
    estimator's defaults (one ``partial_fit`` per epoch)."""
    X_train, y_train, X_test, y_test, classes = data
    clf = SoftmaxClassifier(solver="adam", n_sampled=n_sampled, random_state=0, n_jobs=n_jobs)
    seconds, points = 0.0, []
    for _ in range(epochs):
        t0 = time.perf_counter()
        clf.partial_fit(X_train, y_train, classes=classes)
        seconds += time.perf_counter() - t0
        points.append((seconds, evaluate(clf, X_test, y_test)[0]))
    return points


def curves_table(args, sizes, n_sampled, epochs):
    """The time-to-accuracy report (module docstring)."""
    report = Report("bench_many_classes_curves",
                    f"SoftmaxClassifier(solver='adam') defaults (learning_rate_init=0.001, "
                    f"batch_size='auto'); full softmax and n_sampled={n_sampled}, "
                    f"{epochs} epochs (`--curve-epochs`)")
    rows = []
    for K, n, m, d in sizes:
        data = synthetic(K, n, m, d)
        name = f"synthetic K={K:,} (n={n:,}, d={d})"
        full = accuracy_curve(data, None, epochs, args.n_jobs)
        sampled = accuracy_curve(data, n_sampled, epochs, args.n_jobs)
        for epoch, ((t_full, a_full), (t_s, a_s)) in enumerate(zip(full, sampled), 1):
            rows.append((name, epoch, f"{t_full:.2f}", f"{a_full:.4f}", f"{t_s:.2f}",
                         f"{a_s:.4f}", f"{a_s / a_full:.1%}", f"{t_full / t_s:.1f}x"))
            print(" ".join(map(str, rows[-1])), flush=True)
    print()
    report.table(["data", "epoch", "full: s", "full: test acc", f"sampled {n_sampled}: s",
                  "sampled: test acc", "sampled / full acc", "speed-up"], rows)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--epochs", type=int, default=10, help="epochs on synthetic data")
    parser.add_argument("--ptb-epochs", type=int, default=2, help="epochs on Penn Treebank")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--context", type=int, default=1, choices=(1, 2))
    parser.add_argument("--data-home", default=None,
                        help="folder holding ptb/ (default: benchmarks.datasets.get_data_home())")
    parser.add_argument("--sgd-max-k", type=int, default=1000,
                        help="run SGDClassifier only up to this many classes")
    parser.add_argument("--curve-epochs", type=int, default=3,
                        help="epochs of the time-to-accuracy table")
    parser.add_argument("--curves-only", action="store_true",
                        help="only the time-to-accuracy table")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.quick:
        curves = curves_table(args, [(50, 500, 200, 16)], 8, 2)
    else:
        curves = curves_table(args, [(2_000, 80_000, 20_000, 64), (10_000, 40_000, 20_000, 64)],
                              64, args.curve_epochs)
    if args.write_docs:
        curves.write_docs(args.write_docs)
    if args.curves_only:
        return

    if args.quick:
        synth = [(50, 500, 200, 16)]
        sampled = [4, 16]
        epochs = ptb_epochs = 1
        ptb_tokens, ptb_vocab = 2000, 200
    else:
        synth = [(1_000, 20_000, 5_000, 64), (10_000, 20_000, 5_000, 64),
                 (50_000, 10_000, 5_000, 64)]
        sampled = [64, 256, 1024]
        epochs, ptb_epochs = args.epochs, args.ptb_epochs
        ptb_tokens, ptb_vocab = None, None

    datasets = [(f"synthetic K={K:,} (n={n:,}, d={d})", epochs,
                 lambda K=K, n=n, m=m, d=d: synthetic(K, n, m, d))
                for K, n, m, d in synth]
    datasets.append((f"PTB next word (context {args.context})", ptb_epochs,
                     lambda: ptb_next_word(args.data_home, args.context, ptb_tokens, ptb_vocab)))

    report = Report("bench_many_classes",
                    f"solver='adam', lr={args.lr}, batch_size={args.batch_size}; {epochs} epochs "
                    f"on synthetic data, {ptb_epochs} on PTB (`--epochs`, `--ptb-epochs`)")
    rows = []

    def add_row(*cells):   # progress, one line per row; the table follows
        rows.append(cells)
        print(" ".join(map(str, cells)), flush=True)

    for name, n_epochs, load in datasets:
        try:
            data = load()
        except FileNotFoundError as exc:
            add_row(name, "", f"skipped: {exc}", "", "", "", "", "", "")
            continue
        K = len(data[4])
        full_time = None
        for n_sampled in [None, *[s for s in sampled if s < K - 1]]:
            sec, acc, ll, peak = run_skmax(data, n_sampled, n_epochs, args)
            full_time = sec if n_sampled is None else full_time
            method = "full softmax" if n_sampled is None else f"sampled, n_sampled={n_sampled}"
            add_row(name, f"{K:,}", method, n_epochs, f"{sec:.3f}", f"{full_time / sec:.1f}x",
                    f"{acc:.4f}", f"{ll:.4f}", f"{peak / 2**20:.0f}")
        if K <= args.sgd_max_k:
            sec, acc, ll, peak = run_sgdclassifier(data, n_epochs, args)
            add_row(name, f"{K:,}", "SGDClassifier(log_loss), OvR", n_epochs, f"{sec:.3f}",
                    f"{full_time / sec:.1f}x", f"{acc:.4f}", f"{ll:.4f}", f"{peak / 2**20:.0f}")
    print()
    report.table(["data", "K", "method", "epochs", "s/epoch", "speed-up", "test acc",
                  "test log-loss", "peak MB"], rows, plot="speed-up")
    if args.write_docs:
        report.write_docs(args.write_docs)


if __name__ == "__main__":
    main()
