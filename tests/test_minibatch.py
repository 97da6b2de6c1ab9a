"""The matrix path: batches of ``_core.ROWS_MIN`` (8) or more samples, and
predict and loss on as many, run as BLAS matrix products
(csrc/fbp_matrix_loop.template.h). It must agree with the pure-Python reference
and with the core's own per-sample loop (``_core.set_matrix_path(False)``)
to rounding, for every activation, loss, optimizer and float type, with
sample weights, with batches that span compiled calls or chunks, when
training diverges, and with the BLAS on two threads.

Runs on every kernel path this CPU supports where the kernels matter (the
``kernel_path`` fixture).
"""
import contextlib

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastbp
from fastbp import _core, reference
from fastbp.errors import DivergenceError
from helpers import OPTIMIZERS as ALL_OPTIMIZERS, assert_close, random_targets

# (layer_sizes, activations, loss, targets, bias, update_biases): every
# activation in a hidden and in an output layer (softmax only as output: the
# matrix path keeps hidden layers unit-major), every loss, biases trained,
# fixed and absent.
NETWORKS = [
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
N_SAMPLES = 70          # batches of 8 end with one of 6; of 64, with one of 6
EPOCHS = 2
LR = 0.05
SEED = 20241124

# As in test_equivalence.py: float64 agrees to rtol 1e-10 after training
# (sums in another order, carried through every later update), float32
# against the float64 reference to 1e-4; a parameter near 0 keeps the
# absolute error of the numbers it was summed from (atol times the largest).
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-4, atol=1e-5)}


@contextlib.contextmanager
def per_sample_loop():
    """Every sample through the per-sample loop while the block runs."""
    _core.set_matrix_path(False)
    try:
        yield
    finally:
        _core.set_matrix_path(True)


def data(sizes, targets, dtype, n=N_SAMPLES, seed=0):
    """n samples and positive sample weights; float32 problems hold float32
    values exactly, so the float64 reference sees the same numbers."""
    rng = np.random.default_rng(seed + sum(sizes))
    n_out = sizes[-1]
    X = rng.normal(size=(n, sizes[0]))
    Y = random_targets(rng, targets, n, n_out)
    weight = rng.uniform(0.5, 2.0, size=n)
    as_dtype = lambda A: A.astype(dtype).astype(float)  # noqa: E731
    return as_dtype(X), as_dtype(Y), as_dtype(weight)


def models(sizes, activations, loss, bias, dtype):
    """(core, core copy, float64 reference), all with the same parameters."""
    core = fastbp.MLP(sizes, activation=activations, loss=loss, bias=bias, dtype=dtype,
                      seed=SEED)
    ref = reference.MLP.from_weights(
        [W.astype(np.float64) for W in core.weights],
        [b.astype(np.float64) for b in core.biases] if bias else None,
        activation=activations, loss=loss, dtype="float64")
    return core, core.copy(), ref


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


