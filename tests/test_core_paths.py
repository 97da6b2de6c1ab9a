"""The core's special paths against its plain loops (``_core.set_special_paths``).

The tiny-network loop (csrc/fbp_tiny.template.h) and plain SGD's update fused
into the backward pass (per sample) or into the backward products (matrix
loop) are faster forms of the per-sample and matrix loops. With the special
paths off, every update goes through the gradient buffer and the optimizer
step instead. Optimizers other than plain SGD never take a special path, so
their results must be bit-identical either way; plain SGD's must agree to
rounding (the special paths multiply lr into the step in another order, and
the tiny loop sums the next sample's net inputs by a shortcut), and must
differ somewhere, which shows that the special path ran.

Runs on every kernel path this CPU supports (the ``kernel_path`` fixture):
which networks count as tiny depends on the register width.
"""
import contextlib

import numpy as np
import pytest

import fastbp
from fastbp import _core
from fastbp._vocabulary import ACTIVATION_CODES, OPTIMIZER_CODES
from helpers import OPTIMIZERS, assert_close

# (layer_sizes, activation, output_activation, loss, batch_size): networks
# that fit the tiny loop on every path (at most 2 units a layer: the
# baseline's float64 lanes), that take it on the AVX paths, larger ones
# (fused per-sample update), and batches on the matrix loop, of sizes that
# are not powers of two: with one, lr / n is exact, and without FMA (the
# baseline path) the fused update rounded exactly as the optimizer step.
NETWORKS = [
    pytest.param([2, 2, 2], "sigmoid", None, "squared_error", 1, id="2-2-2-tiny"),
    pytest.param([2, 2, 2, 1], "tanh", "identity", "squared_error", 1, id="2-2-2-1-tiny"),
    pytest.param([2, 2, 1], "relu", "sigmoid", "binary_cross_entropy", 1, id="2-2-1-tiny-bce"),
    pytest.param([3, 4, 2], "tanh", None, "squared_error", 1, id="3-4-2-tiny-avx"),
    pytest.param([10, 32, 1], "tanh", "identity", "squared_error", 1, id="10-32-1-fused"),
    pytest.param([12, 20, 5], "leaky_relu", "softmax", "cross_entropy", 1,
                 id="12-20-5-fused-ce"),
    pytest.param([10, 32, 1], "sigmoid", None, "squared_error", 12, id="10-32-1-matrix"),
    pytest.param([12, 20, 5], "relu", "softmax", "cross_entropy", 10, id="12-20-5-matrix"),
]
N_SAMPLES = 48
EPOCHS = 3
LR = 0.02
SEED = 20261201

# Plain SGD with and without the special paths: the same sums, rounded
# differently once per update and carried through every later one.
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-5)}


@contextlib.contextmanager
def special_paths(enabled):
    _core.set_special_paths(enabled)
    try:
        yield
    finally:
        _core.set_special_paths(True)


def data(sizes, loss, dtype):
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(N_SAMPLES, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], N_SAMPLES)]
    elif loss == "binary_cross_entropy":
        Y = (rng.random((N_SAMPLES, sizes[-1])) < 0.5).astype(dtype)
    else:
        Y = rng.uniform(0.1, 0.9, (N_SAMPLES, sizes[-1])).astype(dtype)
    weight = rng.uniform(0.5, 1.5, N_SAMPLES).astype(dtype)
    return X, Y, weight


def train(enabled, network, dtype, options):
    sizes, activation, output_activation, loss, batch = network
    X, Y, weight = data(sizes, loss, dtype)
    net = fastbp.MLP(sizes, activation=activation, output_activation=output_activation,
                     loss=loss, dtype=dtype, seed=SEED)
    fit = dict(epochs=EPOCHS, lr=LR, batch_size=batch, seed=SEED) | options
    with special_paths(enabled):
        history = net.fit(X, Y, **fit)
        net.fit(X, Y, sample_weight=weight, update_biases=False, **fit)
        trained = net.params.copy()
        # Plain SGD, whatever fit's optimizer: a special path when enabled.
        step = net.train_step(X[0], Y[0], LR)
    return trained, np.array(history.loss), step, net.params.copy()


def is_plain_sgd(options):
    return options == dict(optimizer="sgd")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("options", OPTIMIZERS)
@pytest.mark.parametrize("network", [p.values for p in NETWORKS],
                         ids=[p.id for p in NETWORKS])
