"""The compiled core against the pure-Python reference (micrograd's
test_engine pattern), in one place: the same network, the same starting
weights, the same samples in the same order, two engines; after training
the parameters, the History losses, the predictions, the loss and the
gradient must agree.

Every test is parametrised by the way the core goes: every compiled kernel
build this CPU runs (the ``kernel_path`` fixture); the per-sample loop, the
tiny-network loop (per-sample SGD on networks no wider than one vector
register) and the matrix path (batches of ``_core.ROWS_MIN`` or more, as BLAS
products), which must also agree with the per-sample loop run on the same
batches (``_core.set_matrix_path(False)``); by optimizer, and by dtype.
The hypothesis properties are in test_properties.py.
"""
import numpy as np
import pytest

import fastbp
from fastbp import optim, reference
from helpers import (OPTIMIZERS, TOL, assert_close, flat_gradient, per_sample_loop,
                     weighted_data as data)

LR = 0.05
SEED = 20240607

# Agreement after training is helpers.TOL (float64 rtol 1e-10, a float32
# core against the float64 reference 1e-4). With the same parameters, one
# forward or backward pass agrees more closely: no training to amplify the
# differences, but in float32 the sigmoid's a (1 - a) near a = 1 still turns
# the 6e-8 rounding of a into a relative error of 6e-8 / (1 - a).
TOL_ONE_PASS = {"float64": dict(rtol=1e-12, atol=1e-14),
                "float32": dict(rtol=1e-4, atol=1e-6)}
DTYPES = ["float64", "float32"]


def engines(sizes, activations, loss, bias, dtype, seed=SEED):
    """(core, reference) starting from the same parameters."""
    core = fastbp.MLP(sizes, activation=activations, loss=loss, bias=bias, dtype=dtype,
                      seed=seed)
    return core, reference.MLP.from_model(core)


def assert_trained(core, start, dtype):
    """Training moved the parameters by well more than the tolerance, so
    agreement is not the trivial one of two untouched models."""
    tol = TOL[dtype]
    moved = np.abs(core.params.astype(float) - start).max()
    assert moved > 10 * (tol["rtol"] + tol["atol"]) * np.abs(start).max(), "training idle"


def assert_fits_agree(core, ref, h_core, h_ref, dtype, what="reference"):
    assert_close(core.params, ref.params, **TOL[dtype], what=f"parameters ({what})")
    assert_close(h_core.loss, h_ref.loss, **TOL[dtype], what=f"History losses ({what})")


# -- from_model: the reference's copy of a model ---------------------------------

@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_from_model_copies_a_model_exactly(dtype, bias):
    core = fastbp.MLP([3, 5, 4, 2], activation=["tanh", "relu", "softmax"],
                      loss="cross_entropy", bias=bias, dtype=dtype, seed=SEED)
    core.fit(*data([3, 5, 4, 2], "one_hot", dtype, 6, 0)[:2], seed=1)
    ref = reference.MLP.from_model(core)
    assert type(ref) is reference.MLP and ref.dtype == np.float64
    assert (ref.layer_sizes, ref.activations, ref.loss_name, ref.bias) == \
        ((3, 5, 4, 2), ("tanh", "relu", "softmax"), "cross_entropy", bias)
    assert ref.history is None
    # float32 values widen to float64 exactly
    np.testing.assert_array_equal(np.array(ref.params), core.params.astype(np.float64))
    assert (ref.biases is None) == (not bias)
    # of a reference, and of a subclass: the same values, independent lists
    again = reference.MLP.from_model(ref)
    assert again.params == ref.params
    again.weights[0][0][0] += 1.0
    assert again.params != ref.params

    class Tracked(reference.MLP):
        pass

    assert type(Tracked.from_model(core)) is Tracked


