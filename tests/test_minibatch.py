"""The matrix path: batches of ``_core.ROWS_MIN`` (8) or more samples, and
predict and loss on as many, run as BLAS matrix products
(csrc/fbp_batch.template.h): when it is taken and how it is switched off,
a sample whose loss is not finite, divergence, and the BLAS on two threads.
Its agreement with the reference and with the per-sample loop is in
test_equivalence.py.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastbp
from fastbp import _core
from fastbp._vocabulary import ACTIVATION_CODES, LOSS_CODES, OPTIMIZER_CODES
from fastbp.errors import DivergenceError
from helpers import TOL, assert_close, per_sample_loop, weighted_data

LR = 0.05
SEED = 20241124


def test_divergence_is_caught_and_rolled_back():
    net = fastbp.MLP([4, 16, 2], activation="identity", dtype="float64", seed=SEED)
    X, Y, _ = weighted_data([4, 16, 2], "real", "float64", n=64)
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
    X, Y, weight = weighted_data(sizes, "real", dtype, n=20)
    X, Y, weight = X.astype(dtype), Y.astype(dtype), weight.astype(dtype)
    Y[bad, 1] = np.inf
    results = []
    for matrix in (True, False):
        net = fastbp.MLP(sizes, activation="tanh", output_activation="identity",
                         dtype=dtype, seed=SEED)
        grad, state = np.zeros_like(net.params), np.empty(0, dtype)
        _core.set_matrix_path(matrix)
        try:
            options = _core.FitOptions(_core.Optimizer(OPTIMIZER_CODES["sgd"], LR), 8, 1.0,
                                       True)
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
    X, Y, _ = weighted_data(sizes, "unit", "float64", n=256)
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
                         np.array([ACTIVATION_CODES["softmax"], ACTIVATION_CODES["sigmoid"]],
                                  np.intc), LOSS_CODES["squared_error"])
    assert not top.takes_matrix_path(64)


@pytest.mark.parametrize("call", ["fit", "predict"])
@pytest.mark.parametrize("n_jobs, error", [(0, ValueError), (-1, ValueError),
                                           (1.5, TypeError), ("2", TypeError)])
def test_bad_n_jobs_is_refused_before_any_change(call, n_jobs, error):
    net = fastbp.MLP([4, 6, 2], seed=SEED)
    X, Y, _ = weighted_data([4, 6, 2], "unit", "float64", n=16)
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
