"""
Sampled softmax: when it pays, and when it does not
===================================================

With ``K`` classes, one minibatch step of the full softmax computes and
updates ``K`` rows of logits and weights. Sampled softmax
(``SoftmaxClassifier(solver='adam', n_sampled=m, sampler=...)``) uses, per
minibatch, only the batch's true classes and ``m`` candidate classes drawn
from a proposal distribution, with the logQ correction (see
:doc:`/sampled_softmax`). Prediction always uses the full softmax.

A sampled step therefore costs about the share of the classes it touches
(the union of the batch's true classes and the candidates), plus a fixed
cost per step; and it learns less per epoch, since a class's weights move
only when the class is in the batch or drawn. Sampling pays when that union
is a small share of ``K``: thousands of classes or more, of which a batch
holds few. It does not pay when a batch's true classes already cover a
sizable share of the classes.

Both cases below, with the same solver (Adam), batch size and step size:

1. synthetic data with ``K = 5,000`` classes of Zipf-distributed frequency
   (dense Gaussian features around one centroid per class, the data of
   ``benchmarks/bench_many_classes.py``): sampling pays;
2. ALOI (images of 1,000 objects, about 100 per class, 128 sparse
   colour-histogram features): it does not, at batch size 256.

Data: ALOI from the data folder (see ``benchmarks/datasets.py``); without it
the second part falls back to scikit-learn's digits (and says so), whose 10
classes are far too few for sampling to pay off.
"""

# %%
# Helpers
# -------
# One :meth:`~skmax.SoftmaxClassifier.partial_fit` call is one epoch over the
# data, so we can time every epoch and measure the test accuracy after it.
# Epoch 1 also allocates the weights and Adam's moments; seconds per epoch are
# the mean of the later epochs. ``n_jobs=1``: single-threaded timings.
import time

import matplotlib.pyplot as plt
import numpy as np

from benchmarks.bench_many_classes import synthetic
from benchmarks.datasets import load_train_test
from skmax import SoftmaxClassifier

common = dict(solver="adam", batch_size=256, learning_rate_init=0.01, C=1e4,
              n_jobs=1, random_state=0)


def train(variants, X, y, X_test, y_test, classes):
    """Test accuracy after each epoch and the cumulated training time."""
    history = {}
    for name, (clf, n_epochs) in variants.items():
        times, accs = [], []
        for _ in range(n_epochs):
            t0 = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            times.append(time.perf_counter() - t0)
            accs.append(clf.score(X_test, y_test))
        history[name] = np.cumsum(times), accs
        print(f"{name:>28}: {np.mean(times[1:]):.3f} s/epoch, "
              f"test accuracy {accs[-1]:.4f} after {n_epochs} epochs")
    return history


def classes_per_step(y, n_sampled, n_classes, batch_size=256, n_batches=50):
    """Mean share of the classes one step touches: the batch's true classes,
    plus ``n_sampled`` candidates drawn from the unigram proposal."""
    rng = np.random.default_rng(0)
    proposal = (np.bincount(y, minlength=n_classes) + 1.0) ** 0.75
    proposal /= proposal.sum()
    touched = [
        np.union1d(rng.choice(y, batch_size),
                   rng.choice(n_classes, n_sampled, p=proposal)).size
        for _ in range(n_batches)
    ]
    return np.mean(touched) / n_classes


def plot(history, title):
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (elapsed, accs) in history.items():
        ax.plot(elapsed, accs, marker="o", label=name)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{title}: one point per epoch")
    ax.legend()
    fig.tight_layout()


# %%
# Where sampling pays: 5,000 classes
# ----------------------------------
# A batch of 256 rows holds a few hundred distinct classes at most, so one
# sampled step touches a few percent of the 5,000 classes. Each sampled epoch
# costs a fraction of a full one; per epoch it learns less, so the sampled
# models run more epochs, and reach the full softmax's accuracy in less time.
X, y, X_test, y_test, classes = synthetic(5000, 10_000, 5_000, 64)
for m in (64, 256):
    print(f"n_sampled={m}: one step touches {classes_per_step(y, m, 5000):.1%} "
          "of the classes")
history = train({
    "full softmax": (SoftmaxClassifier(**common), 4),
    "sampled, n_sampled=64": (SoftmaxClassifier(n_sampled=64, **common), 10),
    "sampled, n_sampled=256": (SoftmaxClassifier(n_sampled=256, **common), 10),
}, X, y, X_test, y_test, classes)
plot(history, "synthetic, K = 5,000")

# %%
# Where it does not: 1,000 balanced classes
# -----------------------------------------
# On ALOI each class holds about a thousandth of the rows, so a batch of 256
# rows already holds about 230 distinct classes, and a step with 256
# candidates touches about 40% of all 1,000 classes. A sampled epoch then
# costs more than half of a full-softmax epoch (the touched share, plus the
# fixed cost per step), and it learns less: at equal training time the two
# curves are about even, so sampling buys nothing here and gives up the full
# softmax's exact gradient. Use the full softmax for ``K`` up to a few
# thousand; sampling pays again with far more classes, or batches that hold
# far fewer of them.
X, X_test, y, y_test, used = load_train_test("aloi", fallback="digits", dtype=np.float32)
if used == "aloi":
    keep = np.random.RandomState(0).choice(X.shape[0], 30_000, replace=False)
    X, y = X[keep], y[keep]
else:   # 10 classes: sampling cannot pay off there
    X, X_test = X / 16.0, X_test / 16.0
classes = np.unique(np.concatenate([y, y_test]))
print(f"dataset {used}: {len(classes)} classes, train {X.shape}, test {X_test.shape}")
m = min(256, len(classes) - 2)   # the digits fallback has only 10 classes
print(f"n_sampled={m}: one step touches "
      f"{classes_per_step(np.searchsorted(classes, y), m, len(classes)):.1%} of the classes")
history = train({
    "full softmax": (SoftmaxClassifier(**common), 3),
    f"sampled, n_sampled={m}": (SoftmaxClassifier(n_sampled=m, **common), 3),
}, X, y, X_test, y_test, classes)
plot(history, used)
plt.show()
