"""Helpers for tests that run on both implementations, fastbp.MLP and
fastbp.reference.MLP, which must accept, refuse and compute alike."""
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import reference

IMPLS = [pytest.param(fastbp.MLP, id="fastbp"), pytest.param(reference.MLP, id="reference")]

# XOR: 4 samples, 2 features, 1 output.
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def flat(net):
    """The parameters as a float64 array (the reference's params is a list)."""
    if isinstance(net, reference.MLP):
        return np.array(net.params, dtype=np.float64)
    return net.params.copy()


def outputs(net, X):
    """Predictions as a float64 array, from either implementation."""
    return np.asarray(net.predict(X), dtype=np.float64)


def clone(net):
    """An independent copy of either implementation's model."""
    if isinstance(net, fastbp.MLP):
        return net.copy()
    return pickle.loads(pickle.dumps(net))


def assert_unchanged(net, before):
    """Same values and the same bytes as ``before`` (a ``flat`` copy)."""
    now = flat(net)
    assert now.dtype == before.dtype
    assert np.array_equal(now, before)
    assert now.tobytes() == before.tobytes()
    if isinstance(net, fastbp.MLP):
        # weights and biases are still views into params after the refusal
        assert all(np.shares_memory(W, net.params) for W in net.weights)
