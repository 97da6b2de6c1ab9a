"""weights and biases as views of params, networks without biases, and
copies and pickles that round-trip and stay independent."""
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import reference
from impls import XOR_X as X, XOR_Y as Y


def test_weights_and_biases_are_views_of_params():
    net = fastbp.MLP([2, 3, 2], seed=0)
    assert all(np.shares_memory(W, net.params) for W in net.weights)
    assert all(np.shares_memory(b, net.params) for b in net.biases)
    assert [W.shape for W in net.weights] == [(3, 2), (2, 3)]
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    assert net.params.size == 3 * 2 + 3 + 2 * 3 + 2
    before = net.predict(X)
    net.weights[0][0, 0] = 5.0
    assert net.params[0] == 5.0
    net.weights[0][2, 1] = -4.0
    assert net.params[5] == -4.0               # row-major, layer 0 weights first
    net.biases[0][1] = 0.75
    assert net.params[6 + 1] == 0.75           # then layer 0's biases
    net.weights[1][1, 2] = 3.0
    assert net.params[9 + 5] == 3.0
    net.biases[1][1] = -2.0
    assert net.params[-1] == -2.0
    after = net.predict(X)
    assert not np.array_equal(before, after)
    # the layout, written out: layer by layer, weights row by row, then biases
    W0_, b0_, W1_, b1_ = net.weights[0], net.biases[0], net.weights[1], net.biases[1]
    hidden = 1 / (1 + np.exp(-(X @ W0_.T + b0_)))
    np.testing.assert_allclose(after, 1 / (1 + np.exp(-(hidden @ W1_.T + b1_))), rtol=1e-14)
    # writing params shows through the views
    net.params[...] = 0.0
    assert all(np.all(W == 0) for W in net.weights)
    np.testing.assert_array_equal(net.predict(X), np.full((4, 2), 0.5))
    # training updates params in place, so the views see it
    net.fit(X, np.ones((4, 2)), epochs=2)
    assert all(np.shares_memory(W, net.params) for W in net.weights)
    assert net.weights[1][0, 0] == net.params[9] != 0.0


def test_no_bias_network():
    net = fastbp.MLP([2, 3, 1], bias=False, seed=0)
    assert net.biases is None
    assert net.params.size == 2 * 3 + 3
    net.fit(X, Y, epochs=2)
    c = net.copy()
    assert c.biases is None and c.params.tobytes() == net.params.tobytes()
    p = pickle.loads(pickle.dumps(net))
    assert p.biases is None and p.params.tobytes() == net.params.tobytes()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("how", ["copy", "pickle"])
def test_copy_and_pickle_round_trip_and_are_independent(how, dtype):
    net = fastbp.MLP([3, 4, 2], activation="tanh", output_activation="softmax",
                     loss="cross_entropy", dtype=dtype, seed=3)
    rng = np.random.default_rng(0)
    Xd = rng.random((6, 3))
    Yd = np.eye(2)[rng.integers(0, 2, 6)]
    net.fit(Xd, Yd, epochs=2)
    twin = net.copy() if how == "copy" else pickle.loads(pickle.dumps(net))
    assert type(twin) is fastbp.MLP
    assert twin.params.dtype == net.params.dtype == np.dtype(dtype)
    assert twin.params.tobytes() == net.params.tobytes()
    assert (twin.layer_sizes, twin.activations, twin.loss_name, twin.dtype, twin.bias) == \
        (net.layer_sizes, net.activations, net.loss_name, net.dtype, net.bias)
    assert np.array_equal(twin.predict(Xd), net.predict(Xd))
    assert twin.loss(Xd, Yd) == net.loss(Xd, Yd)
    assert not np.shares_memory(twin.params, net.params)
    assert all(np.shares_memory(W, twin.params) for W in twin.weights)
    # independent both ways
    saved = net.params.copy()
    twin.fit(Xd, Yd, epochs=3)
    assert net.params.tobytes() == saved.tobytes()
    twin_saved = twin.params.copy()
    net.weights[0][0, 0] += 1.0
    assert twin.params.tobytes() == twin_saved.tobytes()
    # and they keep training alike from equal states
    a, b = net.copy(), pickle.loads(pickle.dumps(net))
    a.fit(Xd, Yd, epochs=2, seed=4)
    b.fit(Xd, Yd, epochs=2, seed=4)
    assert a.params.tobytes() == b.params.tobytes()


def test_reference_pickles():
    ref = reference.MLP([3, 4, 2], seed=3)
    ref.fit(np.ones((2, 3)), np.zeros((2, 2)))
    twin = pickle.loads(pickle.dumps(ref))
    assert twin.params == ref.params
    twin.fit(np.ones((2, 3)), np.zeros((2, 2)))
    assert twin.params != ref.params
