"""Divergence: a fit or a step whose loss or parameters become NaN or
infinite raises DivergenceError and restores the parameters."""
import math
import re

import numpy as np
import pytest

import fastbp
from impls import IMPLS, assert_unchanged, flat


def identity_net(impl, w=1.0, b=0.0):
    return impl.from_weights([[[w]]], [[b]], activation="identity")


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_with_huge_lr_raises_and_restores(impl):
    # Each update multiplies |w| by about lr * x^2 = 1e10: the loss overflows
    # within the first epoch, which is one block of samples.
    net = identity_net(impl)
    before = flat(net)
    Xd = np.full((40, 1), 100.0)
    Yd = np.zeros((40, 1))
    with pytest.raises(fastbp.DivergenceError, match=r"diverged") as info:
        net.fit(Xd, Yd, lr=1e6, shuffle=False)
    assert isinstance(info.value, ValueError)
    assert np.isfinite(flat(net)).all()
    assert_unchanged(net, before)
    # still a working model
    h = net.fit(Xd[:1] / 100, Yd[:1], lr=0.1)
    assert h.loss == [0.5]
    assert flat(net) == pytest.approx([0.9, -0.1])


@pytest.mark.parametrize("impl", IMPLS)
def test_divergence_in_a_later_epoch_keeps_the_last_finite_epoch(impl):
    net = identity_net(impl)
    Xd, Yd = np.array([[1.0], [2.0]]), np.array([[0.0], [5.0]])
    with pytest.raises(fastbp.DivergenceError, match=r"epoch (\d+)") as info:
        net.fit(Xd, Yd, epochs=60, lr=1e6, shuffle=False)
    epoch = int(re.search(r"epoch (\d+)", str(info.value)).group(1))
    assert epoch > 1
    assert np.isfinite(flat(net)).all()
    replay = identity_net(impl)
    h = replay.fit(Xd, Yd, epochs=epoch - 1, lr=1e6, shuffle=False)
    assert all(math.isfinite(v) for v in h.loss)
    assert flat(replay).tobytes() == flat(net).tobytes()


@pytest.mark.parametrize("impl", IMPLS)
def test_fit_raises_when_the_loss_overflows_before_the_params(impl):
    """w = 1e200, x = 1: the loss 1/2 (1e200)^2 is infinite while the updated
    weight 1e200 - 1e-3 * 1e200 is finite. A NaN or infinite loss is
    divergence (DivergenceError's docstring), and fit must not return a
    History holding inf."""
    net = identity_net(impl, w=1e200)
    before = flat(net)
    with pytest.raises(fastbp.DivergenceError):
        net.fit([[1.0]], [[0.0]], lr=1e-3)
    assert_unchanged(net, before)


@pytest.mark.parametrize("impl", IMPLS)
def test_train_step_with_overflowing_lr_raises_and_restores(impl):
    # dE/dw = (w x - t) x = 100; w - 1e308 * 100 is -inf.
    net = identity_net(impl)
    before = flat(net)
    with pytest.raises(fastbp.DivergenceError):
        net.train_step([10.0], [0.0], 1e308)
    assert_unchanged(net, before)
    # the loss itself overflowing
    big = identity_net(impl, w=1e200)
    before = flat(big)
    with pytest.raises(fastbp.DivergenceError):
        big.train_step([1.0], [0.0], 1e-3)
    assert_unchanged(big, before)


def test_divergence_with_batches_restores_the_block():
    net = fastbp.MLP.from_weights([[[1.0, 1.0]]], [[0.0]], activation="identity")
    before = net.params.copy()
    # each batch of 4 multiplies |w| by about lr * 2 * 50^2 = 5e33
    Xd = np.full((64, 2), 50.0)
    with pytest.raises(fastbp.DivergenceError):
        net.fit(Xd, np.zeros(64), lr=1e30, batch_size=4)
    assert net.params.tobytes() == before.tobytes()
