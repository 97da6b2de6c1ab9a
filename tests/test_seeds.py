"""Seeds: the same seed gives the same initial weights and the same
shuffled training, on both implementations, in the documented order."""
import math

import numpy as np
import pytest

import fastbp
from impls import IMPLS, clone, flat


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_initial_weights(impl, dtype):
    a = impl([5, 7, 3], seed=123, dtype=dtype)
    b = impl([5, 7, 3], seed=123, dtype=dtype)
    c = impl([5, 7, 3], seed=124, dtype=dtype)
    assert flat(a).tobytes() == flat(b).tobytes()
    assert not np.array_equal(flat(a), flat(c))
    # np.int64 seeds mean the same as ints
    assert flat(impl([5, 7, 3], seed=np.int64(123), dtype=dtype)).tobytes() == flat(a).tobytes()
    # biases start at zero, weights within the documented Glorot-type limit
    limit = math.sqrt(2.0 / (5 + 7))
    W = np.asarray(a.weights[0])
    assert np.all(np.abs(W) <= limit) and np.abs(W).max() > limit / 2
    assert all(np.all(np.asarray(b_) == 0) for b_ in a.biases)


def test_unseeded_networks_differ():
    assert not np.array_equal(fastbp.MLP([5, 7, 3]).params, fastbp.MLP([5, 7, 3]).params)


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_seed_reproduces_shuffled_training(impl):
    rng = np.random.default_rng(0)
    Xd, Yd = rng.random((12, 3)), rng.random((12, 2))
    base = impl([3, 5, 2], seed=0)
    a, b, c = clone(base), clone(base), clone(base)
    ha = a.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=11)
    hb = b.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=11)
    hc = c.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=True, seed=12)
    assert flat(a).tobytes() == flat(b).tobytes()
    assert ha.loss == hb.loss
    assert not np.array_equal(flat(a), flat(c))
    assert ha.loss != hc.loss
    # without shuffling the seed plays no part
    d, e = clone(base), clone(base)
    d.fit(Xd, Yd, epochs=2, shuffle=False, seed=1)
    e.fit(Xd, Yd, epochs=2, shuffle=False, seed=2)
    assert flat(d).tobytes() == flat(e).tobytes()


def test_fit_shuffles_in_the_documented_order():
    """shuffle=True visits the samples in default_rng(seed).permutation order,
    a fresh permutation per epoch: the same as shuffle=False on reordered data."""
    rng = np.random.default_rng(1)
    Xd, Yd = rng.random((10, 3)), rng.random((10, 1))
    a = fastbp.MLP([3, 4, 1], seed=0)
    b = a.copy()
    a.fit(Xd, Yd, epochs=2, shuffle=True, seed=7)
    perm = np.random.default_rng(7)
    for _ in range(2):
        order = perm.permutation(10)
        b.fit(Xd[order], Yd[order], shuffle=False)
    assert a.params.tobytes() == b.params.tobytes()