def assert_agree(core, twin, ref, histories, dtype, start):
    h_core, h_twin, h_ref = histories
    tol = TOL[dtype]
    moved = np.abs(core.params.astype(float) - start).max()
    assert moved > 10 * (tol["rtol"] + tol["atol"]) * np.abs(start).max(), "training idle"
    assert_close(core.params, ref.params, **tol, what="parameters (reference)")
    assert_close(core.params, twin.params, **tol, what="parameters (per-sample loop)")
    assert_close(h_core.loss, h_ref.loss, **tol, what="History losses (reference)")
    assert_close(h_core.loss, h_twin.loss, **tol, what="History losses (per-sample loop)")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("batch_size", [8, 64, None], ids=["batch8", "batch64", "full"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases", NETWORKS)
def test_fit_matches_reference(kernel_path, sizes, activations, loss, targets, bias,
                               update_biases, dtype, batch_size, weighted):
    core, twin, ref = models(sizes, activations, loss, bias, dtype)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, targets, dtype)
    histories = train_three_ways(
        core, twin, ref, X, Y, epochs=EPOCHS, lr=LR, batch_size=batch_size, seed=SEED,
        update_biases=update_biases, sample_weight=weight if weighted else None)
    assert_agree(core, twin, ref, histories, dtype, start)
    if bias and not update_biases:
        np.testing.assert_array_equal(np.concatenate(core.biases), 0.0)


# Plain SGD has tests of its own above.
OPTIMIZERS = [p for p in ALL_OPTIMIZERS if p.id != "sgd"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", OPTIMIZERS)
def test_optimizers_match_reference(kernel_path, options, dtype):
    sizes = [4, 9, 7, 2]
    core, twin, ref = models(sizes, ["tanh", "relu", "sigmoid"], "binary_cross_entropy",
                             True, dtype)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "binary", dtype)
    fit = dict(epochs=3, lr=LR, batch_size=8, seed=SEED, sample_weight=weight)
    histories = train_three_ways(core, twin, ref, X, Y, **{**fit, **options})
    assert_agree(core, twin, ref, histories, dtype, start)


@pytest.mark.parametrize("options", [dict(batch_size=8), dict(batch_size=None),
                                     dict(batch_size=8, optimizer="adam", lr=0.01),
                                     dict(batch_size=None, optimizer="rprop", lr=0.01)],
                         ids=["sgd-batch8", "sgd-full", "adam-batch8", "rprop-full"])
def test_batches_spanning_compiled_calls_match_reference(monkeypatch, options):
    # fit hands the core blocks of about BLOCK_WORK multiply-adds; at 5
    # samples a block, every batch of 8 (and the full batch) spans blocks,
    # so its sums must carry over in grad from call to call.
    sizes = [5, 12, 3]
    core, twin, ref = models(sizes, ["tanh", "softmax"], "cross_entropy", True, "float64")
    monkeypatch.setattr(fastbp.mlp, "BLOCK_WORK", 5 * core.params.size)
    monkeypatch.setattr(fastbp.mlp, "SAMPLE_OVERHEAD", 0)
    monkeypatch.setattr(fastbp.mlp, "MATRIX_BLOCK_FACTOR", 1)
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "one_hot", "float64")
    fit = dict(epochs=3, lr=LR, seed=SEED, sample_weight=weight)
    histories = train_three_ways(core, twin, ref, X, Y, **{**fit, **options})
    assert_agree(core, twin, ref, histories, "float64", start)


def test_full_batch_in_several_chunks_matches_reference():
    # More samples than a chunk holds: one batch, several chunks, one update.
    sizes = [3, 8, 5, 4]
    core, twin, ref = models(sizes, ["leaky_relu", "tanh", "softmax"], "cross_entropy", True,
                             "float64")
    n = 2 * core._top.chunk_rows + 37
    start = core.params.astype(float)
    X, Y, weight = data(sizes, "distribution", "float64", n=n)
    histories = train_three_ways(core, twin, ref, X, Y, epochs=3, lr=0.5, batch_size=None,
                                 optimizer="sgd", momentum=0.5, sample_weight=weight)
    assert_agree(core, twin, ref, histories, "float64", start)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [8, 600], ids=["8-samples", "600-samples"])
@pytest.mark.parametrize("sizes, activations, loss, targets, bias, update_biases", NETWORKS)
def test_predict_and_loss_match_per_sample_loop(kernel_path, sizes, activations, loss,
                                                targets, bias, update_biases, dtype, n):
    net = fastbp.MLP(sizes, activation=activations, loss=loss, bias=bias, dtype=dtype,
                     seed=SEED)
    X, Y, _ = data(sizes, targets, dtype, n=n)
    assert net._top.takes_matrix_path(n)
    out, total = net.predict(X), net.loss(X, Y)
    with per_sample_loop():
        expected, expected_total = net.predict(X), net.loss(X, Y)
    assert out.dtype == net.dtype
    # One pass, same parameters: only the order of each product's sum differs.
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-4, atol=1e-6)
    assert_close(out, expected, **tol, what="predictions")
    assert_close(total, expected_total, **tol, what="losses")
    assert_close(out, reference.MLP.from_weights(
        [W.astype(float) for W in net.weights],
        [b.astype(float) for b in net.biases] if bias else None,
        activation=activations, loss=loss, dtype="float64").predict(X), **tol,
        what="predictions (reference)")


