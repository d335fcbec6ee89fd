"""
Sampled softmax with 1,000 classes
==================================

With ``K`` classes, one minibatch step of the full softmax computes and
updates ``K`` rows of logits and weights. Sampled softmax
(``SoftmaxClassifier(solver='adam', n_sampled=m, sampler=...)``) uses, per
minibatch, only the batch's true classes and ``m`` candidate classes drawn
from a proposal distribution, with the logQ correction (see
:doc:`/sampled_softmax`). Prediction always uses the full softmax.

We train both on ALOI (images of 1,000 objects, 128 sparse colour-histogram
features), with the same solver (Adam), batch size and step size, and report
seconds per epoch and test accuracy. To stay well under 30 seconds the
example uses 30,000 of the 97,200 training samples and a few epochs; the
speed-up grows with the number of classes.

Data: ALOI from the data folder (see ``benchmarks/datasets.py``); without it the
example falls back to scikit-learn's digits (and says so), whose 10 classes
are far too few for sampling to pay off: the example then only shows the API.
"""

# %%
# Data
# ----
import time

import matplotlib.pyplot as plt
import numpy as np

from benchmarks.datasets import load_train_test
from skmax import SoftmaxClassifier

X, X_test, y, y_test, used = load_train_test("aloi", fallback="digits", dtype=np.float32)
if used == "aloi":
    keep = np.random.RandomState(0).choice(X.shape[0], 30_000, replace=False)
    X, y = X[keep], y[keep]
else:   # 10 classes: sampling cannot pay off there
    X, X_test = X / 16.0, X_test / 16.0
classes = np.unique(np.concatenate([y, y_test]))
print(f"dataset {used}: {len(classes)} classes, train {X.shape}, test {X_test.shape}"
      + (f", sparse ({X.nnz / X.shape[0]:.0f} nonzeros per row)" if used == "aloi" else ""))

# %%
# Training
# --------
# One :meth:`~skmax.SoftmaxClassifier.partial_fit` call is one epoch over the
# data, so we can time every epoch and measure the test accuracy after it.
# Epoch 1 also allocates the weights and Adam's moments; seconds per epoch are
# the mean of the later epochs. ``n_jobs=1``: single-threaded timings.
n_epochs = 5
common = dict(solver="adam", batch_size=256, learning_rate_init=0.01, C=1e4,
              n_jobs=1, random_state=0)
variants = {"full softmax": SoftmaxClassifier(**common)}
for m in (64, 256):
    m = min(m, len(classes) - 2)   # the digits fallback has only 10 classes
    variants[f"sampled, n_sampled={m}"] = SoftmaxClassifier(
        n_sampled=m, sampler="unigram", **common)
history = {}
for name, clf in variants.items():
    times, accs = [], []
    for _epoch in range(n_epochs):
        t0 = time.perf_counter()
        clf.partial_fit(X, y, classes=classes)
        times.append(time.perf_counter() - t0)
        accs.append(clf.score(X_test, y_test))
    history[name] = np.cumsum(times), accs
    print(f"{name:>34}: {np.mean(times[1:]):.3f} s/epoch, "
          f"test accuracy {accs[-1]:.4f} after {n_epochs} epochs")

# %%
# Sampling makes an epoch several times cheaper, but per epoch it learns
# less: each step updates only the weights of the classes it sampled. More
# candidates cost more per epoch and come closer to the full softmax. The
# unigram proposal (the default) follows the class frequencies; ALOI's
# classes are about balanced, so here it is close to ``sampler='uniform'``.
fig, ax = plt.subplots(figsize=(6, 4))
for name, (elapsed, accs) in history.items():
    ax.plot(elapsed, accs, marker="o", label=name)
ax.set_xlabel("training time (s)")
ax.set_ylabel("test accuracy")
ax.set_title(f"{used}: one point per epoch")
ax.legend()
fig.tight_layout()
plt.show()
