"""Shapes of predictions and targets, and batch sizes of n_samples or more."""
import numpy as np
import pytest

import fastbp
from impls import IMPLS, XOR_X as X, XOR_Y as Y, clone, flat, outputs


@pytest.mark.parametrize("impl", IMPLS)
def test_predict_shapes(impl):
    net = impl([3, 4, 2], seed=0)
    Xd = np.random.default_rng(0).random((5, 3))
    out = outputs(net, Xd)
    assert out.shape == (5, 2)
    one = outputs(net, Xd[2])
    assert one.shape == (2,)
    assert np.array_equal(one, out[2])
    assert outputs(net, Xd[:1]).shape == (1, 2)
    assert outputs(net, Xd[2].tolist()).shape == (2,)
    # sigmoid outputs are in (0, 1)
    assert np.all((out > 0) & (out < 1))
    if impl is fastbp.MLP:
        assert isinstance(net.predict(Xd), np.ndarray)
    single = impl([1, 2, 1], seed=0)
    assert outputs(single, [[0.5], [1.5]]).shape == (2, 1)
    assert outputs(single, [0.5]).shape == (1,)


@pytest.mark.parametrize("impl", IMPLS)
def test_one_output_accepts_1d_targets(impl):
    base = impl([2, 3, 1], seed=0)
    a, b = clone(base), clone(base)
    ha = a.fit(X, Y[:, 0], epochs=3, seed=1)
    hb = b.fit(X, Y, epochs=3, seed=1)
    assert ha.loss == hb.loss
    assert flat(a).tobytes() == flat(b).tobytes()
    assert a.loss(X, Y[:, 0]) == a.loss(X, Y)
    assert a.train_step(X[0], 0.0, 0.1) == b.train_step(X[0], [0.0], 0.1)   # scalar target


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("big", [4, 5, 1000])
def test_batch_size_at_least_n_samples_is_full_batch(impl, big):
    base = impl([2, 3, 1], seed=0)
    a, b = clone(base), clone(base)
    ha = a.fit(X, Y, epochs=3, lr=0.7, batch_size=big, seed=3)
    hb = b.fit(X, Y, epochs=3, lr=0.7, batch_size=None, seed=3)
    assert ha.loss == hb.loss
    assert flat(a).tobytes() == flat(b).tobytes()
    assert not np.array_equal(flat(a), flat(base))