@pytest.mark.parametrize("dtype", DTYPES)
def test_fastbp_and_reference_start_from_the_same_weights(dtype):
    a = fastbp.MLP([4, 6, 2], activation="tanh", seed=9, dtype=dtype)
    r = reference.MLP([4, 6, 2], activation="tanh", seed=9, dtype=dtype)
    assert np.array_equal(a.params.astype(np.float64), np.array(r.params))


# -- networks of every shape: per-sample SGD, small batches, the full batch ------

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


def small_data(sizes, targets, dtype):
    """N_SAMPLES samples, without weights."""
    return data(sizes, targets, dtype, N_SAMPLES, len(sizes) * 1000)[:2]


@pytest.mark.parametrize("batch_size", [1, 3, None], ids=["sgd", "batch3", "full"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases", NETWORKS)
def test_fit_matches_reference(kernel_path, sizes, activations, loss, targets, bias,
                               update_biases, dtype, batch_size):
    core, ref = engines(sizes, activations, loss, bias, dtype)
    if dtype == "float64":
        # The same seed gives the same initial weights, bit for bit.
        seeded = reference.MLP(sizes, activation=activations, loss=loss, bias=bias, seed=SEED)
        assert seeded.params == core.params.tolist()
    start = core.params.astype(float)
    X, Y = small_data(sizes, targets, dtype)
    tol = TOL[dtype]

    fit = dict(epochs=EPOCHS, lr=LR, batch_size=batch_size, shuffle=True, seed=SEED + 1,
               update_biases=update_biases)
    h_core = core.fit(X, Y, **fit)
    h_ref = ref.fit(X, Y, **fit)

    assert_trained(core, start, dtype)
    assert_close(core.params, ref.params, **tol, what="parameters after fit")
    if bias and not update_biases:
        np.testing.assert_array_equal(np.concatenate(core.biases), 0.0)
        assert all(v == 0.0 for b in ref.biases for v in b)

    assert len(h_core.loss) == len(h_ref.loss) == EPOCHS
    assert_close(h_core.loss, h_ref.loss, **tol, what="History losses")
    assert_close(core.predict(X), ref.predict(X), **tol, what="predictions")
    assert_close(core.loss(X, Y), ref.loss(X, Y), **tol, what="losses")

    # With the very same parameters, one pass agrees more closely.
    same = reference.MLP.from_model(core)
    one_pass = TOL_ONE_PASS[dtype]
    assert_close(core.predict(X), same.predict(X), **one_pass, what="predictions")
    assert_close(core.predict(X[0]), same.predict(X[0]), **one_pass,
                 what="predictions of one sample")
    assert_close(core.loss(X, Y), same.loss(X, Y), **one_pass, what="losses")
    for x, t in zip(X[:3], Y[:3]):
        assert_close(flat_gradient(*core.gradient(x, t)),
                     flat_gradient(*same.gradient(x, t)), **one_pass, what="gradients")


@pytest.mark.parametrize("dtype", DTYPES)
def test_train_step_matches_reference(kernel_path, dtype):
    # train_step, sample after sample, is the same update as fit with batch 1.
    sizes, activations, loss = [4, 6, 5, 3], ["tanh", "relu", "softmax"], "cross_entropy"
    core, ref = engines(sizes, activations, loss, True, dtype)
    X, Y = small_data(sizes, "one_hot", dtype)
    for x, t in zip(X, Y):
        e_core = core.train_step(x, t, 0.2)
        e_ref = ref.train_step(x, t, 0.2)
        assert_close(e_core, e_ref, **TOL[dtype], what="losses before the step")
    assert_close(core.params, ref.params, **TOL[dtype], what="parameters")


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_history_matches_the_reference(batch_size):
    rng = np.random.default_rng(5)
    Xd, Yd = rng.random((7, 3)), rng.random((7, 2))
    net = fastbp.MLP([3, 4, 2], seed=2)
    ref = reference.MLP([3, 4, 2], seed=2)
    h = net.fit(Xd, Yd, epochs=4, lr=0.5, batch_size=batch_size, seed=8)
    hr = ref.fit(Xd, Yd, epochs=4, lr=0.5, batch_size=batch_size, seed=8)
    assert isinstance(h, fastbp.History)
    assert len(h.loss) == h.n_epochs == 4
    assert all(isinstance(v, float) for v in h.loss)
    np.testing.assert_allclose(h.loss, hr.loss, rtol=1e-12)
    assert h.wall_time > 0 and isinstance(h.wall_time, float)
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-10, atol=1e-14)


# -- every path x every optimizer x every dtype ------------------------------------

# (layer_sizes, activations, batch_size) of each way through the core, all on
# a binary cross-entropy problem with sample weights. The tiny-network loop
# takes per-sample SGD only (the other optimizers go through the per-sample
# loop on it); the matrix path takes batches of 8 and the full batch of 70.
PATHS = [
    pytest.param([4, 9, 7, 2], ["tanh", "relu", "sigmoid"], 1, id="per-sample"),
    pytest.param([3, 4, 2], ["tanh", "sigmoid"], 1, id="tiny"),
    pytest.param([4, 9, 7, 2], ["tanh", "relu", "sigmoid"], 8, id="matrix-batch8"),
    pytest.param([4, 9, 7, 2], ["tanh", "relu", "sigmoid"], None, id="matrix-full"),
]
N_MATRIX = 70           # batches of 8 end with one of 6; of 64, with one of 6


def train_three_ways(core, twin, ref, X, Y, **fit):
    """Fit core on the matrix path, twin on the per-sample loop and the
    reference; returns the three Histories."""
    batch = fit.get("batch_size") or X.shape[0]
    assert core._top.takes_matrix_path(batch), "the matrix path was not taken"
    h_core = core.fit(X, Y, **fit)
    with per_sample_loop():
        assert not twin._top.takes_matrix_path(batch)
        h_twin = twin.fit(X, Y, **fit)
    return h_core, h_twin, ref.fit(X, Y, **fit)


def assert_three_agree(core, twin, ref, histories, dtype, start):
    h_core, h_twin, h_ref = histories
    assert_trained(core, start, dtype)
    assert_fits_agree(core, ref, h_core, h_ref, dtype)
    assert_fits_agree(core, twin, h_core, h_twin, dtype, "per-sample loop")


def path_cases():
    """Each path with each optimizer that runs on it (one that names a batch
    size, as full-batch rprop does, runs on that size's path only)."""
    for path in PATHS:
        sizes, activations, batch_size = path.values
        for optimizer in OPTIMIZERS:
            options = optimizer.values[0]
            if options.get("batch_size", batch_size) == batch_size:
                yield pytest.param(sizes, activations, batch_size, options,
                                   id=f"{path.id}-{optimizer.id}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes, activations, batch_size, options", path_cases())
def test_every_path_and_optimizer_matches_reference(kernel_path, sizes, activations,
                                                    batch_size, options, dtype):
    core, ref = engines(sizes, activations, "binary_cross_entropy", True, dtype)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "binary", dtype, N_MATRIX, 0)
    fit = {**dict(epochs=3, lr=LR, seed=SEED, sample_weight=weight, batch_size=batch_size),
           **options}
    if batch_size == 1:
        h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
        assert_trained(core, start, dtype)
        assert_fits_agree(core, ref, h_core, h_ref, dtype)
    else:
        twin = core.copy()
        histories = train_three_ways(core, twin, ref, X, Y, **fit)
        assert_three_agree(core, twin, ref, histories, dtype, start)


