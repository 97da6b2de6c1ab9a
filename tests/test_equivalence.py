"""The compiled core against the pure-Python reference (micrograd's
test_engine pattern): the same network, the same starting weights, the same
samples in the same order, two engines; after training the parameters, the
History losses, the predictions, the loss and the gradient must agree.

Runs on every kernel path this CPU supports (the ``kernel_path`` fixture).
"""
import numpy as np
import pytest

import fastbp
from fastbp import reference
from helpers import assert_close, flat_gradient, random_targets

# (layer_sizes, activations, loss, targets, bias, update_biases): 1 to 4
# weight layers, widths 1 to 40, every activation in a hidden and in an
# output layer, every loss, biases trained, fixed and absent.
NETWORKS = [
    pytest.param([3, 1], ["identity"], "squared_error", "real", True, True,
                 id="3-1-identity-se"),
    pytest.param([1, 5, 1], ["tanh", "sigmoid"], "binary_cross_entropy", "binary", True, True,
                 id="1-5-1-tanh-sigmoid-bce"),
    pytest.param([4, 40, 3], ["relu", "softmax"], "cross_entropy", "one_hot", True, True,
                 id="4-40-3-relu-softmax-ce"),
    pytest.param([6, 12, 8, 2], ["leaky_relu", "tanh", "identity"], "squared_error", "real",
                 True, False, id="6-12-8-2-leaky-tanh-identity-se-fixed-biases"),
    pytest.param([5, 8, 7, 6, 4], ["sigmoid", "relu", "tanh", "softmax"], "squared_error",
                 "distribution", True, True, id="5-8-7-6-4-softmax-se"),
    pytest.param([2, 3, 40, 3, 3], ["tanh", "leaky_relu", "sigmoid", "softmax"],
                 "cross_entropy", "unnormalised", False, True,
                 id="2-3-40-3-3-softmax-ce-unnormalised-nobias"),
    pytest.param([7, 10, 5], ["identity", "relu"], "squared_error", "positive", True, True,
                 id="7-10-5-identity-relu-se"),
    pytest.param([3, 20, 2], ["sigmoid", "leaky_relu"], "squared_error", "real", False, True,
                 id="3-20-2-sigmoid-leaky-se-nobias"),
    pytest.param([40, 9, 1], ["relu", "sigmoid"], "binary_cross_entropy", "unit", True, False,
                 id="40-9-1-relu-sigmoid-bce-fixed-biases"),
    pytest.param([1, 1, 1, 1, 1], ["tanh", "sigmoid", "leaky_relu", "tanh"], "squared_error",
                 "real", True, True, id="1-1-1-1-1-se"),
]
N_SAMPLES = 10          # batches of 3 leave a last batch of 1
EPOCHS = 4
LR = 0.05
SEED = 20240607

# Tolerances. The engines add the terms of a dot product in different orders
# (the core in interleaved partial sums, perhaps with FMA; the reference left
# to right), so each number differs by a few ulp; training carries that
# through every later update. Relative to each parameter: float64 rtol 1e-10
# (style guide section 7), float32 core against the float64 reference 1e-4.
# A parameter that passes near 0 keeps the *absolute* error of the numbers it
# was summed from, so each entry may also be off by atol times the largest
# parameter (or output) of the network: 1e-12 for float64, 1e-5 for float32.
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-5)}
# Same parameters, one forward or backward pass: no training to amplify the
# differences, but in float32 the sigmoid's a (1 - a) near a = 1 still turns
# the 6e-8 rounding of a into a relative error of 6e-8 / (1 - a).
TOL_ONE_PASS = {"float64": dict(rtol=1e-12, atol=1e-14),
                "float32": dict(rtol=1e-4, atol=1e-6)}


def data(sizes, targets, dtype):
    """N_SAMPLES samples; float32 problems hold float32 values exactly."""
    rng = np.random.default_rng(len(sizes) * 1000 + sum(sizes))
    n_in, n_out = sizes[0], sizes[-1]
    X = rng.normal(size=(N_SAMPLES, n_in))
    Y = random_targets(rng, targets, N_SAMPLES, n_out)
    return X.astype(dtype).astype(float), Y.astype(dtype).astype(float)