def test_divergence_is_caught_and_rolled_back():
    net = fastbp.MLP([4, 16, 2], activation="identity", dtype="float64", seed=SEED)
    X, Y, _ = data([4, 16, 2], "real", "float64", n=64)
    before = net.params.copy()
    with pytest.raises(DivergenceError, match="diverged"):
        net.fit(X * 1e3, Y, lr=1e150, batch_size=16, shuffle=False)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nonfinite_loss_stops_before_its_sample(dtype):
    # In the compiled call itself: a sample whose loss is infinite stops the
    # block before it, as in the per-sample loop: the samples before it are
    # counted, their loss summed and their gradient added, nothing updated
    # past the last complete batch.
    sizes, bad = [3, 6, 2], 13
    X, Y, weight = data(sizes, "real", dtype, n=20)
    X, Y, weight = X.astype(dtype), Y.astype(dtype), weight.astype(dtype)
    Y[bad, 1] = np.inf
    results = []
    for matrix in (True, False):
        net = fastbp.MLP(sizes, activation="tanh", output_activation="identity",
                         dtype=dtype, seed=SEED)
        grad, state = np.zeros_like(net.params), np.empty(0, dtype)
        _core.set_matrix_path(matrix)
        try:
            options = _core.FitOptions(_core.Optimizer("sgd", LR), 8, 1.0, True)
            total, done, n_updates = _core.fit(
                net._top, options, net.params, X, Y, weight, np.arange(20, dtype=np.intp),
                net._workspace, grad, state, 0)
        finally:
            _core.set_matrix_path(True)
        results.append((total, done, n_updates, grad, net.params))
    (total, done, n_updates, grad, params), expected = results
    assert (done, n_updates) == (bad, 1) == expected[1:3]
    tol = TOL[dtype]
    assert_close(total, expected[0], **tol, what="loss sums")
    assert np.abs(grad).max() > 0
    assert_close(grad, expected[3], **tol, what="gradient sums of samples 8 to 12")
    assert_close(params, expected[4], **tol, what="parameters after one update")


def test_two_blas_threads_give_the_same_results():
    # Large enough that OpenBLAS splits each product over its threads.
    sizes = [64, 128, 128, 10]
    X, Y, _ = data(sizes, "unit", "float64", n=256)
    one = fastbp.MLP(sizes, seed=SEED)
    two = one.copy()
    h_one = one.fit(X, Y, epochs=2, batch_size=64, seed=SEED)
    h_two = two.fit(X, Y, epochs=2, batch_size=64, seed=SEED, n_jobs=2)
    tol = dict(rtol=1e-12, atol=1e-14)
    assert_close(two.params, one.params, **tol, what="parameters")
    assert_close(h_two.loss, h_one.loss, **tol, what="History losses")
    assert_close(two.predict(X, n_jobs=2), one.predict(X), **tol, what="predictions")


def blas_thread_counts():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blas_threads_limits_only_the_matrix_path_and_restores():
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    before = blas_thread_counts()
    assert before, "no BLAS found by threadpoolctl"
    with _core.blas_threads(net._top, _core.ROWS_MIN, 1):
        assert blas_thread_counts() == [1] * len(before)
    assert blas_thread_counts() == before
    with _core.blas_threads(net._top, _core.ROWS_MIN - 1, 1):
        # The per-sample loop uses no BLAS: nothing to limit.
        assert blas_thread_counts() == before


def test_matrix_path_threshold_and_switch():
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    assert _core.ROWS_MIN == 8
    assert _core.matrix_path_enabled()
    assert net._top.takes_matrix_path(8) and not net._top.takes_matrix_path(7)
    with per_sample_loop():
        assert not _core.matrix_path_enabled()
        assert not net._top.takes_matrix_path(1000)
    assert _core.matrix_path_enabled()


def test_hidden_softmax_stays_on_the_per_sample_loop():
    # MLP refuses a hidden softmax; the core, reached directly, runs such a
    # network sample by sample (its hidden layers would be unit-major).
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    top = _core.Topology(net._top.sizes, net._top.w_offsets, net._top.b_offsets,
                         np.array([_core.ACTIVATIONS["softmax"], _core.ACTIVATIONS["sigmoid"]],
                                  np.intc), _core.LOSSES["squared_error"])
    assert not top.takes_matrix_path(64)


@pytest.mark.parametrize("call", ["fit", "predict"])
@pytest.mark.parametrize("n_jobs, error", [(0, ValueError), (-1, ValueError),
                                           (1.5, TypeError), ("2", TypeError)])
def test_bad_n_jobs_is_refused_before_any_change(call, n_jobs, error):
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    X, Y, _ = data([4, 6, 2], "unit", "float64", n=16)
    before = net.params.copy()
    with pytest.raises(error, match="n_jobs"):
        if call == "fit":
            net.fit(X, Y, batch_size=8, n_jobs=n_jobs)
        else:
            net.predict(X, n_jobs=n_jobs)
    np.testing.assert_array_equal(net.params, before)


def test_workspace_too_small_is_refused():
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    X = np.zeros((16, 4))
    small = np.empty(net._top.workspace_size - 1)
    with pytest.raises(ValueError, match="workspace has"):
        _core.predict(net._top, net.params, X, np.empty((16, 2)), small)