# -- the matrix path: networks of every shape, batches across calls and chunks -----

# (layer_sizes, activations, loss, targets, bias, update_biases): every
# activation in a hidden and in an output layer (softmax only as output: the
# matrix path keeps hidden layers unit-major), every loss, biases trained,
# fixed and absent.
MATRIX_NETWORKS = [
    pytest.param([5, 12, 3], ["tanh", "softmax"], "cross_entropy", "one_hot", True, True,
                 id="5-12-3-tanh-softmax-ce"),
    pytest.param([4, 9, 7, 2], ["relu", "leaky_relu", "sigmoid"], "binary_cross_entropy",
                 "binary", True, True, id="4-9-7-2-relu-leaky-sigmoid-bce"),
    pytest.param([6, 10, 4], ["sigmoid", "identity"], "squared_error", "real", True, True,
                 id="6-10-4-sigmoid-identity-se"),
    pytest.param([3, 8, 5, 4], ["leaky_relu", "tanh", "softmax"], "squared_error",
                 "distribution", True, True, id="3-8-5-4-softmax-se"),
    pytest.param([7, 11, 1], ["identity", "relu"], "squared_error", "positive", False, True,
                 id="7-11-1-identity-relu-se-nobias"),
    pytest.param([4, 6, 3], ["sigmoid", "sigmoid"], "squared_error", "unit", True, False,
                 id="4-6-3-sigmoid-se-fixed-biases"),
]
MATRIX_SEED = 20241124