def engines(sizes, activations, loss, bias, dtype):
    """(core, reference) starting from the same parameters."""
    core = fastbp.MLP(sizes, activation=activations, loss=loss, bias=bias, dtype=dtype,
                      seed=SEED)
    if dtype == "float64":
        # The same seed gives the same initial weights, bit for bit.
        ref = reference.MLP(sizes, activation=activations, loss=loss, bias=bias, seed=SEED)
        assert ref.params == core.params.tolist()
    else:
        # The float64 reference starts from the float32 core's weights.
        ref = reference.MLP.from_weights(
            [W.astype(np.float64) for W in core.weights],
            [b.astype(np.float64) for b in core.biases] if bias else None,
            activation=activations, loss=loss, dtype="float64")
        np.testing.assert_array_equal(np.array(ref.params), core.params.astype(np.float64))
    return core, ref


def copy_as_reference(core):
    """A float64 reference holding the core's current parameters exactly."""
    return reference.MLP.from_weights(
        [W.astype(np.float64) for W in core.weights],
        [b.astype(np.float64) for b in core.biases] if core.biases is not None else None,
        activation=list(core.activations), loss=core.loss_name, dtype="float64")


@pytest.mark.parametrize("batch_size", [1, 3, None], ids=["sgd", "batch3", "full"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases", NETWORKS)
def test_fit_matches_reference(kernel_path, sizes, activations, loss, targets, bias,
                               update_biases, dtype, batch_size):
    core, ref = engines(sizes, activations, loss, bias, dtype)
    start = core.params.copy()
    X, Y = data(sizes, targets, dtype)
    tol = TOL[dtype]

    fit = dict(epochs=EPOCHS, lr=LR, batch_size=batch_size, shuffle=True, seed=SEED + 1,
               update_biases=update_biases)
    h_core = core.fit(X, Y, **fit)
    h_ref = ref.fit(X, Y, **fit)

    # Training moved the parameters by well more than the tolerance, so
    # agreement is not the trivial one of two untouched models.
    moved = np.abs(core.params.astype(float) - start).max()
    assert moved > 10 * (tol["rtol"] + tol["atol"]) * np.abs(start).max()
    assert_close(core.params, ref.params, **tol, what="parameters after fit")
    if bias and not update_biases:
        np.testing.assert_array_equal(np.concatenate(core.biases), 0.0)
        assert all(v == 0.0 for b in ref.biases for v in b)

    assert len(h_core.loss) == len(h_ref.loss) == EPOCHS
    assert_close(h_core.loss, h_ref.loss, **tol, what="History losses")
    assert_close(core.predict(X), ref.predict(X), **tol, what="predictions")
    assert_close(core.loss(X, Y), ref.loss(X, Y), **tol, what="losses")

    # With the very same parameters, one pass agrees more closely.
    same = copy_as_reference(core)
    one_pass = TOL_ONE_PASS[dtype]
    assert_close(core.predict(X), same.predict(X), **one_pass, what="predictions")
    assert_close(core.predict(X[0]), same.predict(X[0]), **one_pass,
                 what="predictions of one sample")
    assert_close(core.loss(X, Y), same.loss(X, Y), **one_pass, what="losses")
    for x, t in zip(X[:3], Y[:3]):
        assert_close(flat_gradient(*core.gradient(x, t)),
                     flat_gradient(*same.gradient(x, t)), **one_pass, what="gradients")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_train_step_matches_reference(kernel_path, dtype):
    # train_step, sample after sample, is the same update as fit with batch 1.
    sizes, activations, loss = [4, 6, 5, 3], ["tanh", "relu", "softmax"], "cross_entropy"
    core, ref = engines(sizes, activations, loss, True, dtype)
    X, Y = data(sizes, "one_hot", dtype)
    for x, t in zip(X, Y):
        e_core = core.train_step(x, t, 0.2)
        e_ref = ref.train_step(x, t, 0.2)
        assert_close(e_core, e_ref, **TOL[dtype], what="losses before the step")
    assert_close(core.params, ref.params, **TOL[dtype], what="parameters")


@pytest.mark.parametrize("batch_size", [1, 2, 3], ids=["sgd", "batch2", "batch3"])
def test_fit_in_many_compiled_calls_matches_reference(kernel_path, monkeypatch, batch_size):
    # fit hands the core blocks of about BLOCK_WORK multiply-adds; shrunk to
    # one, every block is a single batch, so state must carry across calls
    # (and, for SGD, the first layer's net inputs the core computes for the
    # next sample while updating must not leak over a block's end).
    monkeypatch.setattr(fastbp.mlp, "BLOCK_WORK", 1)
    sizes, activations, loss = [5, 9, 6, 2], ["tanh", "leaky_relu", "identity"], "squared_error"
    core, ref = engines(sizes, activations, loss, True, "float64")
    X, Y = data(sizes, "real", "float64")
    fit = dict(epochs=3, lr=LR, batch_size=batch_size, seed=SEED)
    h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
    assert_close(core.params, ref.params, **TOL["float64"], what="parameters after fit")
    assert_close(h_core.loss, h_ref.loss, **TOL["float64"], what="History losses")


# Per-sample SGD on networks no wider than one vector register takes the
# core's tiny-network loop (at most 4 layers, no softmax); these sit on
# both sides of its limits: 8 units fill an AVX2 register of float32 but
# not of float64, 9 units and 5 layers are one past them.
TINY_EDGES = [
    pytest.param([8, 8, 8], ["sigmoid", "sigmoid"], "squared_error", "unit", True,
                 id="8-8-8-sigmoid"),
    pytest.param([4, 4, 4], ["tanh", "tanh"], "squared_error", "real", True, id="4-4-4-tanh"),
    pytest.param([2, 2, 2], ["tanh", "sigmoid"], "binary_cross_entropy", "binary", True,
                 id="2-2-2-bce"),
    pytest.param([3, 4, 1], ["relu", "identity"], "squared_error", "real", False,
                 id="3-4-1-relu-nobias"),
    pytest.param([2, 9, 2], ["sigmoid", "sigmoid"], "squared_error", "unit", True,
                 id="2-9-2-one-past-width"),
    pytest.param([1, 1, 1, 1, 1, 1], ["tanh", "sigmoid", "tanh", "leaky_relu", "identity"],
                 "squared_error", "real", True, id="5-layers-one-past-depth"),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes, activations, loss, targets, bias", TINY_EDGES)
def test_tiny_network_edges_match_reference(kernel_path, sizes, activations, loss, targets,
                                            bias, dtype):
    core, ref = engines(sizes, activations, loss, bias, dtype)
    X, Y = data(sizes, targets, dtype)
    weight = np.linspace(0.25, 2.0, N_SAMPLES)
    fit = dict(epochs=EPOCHS, lr=LR, seed=SEED, sample_weight=weight)
    h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
    assert_close(core.params, ref.params, **TOL[dtype], what="parameters after fit")
    assert_close(h_core.loss, h_ref.loss, **TOL[dtype], what="History losses")


@pytest.mark.parametrize("sizes", [[1, 1], [2, 2, 2]])
def test_tiny_network_with_huge_inputs_trains_as_the_reference(kernel_path, sizes):
    # The tiny loop's shortcut for the next sample's net inputs multiplies
    # inputs by inputs (1e60 overflows float32) where the reference's sums of
    # the updated weights do not: found by hypothesis in test_properties.
    core, ref = engines(sizes, ["sigmoid"] * (len(sizes) - 1), "squared_error", False,
                        "float32")
    X = np.full((4, sizes[0]), 1e30)
    X[1::2] *= -1
    Y = np.zeros((4, sizes[-1]))
    fit = dict(epochs=2, lr=0.01, shuffle=False)
    h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
    assert np.isfinite(core.params).all()
    assert_close(core.params, ref.params, **TOL["float32"], what="parameters after fit")
    assert_close(h_core.loss, h_ref.loss, **TOL["float32"], what="History losses")
