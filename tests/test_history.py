"""The History fit returns: one mean loss per epoch, taken before each
update; and train_step's loss, taken before its update."""
import numpy as np
import pytest

import fastbp
from impls import XOR_X as X, XOR_Y as Y



def test_history_is_the_mean_loss_before_each_update():
    """Per-sample SGD: loss[e] is the mean of what train_step reports for the
    same samples in the same order. Full batch: loss[e] is loss(X, Y) at the
    start of epoch e."""
    rng = np.random.default_rng(6)
    Xd, Yd = rng.random((6, 2)), rng.random((6, 1))
    net = fastbp.MLP([2, 3, 1], seed=0)
    steps = net.copy()
    h = net.fit(Xd, Yd, epochs=3, lr=0.5, shuffle=False)
    for e in range(3):
        losses = [steps.train_step(x, t, 0.5) for x, t in zip(Xd, Yd)]
        assert h.loss[e] == pytest.approx(np.mean(losses), rel=1e-13, abs=0)
    # fit works out a tiny network's next net inputs algebraically (rounding
    # differs from train_step's sums of the updated weights).
    np.testing.assert_allclose(steps.params, net.params, rtol=1e-13, atol=0)
    assert h.loss[0] != h.loss[2]

    full = fastbp.MLP([2, 3, 1], seed=0)
    probe = full.copy()
    hf = full.fit(Xd, Yd, epochs=3, lr=0.5, batch_size=None, shuffle=False)
    for e in range(3):
        assert hf.loss[e] == pytest.approx(probe.loss(Xd, Yd), rel=1e-13, abs=0)
        probe.fit(Xd, Yd, lr=0.5, batch_size=None, shuffle=False)
    assert probe.params.tobytes() == full.params.tobytes()


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_history_length_is_epochs(epochs):
    net = fastbp.MLP([2, 3, 1], seed=0)
    h = net.fit(X, Y, epochs=epochs)
    assert len(h.loss) == h.n_epochs == epochs


def test_train_step_returns_the_loss_before_the_update():
    net = fastbp.MLP([2, 3, 1], seed=0)
    before = net.loss(X[1:2], Y[1:2])
    p0 = net.params.copy()
    g_w, g_b = net.gradient(X[1], Y[1])
    assert net.train_step(X[1], Y[1], 0.25) == pytest.approx(before, rel=1e-14)
    grad = np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(g_w, g_b)])
    np.testing.assert_allclose(net.params, p0 - 0.25 * grad, rtol=1e-14, atol=1e-16)
    # update_biases=False keeps every bias
    fixed = fastbp.MLP([2, 3, 1], seed=0)
    fixed.biases[0][...] = [0.1, 0.2, 0.3]
    b0 = [b.copy() for b in fixed.biases]
    fixed.train_step(X[1], Y[1], 0.25, update_biases=False)
    fixed.fit(X, Y, epochs=2, update_biases=False)
    assert all(np.array_equal(b, c) for b, c in zip(fixed.biases, b0))