def matrix_engines(sizes, activations, loss, bias, dtype):
    """(core, core copy, float64 reference), all with the same parameters."""
    core, ref = engines(sizes, activations, loss, bias, dtype, seed=MATRIX_SEED)
    return core, core.copy(), ref


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("batch_size", [8, 64, None], ids=["batch8", "batch64", "full"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases",
                         MATRIX_NETWORKS)
def test_matrix_fit_matches_reference(kernel_path, sizes, activations, loss, targets, bias,
                                      update_biases, dtype, batch_size, weighted):
    core, twin, ref = matrix_engines(sizes, activations, loss, bias, dtype)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, targets, dtype, N_MATRIX, 0)
    histories = train_three_ways(
        core, twin, ref, X, Y, epochs=2, lr=LR, batch_size=batch_size, seed=MATRIX_SEED,
        update_biases=update_biases, sample_weight=weight if weighted else None)
    assert_three_agree(core, twin, ref, histories, dtype, start)
    if bias and not update_biases:
        np.testing.assert_array_equal(np.concatenate(core.biases), 0.0)


@pytest.mark.parametrize("options", [dict(batch_size=8), dict(batch_size=None),
                                     dict(batch_size=8, optimizer="adam", lr=0.01),
                                     dict(batch_size=None, optimizer="rprop", lr=0.01)],
                         ids=["sgd-batch8", "sgd-full", "adam-batch8", "rprop-full"])
def test_batches_spanning_compiled_calls_match_reference(monkeypatch, options):
    # fit hands the core blocks of about BLOCK_WORK multiply-adds; at 5
    # samples a block, every batch of 8 (and the full batch) spans blocks,
    # so its sums must carry over in grad from call to call.
    sizes = [5, 12, 3]
    core, twin, ref = matrix_engines(sizes, ["tanh", "softmax"], "cross_entropy", True,
                                     "float64")
    monkeypatch.setattr(fastbp.mlp, "BLOCK_WORK", 5 * core.params.size)
    monkeypatch.setattr(fastbp.mlp, "SAMPLE_OVERHEAD", 0)
    monkeypatch.setattr(fastbp.mlp, "MATRIX_BLOCK_FACTOR", 1)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "one_hot", "float64", N_MATRIX, 0)
    fit = dict(epochs=3, lr=LR, seed=MATRIX_SEED, sample_weight=weight)
    histories = train_three_ways(core, twin, ref, X, Y, **{**fit, **options})
    assert_three_agree(core, twin, ref, histories, "float64", start)


def test_full_batch_in_several_chunks_matches_reference():
    # More samples than a chunk holds: one batch, several chunks, one update.
    sizes = [3, 8, 5, 4]
    core, twin, ref = matrix_engines(sizes, ["leaky_relu", "tanh", "softmax"],
                                     "cross_entropy", True, "float64")
    n = 2 * core._top.chunk_rows + 37
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "distribution", "float64", n, 0)
    histories = train_three_ways(core, twin, ref, X, Y, epochs=3, lr=0.5, batch_size=None,
                                 optimizer=optim.SGD(momentum=0.5), sample_weight=weight)
    assert_three_agree(core, twin, ref, histories, "float64", start)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [8, 600], ids=["8-samples", "600-samples"])
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases",
                         MATRIX_NETWORKS)
