"""Helpers shared by test files (plain functions and constants, not fixtures)."""
import contextlib

import numpy as np
import pytest

from fastbp import _core, optim

# fit's optimizer options, each optimizer argument set different from its
# default somewhere (lr given to fit replaces the optimizer's own).
OPTIMIZERS = [
    pytest.param(dict(optimizer="sgd"), id="sgd"),
    pytest.param(dict(optimizer=optim.SGD(momentum=0.9)), id="momentum"),
    pytest.param(dict(optimizer=optim.SGD(momentum=0.8, nesterov=True)), id="nesterov"),
    pytest.param(dict(optimizer=optim.SGD(weight_decay=0.01)), id="sgd-decay"),
    pytest.param(dict(optimizer=optim.SGD(momentum=0.9, weight_decay=0.05,
                                          decay_biases=False)), id="decay-weights-only"),
    pytest.param(dict(optimizer="adam", lr=0.01), id="adam"),
    pytest.param(dict(optimizer=optim.Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                           weight_decay=0.001)), id="adam-decay"),
    pytest.param(dict(optimizer="rprop", batch_size=None), id="rprop"),
    pytest.param(dict(optimizer=optim.Rprop(lr=0.02, etas=(0.4, 1.3),
                                            step_sizes=(1e-4, 0.05)), batch_size=None),
                 id="rprop-clamped"),
]


def assert_close(actual, desired, rtol, atol, what):
    """Agreement to rtol, and to atol times the largest |desired| (an entry
    near 0 keeps the absolute error of the numbers it was computed from)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    scale = max(np.abs(desired).max(), 1e-300)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol * scale,
                               err_msg=f"{what} differ")


def random_targets(rng, kind, n, n_out):
    """(n, n_out) targets of a kind: real, positive, unit (in [0, 1)), binary,
    one_hot, distribution (rows summing to 1) or unnormalised (rows of
    probabilities summing to 0.4, 1.7, 0.65, ...)."""
    if kind == "real":
        return rng.normal(size=(n, n_out))
    if kind == "positive":
        return rng.uniform(0, 2, size=(n, n_out))
    if kind == "unit":
        return rng.uniform(size=(n, n_out))
    if kind == "binary":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    if kind == "one_hot":
        return np.eye(n_out)[rng.integers(n_out, size=n)]
    if kind == "distribution":
        Y = rng.uniform(size=(n, n_out))
        return Y / Y.sum(axis=1, keepdims=True)
    mass = np.resize([0.4, 1.7, 0.65], n)[:, None]
    return rng.dirichlet(np.ones(n_out), n) * mass


def flat_gradient(grad_weights, grad_biases):
    """A (grad_weights, grad_biases) pair as one float64 vector in params order."""
    parts = []
    for l, G in enumerate(grad_weights):
        parts.append(np.ravel(np.asarray(G, dtype=np.float64)))
        if grad_biases is not None:
            parts.append(np.asarray(grad_biases[l], dtype=np.float64))
    return np.concatenate(parts)


# Agreement after training. The engines add the terms of a dot product in
# different orders (interleaved partial sums, perhaps with FMA, or BLAS
# blocks; the reference left to right), so each number differs by a few ulp;
# training carries that through every later update. Relative to each
# parameter: float64 rtol 1e-10 (style guide section 7), a float32 core
# against the float64 reference 1e-4. A parameter that passes near 0 keeps
# the *absolute* error of the numbers it was summed from, so each entry may
# also be off by atol times the largest parameter (or output) of the
# network: 1e-12 for float64, 1e-5 for float32.
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-5)}


def weighted_data(sizes, targets, dtype, n, seed=0):
    """n samples and positive sample weights for a network of ``sizes``;
    float32 problems hold float32 values exactly, so a float64 reference
    sees the same numbers."""
    rng = np.random.default_rng(seed + sum(sizes))
    X = rng.normal(size=(n, sizes[0]))
    Y = random_targets(rng, targets, n, sizes[-1])
    weight = rng.uniform(0.5, 2.0, size=n)
    as_dtype = lambda A: A.astype(dtype).astype(float)  # noqa: E731
    return as_dtype(X), as_dtype(Y), as_dtype(weight)


@contextlib.contextmanager
def per_sample_loop():
    """Every sample through the core's per-sample loop while the block runs."""
    _core.set_matrix_path(False)
    try:
        yield
    finally:
        _core.set_matrix_path(True)