def test_special_paths_agree_with_the_plain_loops(kernel_path, network, options, dtype):
    trained_on, losses_on, step_on, stepped_on = train(True, network, dtype, options)
    trained_off, losses_off, step_off, stepped_off = train(False, network, dtype, options)
    if is_plain_sgd(options):
        assert_close(trained_on, trained_off, **TOL[dtype], what="parameters")
        assert_close(losses_on, losses_off, **TOL[dtype], what="losses")
        assert not np.array_equal(trained_on, trained_off), "the special path did not run"
    else:
        np.testing.assert_array_equal(trained_on, trained_off)
        np.testing.assert_array_equal(losses_on, losses_off)
    # The tiny loop also sums the step's forward pass in another order.
    assert_close(step_on, step_off, **TOL[dtype], what="train_step's loss")
    assert_close(stepped_on, stepped_off, **TOL[dtype], what="parameters after train_step")


def test_the_switch_is_kept_by_the_options_it_made():
    optimizer = _core.Optimizer(OPTIMIZER_CODES["sgd"], LR)
    with special_paths(False):
        assert not _core.special_paths_enabled()
        off = _core.FitOptions(optimizer, 1, 1.0, True)
    assert _core.special_paths_enabled()
    on = _core.FitOptions(optimizer, 1, 1.0, True)
    assert (on.needs_grad, off.needs_grad) == (False, True)
    # Every other optimizer, and batches, need the gradient either way.
    momentum = _core.Optimizer(OPTIMIZER_CODES["sgd"], LR, momentum=0.9)
    assert _core.FitOptions(momentum, 1, 1.0, True).needs_grad
    assert _core.FitOptions(optimizer, 2, 1.0, True).needs_grad


def test_fit_refuses_buffers_of_the_wrong_size():
    net = fastbp.MLP([3, 4, 2], seed=SEED)
    X, Y, _ = data([3, 4, 2], "squared_error", "float64")
    order, empty = np.arange(N_SAMPLES, dtype=np.intp), np.empty(0)
    before = net.params.copy()
    with special_paths(False):
        options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], LR), 1, 1.0, True)
    with pytest.raises(ValueError, match="grad has 0 elements; fit needs 26"):
        _core.fit(net._top, options, net.params, X, Y, empty, order, net._workspace,
                  empty, empty, 0)
    options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["adam"], LR), 4, 1.0, True)
    with pytest.raises(ValueError, match="state has 0 elements; the optimizer needs 52"):
        _core.fit(net._top, options, net.params, X, Y, empty, order, net._workspace,
                  np.zeros(26), empty, 0)
    with pytest.raises(ValueError, match="params has 25 elements; the network has 26"):
        _core.fit(net._top, options, net.params[:25], X, Y, empty, order, net._workspace,
                  np.zeros(26), np.zeros(52), 0)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("batch_done", [-1, 4])
def test_batch_done_outside_the_batch_is_refused(batch_done):
    options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], LR), 4, 1.0, True)
    with pytest.raises(ValueError, match=r"batch_done must be in \[0, 4\)"):
        options.batch_done = batch_done
    assert options.batch_done == 0


def topology(sizes, w_offsets, b_offsets, activations=None, loss=0):
    activations = [ACTIVATION_CODES["sigmoid"]] * len(w_offsets) if activations is None \
        else activations
    return _core.Topology(np.array(sizes, np.intp), np.array(w_offsets, np.intp),
                          np.array(b_offsets, np.intp), np.array(activations, np.intc), loss)


def test_topology_derives_the_sizes_once():
    top = topology([3, 4, 2], [0, 16], [12, 24])
    assert top.n_params == 26
    # Per sample: outputs and deltas of the 6 units above the input, and the
    # output layer's 2 net inputs; the matrix loop's chunks need more.
    assert top.workspace_size == top.chunk_rows * (3 + 2 * 2 + 2 * 6) > 2 * 6 + 2
    assert topology([3, 4, 2], [0, 12], [-1, -1]).n_params == 20


@pytest.mark.parametrize("sizes, w_offsets, b_offsets, activations, loss, match", [
    ([3, 4, 2], [0, 12], [12, 28], None, 0, "right after its weights"),   # a gap
    ([3, 4, 2], [0, 16], [16, 24], None, 0, "right after its weights"),   # misplaced
    ([3, 4, 2], [1, 17], [13, 27], None, 0, "layer after layer from 0"),
    ([3, 0, 2], [0, 0], [0, 0], None, 0, "every layer a unit"),
    ([3, 4, 2], [0, 16], [12, 24], [0, 9], 0, "unknown activation or loss"),
    ([3, 4, 2], [0, 16], [12, 24], None, 7, "unknown activation or loss"),
])
def test_topology_refuses_a_layout_the_core_cannot_read(sizes, w_offsets, b_offsets,
                                                        activations, loss, match):
    with pytest.raises(ValueError, match=match):
        topology(sizes, w_offsets, b_offsets, activations, loss)