def test_predict_and_loss_match_per_sample_loop(kernel_path, sizes, activations, loss,
                                                targets, bias, update_biases, dtype, n):
    net = fastbp.MLP(sizes, activation=activations, loss=loss, bias=bias, dtype=dtype,
                     seed=MATRIX_SEED)
    X, Y, _ = data(sizes, targets, dtype, n, 0)
    assert net._top.takes_matrix_path(n)
    out, total = net.predict(X), net.loss(X, Y)
    with per_sample_loop():
        expected, expected_total = net.predict(X), net.loss(X, Y)
    assert out.dtype == net.dtype
    # One pass, same parameters: only the order of each product's sum differs.
    tol = TOL_ONE_PASS[dtype]
    assert_close(out, expected, **tol, what="predictions")
    assert_close(total, expected_total, **tol, what="losses")
    assert_close(out, reference.MLP.from_model(net).predict(X), **tol,
                 what="predictions (reference)")


# -- blocks: a fit in many compiled calls ----------------------------------------

@pytest.mark.parametrize("batch_size", [1, 2, 3], ids=["sgd", "batch2", "batch3"])
def test_fit_in_many_compiled_calls_matches_reference(kernel_path, monkeypatch, batch_size):
    # fit hands the core blocks of about BLOCK_WORK multiply-adds; shrunk to
    # one, every block is a single batch, so state must carry across calls
    # (and, for SGD, the first layer's net inputs the core computes for the
    # next sample while updating must not leak over a block's end).
    monkeypatch.setattr(fastbp.mlp, "BLOCK_WORK", 1)
    sizes, activations, loss = [5, 9, 6, 2], ["tanh", "leaky_relu", "identity"], "squared_error"
    core, ref = engines(sizes, activations, loss, True, "float64")
    X, Y = small_data(sizes, "real", "float64")
    fit = dict(epochs=3, lr=LR, batch_size=batch_size, seed=SEED)
    h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
    assert_fits_agree(core, ref, h_core, h_ref, "float64")


# -- the tiny-network loop at its limits -------------------------------------------

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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sizes, activations, loss, targets, bias", TINY_EDGES)
def test_tiny_network_edges_match_reference(kernel_path, sizes, activations, loss, targets,
                                            bias, dtype):
    core, ref = engines(sizes, activations, loss, bias, dtype)
    X, Y = small_data(sizes, targets, dtype)
    weight = np.linspace(0.25, 2.0, N_SAMPLES)
    fit = dict(epochs=EPOCHS, lr=LR, seed=SEED, sample_weight=weight)
    h_core, h_ref = core.fit(X, Y, **fit), ref.fit(X, Y, **fit)
    assert_fits_agree(core, ref, h_core, h_ref, dtype)


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
    assert_fits_agree(core, ref, h_core, h_ref, "float32")


# -- the kernel builds against each other ---------------------------------------------

def test_every_kernel_path_trains_alike():
    """Paths differ only by rounding (vector widths, FMA)."""
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(200, 9)), rng.uniform(size=(200, 3))
    before = fastbp.kernel_path()
    results = {}
    try:
        for path in fastbp.kernel_paths():
            fastbp.set_kernel_path(path)
            net = fastbp.MLP([9, 40, 17, 3], activation="tanh", seed=2)
            net.fit(X, Y, epochs=3, lr=0.05, seed=1)
            results[path] = net.params.copy()
    finally:
        fastbp.set_kernel_path(before)
    base = results["baseline"]
    for path, params in results.items():
        np.testing.assert_allclose(params, base, rtol=1e-10, atol=1e-13, err_msg=path)
