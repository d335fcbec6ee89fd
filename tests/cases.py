"""Shared cases of the kernel, loss and objective tests."""

import numpy as np

RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# (temperature, label_smoothing, focal_gamma): every objective variant
OPTIONS = [
    (1.0, 0.0, 0.0),   # cross-entropy
    (2.5, 0.0, 0.0),   # temperature
    (1.0, 0.2, 0.0),   # label smoothing
    (1.0, 0.0, 2.0),   # focal loss
    (1.0, 0.0, 0.5),   # focal, gamma < 1
    (0.7, 0.1, 1.5),   # everything
]


def random_options(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (float(rng.uniform(0.3, 3.0)), float(rng.choice([0.0, rng.uniform(0, 0.5)])),
         float(rng.choice([0.0, rng.uniform(0, 3)])))
        for _ in range(n)
    ]


def random_logits(n, K, dtype, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    a = (rng.normal(size=(n, K)) * scale).astype(dtype)
    y = rng.integers(0, K, n).astype(np.int32)
    sw = rng.uniform(0.2, 2.0, n)
    return a, y, sw
